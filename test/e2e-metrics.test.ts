/**
 * End-to-end: two real calls through the bridge (simulated callers, simulated Realtime server), then `GET /metrics`
 * over HTTP. The calls, their turns and their turn latency are there — the histogram's sum is exactly the bridge's
 * own turn_latency events — the calls are no longer active, and no label names a call or a number.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallEvent } from '../src/call/call-events.js';
import type { CallSummary } from '../src/call/call-summary.js';
import { CallMetrics } from '../src/metrics/call-metrics.js';
import { createMetricsRouter } from '../src/metrics/router.js';
import type { CallInfo, CallObserver } from '../src/observers/hub.js';
import { costOf, DEFAULT_PRICES, priceFor } from '../src/records/pricing.js';
import { startBridge, type Bridge } from './helpers/e2e.js';
import { callerSpeech } from './helpers/e2e-call-flow.js';

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

function sum(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((total, sample) => total + sample.value, 0);
}

/** What the bridge itself told its observers. */
class Collector implements CallObserver {
  readonly name = 'collector';
  readonly events: Array<{ call: CallInfo; event: CallEvent }> = [];
  readonly ended: Array<{ call: CallInfo; summary: CallSummary }> = [];
  callEvent(call: CallInfo, event: CallEvent): void {
    this.events.push({ call, event });
  }
  callEnded(call: CallInfo, summary: CallSummary): void {
    this.ended.push({ call, summary });
  }
  ofType<T extends CallEvent['type']>(type: T): Array<Extract<CallEvent, { type: T }>> {
    return this.events.map((entry) => entry.event).filter((event): event is Extract<CallEvent, { type: T }> => event.type === type);
  }
}

let bridge: Bridge | null = null;
let metricsServer: http.Server | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
  const server = metricsServer;
  metricsServer = null;
  if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** `/metrics` on a tiny app of its own, as the lead may not have wired it into the server yet. */
async function serveMetrics(metrics: CallMetrics): Promise<string> {
  const app = express();
  app.use(createMetricsRouter(metrics, { bearerToken: null }));
  const server = app.listen(0, '127.0.0.1');
  metricsServer = server;
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

async function waitUntilAsync(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const CALLERS = ['+15005550006', '+15005550007'];
const NUMBER = '+15550001111';

describe('GET /metrics after real calls', () => {
  it('shows two caller-hung-up calls, their two turns and exactly the turn latencies the bridge measured; nothing active, no callSid or number', async () => {
    const metrics = new CallMetrics({ prices: DEFAULT_PRICES });
    const collector = new Collector();
    bridge = await startBridge({ observers: [metrics, collector], sim: { reply: { kind: 'tone-coded', durationMs: 400 } } });
    const url = await serveMetrics(metrics);

    // Each caller: the greeting plays, they ask one thing at 1000–1400 ms (a VAD turn), hear the answer, hang up.
    const calls = await Promise.all(CALLERS.map((from) => bridge!.call({ from, to: NUMBER, audio: callerSpeech([{ atMs: 1_000, durationMs: 400 }], 4_500) })));
    // While they talk, both are active.
    await waitUntilAsync(async () => sum(parseExposition(await (await fetch(url)).text()), 'callbridge_active_calls', { direction: 'inbound' }) === 2, 3_000, 'two active calls');
    const results = await Promise.all(calls.map((call) => call.closed));
    const summaries = await bridge.waitForSummaries(2);
    expect(results.map((result) => result.endedBy)).toEqual(['caller', 'caller']);
    expect(summaries.map((summary) => [summary.endReason, summary.turns])).toEqual([
      ['caller hung up', 1],
      ['caller hung up', 1],
    ]);

    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    const samples = parseExposition(text);

    expect(sum(samples, 'callbridge_calls_total')).toBe(2);
    expect(sum(samples, 'callbridge_calls_total', { direction: 'inbound', provider: 'openai', end_reason: 'caller_hangup' })).toBe(2);
    expect(sum(samples, 'callbridge_turns_total')).toBe(2);
    expect(sum(samples, 'callbridge_active_calls')).toBe(0);
    expect(metrics.liveCalls).toBe(0);

    // The turn-latency histogram holds exactly the bridge's own measurements.
    const latencies = collector.ofType('turn_latency').map((event) => event.latencyMs / 1000);
    expect(latencies).toHaveLength(2);
    expect(sum(samples, 'callbridge_turn_latency_seconds_count')).toBe(2);
    expect(sum(samples, 'callbridge_turn_latency_seconds_sum')).toBeCloseTo(latencies[0]! + latencies[1]!, 9);
    const under = (bound: number) => latencies.filter((latency) => latency <= bound).length;
    for (const le of ['0.1', '0.5', '1', '2', '10']) expect(sum(samples, 'callbridge_turn_latency_seconds_bucket', { le })).toBe(under(Number(le)));
    expect(sum(samples, 'callbridge_turn_latency_seconds_bucket', { le: '+Inf' })).toBe(2);

    // Greeting and answer of each call reached the caller: one first-audio sample per response heard.
    const responsesHeard = new Set(collector.events.flatMap(({ call, event }) => (event.type === 'agent_audio_started' ? [`${call.callSid} ${event.responseId}`] : [])));
    expect(sum(samples, 'callbridge_first_audio_latency_seconds_count')).toBe(responsesHeard.size);
    expect(responsesHeard.size).toBeGreaterThanOrEqual(4);
    expect(sum(samples, 'callbridge_call_duration_seconds_count')).toBe(2);

    // Tokens are the provider's usage reports, cost what the records would price.
    const usages = collector.ofType('response_done').flatMap((event) => (event.usage === null ? [] : [event.usage]));
    expect(usages.length).toBeGreaterThanOrEqual(4);
    expect(sum(samples, 'callbridge_tokens_total', { kind: 'output_audio' })).toBeGreaterThan(0);
    expect(sum(samples, 'callbridge_tokens_total', { kind: 'output_audio' })).toBe(usages.reduce((total, usage) => total + usage.outputAudioTokens, 0));
    expect(sum(samples, 'callbridge_tokens_total', { kind: 'input_audio' })).toBe(usages.reduce((total, usage) => total + usage.inputAudioTokens, 0));
    const usd = collector.ended.reduce((total, { call, summary }) => total + costOf(priceFor(DEFAULT_PRICES, call.model!)!.price, summary.usage, summary.durationMs), 0);
    expect(usd).toBeGreaterThan(0);
    expect(sum(samples, 'callbridge_cost_usd_total')).toBeCloseTo(usd, 9);

    // The process metrics are there, event-loop lag among them.
    expect(samples.some((sample) => sample.name === 'callbridge_nodejs_eventloop_lag_seconds')).toBe(true);

    // No label names a call or a number; neither appears anywhere in the text.
    for (const sample of samples) {
      for (const value of Object.values(sample.labels)) {
        expect(value).not.toMatch(/^CA[0-9a-f]{32}$/i);
        expect(value).not.toMatch(/^\+?[0-9][0-9 ()-]{6,}$/);
      }
    }
    for (const call of calls) expect(text).not.toContain(call.callSid);
    for (const number of [...CALLERS, NUMBER]) expect(text).not.toContain(number);
  });
});
