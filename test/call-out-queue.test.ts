import { describe, expect, it } from 'vitest';
import { OutQueue, type OutEntry } from '../src/call/out-queue.js';

/** Item audio whose every byte names its item (0 = A, 1 = B …) and frame: value = item × 50 + frame index. */
function itemAudio(item: number, fromByte: number, toByte: number): Uint8Array {
  const bytes = new Uint8Array(toByte - fromByte);
  for (let position = fromByte; position < toByte; position++) bytes[position - fromByte] = item * 50 + (Math.floor(position / 160) % 50);
  return bytes;
}

/** `A3` for a whole frame, `A6/40` for a padded frame with 40 real bytes; `mark@100` / `END@125` for marks. */
function describeEntry(entry: OutEntry): string {
  if (entry.kind === 'mark') return `${entry.endOfItem ? 'END' : 'mark'}:${entry.itemId}@${entry.itemOffsetMs}`;
  const first = entry.payload[0]!;
  const label = `${String.fromCharCode(65 + Math.floor(first / 50))}${first % 50}`;
  const realBytes = entry.payload.filter((byte) => byte !== 0xff).length;
  return realBytes === 160 ? label : `${label}/${realBytes}`;
}

function drain(queue: OutQueue): OutEntry[] {
  const out: OutEntry[] = [];
  for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) out.push(entry);
  return out;
}

describe('OutQueue', () => {
  it('cuts deltas of any length into 160-byte frames with a mark every 100 ms and one at the item end', () => {
    const queue = new OutQueue({ markIntervalMs: 100 });
    // 1000 bytes = 6 whole frames + 40 bytes (5 ms) in three unaligned deltas.
    expect(queue.push('r1', 'A', itemAudio(0, 0, 100)).framesQueued).toBe(0);
    expect(queue.push('r1', 'A', itemAudio(0, 100, 400)).framesQueued).toBe(2);
    expect(queue.push('r1', 'A', itemAudio(0, 400, 1000)).framesQueued).toBe(4);
    expect(queue.endItem('r1', 'A')).toBe(true);
    const entries = drain(queue);
    expect(entries.map(describeEntry)).toEqual(['A0', 'A1', 'A2', 'A3', 'A4', 'mark:A@100', 'A5', 'A6/40', 'END:A@125']);
    const frames = entries.filter((entry) => entry.kind === 'frame');
    expect(frames.map((frame) => frame.frameId)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(frames.map((frame) => frame.itemOffsetMs)).toEqual([0, 20, 40, 60, 80, 100, 120]);
    expect(frames.map((frame) => frame.audioMs)).toEqual([20, 20, 20, 20, 20, 20, 5]);
    for (const frame of frames) expect(frame.payload.length).toBe(160);
    // The padded tail carries the 40 real bytes first, then mu-law silence.
    expect([...frames[6]!.payload.subarray(0, 40)]).toEqual([...itemAudio(0, 960, 1000)]);
    expect(frames[6]!.payload.subarray(40).every((byte) => byte === 0xff)).toBe(true);
  });

  it('keeps a partial tail until the next delta of the same item completes the frame', () => {
    const queue = new OutQueue({ markIntervalMs: 100 });
    queue.push('r1', 'A', itemAudio(0, 0, 100));
    expect(queue.length).toBe(0);
    expect(queue.isEmpty).toBe(false);
    queue.push('r1', 'A', itemAudio(0, 100, 160));
    const [frame] = drain(queue);
    expect(frame?.kind === 'frame' && [...frame.payload]).toEqual([...itemAudio(0, 0, 160)]);
    expect(queue.isEmpty).toBe(true);
  });

  it('gives an item that ends on an interval boundary a single end mark there', () => {
    const queue = new OutQueue({ markIntervalMs: 100 });
    queue.push('r1', 'A', itemAudio(0, 0, 1600));
    queue.endItem('r1', 'A');
    expect(drain(queue).map(describeEntry)).toEqual(['A0', 'A1', 'A2', 'A3', 'A4', 'mark:A@100', 'A5', 'A6', 'A7', 'A8', 'A9', 'END:A@200']);
  });

  it('places an interval mark when the next frame arrives, so one already drained cannot be doubled by the end mark', () => {
    const queue = new OutQueue({ markIntervalMs: 100 });
    queue.push('r1', 'A', itemAudio(0, 0, 800));
    expect(drain(queue).map(describeEntry)).toEqual(['A0', 'A1', 'A2', 'A3', 'A4']);
    queue.endItem('r1', 'A');
    expect(drain(queue).map(describeEntry)).toEqual(['END:A@100']);
    queue.push('r1', 'B', itemAudio(1, 0, 960));
    expect(drain(queue).map(describeEntry)).toEqual(['B0', 'B1', 'B2', 'B3', 'B4', 'mark:B@100', 'B5']);
  });

  it('keeps FIFO order across items: a new item ends the open one first, and late deltas of it are refused', () => {
    const queue = new OutQueue({ markIntervalMs: 100 });
    queue.push('r1', 'A', itemAudio(0, 0, 400)); // 2.5 frames
    queue.push('r1', 'B', itemAudio(1, 0, 320));
    expect(queue.push('r1', 'A', itemAudio(0, 400, 560))).toEqual({ accepted: false, framesQueued: 0 });
    queue.endItem('r1', 'B');
    expect(drain(queue).map(describeEntry)).toEqual(['A0', 'A1', 'A2/80', 'END:A@50', 'B0', 'B1', 'END:B@40']);
    expect(queue.rejectedPushes).toBe(1);
  });

  it('clear() drops frames, marks and the partial tail, reports them per item, and refuses the cleared item', () => {
    const queue = new OutQueue({ markIntervalMs: 100 });
    queue.push('r1', 'A', itemAudio(0, 0, 480));
    queue.endItem('r1', 'A');
    queue.push('r2', 'B', itemAudio(1, 0, 1000)); // 6 frames + 40 bytes waiting in the framer
    queue.shift(); // A0 went out
    expect(queue.clear()).toEqual([
      { responseId: 'r1', itemId: 'A', droppedFrames: 2, droppedAudioMs: 40 },
      { responseId: 'r2', itemId: 'B', droppedFrames: 6, droppedAudioMs: 125 },
    ]);
    expect(queue.length).toBe(0);
    expect(queue.isEmpty).toBe(true);
    expect(queue.push('r2', 'B', itemAudio(1, 1000, 1200)).accepted).toBe(false);
    // Frame identities are never reused after a clear.
    queue.push('r3', 'C', itemAudio(2, 0, 160));
    const [frame] = drain(queue);
    expect(frame?.kind === 'frame' && frame.frameId).toBe(10);
  });
});
