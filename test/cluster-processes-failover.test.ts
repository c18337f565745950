/**
 * Two real callbridge processes on one PostgreSQL schema (see cluster-processes.test.ts), when one goes away:
 *   - SIGKILL mid-call: within the dead-instance window (3 heartbeats, plus one beat for the survivor's sweep) its calls
 *     leave the survivor's live view and are recorded once each as `instance_lost`, while the survivor's own call goes
 *     on untouched;
 *   - SIGTERM: the instance drains (readiness 503 at once, its live call finishes and is recorded normally), the load
 *     balancer sends the next call to the other instance, and the drained process exits 0.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  api,
  callEndedLine,
  callThrough,
  cleanUpClusters,
  HEARTBEAT_S,
  linesOf,
  liveOwners,
  migrate,
  readyStatus,
  startCluster,
  streamUrlOf,
  waitFor,
} from './helpers/cluster-processes.js';
import { createPostgresSchema, POSTGRES_MISSING, postgresMode, TEST_DATABASE_URL, warnPostgresSkipped, type PostgresSchema } from './helpers/records-db.js';

const mode = postgresMode();
if (mode === 'skip') warnPostgresSkipped('cluster-processes-failover.test.ts');

/** The end reason of a call whose caller sent `stop` (src/call/call.ts). */
const CALLER_HUNG_UP = 'caller hung up';
/** An instance silent for 3 heartbeats is dead; a survivor's next beat (at most one heartbeat later) sweeps it. */
const DEAD_WINDOW_MS = (3 + 1) * HEARTBEAT_S * 1000;
/** What polling the live view adds on top (the poll period, an HTTP round trip, a loaded CI machine). */
const MEASURE_SLACK_MS = 1_000;

