/**
 * CallMetrics: the observer driven with hand-made calls, judged on the Prometheus text it exposes — exact counter
 * values, exact histogram buckets, the end-reason table, tokens and cost, scrape-time stats — and on what it must
 * never expose: a callSid or a phone number in a label.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../src/call/call-events.js';
import { emptySummary, emptyUsage, type CallSummary } from '../src/call/call-summary.js';
import { CallMetrics, LATENCY_BUCKETS_S } from '../src/metrics/call-metrics.js';
import { endReasonCategory } from '../src/metrics/end-reason.js';
import { createMetricsRouter } from '../src/metrics/router.js';
import type { CallInfo } from '../src/observers/hub.js';
import { costOf, DEFAULT_PRICES, parsePriceTable, priceFor } from '../src/records/pricing.js';
import type { RecordWriterStats } from '../src/records/writer.js';
import type { TokenUsage } from '../src/voice/port.js';

// ---- the exposition format, parsed ----------------------------------------------------------------------------

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, '$1');
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

class Scrape {
  readonly samples: Sample[];
  constructor(readonly text: string) {
    this.samples = parseExposition(text);
  }
  /** The samples of `name` whose labels include `labels`. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  }
  /** Their sum; 0 when there are none. */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.find(name, labels).reduce((total, sample) => total + sample.value, 0);
  }
  /** The one sample with exactly these labels. */
  value(name: string, labels: Record<string, string> = {}): number {
    const found = this.find(name, labels).filter((sample) => Object.keys(sample.labels).length === Object.keys(labels).length);
    if (found.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${found.length} samples`);
    return found[0]!.value;
  }
  /** Cumulative bucket counts by `le`, summed over the other labels. */
  buckets(name: string, labels: Record<string, string> = {}): Record<string, number> {
    const out: Record<string, number> = {};
    for (const sample of this.find(`${name}_bucket`, labels)) out[sample.labels['le']!] = (out[sample.labels['le']!] ?? 0) + sample.value;
    return out;
  }
  labelValues(): string[] {
    return this.samples.flatMap((sample) => Object.values(sample.labels));
  }
}

async function scrape(metrics: CallMetrics): Promise<Scrape> {
  return new Scrape(await metrics.metricsText());
}

// ---- hand-made calls ---------------------------------------------------------------------------------------------

let sidCounter = 0;
function info(overrides: Partial<CallInfo> = {}): CallInfo {
  sidCounter++;
  return {
    callSid: `CA${sidCounter.toString(16).padStart(32, '0')}`,
    streamSid: `MZ${sidCounter.toString(16).padStart(32, '0')}`,
    from: '+15005550006',
    to: '+15550001111',
    direction: 'inbound',
    agent: 'desk',
    provider: 'openai',
    model: 'gpt-realtime',
    startedAtEpochMs: 1_700_000_000_000,
    clockStartMs: 0,
    ...overrides,
  };
}

function summary(call: CallInfo, overrides: Partial<CallSummary> = {}): CallSummary {
  return { ...emptySummary(), callSid: call.callSid, streamSid: call.streamSid, durationMs: 30_000, endReason: 'caller hung up', ...overrides };
}

function usage(overrides: Partial<TokenUsage>): TokenUsage {
  return { ...emptyUsage(), ...overrides };
}

/** A call that starts, lives through `events` and ends with `ended` (or never connects, for `null`). */
function runCall(metrics: CallMetrics, call: CallInfo, events: readonly CallEvent[], ended: Partial<CallSummary> | null = {}): void {
  metrics.callStarted(call);
  for (const event of events) metrics.callEvent(call, event);
  if (ended === null) metrics.callNotConnected(call);
  else metrics.callEnded(call, summary(call, ended));
}

const turnLatency = (turn: number, latencyMs: number): CallEvent => ({ type: 'turn_latency', atMs: 1_000 * turn, turn, latencyMs });

// ---- tests -------------------------------------------------------------------------------------------------------

describe('end-reason categories', () => {
  it.each([
    [{ streamOutcome: 'hang_up', endReason: 'caller is done' }, 'agent_hangup'],
    [{ streamOutcome: 'transfer', endReason: 'transfer to billing' }, 'transfer'],
    [{ streamOutcome: 'upstream_lost', endReason: 'upstream lost' }, 'upstream_lost'],
    // The outcome wins over the text: the agent asked for the close.
    [{ streamOutcome: 'hang_up', endReason: 'caller hung up' }, 'agent_hangup'],
    [{ endReason: 'caller hung up' }, 'caller_hangup'],
    [{ endReason: 'server shutting down' }, 'shutdown'],
    [{ endReason: 'draining for deploy' }, 'shutdown'],
    [{ endReason: 'stream closed (1006)' }, 'stream_closed'],
    [{ endReason: 'stream closed (1000)' }, 'stream_closed'],
    [{ endReason: 'agent ended the conversation' }, 'other'],
    [{ endReason: '' }, 'other'],
    [{ twilioStatus: 'busy' }, 'busy'],
    [{ twilioStatus: 'no-answer' }, 'no-answer'],
    [{ twilioStatus: 'failed' }, 'failed'],
    [{ twilioStatus: 'canceled' }, 'canceled'],
    [{ twilioStatus: 'completed' }, 'not_connected'],
    [{ twilioStatus: null }, 'not_connected'],
    [{}, 'not_connected'],
  ] as const)('%j → %s', (ending, category) => {
    expect(endReasonCategory(ending)).toBe(category);
  });
});

describe('CallMetrics', () => {
  it('counts calls, turns, barge-ins, tools, faults and the summary counters exactly, and active calls go back to 0', async () => {
    const metrics = new CallMetrics({ defaultMetrics: false });
    const call = info();
    metrics.callStarted(call);
    const during = await scrape(metrics);
    expect(during.value('callbridge_active_calls', { direction: 'inbound' })).toBe(1);
    expect(during.value('callbridge_active_calls', { direction: 'outbound' })).toBe(0);
    expect(metrics.liveCalls).toBe(1);

    const events: CallEvent[] = [
      { type: 'transcript', atMs: 10, speaker: 'caller', itemId: '0/i1', text: 'hello', final: true },
      { type: 'turn_ended', atMs: 900, turn: 1 },
      turnLatency(1, 420),
      { type: 'turn_ended', atMs: 3_000, turn: 2 },
      turnLatency(2, 380),
      { type: 'barge_in', atMs: 3_500, heard: [] },
      { type: 'tool_call', atMs: 4_000, name: 'lookup', callId: 'c1', ok: true, durationMs: 120 },
      { type: 'tool_call', atMs: 4_500, name: 'lookup', callId: 'c2', ok: false, durationMs: 3_000 },
      { type: 'fault', atMs: 5_000, kind: 'closed', recovery: 'redial', message: 'socket closed' },
      { type: 'fault', atMs: 5_000, kind: 'made_up_kind', recovery: 'apologise', message: 'x' },
      // The provider's agent ending the conversation is no fault.
      { type: 'fault', atMs: 6_000, kind: 'ended', recovery: 'end_after_playback', message: 'bye' },
      { type: 'dtmf', atMs: 6_500, digit: '5' },
    ];
    for (const event of events) metrics.callEvent(call, event);
    metrics.callEnded(call, summary(call, { durationMs: 61_000, truncates: 2, underruns: 3, underrunMs: 140 }));

    const after = await scrape(metrics);
    expect(after.value('callbridge_active_calls', { direction: 'inbound' })).toBe(0);
    expect(metrics.liveCalls).toBe(0);
    expect(after.value('callbridge_calls_total', { direction: 'inbound', provider: 'openai', agent: 'desk', end_reason: 'caller_hangup' })).toBe(1);
    expect(after.sum('callbridge_calls_total')).toBe(1);
    expect(after.value('callbridge_turns_total')).toBe(2);
    expect(after.value('callbridge_turn_latency_seconds_count', { provider: 'openai' })).toBe(2);
    expect(after.value('callbridge_turn_latency_seconds_sum', { provider: 'openai' })).toBeCloseTo(0.8, 9);
    expect(after.value('callbridge_barge_ins_total')).toBe(1);
    expect(after.value('callbridge_tool_calls_total', { outcome: 'ok' })).toBe(1);
    expect(after.value('callbridge_tool_calls_total', { outcome: 'error' })).toBe(1);
    expect(after.value('callbridge_tool_call_duration_seconds_count')).toBe(2);
    expect(after.value('callbridge_tool_call_duration_seconds_sum')).toBeCloseTo(3.12, 9);
    expect(after.value('callbridge_upstream_faults_total', { kind: 'closed', recovery: 'redial' })).toBe(1);
    expect(after.value('callbridge_upstream_faults_total', { kind: 'other', recovery: 'apologise' })).toBe(1);
    expect(after.sum('callbridge_upstream_faults_total')).toBe(2);
    expect(after.value('callbridge_truncates_total')).toBe(2);
    expect(after.value('callbridge_underruns_total')).toBe(3);
    expect(after.value('callbridge_underrun_seconds_total')).toBeCloseTo(0.14, 9);
    expect(after.value('callbridge_call_duration_seconds_count', { direction: 'inbound' })).toBe(1);
    expect(after.value('callbridge_call_duration_seconds_sum', { direction: 'inbound' })).toBe(61);
    expect(after.value('callbridge_call_duration_seconds_bucket', { direction: 'inbound', le: '60' })).toBe(0);
    expect(after.value('callbridge_call_duration_seconds_bucket', { direction: 'inbound', le: '120' })).toBe(1);
  });

  it('turn latency buckets fit telephony (50 ms to 10 s) and count known latencies exactly', async () => {
    expect(LATENCY_BUCKETS_S).toEqual([0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10]);
    const metrics = new CallMetrics({ defaultMetrics: false });
    const latenciesMs = [45, 100, 180, 420, 760, 1_300, 2_500, 12_000];
    runCall(metrics, info(), latenciesMs.map((latencyMs, index) => turnLatency(index + 1, latencyMs)));
    const result = await scrape(metrics);
    // Cumulative: `le` is inclusive (100 ms counts in le="0.1").
    expect(result.buckets('callbridge_turn_latency_seconds')).toEqual({
      '0.05': 1,
      '0.1': 2,
      '0.2': 3,
      '0.3': 3,
      '0.5': 4,
      '0.75': 4,
      '1': 5,
      '1.5': 6,
      '2': 6,
      '3': 7,
      '5': 7,
      '10': 7,
      '+Inf': 8,
    });
    expect(result.value('callbridge_turn_latency_seconds_count', { provider: 'openai' })).toBe(8);
    expect(result.value('callbridge_turn_latency_seconds_sum', { provider: 'openai' })).toBeCloseTo(17.305, 9);
  });

  it('first-audio latency: response started → its first agent frame; later items and silent responses do not count', async () => {
    const metrics = new CallMetrics({ defaultMetrics: false });
    runCall(metrics, info(), [
      { type: 'response_started', atMs: 100, responseId: '0/r1' },
      { type: 'agent_audio_started', atMs: 350, responseId: '0/r1', itemId: '0/i1' },
      { type: 'agent_audio_started', atMs: 2_000, responseId: '0/r1', itemId: '0/i2' },
      { type: 'response_done', atMs: 2_500, responseId: '0/r1', status: 'completed', usage: null },
      // A function-call response: no audio, no sample.
      { type: 'response_started', atMs: 3_000, responseId: '0/r2' },
      { type: 'response_done', atMs: 3_100, responseId: '0/r2', status: 'completed', usage: null },
      { type: 'response_started', atMs: 4_000, responseId: '0/r3' },
      { type: 'agent_audio_started', atMs: 5_200, responseId: '0/r3', itemId: '0/i3' },
    ]);
    const result = await scrape(metrics);
    expect(result.value('callbridge_first_audio_latency_seconds_count', { provider: 'openai' })).toBe(2);
    expect(result.value('callbridge_first_audio_latency_seconds_sum', { provider: 'openai' })).toBeCloseTo(1.45, 9);
    expect(result.buckets('callbridge_first_audio_latency_seconds')).toMatchObject({ '0.2': 0, '0.3': 1, '1': 1, '1.5': 2 });
  });

  it('end reasons per call: hang-up, transfer, upstream lost, shutdown, stream closed, and outbound calls that never connected', async () => {
    const metrics = new CallMetrics({ defaultMetrics: false });
    runCall(metrics, info(), []);
    runCall(metrics, info(), [{ type: 'stream_outcome', atMs: 1, outcome: 'hang_up', reason: 'caller is done' }], { endReason: 'caller is done' });
    runCall(metrics, info(), [{ type: 'stream_outcome', atMs: 1, outcome: 'transfer', reason: 'transfer to billing', destination: 'billing' }], { endReason: 'transfer to billing' });
    runCall(metrics, info(), [{ type: 'stream_outcome', atMs: 1, outcome: 'upstream_lost', reason: 'upstream lost' }], { endReason: 'upstream lost' });
    runCall(metrics, info(), [], { endReason: 'server shutting down' });
    runCall(metrics, info(), [], { endReason: 'stream closed (1006)' });
    const outbound = (_status: string) => info({ direction: 'outbound', streamSid: '' });
    for (const status of ['busy', 'no-answer', 'failed', 'canceled']) {
      runCall(metrics, outbound(status), [
        { type: 'call_status', atMs: 1, status: 'queued' },
        { type: 'call_status', atMs: 2, status: 'ringing' },
        { type: 'call_status', atMs: 3, status },
      ], null);
    }
    // An outbound call that connected, was answered by a person and hung up by the callee.
    runCall(metrics, outbound('completed'), [
      { type: 'call_status', atMs: 1, status: 'in-progress' },
      { type: 'answered_by', atMs: 2, answeredBy: 'human', action: 'continue' },
      { type: 'call_status', atMs: 9, status: 'completed', durationS: 9 },
    ], { durationMs: 8_000 });

    const result = await scrape(metrics);
    const inbound = (end_reason: string) => result.sum('callbridge_calls_total', { direction: 'inbound', end_reason });
    expect(inbound('caller_hangup')).toBe(1);
    expect(inbound('agent_hangup')).toBe(1);
    expect(inbound('transfer')).toBe(1);
    expect(inbound('upstream_lost')).toBe(1);
    expect(inbound('shutdown')).toBe(1);
    expect(inbound('stream_closed')).toBe(1);
    for (const status of ['busy', 'no-answer', 'failed', 'canceled']) expect(result.sum('callbridge_calls_total', { direction: 'outbound', end_reason: status })).toBe(1);
    expect(result.sum('callbridge_calls_total', { direction: 'outbound', end_reason: 'caller_hangup' })).toBe(1);
    expect(result.sum('callbridge_calls_total')).toBe(11);
    expect(result.value('callbridge_transfers_total')).toBe(1);
    expect(result.value('callbridge_outbound_status_total', { status: 'ringing' })).toBe(4);
    expect(result.value('callbridge_outbound_status_total', { status: 'no-answer' })).toBe(1);
    expect(result.value('callbridge_outbound_status_total', { status: 'completed' })).toBe(1);
    expect(result.value('callbridge_answered_by_total', { verdict: 'human' })).toBe(1);
    // Never-connected calls have no duration; connected ones do.
    expect(result.value('callbridge_call_duration_seconds_count', { direction: 'outbound' })).toBe(1);
    expect(result.value('callbridge_active_calls', { direction: 'outbound' })).toBe(0);
    expect(result.value('callbridge_active_calls', { direction: 'inbound' })).toBe(0);
    expect(metrics.liveCalls).toBe(0);
  });

  it('a fallback moves the call to the fallback provider for its later samples and its end', async () => {
    const metrics = new CallMetrics({ defaultMetrics: false });
    runCall(metrics, info(), [
      { type: 'provider_fallback', atMs: 10, from: 'openai', to: 'elevenlabs', fault: 'connect_failed' },
      turnLatency(1, 600),
    ]);
    const result = await scrape(metrics);
    expect(result.value('callbridge_provider_fallbacks_total', { from: 'openai', to: 'elevenlabs' })).toBe(1);
    expect(result.value('callbridge_turn_latency_seconds_count', { provider: 'elevenlabs' })).toBe(1);
    expect(result.sum('callbridge_calls_total', { provider: 'elevenlabs' })).toBe(1);
  });

  it('tokens by kind from every response, and cost per ended call exactly as costOf prices it', async () => {
    const metrics = new CallMetrics({ defaultMetrics: false });
    const first = usage({ inputTokens: 1_000, inputAudioTokens: 800, cachedTokens: 300, outputTokens: 500, outputAudioTokens: 450 });
    const second = usage({ inputTokens: 2_000, inputAudioTokens: 1_500, cachedTokens: 1_200, outputTokens: 700, outputAudioTokens: 600 });
    const total = usage({ inputTokens: 3_000, inputAudioTokens: 2_300, cachedTokens: 1_500, outputTokens: 1_200, outputAudioTokens: 1_050 });
    const call = info({ model: 'gpt-realtime-2025-08-28' });
    runCall(
      metrics,
      call,
      [
        { type: 'response_done', atMs: 1, responseId: '0/r1', status: 'completed', usage: first },
        { type: 'response_done', atMs: 2, responseId: '0/r2', status: 'cancelled', usage: second },
        { type: 'response_done', atMs: 3, responseId: '0/r3', status: 'failed', usage: null },
      ],
      { usage: total, durationMs: 95_000 },
    );
    // A provider billed per minute, and a call with no model (unpriced: as its record prices it).
    runCall(metrics, info({ provider: 'elevenlabs', model: 'elevenlabs' }), [], { durationMs: 90_000 });
    runCall(metrics, info({ model: null }), [], { durationMs: 10_000 });

    const result = await scrape(metrics);
    const tokens = (kind: string) => result.value('callbridge_tokens_total', { kind, provider: 'openai' });
    expect(tokens('input_text')).toBe(700);
    expect(tokens('input_audio')).toBe(2_300);
    expect(tokens('output_text')).toBe(150);
    expect(tokens('output_audio')).toBe(1_050);
    expect(tokens('cached')).toBe(1_500);

    const openaiUsd = costOf(priceFor(DEFAULT_PRICES, 'gpt-realtime-2025-08-28')!.price, total, 95_000);
    const elevenlabsUsd = costOf(priceFor(DEFAULT_PRICES, 'elevenlabs')!.price, emptyUsage(), 90_000);
    expect(openaiUsd).toBeGreaterThan(0);
    expect(elevenlabsUsd).toBe(0.15);
    expect(result.value('callbridge_cost_usd_total', { provider: 'openai' })).toBe(openaiUsd);
    expect(result.value('callbridge_cost_usd_total', { provider: 'elevenlabs' })).toBe(elevenlabsUsd);
    expect(result.value('callbridge_unpriced_calls_total')).toBe(1);
  });

  it('prices from the configured table (PRICE_TABLE)', async () => {
    const prices = parsePriceTable('{"gpt-realtime":{"audioInPerMTokUsd":100}}');
    const metrics = new CallMetrics({ defaultMetrics: false, prices });
    const used = usage({ inputTokens: 10_000, inputAudioTokens: 10_000 });
    runCall(metrics, info(), [], { usage: used, durationMs: 60_000 });
    const result = await scrape(metrics);
    expect(result.value('callbridge_cost_usd_total', { provider: 'openai' })).toBe(1);
    expect(costOf(priceFor(prices, 'gpt-realtime')!.price, used, 60_000)).toBe(1);
  });

  it('records, draining and the call limit are read from their callbacks at each scrape', async () => {
    let stats: RecordWriterStats = { written: 7, pending: 2, dropped: 1, failedAttempts: 3, lastError: 'connection refused' };
    let draining = false;
    const metrics = new CallMetrics({ defaultMetrics: false, recordStats: () => stats, draining: () => draining, maxConcurrentCalls: 100 });
    const first = await scrape(metrics);
    expect(first.value('callbridge_records_written_total')).toBe(7);
    expect(first.value('callbridge_records_pending')).toBe(2);
    expect(first.value('callbridge_records_dropped_total')).toBe(1);
    expect(first.value('callbridge_records_failed_attempts_total')).toBe(3);
    expect(first.value('callbridge_draining')).toBe(0);
    expect(first.value('callbridge_max_concurrent_calls')).toBe(100);
    expect(first.text).not.toContain('connection refused');

    stats = { written: 12, pending: 0, dropped: 4, failedAttempts: 3, lastError: null };
    draining = true;
    const second = await scrape(metrics);
    expect(second.value('callbridge_records_written_total')).toBe(12);
    expect(second.value('callbridge_records_pending')).toBe(0);
    expect(second.value('callbridge_records_dropped_total')).toBe(4);
    expect(second.value('callbridge_draining')).toBe(1);

    // Without the callbacks there are no such metrics (not a misleading 0).
    const bare = await scrape(new CallMetrics({ defaultMetrics: false }));
    expect(bare.find('callbridge_records_written_total')).toEqual([]);
    expect(bare.find('callbridge_draining')).toEqual([]);

    // Bound later (the server's admission exists only after the metrics), and rebound.
    const late = new CallMetrics({ defaultMetrics: false });
    late.observeDraining(() => true);
    expect((await scrape(late)).value('callbridge_draining')).toBe(1);
    late.observeDraining(() => false);
    expect((await scrape(late)).value('callbridge_draining')).toBe(0);
  });

  it('refusals by reason: every reason exists at 0 from the start, then counts', async () => {
    const metrics = new CallMetrics({ defaultMetrics: false });
    const before = await scrape(metrics);
    for (const reason of ['spend_cap', 'per_number_limit', 'blocklist', 'capacity', 'no_agent', 'draining']) {
      expect(before.value('callbridge_refusals_total', { reason })).toBe(0);
    }
    metrics.countRefusal('capacity');
    metrics.countRefusal('capacity');
    metrics.countRefusal('blocklist');
    const after = await scrape(metrics);
    expect(after.value('callbridge_refusals_total', { reason: 'capacity' })).toBe(2);
    expect(after.value('callbridge_refusals_total', { reason: 'blocklist' })).toBe(1);
    expect(after.sum('callbridge_refusals_total')).toBe(3);
  });

  it('an event of a call it never saw start is counted, without making active calls negative', async () => {
    const metrics = new CallMetrics({ defaultMetrics: false });
    const call = info();
    metrics.callEvent(call, turnLatency(1, 300));
    metrics.callEnded(call, summary(call));
    const result = await scrape(metrics);
    expect(result.value('callbridge_active_calls', { direction: 'inbound' })).toBe(0);
    expect(result.value('callbridge_turn_latency_seconds_count', { provider: 'openai' })).toBe(1);
    expect(result.sum('callbridge_calls_total')).toBe(1);
    expect(metrics.liveCalls).toBe(0);
  });

  it('default metrics (event-loop lag, process) in its own registry: two instances in one process do not collide', async () => {
    const one = new CallMetrics();
    const two = new CallMetrics();
    const [a, b] = await Promise.all([scrape(one), scrape(two)]);
    for (const result of [a, b]) {
      expect(result.find('callbridge_nodejs_eventloop_lag_seconds')).toHaveLength(1);
      expect(result.find('callbridge_process_cpu_user_seconds_total')).toHaveLength(1);
      expect(result.find('callbridge_process_resident_memory_bytes').length).toBeLessThanOrEqual(1);
    }
    expect(one.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    // Every name carries the prefix.
    expect(a.samples.filter((sample) => !sample.name.startsWith('callbridge_'))).toEqual([]);
  });

  it('no label anywhere carries a callSid or a phone number', async () => {
    const metrics = new CallMetrics({ recordStats: () => ({ written: 1, pending: 0, dropped: 0, failedAttempts: 0, lastError: null }), draining: () => false });
    const calls = [info(), info({ direction: 'outbound', from: '+15550000001', to: '+442071838750' }), info({ from: 'anonymous', to: '+15550001111' })];
    for (const call of calls) {
      runCall(metrics, call, [
        turnLatency(1, 250),
        { type: 'tool_call', atMs: 1, name: 'lookup_+15005550006', callId: call.callSid, ok: true, durationMs: 5, argumentsJson: `{"phone":"${call.from}"}` },
        { type: 'stream_outcome', atMs: 2, outcome: 'transfer', reason: `transfer to ${call.to}`, destination: call.to },
        { type: 'fault', atMs: 3, kind: call.callSid, recovery: call.from, message: call.to },
        { type: 'call_status', atMs: 4, status: call.to },
        { type: 'answered_by', atMs: 5, answeredBy: call.from, action: 'continue' },
        { type: 'provider_fallback', atMs: 6, from: 'openai', to: 'openai', fault: call.callSid },
      ], { endReason: `transfer to ${call.to}` });
    }
    metrics.callStarted(info({ direction: 'outbound' }));
    const result = await scrape(metrics);
    const callSid = /^CA[0-9a-f]{32}$/i;
    const phone = /^\+?[0-9][0-9 ()-]{6,}$/;
    for (const value of result.labelValues()) {
      expect(value).not.toMatch(callSid);
      expect(value).not.toMatch(phone);
    }
    for (const call of calls) {
      expect(result.text).not.toContain(call.callSid);
      expect(result.text).not.toContain(call.from);
      expect(result.text).not.toContain(call.to);
    }
    // The scan did look at labels (sanity).
    expect(result.labelValues()).toContain('transfer');
  });
});

describe('GET /metrics', () => {
  async function serve(router: express.Router): Promise<{ url: string; close(): Promise<void> }> {
    const app = express();
    app.use(router);
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/metrics`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('serves the exposition text, unauthenticated by default', async () => {
    const metrics = new CallMetrics({ defaultMetrics: false });
    runCall(metrics, info(), [turnLatency(1, 300)]);
    const server = await serve(createMetricsRouter(metrics, {}));
    try {
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const result = new Scrape(await response.text());
      expect(result.value('callbridge_turn_latency_seconds_count', { provider: 'openai' })).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('with a bearer token (METRICS_TOKEN): 401 without it or with a wrong one, 200 with it', async () => {
    const metrics = new CallMetrics({ defaultMetrics: false });
    const server = await serve(createMetricsRouter(metrics, { bearerToken: 'scrape-secret-0123' }));
    try {
      const none = await fetch(server.url);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await none.text()).not.toContain('callbridge_');
      const wrong = await fetch(server.url, { headers: { Authorization: 'Bearer scrape-secret-0124' } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
      const basic = await fetch(server.url, { headers: { Authorization: 'Basic c2NyYXBlOnNlY3JldA==' } });
      expect(basic.status).toBe(401);
      const right = await fetch(server.url, { headers: { Authorization: 'bearer scrape-secret-0123' } });
      expect(right.status).toBe(200);
      expect(await right.text()).toContain('callbridge_calls_total');
    } finally {
      await server.close();
    }
    expect(() => createMetricsRouter(metrics, { bearerToken: '' })).toThrow(/empty bearer token/);
  });
});
