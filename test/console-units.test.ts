/**
 * The console's parts without HTTP: ConsoleSessions (digest-only storage, expiry, bounds, the throttle), LiveCalls
 * (transcript merging, bounds, fan-out encoded once, a throwing subscriber dropped), the overview's pure figures and
 * its reading through a RecordStore (the cap; the SQL of turn latencies on PGlite), and what the agents view shows of
 * a transfer target.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../src/call/call-events.js';
import { emptySummary } from '../src/call/call-summary.js';
import { ManualClock } from '../src/clock.js';
import { displayTarget } from '../src/console/agents-view.js';
import { LiveCalls, type LiveMessage } from '../src/console/live-calls.js';
import { aggregateOverview, overviewWindow, parseOverviewDays, percentile, readOverview, type OverviewCall } from '../src/console/overview.js';
import { ConsoleSessions } from '../src/console/sessions.js';
import { silentLogger } from '../src/logger.js';
import type { CallInfo } from '../src/observers/hub.js';
import { openRecordStore } from '../src/records/db.js';
import { callSid, FakeRecordStore, sampleRecord } from './helpers/fake-record-store.js';
import { captureLogs } from './helpers/twilio-logs.js';

const KEY = 'cb_admin_unit_8e41d0';

describe('ConsoleSessions', () => {
  const make = (clock: ManualClock, extra: Partial<ConstructorParameters<typeof ConsoleSessions>[0]> = {}) =>
    new ConsoleSessions({ adminKey: KEY, clock, ttlMs: 60_000, epochNow: () => 1_000_000 + clock.now(), ...extra });

  it('keeps only digests: neither the key nor a session id is anywhere in its state', () => {
    const sessions = make(new ManualClock());
    const result = sessions.signIn(KEY, '10.0.0.1');
    if (!result.ok) throw new Error('sign-in failed');
    expect(result.sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const state = JSON.stringify(Object.entries(sessions), (_key, value: unknown) => (value instanceof Map ? [...value.entries()] : value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : value));
    expect(state).not.toContain(result.sessionId);
    expect(state).not.toContain(KEY);
    expect(() => new ConsoleSessions({ adminKey: '', clock: new ManualClock(), ttlMs: 1 })).toThrow(TypeError);
  });

  it('looks sessions up until the absolute expiry; then session_expired; sign-out makes it no_session', () => {
    const clock = new ManualClock(500);
    const sessions = make(clock);
    const result = sessions.signIn(KEY, '10.0.0.1');
    if (!result.ok) throw new Error('sign-in failed');
    expect(result.expiresAtMs).toBe(1_000_000 + 500 + 60_000);
    clock.advance(59_999);
    expect(sessions.lookup(result.sessionId)).toEqual({ ok: true, csrfToken: result.csrfToken, expiresAtMs: 1_060_500, shortId: result.shortId });
    clock.advance(1);
    expect(sessions.lookup(result.sessionId)).toEqual({ ok: false, error: 'session_expired' });
    expect(sessions.lookup('nope')).toEqual({ ok: false, error: 'no_session' });
    expect(sessions.lookup(undefined)).toEqual({ ok: false, error: 'no_session' });
    expect(sessions.signOut(result.sessionId)).toBe(true);
    expect(sessions.lookup(result.sessionId)).toEqual({ ok: false, error: 'no_session' });
    expect(sessions.signOut(result.sessionId)).toBe(false);
  });

  it('keeps at most maxSessions (the oldest go first), each with its own CSRF token', () => {
    const sessions = make(new ManualClock(), { maxSessions: 3 });
    const ids = [1, 2, 3, 4].map(() => {
      const result = sessions.signIn(KEY, '10.0.0.1');
      if (!result.ok) throw new Error('sign-in failed');
      return result;
    });
    expect(new Set(ids.map((result) => result.csrfToken)).size).toBe(4);
    expect(sessions.size).toBe(3);
    expect(sessions.lookup(ids[0]!.sessionId).ok).toBe(false);
    expect(ids.slice(1).every((result) => sessions.lookup(result.sessionId).ok)).toBe(true);
  });

  it('throttles wrong keys per address in a sliding window; another address is not affected; success clears it', () => {
    const clock = new ManualClock();
    const sessions = make(clock, { maxFailures: 3, failureWindowMs: 10_000 });
    for (let i = 0; i < 3; i++) {
      expect(sessions.signIn('wrong', 'a')).toEqual({ ok: false, error: 'bad_key' });
      clock.advance(1_000);
    }
    expect(sessions.signIn(KEY, 'a')).toEqual({ ok: false, error: 'too_many_attempts', retryAfterMs: 7_000 });
    expect(sessions.signIn(KEY, 'b').ok).toBe(true);
    clock.advance(7_000);
    // The first failure has left the window: one attempt is allowed again.
    expect(sessions.signIn('wrong', 'a')).toEqual({ ok: false, error: 'bad_key' });
    expect(sessions.signIn(KEY, 'a')).toEqual({ ok: false, error: 'too_many_attempts', retryAfterMs: 1_000 });
    clock.advance(1_000);
    expect(sessions.signIn(KEY, 'a').ok).toBe(true);
    expect(sessions.signIn('wrong', 'a')).toEqual({ ok: false, error: 'bad_key' });
  });

  it('compares CSRF tokens whole', () => {
    expect(ConsoleSessions.csrfMatches('abc', 'abc')).toBe(true);
    expect(ConsoleSessions.csrfMatches('abcd', 'abc')).toBe(false);
    expect(ConsoleSessions.csrfMatches('', '')).toBe(false);
    expect(ConsoleSessions.csrfMatches(undefined, 'abc')).toBe(false);
  });
});

function info(n: number): CallInfo {
  return { callSid: callSid(n), streamSid: `MZ${n}`, from: '+1555', to: '+1666', direction: 'inbound', agent: 'a', provider: 'openai', model: null, startedAtEpochMs: 1_000, clockStartMs: 0 };
}

const piece = (itemId: string, text: string, final = false, extra: Partial<CallEvent> = {}): CallEvent =>
  ({ type: 'transcript', atMs: text.length, speaker: 'agent', itemId, text, final, ...extra }) as CallEvent;

describe('LiveCalls', () => {
  it('merges transcripts per item like the records: pieces append, a final replaces, pieces after it are ignored', () => {
    const live = new LiveCalls({ logger: silentLogger() });
    const call = info(1);
    live.callStarted(call);
    live.callEvent(call, piece('i1', 'Hel'));
    live.callEvent(call, { type: 'turn_ended', atMs: 5, turn: 1 });
    live.callEvent(call, piece('i1', 'lo'));
    live.callEvent(call, { ...piece('i2', 'Hi'), speaker: 'caller' } as CallEvent);
    live.callEvent(call, piece('i1', 'Hello!', true));
    live.callEvent(call, piece('i1', ' late piece'));
    live.callEvent(call, piece('i1', 'Hell', true, { asHeard: true }));
    expect(live.snapshot()).toEqual([
      {
        ...call,
        events: [
          { type: 'transcript', atMs: 3, speaker: 'agent', itemId: 'i1', text: 'Hell', final: true, asHeard: true },
          { type: 'turn_ended', atMs: 5, turn: 1 },
          { type: 'transcript', atMs: 2, speaker: 'caller', itemId: 'i2', text: 'Hi', final: false },
        ],
      },
    ]);
    // The snapshot is a copy: changing it changes nothing inside.
    (live.snapshot()[0]!.events as CallEvent[]).length = 0;
    expect(live.snapshot()[0]!.events).toHaveLength(3);
  });

  it('keeps the last maxEventsPerCall events, forgets a call when it ends, and ignores events of unknown calls', () => {
    const live = new LiveCalls({ logger: silentLogger(), maxEventsPerCall: 3 });
    const call = info(1);
    live.callEvent(call, { type: 'dtmf', atMs: 0, digit: '0' });
    expect(live.size).toBe(0);
    live.callStarted(call);
    for (let digit = 1; digit <= 5; digit++) live.callEvent(call, { type: 'dtmf', atMs: digit, digit: String(digit) });
    expect(live.snapshot()[0]!.events.map((event) => (event.type === 'dtmf' ? event.digit : '?'))).toEqual(['3', '4', '5']);
    live.callEnded(call, { ...emptySummary(), endReason: 'caller_hung_up', durationMs: 5 });
    expect(live.size).toBe(0);
    expect(live.has(call.callSid)).toBe(false);
  });

  it('encodes each update once for every subscriber; a throwing subscriber is dropped and logged once, the others go on', () => {
    const logs = captureLogs();
    const live = new LiveCalls({ logger: logs.logger, epochNow: () => 4_000 });
    const seen: LiveMessage[][] = [[], []];
    live.subscribe((message) => seen[0]!.push(message));
    let throws = 0;
    live.subscribe(() => {
      throws++;
      throw new Error('subscriber bug');
    });
    const unsubscribe = live.subscribe((message) => seen[1]!.push(message));
    const call = info(2);
    expect(() => live.callStarted(call)).not.toThrow();
    live.callEvent(call, { type: 'dtmf', atMs: 1, digit: '9' });
    unsubscribe();
    unsubscribe();
    live.callNotConnected(call);
    expect(throws).toBe(1);
    expect(live.subscribers).toBe(1);
    expect(logs.matching('live subscriber threw')).toHaveLength(1);
    expect(seen[1]).toHaveLength(2);
    expect(seen[1]![0]).toBe(seen[0]![0]);
    expect(seen[0]!.map((message) => message.json)).toEqual([
      JSON.stringify({ call: { ...call, events: [] } }),
      JSON.stringify({ callSid: call.callSid, event: { type: 'dtmf', atMs: 1, digit: '9' } }),
      JSON.stringify({ callSid: call.callSid, endReason: 'not answered', durationMs: 3_000 }),
    ]);
  });
});

describe('overview figures', () => {
  const day = 86_400_000;
  const now = Date.UTC(2025, 5, 15, 2, 10);

  it('windows N UTC days, today included, and parses days', () => {
    expect(overviewWindow(now, 1)).toEqual({ fromEpochMs: Date.UTC(2025, 5, 15), toEpochMs: now + 1, days: 1 });
    expect(overviewWindow(now, 3).fromEpochMs).toBe(Date.UTC(2025, 5, 13));
    expect([undefined, '1', '90', '07'].map(parseOverviewDays)).toEqual([7, 1, 90, 7]);
    expect(['0', '91', '', 'x', '1e1', ['1', '2']].map(parseOverviewDays)).toEqual([null, null, null, null, null, null]);
  });

  it('nearest-rank percentiles', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([7], 99)).toBe(7);
    const hundred = Array.from({ length: 100 }, (_, index) => index + 1);
    expect([50, 90, 99, 100].map((p) => percentile(hundred, p))).toEqual([50, 90, 99, 100]);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
  });

  it('aggregates exactly: hours and days with zeros, cost rounded to 1e-6, faults and end reasons; outside the window ignored', () => {
    const window = overviewWindow(now, 2);
    const calls: OverviewCall[] = [
      { startedAtEpochMs: window.fromEpochMs - 1, costUsd: 50, endReason: 'old', faults: 9 },
      { startedAtEpochMs: window.fromEpochMs, costUsd: 0.1, endReason: 'caller_hung_up', faults: 0 },
      { startedAtEpochMs: window.fromEpochMs + 3_600_000 - 1, costUsd: 0.2, endReason: 'caller_hung_up', faults: 1 },
      { startedAtEpochMs: window.fromEpochMs + day + 2 * 3_600_000, costUsd: 0.000_001_4, endReason: 'upstream_lost', faults: 2 },
      { startedAtEpochMs: now + 1, costUsd: 50, endReason: 'future', faults: 9 },
    ];
    const overview = aggregateOverview(window, calls, [250, 100, Number.NaN, 900, 400]);
    expect(overview.callsPerHour).toHaveLength(27);
    expect(overview.callsPerHour.filter((hour) => hour.calls > 0)).toEqual([
      { hourStartMs: window.fromEpochMs, calls: 2 },
      { hourStartMs: window.fromEpochMs + day + 2 * 3_600_000, calls: 1 },
    ]);
    expect(overview.callsPerHour.at(-1)).toEqual({ hourStartMs: Date.UTC(2025, 5, 15, 2), calls: 1 });
    expect(overview.turnLatencyMs).toEqual({ p50: 250, p90: 900, p99: 900, turns: 4 });
    expect(overview.costPerDay).toEqual([
      { day: '2025-06-14', usd: 0.3 },
      { day: '2025-06-15', usd: 0.000_001 },
    ]);
    expect(overview.errors).toEqual({ faults: 3, byEndReason: { caller_hung_up: 2, upstream_lost: 1 } });
  });

  it('reads every page of the window, and stops at the cap', async () => {
    const store = new FakeRecordStore(Array.from({ length: 5 }, (_, index) => sampleRecord({ callSid: callSid(index + 1), startedAtEpochMs: now - index * 1_000 })));
    const window = overviewWindow(now, 1);
    const all = await readOverview(store, window);
    expect(all.capped).toBe(false);
    expect(all.overview.errors.byEndReason).toEqual({ caller_hung_up: 5 });
    expect(all.overview.turnLatencyMs).toEqual({ p50: 450, p90: 450, p99: 450, turns: 5 });
    const capped = await readOverview(store, window, { maxCalls: 2 });
    expect(capped.capped).toBe(true);
    expect(capped.overview.errors.byEndReason).toEqual({ caller_hung_up: 2 });
    expect(store.queries.at(-1)).toEqual({ fromEpochMs: window.fromEpochMs, toEpochMs: window.toEpochMs, limit: 2 });
  });

  it('reads turn latencies with SQL on the embedded database (answered turns of calls in the range, newest first)', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-console-overview-'));
    const store = await openRecordStore({ databaseUrl: null, dataDir: dir, logger: silentLogger() });
    try {
      const turns = (latencies: Array<number | null>) => latencies.map((latencyMs, index) => ({ turn: index + 1, callerStoppedAtMs: index, firstAudioAtMs: null, latencyMs }));
      await store.insertCalls([
        sampleRecord({ callSid: callSid(1), startedAtEpochMs: 1_000, turns: turns([111]) }),
        sampleRecord({ callSid: callSid(2), startedAtEpochMs: 2_000, turns: turns([220, null, 222]) }),
        sampleRecord({ callSid: callSid(3), startedAtEpochMs: 3_000, turns: turns([330]) }),
        sampleRecord({ callSid: callSid(4), startedAtEpochMs: 4_000, turns: turns([440]) }),
      ]);
      const range = { fromEpochMs: 2_000, toEpochMs: 4_000 };
      expect((await store.turnLatencies!(range, 10)).sort()).toEqual([220, 222, 330]);
      expect(await store.turnLatencies!(range, 1)).toEqual([330]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('agents view', () => {
  it('shows a transfer target without credentials, parameters or headers', () => {
    expect(displayTarget('+15550001111')).toBe('+15550001111');
    expect(displayTarget('sip:alice@pbx.example.com')).toBe('sip:alice@pbx.example.com');
    expect(displayTarget('sips:alice:s3cret@pbx.example.com:5061;transport=tls')).toBe('sips:alice@pbx.example.com:5061');
    expect(displayTarget('sip:pbx.example.com?X-Auth=token')).toBe('sip:pbx.example.com');
  });
});
