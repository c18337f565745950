/**
 * Two instances in one cluster (in-process servers, one real PostgreSQL schema): a call on A is live on B's
 * `/api/calls?live=1` (with A's instance id), B's console hangs it up on A, both instances are listed with their
 * figures, and the call's record lands once. A clean stop leaves no rows behind.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { CallRecords } from '../src/records/service.js';
import { AUTH_TOKEN, newCallSid, OPENAI_KEY, postWebhook, startBridge, waitUntil, type Bridge } from './helpers/e2e.js';
import { createPostgresSchema, POSTGRES_MISSING, postgresMode, TEST_DATABASE_URL, warnPostgresSkipped, type PostgresSchema } from './helpers/records-db.js';

const KEY = 'cluster-test-admin-key-0123456789abcdef';
const mode = postgresMode();
if (mode === 'skip') warnPostgresSkipped('cluster-live.test.ts');

describe.runIf(mode !== 'skip')('a cluster of two instances on PostgreSQL', () => {
  let schema: PostgresSchema;
  const bridges: Bridge[] = [];
  beforeAll(async () => {
    if (mode === 'fail') throw new Error(POSTGRES_MISSING);
    schema = await createPostgresSchema(TEST_DATABASE_URL!);
  });
  afterEach(async () => {
    for (const bridge of bridges.splice(0)) await bridge.close();
  });
  afterAll(async () => {
    await schema?.drop();
  });

  const start = (instanceId: string, sim: NonNullable<Parameters<typeof startBridge>[0]>['sim'] = {}) =>
    startBridge({
      env: { CALLBRIDGE_API_KEY: KEY, DATABASE_URL: schema.url, INSTANCE_ID: instanceId, CLUSTER_HEARTBEAT_S: '1', AGENT_GREETING: 'Greet.' },
      sim,
      records: (config, logger) => new CallRecords({ config, logger, clock: systemClock, secrets: [OPENAI_KEY, AUTH_TOKEN, KEY] }),
    }).then((bridge) => {
      bridges.push(bridge);
      return bridge;
    });

  const api = async (bridge: Bridge, path: string): Promise<Record<string, unknown>> => {
    const response = await fetch(`${bridge.baseUrl}${path}`, { headers: { Authorization: `Bearer ${KEY}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };

  it("B shows A's live call, hangs it up through A, and the record lands once", async () => {
    const a = await start('inst-a', { speedFactor: 1, reply: { kind: 'tone-coded', durationMs: 20_000 } });
    const b = await start('inst-b');
    await waitUntil(() => a.logs.some((line) => line['msg'] === 'joined the cluster') && b.logs.some((line) => line['msg'] === 'joined the cluster'), 10_000, 'both joined');
    const call = await a.call({ audio: { kind: 'silence', durationMs: 30_000 } });
    let live: Array<Record<string, unknown>> = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      live = (await api(b, '/api/calls?live=1'))['calls'] as Array<Record<string, unknown>>;
      if (live.length === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ callSid: call.callSid, instanceId: 'inst-a', direction: 'inbound', agent: 'default' });
    const instances = (await api(b, '/api/instances'))['instances'] as Array<Record<string, unknown>>;
    expect(instances.map((instance) => [instance['instanceId'], instance['activeCalls'], instance['alive'], instance['draining']])).toEqual([
      ['inst-a', expect.any(Number), true, false],
      ['inst-b', 0, true, false],
    ]);

    // B's console (signed in on B) hangs up the call that A serves.
    const signIn = await fetch(`${b.baseUrl}/console/api/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ key: KEY }) });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const { csrfToken } = (await signIn.json()) as { csrfToken: string };
    const hangUp = await fetch(`${b.baseUrl}/console/api/calls/${call.callSid}/hangup`, { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrfToken } });
    expect(hangUp.status).toBe(202);
    await call.closed;
    const [summary] = await a.waitForSummaries(1);
    expect(summary!.endReason).toBe('operator_hung_up');
    await waitUntil(() => b.logs.some((line) => line['msg'] === 'hang-up sent to the instance serving the call'), 1_000, 'B sent it');
    // Gone from B's live view; the record is in the shared database once.
    const deadline2 = Date.now() + 5_000;
    while (Date.now() < deadline2 && ((await api(b, '/api/calls?live=1'))['calls'] as unknown[]).length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await api(b, '/api/calls?live=1'))['calls']).toEqual([]);
    const deadline3 = Date.now() + 10_000;
    let rows: Array<{ call_sid: string; end_reason: string }> = [];
    while (Date.now() < deadline3 && rows.length === 0) {
      rows = await schema.query<{ call_sid: string; end_reason: string }>('select call_sid, end_reason from calls');
      if (rows.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(rows).toEqual([{ call_sid: call.callSid, end_reason: 'operator_hung_up' }]);
    const recordOnB = await api(b, `/api/calls/${call.callSid}`);
    expect(recordOnB).toMatchObject({ callSid: call.callSid, endReason: 'operator_hung_up' });
  }, 60_000);

  it('a draining instance answers the webhook 503 (the load balancer retries elsewhere), and says so in its heartbeat', async () => {
    const a = await start('inst-d', { speedFactor: 1, reply: { kind: 'tone-coded', durationMs: 20_000 } });
    await waitUntil(() => a.logs.some((line) => line['msg'] === 'joined the cluster'), 10_000, 'joined');
    // A live call keeps the drain going while the next webhook arrives.
    const call = await a.call({ audio: { kind: 'silence', durationMs: 30_000 } });
    await waitUntil(() => a.server.activeCalls === 1, 5_000, 'the call is live');
    const draining = a.server.drain({ timeoutMs: 10_000, goodbyeGraceMs: 1_000 });
    const answer = await postWebhook(a, { callSid: newCallSid() });
    expect(answer).toMatchObject({ status: 503, body: 'Draining: another instance takes this call' });
    let instances: Array<Record<string, unknown>> = [];
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && instances[0]?.['draining'] !== true) {
      instances = (await api(a, '/api/instances'))['instances'] as Array<Record<string, unknown>>;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(instances).toMatchObject([{ instanceId: 'inst-d', draining: true, activeCalls: 1 }]);
    call.hangUp();
    await draining;
    bridges.splice(bridges.indexOf(a), 1);
  });

  it('a clean stop leaves no cluster rows behind', async () => {
    const a = await start('inst-c');
    await waitUntil(() => a.logs.some((line) => line['msg'] === 'joined the cluster'), 10_000, 'joined');
    expect(await schema.query('select instance_id from cluster_instances')).toEqual([{ instance_id: 'inst-c' }]);
    await a.close();
    bridges.splice(bridges.indexOf(a), 1);
    expect(await schema.query('select instance_id from cluster_instances')).toEqual([]);
    expect(await schema.query('select call_sid from cluster_live_calls')).toEqual([]);
  });
});
