/**
 * Tracing: one OpenTelemetry trace per call, built from the observer events with the events' own times — a span per
 * turn (speech end → first agent audio) with its provider responses and tools inside, transfers and barge-ins as
 * events, no phone number anywhere — and the OTLP/HTTP export a collector receives.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { SpanKind, SpanStatusCode, type HrTime } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CallEvent } from '../src/call/call-events.js';
import type { CallSummary } from '../src/call/call-summary.js';
import { ManualClock } from '../src/clock.js';
import { createLogger } from '../src/logger.js';
import type { CallInfo } from '../src/observers/hub.js';
import { CallTracing, epochHrTime } from '../src/tracing/call-tracing.js';

const EPOCH_MS = 1_750_000_000_000; // 2025-06-15T15:06:40Z: hrtime [1_750_000_000 + s, ns]
const CLOCK_START_MS = 1_000;
const CALLER = '+15551234567';
const CALLED = '+15557654321';

function infoOf(callSid: string, overrides: Partial<CallInfo> = {}): CallInfo {
  return { callSid, streamSid: `MZ${callSid}`, from: CALLER, to: CALLED, direction: 'inbound', agent: 'front-desk', provider: 'openai', model: 'gpt-realtime', startedAtEpochMs: EPOCH_MS, clockStartMs: CLOCK_START_MS, ...overrides };
}

function summaryOf(callSid: string, durationMs: number): CallSummary {
  return {
    callSid,
    streamSid: `MZ${callSid}`,
    durationMs,
    endReason: 'transfer',
    turns: 2,
    responses: 4,
    bargeIns: 1,
    truncates: 1,
    framesIn: 360,
    framesOut: 300,
    gaps: 0,
    gapMs: 0,
    underruns: 0,
    underrunMs: 0,
    sequenceErrors: 0,
    lateDeltasDropped: 0,
    upstreamFaults: 0,
    usage: { inputTokens: 1200, outputTokens: 340, inputAudioTokens: 900, outputAudioTokens: 300, cachedTokens: 64 },
  };
}

const usage = (inputTokens: number, outputTokens: number) => ({ inputTokens, outputTokens, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 });

/** A realistic call on the call clock: greeting, turn 1 (a failing tool, then the answer), a barge-in, turn 2, transfer. */
function callEvents(prefix: string): CallEvent[] {
  const r = (n: number) => `${prefix}s1/resp_${n}`;
  const i = (n: number) => `${prefix}s1/item_${n}`;
  return [
    { type: 'response_started', atMs: 1_100, responseId: r(0) },
    { type: 'agent_audio_started', atMs: 1_300, responseId: r(0), itemId: i(0) },
    { type: 'transcript', atMs: 1_900, speaker: 'agent', itemId: i(0), text: 'Hello, how can I help?', final: true },
    { type: 'response_done', atMs: 2_000, responseId: r(0), status: 'completed', usage: usage(300, 40) },
    { type: 'turn_ended', atMs: 4_000.25, turn: 1 },
    { type: 'transcript', atMs: 4_100, speaker: 'caller', itemId: i(1), text: `my number is ${CALLER}`, final: true },
    { type: 'response_started', atMs: 4_300, responseId: r(1) },
    { type: 'tool_call', atMs: 4_700, name: 'lookup', callId: 'call_1', ok: false, durationMs: 250, argumentsJson: JSON.stringify({ phone: CALLER }), output: `no customer ${CALLER}` },
    { type: 'response_done', atMs: 4_720, responseId: r(1), status: 'completed', usage: usage(400, 20) },
    { type: 'response_started', atMs: 4_800, responseId: r(2) },
    { type: 'agent_audio_started', atMs: 5_100.5, responseId: r(2), itemId: i(2) },
    { type: 'turn_latency', atMs: 5_100.5, turn: 1, latencyMs: 1_100.25 },
    { type: 'dtmf', atMs: 5_500, digit: '7' },
    { type: 'barge_in', atMs: 5_800, heard: [{ responseId: r(2), itemId: i(2), heardMs: 700, audioMs: 900 }] },
    { type: 'response_done', atMs: 5_810, responseId: r(2), status: 'cancelled', usage: usage(250, 180) },
    { type: 'turn_ended', atMs: 7_000, turn: 2 },
    { type: 'response_started', atMs: 7_200, responseId: r(3) },
    { type: 'agent_audio_started', atMs: 7_600, responseId: r(3), itemId: i(3) },
    { type: 'turn_latency', atMs: 7_600, turn: 2, latencyMs: 600 },
    { type: 'response_done', atMs: 8_000, responseId: r(3), status: 'completed', usage: usage(250, 100) },
    { type: 'stream_outcome', atMs: 8_100, outcome: 'transfer', reason: 'the agent transferred the call', destination: 'sales' },
  ];
}

