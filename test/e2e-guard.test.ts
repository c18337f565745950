/**
 * Guard rails at the door, end to end: a blocklisted caller, a caller over the per-number hourly limit, and every
 * caller once the daily spend cap is reached hear one polite refusal and nothing is dialled; before that, and for
 * other callers, calls go through. Plus the spend as several instances see it (the records database), unit-level.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { emptySummary } from '../src/call/call-summary.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import { CallGuard } from '../src/server/call-guard.js';
import { GUARD_REFUSAL_MESSAGE } from '../src/twilio/webhook.js';
import { startBridge, waitUntil, type Bridge } from './helpers/e2e.js';
import { FakeRecordStore, sampleRecord } from './helpers/fake-record-store.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

const CALLER = '+15005550006';

async function tryCall(from: string): Promise<'connected' | 'refused'> {
  const call = await bridge!.call({ from, audio: { kind: 'silence', durationMs: 300 } });
  if (call.outcome === 'connected') {
    await call.closed;
    return 'connected';
  }
  expect(call.parsedTwiml.says).toEqual([GUARD_REFUSAL_MESSAGE]);
  expect(call.parsedTwiml.hangup).toBe(true);
  return 'refused';
}

describe('guard rails (end to end)', () => {
  it('blocklist and per-number limit: refused politely once reached, and only then; other callers unaffected', async () => {
    bridge = await startBridge({ env: { CALLER_MAX_CALLS_PER_HOUR: '2', CALLER_BLOCKLIST: '+1900*,+15550009999' } });
    expect(await tryCall(CALLER)).toBe('connected');
    expect(await tryCall(CALLER)).toBe('connected');
    expect(await tryCall(CALLER)).toBe('refused'); // the third in the hour
    expect(await tryCall('+15005550007')).toBe('connected');
    expect(await tryCall('+19005550000')).toBe('refused');
    expect(await tryCall('+15550009999')).toBe('refused');
    expect(bridge.sim.sessions).toHaveLength(3); // nothing was dialled for a refused caller
    const refusals = bridge.logs.filter((line) => line['msg'] === 'call refused by a guard rail').map((line) => line['reason']);
    expect(refusals).toEqual(['per_number_limit', 'blocklist', 'blocklist']);
    // The refusal log names no phone number.
    expect(bridge.logs.filter((line) => line['msg'] === 'call refused by a guard rail').some((line) => JSON.stringify(line).includes('+1'))).toBe(false);
  });

  it('daily spend cap: calls go through until the computed cost reaches it, then every caller is refused', async () => {
    // Each simulated call reports usage; a cap of one millionth of a dollar is reached by the first call's cost.
    bridge = await startBridge({ env: { DAILY_SPEND_CAP_USD: '0.000001' } });
    expect(await tryCall(CALLER)).toBe('connected');
    await bridge.waitForSummaries(1);
    await waitUntil(() => bridge!.summaries[0]!.usage.outputTokens > 0, 1_000, 'the call has a cost');
    expect(await tryCall('+15005550007')).toBe('refused');
    expect(bridge.logs.some((line) => line['msg'] === 'daily spend cap reached: new calls are refused until midnight UTC')).toBe(true);
  });
});

describe('CallGuard: spend across instances', () => {
  it('reads today’s spend of every instance from the records database, adds its own since, and rolls over at midnight UTC', async () => {
    const day = Date.UTC(2026, 10, 29);
    let nowMs = day + 10 * 3_600_000;
    const store = new FakeRecordStore();
    store.records.set('CA1', sampleRecord({ callSid: 'CA1', startedAtEpochMs: day + 3_600_000, cost: { totalUsd: 0.75, priceModel: 'gpt-realtime' } }));
    store.records.set('CA2', sampleRecord({ callSid: 'CA2', startedAtEpochMs: day - 3_600_000, cost: { totalUsd: 5, priceModel: 'gpt-realtime' } })); // yesterday
    const config = loadConfig({ DAILY_SPEND_CAP_USD: '1' });
    const guard = new CallGuard({ config, logger: silentLogger(), store: () => store, nowEpochMs: () => nowMs });
    await guard.refresh();
    expect(guard.spentTodayUsd).toBe(0.75);
    expect(guard.spendCapReached()).toBe(false);
    expect(guard.screenCaller(CALLER)).toBeNull();
    // This instance’s own call (not yet in the database) counts at once: 4 000 output audio tokens at 64 USD per 1M.
    const usage = { inputTokens: 0, outputTokens: 4_000, inputAudioTokens: 0, outputAudioTokens: 4_000, cachedTokens: 0 };
    const info = { callSid: 'CA3', streamSid: 'MZ3', from: CALLER, to: '+1', direction: 'inbound', agent: 'a', provider: 'openai', model: 'gpt-realtime', startedAtEpochMs: nowMs, clockStartMs: 0 } as const;
    guard.callEnded(info, { ...emptySummary(), callSid: 'CA3', streamSid: 'MZ3', durationMs: 60_000, endReason: 'caller hung up', usage });
    expect(guard.spentTodayUsd).toBeCloseTo(0.75 + 0.256, 10);
    expect(guard.screenCaller(CALLER)).toBe('spend_cap');
    // Midnight UTC: a new day, nothing spent.
    nowMs = day + 86_400_000 + 1;
    expect(guard.spentTodayUsd).toBe(0);
    expect(guard.screenCaller(CALLER)).toBeNull();
  });
});