describe.runIf(mode !== 'skip')('two callbridge processes, one goes away', () => {
  let schema: PostgresSchema | null = null;

  beforeEach(async () => {
    if (mode === 'fail') throw new Error(POSTGRES_MISSING);
    schema = await createPostgresSchema(TEST_DATABASE_URL!);
    await migrate(schema.url);
  });
  afterEach(async () => {
    await cleanUpClusters();
    await schema?.drop();
    schema = null;
  });

  const callRows = () =>
    schema!.query<{ call_sid: string; end_reason: string; sequence_errors: string | null }>(
      `select call_sid, end_reason, counters->>'sequenceErrors' as sequence_errors from calls order by call_sid`,
    );
  const owners = (pairs: Array<[string, string]>) => JSON.stringify([...pairs].sort(([x], [y]) => x.localeCompare(y)));

  it("SIGKILL mid-call: the dead instance's calls leave B's live view within the window and are recorded once as instance_lost; B's call is untouched", { timeout: 90_000 }, async () => {
    const { a, b, lb } = await startCluster(schema!.url);
    lb.route = async () => a;
    const lost1 = await callThrough(lb, { kind: 'silence', durationMs: 60_000 });
    const lost2 = await callThrough(lb, { kind: 'silence', durationMs: 60_000 });
    lb.route = async () => b;
    // Long enough to be live when A dies, and to outlast the sweep.
    const survivor = await callThrough(lb, { kind: 'silence', durationMs: 60_000 }, { hangUpAfterMs: 12_000 });
    expect([lost1.streamUrl, lost2.streamUrl, survivor.streamUrl]).toEqual([streamUrlOf(a), streamUrlOf(a), streamUrlOf(b)]);
    const all = owners([[lost1.callSid, 'a'], [lost2.callSid, 'a'], [survivor.callSid, 'b']]);
    await waitFor(async () => JSON.stringify(await liveOwners(b)) === all, 10_000, 'all three calls live on B');
    expect((await schema!.query<{ call_sid: string; instance_id: string }>('select call_sid, instance_id from cluster_live_calls order by call_sid')).map((row) => [row.call_sid, row.instance_id])).toEqual(JSON.parse(all));

    a.signal('SIGKILL');
    const killedAt = Date.now();
    expect((await a.exited).signal).toBe('SIGKILL');
    await waitFor(async () => JSON.stringify(await liveOwners(b)) === owners([[survivor.callSid, 'b']]), DEAD_WINDOW_MS + MEASURE_SLACK_MS, "A's calls gone from B's live view", 50);
    const goneAfterMs = Date.now() - killedAt;
    expect(goneAfterMs).toBeLessThanOrEqual(DEAD_WINDOW_MS + MEASURE_SLACK_MS);

    // B took A out of the cluster once and recorded both calls as lost, once.
    // (Log lines reach stdout asynchronously: wait for the second of the two, written together.)
    await waitFor(() => linesOf(b, 'calls lost with a dead instance: recorded as lost').length > 0, 2_000, "B's lost-calls line");
    expect(linesOf(b, 'instances stopped beating: taken out of the cluster').map((line) => line['deadInstances'])).toEqual([['a']]);
    expect(linesOf(b, 'calls lost with a dead instance: recorded as lost').map((line) => [[...(line['calls'] as string[])].sort(), line['instances']])).toEqual([
      [[lost1.callSid, lost2.callSid].sort(), ['a']],
    ]);
    await waitFor(async () => (await callRows()).length >= 2, 10_000, 'the lost calls recorded');
    expect((await callRows()).map((row) => [row.call_sid, row.end_reason])).toEqual([lost1.callSid, lost2.callSid].sort().map((callSid) => [callSid, 'instance_lost']));
    // A's callers saw their line go dead (the process was killed, nobody said goodbye).
    for (const call of [lost1, lost2]) expect((await call.closed).endedBy).toBe('server');

    // B's own call went on and ends normally: hung up by its caller, no sequence errors, no fault.
    const result = await survivor.closed;
    expect(result.endedBy).toBe('caller');
    expect(Object.values(result.protocolErrors).every((count) => count === 0)).toBe(true);
    const summary = await waitFor(() => callEndedLine(b, survivor.callSid), 10_000, "B's call ended");
    expect(summary).toMatchObject({ endReason: CALLER_HUNG_UP, sequenceErrors: 0, upstreamFaults: 0 });
    await waitFor(async () => (await callRows()).length >= 3, 10_000, "B's call recorded");
    expect(await callRows()).toEqual(
      [
        { call_sid: lost1.callSid, end_reason: 'instance_lost', sequence_errors: '0' },
        { call_sid: lost2.callSid, end_reason: 'instance_lost', sequence_errors: '0' },
        { call_sid: survivor.callSid, end_reason: CALLER_HUNG_UP, sequence_errors: '0' },
      ].sort((x, y) => x.call_sid.localeCompare(y.call_sid)),
    );
    // Nothing of A is left in the cluster's tables; B lists itself only.
    expect(await schema!.query('select call_sid from cluster_live_calls')).toEqual([]);
    expect(await schema!.query('select instance_id from cluster_instances')).toEqual([{ instance_id: 'b' }]);
    expect((await api<{ instances: Array<{ instanceId: string }> }>(b, '/api/instances')).instances.map((row) => row.instanceId)).toEqual(['b']);
  });

  it('SIGTERM drains: readiness 503 at once, the live call finishes and is recorded, the next call goes to B, the process exits 0', { timeout: 90_000 }, async () => {
    const { a, b, lb } = await startCluster(schema!.url);
    // Both ready: the load balancer's rule picks A.
    const first = await callThrough(lb, { kind: 'silence', durationMs: 60_000 }, { hangUpAfterMs: 7_000 });
    expect(lb.forwarded).toEqual([{ path: '/incoming-call', instanceId: 'a' }]);
    expect(first.streamUrl).toBe(streamUrlOf(a));
    await waitFor(async () => JSON.stringify(await readyStatus(a)) === JSON.stringify({ status: 200, body: { status: 'ready', activeCalls: 1 } }), 5_000, "A's call live");

    a.signal('SIGTERM');
    const termAt = Date.now();
    await waitFor(async () => (await readyStatus(a)).status === 503, 1_000, 'A not ready', 20);
    const notReadyAfterMs = Date.now() - termAt;
    expect(await readyStatus(a)).toEqual({ status: 503, body: { status: 'draining', activeCalls: 1 } });
    expect((await fetch(`${a.baseUrl}/healthz`)).status).toBe(200);
    // The cluster hears of it with A's next heartbeat.
    await waitFor(
      async () => (await api<{ instances: Array<{ instanceId: string; draining: boolean }> }>(b, '/api/instances')).instances.find((row) => row.instanceId === 'a')?.draining === true,
      3 * HEARTBEAT_S * 1000,
      'A draining in B’s view',
    );

    // The next call: A is not ready, so the load balancer sends it to B, which serves it.
    const second = await callThrough(lb, { kind: 'silence', durationMs: 60_000 }, { hangUpAfterMs: 3_000 });
    expect(lb.forwarded).toEqual([
      { path: '/incoming-call', instanceId: 'a' },
      { path: '/incoming-call', instanceId: 'b' },
    ]);
    expect([second.outcome, second.streamUrl]).toEqual(['connected', streamUrlOf(b)]);

    // A's call goes on to its natural end, and A exits 0 once idle.
    const firstResult = await first.closed;
    expect(firstResult.endedBy).toBe('caller');
    expect(firstResult.durationMs).toBeGreaterThanOrEqual(7_000);
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(callEndedLine(a, first.callSid)).toMatchObject({ endReason: CALLER_HUNG_UP, sequenceErrors: 0 });
    expect(linesOf(a, 'drain timed out: the remaining callers hear a goodbye')).toEqual([]);
    expect(linesOf(a, 'stopped')).toHaveLength(1);

    const secondResult = await second.closed;
    expect(secondResult.endedBy).toBe('caller');
    const secondSummary = await waitFor(() => callEndedLine(b, second.callSid), 10_000, "the second call's summary on B");
    expect(secondSummary).toMatchObject({ endReason: CALLER_HUNG_UP, sequenceErrors: 0 });
    expect(callEndedLine(a, second.callSid)).toBeUndefined();

    await waitFor(async () => (await callRows()).length >= 2, 10_000, 'both records written');
    expect((await callRows()).map((row) => [row.call_sid, row.end_reason])).toEqual([first.callSid, second.callSid].sort().map((callSid) => [callSid, CALLER_HUNG_UP]));
    // A left cleanly: nothing of it in the cluster's tables, and nothing was taken as lost.
    expect(await schema!.query('select instance_id from cluster_instances')).toEqual([{ instance_id: 'b' }]);
    expect(linesOf(b, 'calls lost with a dead instance: recorded as lost')).toEqual([]);
    expect(notReadyAfterMs).toBeLessThan(1_000);
  });
});