function harness() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const clock = new ManualClock(CLOCK_START_MS);
  const tracing = new CallTracing(provider.getTracer('test'), { clock });
  return { exporter, provider, clock, tracing, spans: () => exporter.getFinishedSpans() };
}

/** Drives `events` through the observer, moving the manual clock to each event's time. */
function feed(tracing: CallTracing, clock: ManualClock, info: CallInfo, events: readonly CallEvent[]): void {
  for (const event of events) {
    if (event.atMs > clock.now()) clock.advance(event.atMs - clock.now());
    tracing.callEvent(info, event);
  }
}

const hr = (seconds: number, nanos: number): HrTime => [1_750_000_000 + seconds, nanos];
const named = (spans: readonly ReadableSpan[], name: string) => spans.filter((span) => span.name === name);
const one = (spans: readonly ReadableSpan[], name: string): ReadableSpan => {
  const found = named(spans, name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

/** Every string a span exports: attributes, event attributes, status message, resource. */
function exportedStrings(span: ReadableSpan): string[] {
  const values = [
    ...Object.values(span.attributes),
    ...span.events.flatMap((event) => Object.values(event.attributes ?? {})),
    span.status.message,
    ...Object.values(span.resource.attributes),
    span.name,
  ];
  return values.flatMap((value) => (Array.isArray(value) ? value : [value])).map(String);
}

describe('CallTracing', () => {
  it('a call yields one trace: the call root, a span per turn with exact times, responses and tools inside', () => {
    const { tracing, clock, spans } = harness();
    const info = infoOf('CA100');
    tracing.callStarted(info);
    feed(tracing, clock, info, callEvents('a/'));
    clock.advance(8_200 - clock.now());
    tracing.callEnded(info, summaryOf('CA100', 7_200));

    const all = spans();
    expect(new Set(all.map((span) => span.spanContext().traceId)).size).toBe(1);
    expect(all.every((span) => span.ended)).toBe(true);
    expect(tracing.liveCalls).toBe(0);

    const root = one(all, 'call');
    expect(root.parentSpanContext).toBeUndefined();
    expect(root.kind).toBe(SpanKind.SERVER);
    expect(root.startTime).toEqual(hr(0, 0));
    expect(root.endTime).toEqual(hr(7, 200_000_000));
    expect(root.attributes).toMatchObject({
      'call.sid': 'CA100',
      'call.direction': 'inbound',
      'call.agent': 'front-desk',
      'call.provider': 'openai',
      'call.model': 'gpt-realtime',
      'call.connected': true,
      'call.end_reason': 'transfer',
      'call.outcome': 'transfer',
      'call.duration_ms': 7_200,
      'call.turns': 2,
      'call.responses': 4,
      'call.barge_ins': 1,
      'call.tokens.input': 1200,
      'call.tokens.output': 340,
      'call.tokens.input_audio': 900,
      'call.tokens.output_audio': 300,
      'call.tokens.cached': 64,
    });
    expect(root.status.code).toBe(SpanStatusCode.UNSET);
    expect(root.events.map((event) => [event.name, event.time, event.attributes])).toEqual([
      ['barge-in', hr(4, 800_000_000), { 'barge_in.items': 1, 'barge_in.heard_ms': 700 }],
      ['transfer', hr(7, 100_000_000), { 'outcome.kind': 'transfer', 'outcome.reason': 'the agent transferred the call', 'transfer.destination': 'sales' }],
    ]);

    // Exactly one span per turn, children of the root: caller's speech end → first agent frame of the answer.
    expect(all.filter((span) => span.name.startsWith('turn ')).map((span) => span.name).sort()).toEqual(['turn 1', 'turn 2']);
    const turn1 = one(all, 'turn 1');
    const turn2 = one(all, 'turn 2');
    for (const turn of [turn1, turn2]) expect(parentOf(turn)).toBe(idOf(root));
    expect([turn1.startTime, turn1.endTime]).toEqual([hr(3, 250_000), hr(4, 100_500_000)]);
    expect(turn1.attributes).toEqual({ 'turn.number': 1, 'turn.answered': true, 'turn.latency_ms': 1_100.25 });
    expect([turn2.startTime, turn2.endTime]).toEqual([hr(6, 0), hr(6, 600_000_000)]);
    expect(turn2.attributes).toEqual({ 'turn.number': 2, 'turn.answered': true, 'turn.latency_ms': 600 });

    // Provider responses: the greeting under the root, the others inside the turn they answer.
    const responses = named(all, 'provider response');
    const response = (n: number) => responses.find((span) => span.attributes['gen_ai.response.id'] === `a/s1/resp_${n}`)!;
    expect(responses).toHaveLength(4);
    expect(responses.map(parentOf)).toEqual(expect.arrayContaining([idOf(root), idOf(turn1), idOf(turn1), idOf(turn2)]));
    expect(parentOf(response(0))).toBe(idOf(root));
    expect(parentOf(response(1))).toBe(idOf(turn1));
    expect(parentOf(response(2))).toBe(idOf(turn1));
    expect(parentOf(response(3))).toBe(idOf(turn2));
    expect([response(2).startTime, response(2).endTime]).toEqual([hr(3, 800_000_000), hr(4, 810_000_000)]);
    expect(response(2).attributes).toEqual({ 'gen_ai.response.id': 'a/s1/resp_2', 'response.status': 'cancelled', 'gen_ai.usage.input_tokens': 250, 'gen_ai.usage.output_tokens': 180, 'response.first_audio_ms': 301 });
    expect(response(2).events.map((event) => [event.name, event.time, event.attributes])).toEqual([['first audio', hr(4, 100_500_000), { 'item.id': 'a/s1/item_2' }]]);
    expect(response(1).events).toEqual([]); // the tool-only response said nothing
    expect(response(0).events.map((event) => [event.name, event.time])).toEqual([['first audio', hr(0, 300_000_000)]]);

    // The tool: atMs − durationMs → atMs, inside turn 1, failed.
    const tool = one(all, 'tool lookup');
    expect(parentOf(tool)).toBe(idOf(turn1));
    expect([tool.startTime, tool.endTime]).toEqual([hr(3, 450_000_000), hr(3, 700_000_000)]);
    expect(tool.status.code).toBe(SpanStatusCode.ERROR);
    expect(tool.attributes).toEqual({ 'gen_ai.tool.name': 'lookup', 'gen_ai.tool.call.id': 'call_1', 'tool.ok': false, 'tool.duration_ms': 250 });

    // Phone numbers are personal data: in no attribute, event, status or resource; nor the DTMF digit's event.
    const strings = all.flatMap(exportedStrings);
    expect(strings.filter((value) => value.includes('5551234567') || value.includes('5557654321'))).toEqual([]);
    expect(all.flatMap((span) => span.events.map((event) => event.name))).not.toContain('dtmf');
    expect(all).toHaveLength(1 + 2 + 4 + 1);
  });

  it('two concurrent calls give two traces, each with its own turns', () => {
    const { tracing, clock, spans } = harness();
    const a = infoOf('CA_A');
    const b = infoOf('CA_B', { startedAtEpochMs: EPOCH_MS + 500, clockStartMs: CLOCK_START_MS + 500 });
    tracing.callStarted(a);
    clock.advance(500);
    tracing.callStarted(b);
    // Interleaved: b's events shifted 500 ms on the same clock.
    const eventsA = callEvents('a/');
    const eventsB = callEvents('b/').map((event) => ({ ...event, atMs: event.atMs + 500 }));
    const merged = [...eventsA.map((event) => [a, event] as const), ...eventsB.map((event) => [b, event] as const)].sort((x, y) => x[1].atMs - y[1].atMs);
    for (const [info, event] of merged) {
      if (event.atMs > clock.now()) clock.advance(event.atMs - clock.now());
      tracing.callEvent(info, event);
    }
    clock.advance(8_200 - clock.now());
    tracing.callEnded(a, summaryOf('CA_A', 7_200));
    clock.advance(500);
    tracing.callEnded(b, summaryOf('CA_B', 7_200));

    const all = spans();
    const roots = named(all, 'call');
    expect(roots.map((root) => root.attributes['call.sid']).sort()).toEqual(['CA_A', 'CA_B']);
    const traceIds = new Set(all.map((span) => span.spanContext().traceId));
    expect(traceIds.size).toBe(2);
    for (const root of roots) {
      const trace = all.filter((span) => span.spanContext().traceId === root.spanContext().traceId);
      expect(trace.filter((span) => span.name.startsWith('turn ')).map((span) => [span.name, parentOf(span)])).toEqual([
        ['turn 1', idOf(root)],
        ['turn 2', idOf(root)],
      ]);
      const prefix = root.attributes['call.sid'] === 'CA_A' ? 'a/' : 'b/';
      expect(named(trace, 'provider response').every((span) => String(span.attributes['gen_ai.response.id']).startsWith(prefix))).toBe(true);
      expect(trace).toHaveLength(8);
    }
    const rootB = roots.find((root) => root.attributes['call.sid'] === 'CA_B')!;
    const turn1B = all.find((span) => span.name === 'turn 1' && span.spanContext().traceId === rootB.spanContext().traceId)!;
    expect([rootB.startTime, rootB.endTime]).toEqual([hr(0, 500_000_000), hr(7, 700_000_000)]);
    expect([turn1B.startTime, turn1B.endTime]).toEqual([hr(3, 500_250_000), hr(4, 600_500_000)]);
    expect(tracing.liveCalls).toBe(0);
  });

  it('an outbound call that never connected gets one root span with its final status', () => {
    const { tracing, clock, spans } = harness();
    const info = infoOf('CA_OUT', { direction: 'outbound', streamSid: '' });
    tracing.callStarted(info);
    feed(tracing, clock, info, [
      { type: 'call_status', atMs: 1_050, status: 'queued' },
      { type: 'call_status', atMs: 1_400, status: 'ringing' },
      { type: 'call_status', atMs: 31_400, status: 'no-answer', durationS: 0 },
    ]);
    clock.advance(10);
    tracing.callNotConnected(info);

    const all = spans();
    expect(all).toHaveLength(1);
    const root = all[0]!;
    expect(root.name).toBe('call');
    expect(root.kind).toBe(SpanKind.CLIENT);
    expect([root.startTime, root.endTime]).toEqual([hr(0, 0), hr(30, 410_000_000)]);
    expect(root.attributes).toMatchObject({ 'call.sid': 'CA_OUT', 'call.direction': 'outbound', 'call.connected': false, 'call.status': 'no-answer', 'call.end_reason': 'not connected' });
    expect(root.status.code).toBe(SpanStatusCode.UNSET);
    expect(root.events.map((event) => [event.name, event.attributes?.['call.status']])).toEqual([
      ['call status', 'queued'],
      ['call status', 'ringing'],
      ['call status', 'no-answer'],
    ]);
    expect(all.flatMap(exportedStrings).filter((value) => value.includes('555'))).toEqual([]);
    expect(tracing.liveCalls).toBe(0);
  });

  it('a failed outbound call is an error; a call lost upstream is an error with its end reason', () => {
    const { tracing, clock, spans } = harness();
    const out = infoOf('CA_FAIL', { direction: 'outbound' });
    tracing.callStarted(out);
    feed(tracing, clock, out, [{ type: 'call_status', atMs: 1_200, status: 'failed' }]);
    tracing.callNotConnected(out);
    const lost = infoOf('CA_LOST');
    tracing.callStarted(lost);
    feed(tracing, clock, lost, [
      { type: 'fault', atMs: 2_000, kind: 'network', recovery: 'redial', message: `socket closed for ${CALLER}` },
      { type: 'provider_fallback', atMs: 2_100, from: 'openai', to: 'elevenlabs', fault: 'network' },
      { type: 'stream_outcome', atMs: 3_000, outcome: 'upstream_lost', reason: 'provider lost' },
    ]);
    tracing.callEnded(lost, { ...summaryOf('CA_LOST', 2_000), endReason: 'upstream lost', upstreamFaults: 2 });

    const [failed, lostRoot] = named(spans(), 'call');
    expect(failed!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'call failed' });
    expect(lostRoot!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'upstream lost' });
    expect(lostRoot!.attributes).toMatchObject({ 'call.fallback_provider': 'elevenlabs', 'call.upstream_faults': 2, 'call.outcome': 'upstream_lost' });
    expect(lostRoot!.events.map((event) => [event.name, event.attributes])).toEqual([
      ['fault', { 'fault.kind': 'network', 'fault.recovery': 'redial' }],
      ['provider fallback', { 'fallback.from': 'openai', 'fallback.to': 'elevenlabs', 'fault.kind': 'network' }],
      ['stream outcome', { 'outcome.kind': 'upstream_lost', 'outcome.reason': 'provider lost' }],
    ]);
  });

  it('closes what the call left open: an unanswered turn, a response in flight; ends at the clock, not before the last event', () => {
    const { tracing, clock, spans } = harness();
    const info = infoOf('CA_OPEN');
    tracing.callStarted(info);
    feed(tracing, clock, info, [
      { type: 'turn_ended', atMs: 2_000, turn: 1 },
      // The caller spoke again before any answer: turn 1 was never answered.
      { type: 'turn_ended', atMs: 3_000, turn: 2 },
      { type: 'response_started', atMs: 3_200, responseId: 's1/resp_9' },
    ]);
    clock.advance(4_000 - clock.now());
    tracing.callEnded(info, { ...summaryOf('CA_OPEN', 3_000), endReason: 'caller hung up' });

    const all = spans();
    const turn1 = one(all, 'turn 1');
    const turn2 = one(all, 'turn 2');
    expect([turn1.startTime, turn1.endTime, turn1.attributes['turn.answered']]).toEqual([hr(1, 0), hr(2, 0), false]);
    expect([turn2.startTime, turn2.endTime, turn2.attributes['turn.answered']]).toEqual([hr(2, 0), hr(3, 0), false]);
    const response = one(all, 'provider response');
    expect(parentOf(response)).toBe(idOf(turn2));
    expect([response.endTime, response.attributes['response.status']]).toEqual([hr(3, 0), 'unfinished']);
    expect(one(all, 'call').endTime).toEqual(hr(3, 0));
    expect(tracing.liveCalls).toBe(0);
  });

  it('a response that started before its turn was reported belongs to the turn its first audio answers', () => {
    const { tracing, clock, spans } = harness();
    const info = infoOf('CA_ORDER');
    tracing.callStarted(info);
    feed(tracing, clock, info, [
      { type: 'response_started', atMs: 2_100, responseId: 's1/resp_1' },
      { type: 'turn_ended', atMs: 2_000, turn: 1 },
      { type: 'agent_audio_started', atMs: 2_500, responseId: 's1/resp_1', itemId: 's1/item_1' },
      { type: 'turn_latency', atMs: 2_500, turn: 1, latencyMs: 500 },
      { type: 'response_done', atMs: 3_000, responseId: 's1/resp_1', status: 'completed', usage: null },
    ]);
    tracing.callEnded(info, summaryOf('CA_ORDER', 2_000));
    const all = spans();
    const turn = one(all, 'turn 1');
    const response = one(all, 'provider response');
    expect(parentOf(response)).toBe(idOf(turn));
    expect([turn.startTime, turn.endTime]).toEqual([hr(1, 0), hr(1, 500_000_000)]);
    expect([response.startTime, response.endTime]).toEqual([hr(1, 100_000_000), hr(2, 0)]);
    expect(response.attributes).toEqual({ 'gen_ai.response.id': 's1/resp_1', 'response.status': 'completed', 'response.first_audio_ms': 400 });
  });

  it('ignores events of calls it never saw start, and bounds the calls it keeps open', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const clock = new ManualClock(CLOCK_START_MS);
    const tracing = new CallTracing(provider.getTracer('test'), { clock, maxLiveCalls: 2, maxCallAgeMs: 60_000 });
    tracing.callEvent(infoOf('CA_UNKNOWN'), { type: 'turn_ended', atMs: 1_000, turn: 1 });
    tracing.callEnded(infoOf('CA_UNKNOWN'), summaryOf('CA_UNKNOWN', 1));
    expect(exporter.getFinishedSpans()).toEqual([]);

    for (const sid of ['CA1', 'CA2', 'CA3']) tracing.callStarted(infoOf(sid));
    expect(tracing.liveCalls).toBe(2);
    const evicted = exporter.getFinishedSpans();
    expect(evicted.map((span) => [span.attributes['call.sid'], span.attributes['call.end_reason'], span.attributes['call.abandoned']])).toEqual([['CA1', 'abandoned', true]]);
    clock.advance(61_000);
    tracing.callStarted(infoOf('CA4', { clockStartMs: clock.now() }));
    expect(tracing.liveCalls).toBe(1);
    expect(exporter.getFinishedSpans().map((span) => span.attributes['call.sid'])).toEqual(['CA1', 'CA2', 'CA3']);
  });

  it('epochHrTime is exact for fractional and negative offsets', () => {
    expect(epochHrTime(EPOCH_MS)).toEqual([1_750_000_000, 0]);
    expect(epochHrTime(EPOCH_MS + 999, 0.5)).toEqual([1_750_000_000, 999_500_000]);
    expect(epochHrTime(EPOCH_MS, 3_000.25)).toEqual([1_750_000_003, 250_000]);
    expect(epochHrTime(EPOCH_MS, -0.5)).toEqual([1_749_999_999, 999_500_000]);
    expect(epochHrTime(EPOCH_MS + 1, 999)).toEqual([1_750_000_001, 0]);
  });
});

