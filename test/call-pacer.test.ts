import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { OutQueue } from '../src/call/out-queue.js';
import { Pacer, type FrameTiming } from '../src/call/pacer.js';

interface Sent {
  what: string;
  atMs: number;
  timing?: FrameTiming;
}

function setup(leadMs = 200) {
  const clock = new ManualClock(1_000);
  const queue = new OutQueue({ markIntervalMs: 100 });
  const sent: Sent[] = [];
  const pacer = new Pacer({
    clock,
    leadMs,
    source: queue,
    sink: {
      sendFrame: (frame, timing) => {
        sent.push({ what: `${frame.itemId}@${frame.itemOffsetMs}`, atMs: clock.now(), timing });
        return true;
      },
      sendMark: (mark) => void sent.push({ what: `mark ${mark.itemId}@${mark.itemOffsetMs}`, atMs: clock.now() }),
    },
  });
  const push = (itemId: string, durationMs: number) => {
    queue.push('r1', itemId, new Uint8Array(durationMs * 8).fill(1));
    pacer.kick();
  };
  const frames = () => sent.filter((entry) => !entry.what.startsWith('mark'));
  return { clock, queue, pacer, sent, push, frames };
}

describe('Pacer', () => {
  it('sends the first leadMs at once, then one frame per 20 ms of clock, never early', () => {
    const { clock, pacer, sent, push, frames } = setup(200);
    push('A', 400);
    // 10 frames (200 ms) and the marks behind frames 5 and 10 go at once.
    expect(sent.map((entry) => entry.what)).toEqual([
      'A@0', 'A@20', 'A@40', 'A@60', 'A@80', 'mark A@100', 'A@100', 'A@120', 'A@140', 'A@160', 'A@180', 'mark A@200',
    ]);
    expect(pacer.bufferedAheadMs()).toBe(200);
    expect(pacer.nextWakeAtMs).toBe(1_020);
    clock.advance(19.999);
    push('A', 20); // a kick just before the due time must not send early either
    expect(frames()).toHaveLength(10);
    clock.advance(0.001);
    expect(frames()).toHaveLength(11);
    clock.advance(180);
    expect(frames().slice(10).map((entry) => `${entry.what}:${entry.atMs}`)).toEqual([
      'A@200:1020', 'A@220:1040', 'A@240:1060', 'A@260:1080', 'A@280:1100', 'A@300:1120', 'A@320:1140', 'A@340:1160', 'A@360:1180', 'A@380:1200',
    ]);
    // Each frame is modelled to start where the previous one ends.
    expect(frames().map((entry) => entry.timing!.playStartMs)).toEqual(Array.from({ length: 20 }, (_, index) => 1_000 + index * 20));
    expect(pacer.playbackEndMs).toBe(1_400);
    clock.advance(20);
    expect(frames()).toHaveLength(21);
    expect(clock.pendingTimers).toBe(0);
    // Marks 100 … 400; the one at 420 waits for the item's next frame or its end.
    expect(pacer.stats()).toEqual({ framesSent: 21, marksSent: 4, underruns: 0, underrunMs: 0 });
  });

  it('derives wake-ups from the playback model (advanced, not re-sampled) when the lead is not a whole number of frames', () => {
    const { clock, push, frames } = setup(50);
    push('A', 200);
    expect(frames().map((entry) => entry.atMs)).toEqual([1_000, 1_000]);
    clock.advance(100);
    // The third frame may go when buffered + 20 <= 50, i.e. at 1010, then every 20 ms.
    expect(frames().map((entry) => entry.atMs)).toEqual([1_000, 1_000, 1_010, 1_030, 1_050, 1_070, 1_090]);
  });

  it('counts an underrun with its ms when a started item runs dry, but not the gap before a new item', () => {
    const { clock, pacer, push, frames } = setup(200);
    push('A', 100);
    clock.advance(150); // playback ran dry at 1100
    push('A', 40);
    expect(frames().slice(5).map((entry) => entry.timing)).toEqual([
      { sentAtMs: 1_150, playStartMs: 1_150, underrunMs: 50 },
      { sentAtMs: 1_150, playStartMs: 1_170, underrunMs: 0 },
    ]);
    clock.advance(500);
    push('B', 20);
    expect(frames().at(-1)!.timing).toEqual({ sentAtMs: 1_650, playStartMs: 1_650, underrunMs: 0 });
    expect(pacer.stats()).toMatchObject({ underruns: 1, underrunMs: 50 });
  });

  it('reset() cancels the wake-up and empties the playback model from now', () => {
    const { clock, queue, pacer, push, frames } = setup(200);
    push('A', 400);
    expect(clock.pendingTimers).toBe(1);
    queue.clear();
    pacer.reset();
    expect(clock.pendingTimers).toBe(0);
    expect(pacer.bufferedAheadMs()).toBe(0);
    clock.advance(1_000);
    expect(frames()).toHaveLength(10);
    push('B', 300);
    // A fresh answer again gets its first leadMs at once.
    expect(frames().slice(10).map((entry) => entry.atMs)).toEqual(Array.from({ length: 10 }, () => 2_000));
  });

  it('stop() cancels the wake-up and ignores later kicks', () => {
    const { clock, pacer, push, frames } = setup(200);
    push('A', 400);
    pacer.stop();
    expect(clock.pendingTimers).toBe(0);
    push('A', 100);
    clock.advance(1_000);
    expect(frames()).toHaveLength(10);
  });

  it('asks its gate (the jitter cushion) once the lead allows a frame, wakes when the gate names, and re-asks on a kick', () => {
    const clock = new ManualClock(1_000);
    const queue = new OutQueue({ markIntervalMs: 100 });
    const sent: string[] = [];
    const asked: string[] = [];
    let holdUntilMs = 1_060;
    const pacer = new Pacer({
      clock,
      leadMs: 200,
      source: queue,
      sink: { sendFrame: (frame) => (sent.push(`${frame.itemOffsetMs}@${clock.now()}`), true), sendMark: () => {} },
      gate: {
        releaseAtMs: (frame, nowMs) => {
          asked.push(`${frame.itemOffsetMs}@${nowMs}`);
          return frame.itemOffsetMs === 0 ? holdUntilMs : nowMs;
        },
      },
    });
    queue.push('r1', 'A', new Uint8Array(160 * 3));
    pacer.kick();
    expect(sent).toEqual([]);
    expect(pacer.nextWakeAtMs).toBe(1_060);
    clock.advance(20);
    holdUntilMs = 1_020; // released early (e.g. the provider proved ahead): a kick sends at once
    pacer.kick();
    expect(sent).toEqual(['0@1020', '20@1020', '40@1020']);
    expect(asked).toEqual(['0@1000', '0@1020', '20@1020', '40@1020']);
    expect(pacer.playbackEndMs).toBe(1_080);
    clock.advance(100); // the stale 1060 wake-up finds nothing to send
    expect(sent).toHaveLength(3);
    expect(asked).toHaveLength(4);
  });

  it('does not advance the model for a frame the sink refuses', () => {
    const clock = new ManualClock(0);
    const queue = new OutQueue({ markIntervalMs: 100 });
    let refuse = true;
    const pacer = new Pacer({ clock, leadMs: 40, source: queue, sink: { sendFrame: () => !(refuse = !refuse), sendMark: () => {} } });
    queue.push('r1', 'A', new Uint8Array(160 * 4));
    pacer.kick();
    // Frames 1 and 3 refused, 2 and 4 accepted: exactly 40 ms modelled.
    expect(pacer.stats().framesSent).toBe(2);
    expect(pacer.playbackEndMs).toBe(40);
  });
});
