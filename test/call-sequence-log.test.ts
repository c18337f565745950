import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { createLogger } from '../src/logger.js';
import { Playout } from '../src/call/playout.js';
import { SequenceLog } from '../src/call/sequence-log.js';
import type { FrameEntry } from '../src/call/out-queue.js';

/** A pino logger writing parsed lines into an array (pino writes synchronously to a plain `write` destination). */
function captureLogger(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level, base: {}, destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const pick = (levelNumber: number) =>
    lines.filter((line) => line['level'] === levelNumber).map(({ level: _level, time: _time, ...rest }) => rest);
  return { logger, lines, trace: () => pick(10), info: () => pick(30), error: () => pick(50) };
}

function setup(level: string) {
  const clock = new ManualClock(0);
  const log = captureLogger(level);
  const names: string[] = [];
  const playout = new Playout({
    clock,
    leadMs: 200,
    markIntervalMs: 100,
    // These tests pin exact send times of real-time-paced deltas: no jitter cushion (test/call-jitter.test.ts).
    jitterCushionMs: 0,
    logger: log.logger,
    sink: { sendMedia: () => {}, sendMark: (name) => void names.push(name), sendClear: () => {} },
  });
  return { clock, playout, names, ...log };
}

function frame(frameId: number, itemOffsetMs = 0): FrameEntry {
  return { kind: 'frame', responseId: 'r1', itemId: 'A', payload: new Uint8Array(160), itemOffsetMs, audioMs: 20, frameId };
}

describe('SequenceLog', () => {
  it('logs one info summary per item when its end mark is echoed, with sequence numbers across items', () => {
    const { clock, playout, names, info, trace } = setup('info');
    playout.enqueue('r1', 'A', new Uint8Array(600)); // 75 ms: 3 frames + a 120-byte tail
    playout.endItem('r1', 'A');
    playout.enqueue('r2', 'B', new Uint8Array(480));
    playout.endItem('r2', 'B');
    clock.advance(200);
    expect(names).toEqual(['cb1.1', 'cb1.2']);
    playout.onMarkEchoed('cb1.1');
    playout.onMarkEchoed('cb1.2');
    expect(info()).toEqual([
      { responseId: 'r1', itemId: 'A', firstSeq: 1, lastSeq: 4, frames: 4, audioMs: 75, droppedByInterruption: 0, underrunMs: 0, outcome: 'played', msg: 'agent audio played' },
      { responseId: 'r2', itemId: 'B', firstSeq: 5, lastSeq: 7, frames: 3, audioMs: 60, droppedByInterruption: 0, underrunMs: 0, outcome: 'played', msg: 'agent audio played' },
    ]);
    expect(trace()).toEqual([]);
  });

  it('logs the interrupted item with its dropped frames and underrun, and a trace line per frame when trace is on', () => {
    const { clock, playout, info, trace } = setup('trace');
    playout.enqueue('r1', 'A', new Uint8Array(320)); // 2 frames, sent at once
    clock.advance(70); // ran dry at 40
    playout.enqueue('r1', 'A', new Uint8Array(2_400)); // 15 frames: the lead refills (10 at once, the first after 30 ms of silence)
    clock.advance(20); // one more at 90; 4 still queued
    playout.interrupt();
    expect(trace()).toEqual(
      Array.from({ length: 13 }, (_, index) => index * 20).map((itemOffsetMs, index) => ({ seq: index + 1, itemId: 'A', itemOffsetMs, msg: 'frame out' })),
    );
    expect(info()).toEqual([
      { responseId: 'r1', itemId: 'A', firstSeq: 1, lastSeq: 13, frames: 13, audioMs: 260, droppedByInterruption: 4, underrunMs: 30, outcome: 'interrupted', msg: 'agent audio interrupted' },
    ]);
  });

  it('logs unfinished items as cut by hang-up on dispose', () => {
    const { playout, info } = setup('info');
    playout.enqueue('r1', 'A', new Uint8Array(160));
    playout.dispose();
    expect(info()).toEqual([
      { responseId: 'r1', itemId: 'A', firstSeq: 1, lastSeq: 1, frames: 1, audioMs: 20, droppedByInterruption: 0, underrunMs: 0, outcome: 'hangup', msg: 'agent audio cut by hang-up' },
    ]);
  });

  it('refuses a frame sent twice or out of order, logs it at error and counts it', () => {
    const log = captureLogger('info');
    const sequence = new SequenceLog(log.logger);
    expect(sequence.onFrameSent(frame(1, 0))).toBe(1);
    expect(sequence.onFrameSent(frame(3, 40))).toBe(2);
    expect(sequence.onFrameSent(frame(3, 40))).toBeNull();
    expect(sequence.onFrameSent(frame(2, 20))).toBeNull();
    expect(sequence.onFrameSent(frame(4, 60))).toBe(3);
    expect(sequence.sequenceErrors).toBe(2);
    expect(log.error()).toEqual([
      { frameId: 3, lastFrameId: 3, itemId: 'A', itemOffsetMs: 40, sequenceErrors: 1, msg: 'outbound frame sent twice: refused' },
      { frameId: 2, lastFrameId: 3, itemId: 'A', itemOffsetMs: 20, sequenceErrors: 2, msg: 'outbound frame out of order: refused' },
    ]);
    expect(sequence.finishItem('r1', 'A', 'played')).toMatchObject({ firstSeq: 1, lastSeq: 3, frames: 3, audioMs: 60 });
  });

  it('does not build trace lines when trace is off', () => {
    const log = captureLogger('debug');
    let traceCalls = 0;
    const original = log.logger.trace.bind(log.logger);
    log.logger.trace = ((...args: Parameters<typeof original>) => {
      traceCalls++;
      return original(...args);
    }) as typeof log.logger.trace;
    const sequence = new SequenceLog(log.logger);
    for (let id = 1; id <= 50; id++) sequence.onFrameSent(frame(id, (id - 1) * 20));
    expect(traceCalls).toBe(0);
    expect(log.lines).toEqual([]);
  });
});