describe('startTracing (OTLP/HTTP to a collector)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('exports the call to <endpoint>/v1/traces as OTLP JSON with the service name, span names and times', async () => {
    // The environment could name another service or compress: this test is about the defaults.
    for (const name of ['OTEL_SERVICE_NAME', 'OTEL_RESOURCE_ATTRIBUTES', 'OTEL_EXPORTER_OTLP_COMPRESSION', 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) vi.stubEnv(name, '');
    const received: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }> = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { startTracing } = await import('../src/tracing/otel.js');
      const clock = new ManualClock(CLOCK_START_MS);
      const tracing = startTracing({ endpoint: `http://127.0.0.1:${port}`, serviceName: 'callbridge-e2e', headers: { 'x-collector-key': 'k-123' }, clock });
      const info = infoOf('CA_E2E');
      tracing.observer.callStarted(info);
      feed(tracing.observer, clock, info, callEvents('e/'));
      clock.advance(8_200 - clock.now());
      tracing.observer.callEnded(info, summaryOf('CA_E2E', 7_200));
      await tracing.shutdown();

      expect(received.length).toBeGreaterThanOrEqual(1);
      for (const request of received) {
        expect([request.method, request.url]).toEqual(['POST', '/v1/traces']);
        expect(request.headers['content-type']).toBe('application/json');
        expect(request.headers['x-collector-key']).toBe('k-123');
      }
      type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
      type KeyValue = { key: string; value: AnyValue };
      type JsonSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string; startTimeUnixNano: string; endTimeUnixNano: string; attributes: KeyValue[] };
      type Body = { resourceSpans: Array<{ resource: { attributes: KeyValue[] }; scopeSpans: Array<{ scope: { name: string }; spans: JsonSpan[] }> }> };
      const bodies = received.map((request) => JSON.parse(request.body.toString('utf8')) as Body);
      const resources = bodies.flatMap((body) => body.resourceSpans);
      for (const resource of resources) expect(resource.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'callbridge-e2e' } });
      const scopes = resources.flatMap((resource) => resource.scopeSpans);
      expect(new Set(scopes.map((scope) => scope.scope.name))).toEqual(new Set(['callbridge']));
      const spans = scopes.flatMap((scope) => scope.spans);
      expect(spans.map((span) => span.name).sort()).toEqual(['call', 'provider response', 'provider response', 'provider response', 'provider response', 'tool lookup', 'turn 1', 'turn 2']);
      expect(new Set(spans.map((span) => span.traceId)).size).toBe(1);
      const root = spans.find((span) => span.name === 'call')!;
      const turn1 = spans.find((span) => span.name === 'turn 1')!;
      expect(root.parentSpanId ?? '').toBe('');
      expect(turn1.parentSpanId).toBe(root.spanId);
      expect([root.startTimeUnixNano, root.endTimeUnixNano]).toEqual([String(BigInt(EPOCH_MS) * 1_000_000n), String(BigInt(EPOCH_MS + 7_200) * 1_000_000n)]);
      expect([turn1.startTimeUnixNano, turn1.endTimeUnixNano]).toEqual(['1750000003000250000', '1750000004100500000']);
      expect(root.attributes).toContainEqual({ key: 'call.sid', value: { stringValue: 'CA_E2E' } });
      const wire = received.map((request) => request.body.toString('utf8')).join('\n');
      expect(wire).not.toContain('5551234567');
      expect(wire).not.toContain('5557654321');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('shutdown with the collector down resolves by its deadline and logs it', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
    const { startTracing } = await import('../src/tracing/otel.js');
    const clock = new ManualClock(CLOCK_START_MS);
    const tracing = startTracing({ endpoint: `http://127.0.0.1:${port}`, clock, logger });
    const info = infoOf('CA_DOWN');
    tracing.observer.callStarted(info);
    feed(tracing.observer, clock, info, callEvents('d/'));
    tracing.observer.callEnded(info, summaryOf('CA_DOWN', 7_000));
    const startedAt = Date.now();
    await expect(tracing.shutdown(400)).resolves.toBeUndefined();
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(tracing.shutdown()).toBe(tracing.shutdown());
    expect(lines.map((line) => [line['level'], line['msg'], line['deadlineMs']])).toContainEqual([40, 'tracing: shutdown deadline passed, the last spans may be lost', 400]);
  });

  it('builds the traces URL as the OTLP spec does, and refuses an endpoint that is not an http(s) URL', async () => {
    const { tracesUrl, startTracing } = await import('../src/tracing/otel.js');
    expect(tracesUrl('http://collector:4318')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl('https://otlp.example.com/otlp/')).toBe('https://otlp.example.com/otlp/v1/traces');
    expect(() => tracesUrl('collector:4318')).toThrow(/http\(s\)/);
    expect(() => tracesUrl('not a url')).toThrow(/not a URL/);
    expect(() => startTracing({ endpoint: 'nope' })).toThrow(/not a URL/);
  });
});

describe('free when off', () => {
  it('no module outside src/tracing loads OpenTelemetry or the tracing module statically', () => {
    const src = new URL('../src/', import.meta.url).pathname;
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
    const offending = sources(src)
      .filter((file) => !relative(src, file).startsWith('tracing/'))
      .flatMap((file) =>
        [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)(?!\s+type\b)[^'";]*?from\s+'([^']+)'/gm)]
          .map((match) => match[1]!)
          .filter((spec) => spec.startsWith('@opentelemetry/') || /(^|\/)tracing\//.test(spec))
          .map((spec) => `${relative(src, file)} → ${spec}`),
      );
    expect(offending).toEqual([]);
  });
});
