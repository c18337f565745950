/**
 * Call observers never break a call: a throwing or rejecting observer is logged once per hook and the others still
 * run; shutdown waits for async `callEnded` work, but only up to its deadline.
 */
import { describe, expect, it } from 'vitest';
import type { CallSummary } from '../src/call/call-summary.js';
import { createLogger } from '../src/logger.js';
import { CallObservers, type CallInfo, type CallObserver } from '../src/observers/hub.js';

const INFO: CallInfo = { callSid: 'CA1', streamSid: 'MZ1', from: '+15550001', to: '+15550002', direction: 'inbound', agent: 'default', provider: 'openai', model: 'gpt-realtime', startedAtEpochMs: 1, clockStartMs: 0 };
const SUMMARY = { callSid: 'CA1', endReason: 'caller hung up' } as CallSummary;

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { logger, lines };
}

describe('CallObservers', () => {
  it('passes started, events and ended to every observer in order', () => {
    const seen: string[] = [];
    const observer = (name: string): CallObserver => ({
      name,
      callStarted: (call) => void seen.push(`${name} started ${call.callSid}`),
      callEvent: (_call, event) => void seen.push(`${name} ${event.type}`),
      callEnded: (_call, summary) => void seen.push(`${name} ended ${summary.endReason}`),
    });
    const hub = new CallObservers([observer('a'), observer('b')], capture().logger);
    hub.started(INFO);
    hub.event(INFO, { type: 'turn_latency', atMs: 5, turn: 1, latencyMs: 420 });
    hub.ended(INFO, SUMMARY);
    expect(seen).toEqual(['a started CA1', 'b started CA1', 'a turn_latency', 'b turn_latency', 'a ended caller hung up', 'b ended caller hung up']);
  });

  it('a throwing observer is logged once per hook (at error) and the next observer still runs', async () => {
    const { logger, lines } = capture();
    const seen: string[] = [];
    const broken: CallObserver = {
      name: 'broken',
      callEvent: () => {
        throw new Error('observer bug');
      },
      callEnded: () => Promise.reject(new Error('database down')),
    };
    const hub = new CallObservers([broken, { name: 'fine', callEvent: (_call, event) => void seen.push(event.type) }], logger);
    const event = { type: 'barge_in', atMs: 1, heard: [] } as const;
    expect(() => hub.event(INFO, event)).not.toThrow();
    hub.event(INFO, event);
    hub.ended(INFO, SUMMARY);
    expect(await hub.flush(1_000)).toBe(true);
    expect(seen).toEqual(['barge_in', 'barge_in']);
    const failures = lines.filter((line) => line['msg'] === 'call observer failed (the call goes on)');
    expect(failures.map((line) => [line['level'], line['observer'], line['hook'], line['callSid']])).toEqual([
      [50, 'broken', 'callEvent', 'CA1'],
      [20, 'broken', 'callEvent', 'CA1'],
      [50, 'broken', 'callEnded', 'CA1'],
    ]);
  });

  it('flush waits for async callEnded work, and gives up at its deadline', async () => {
    let finish!: () => void;
    const slow: CallObserver = { name: 'slow', callEnded: () => new Promise<void>((resolve) => (finish = resolve)) };
    const hub = new CallObservers([slow], capture().logger);
    hub.ended(INFO, SUMMARY);
    expect(await hub.flush(20)).toBe(false);
    const flushed = hub.flush(5_000);
    finish();
    expect(await flushed).toBe(true);
    expect(await hub.flush(0)).toBe(true);
  });
});
