/**
 * The terminal client's pure timing parts (src/chat/): the playout model (marks echoed exactly when the audio before
 * them has played; clear drops the rest and echoes every pending mark at once), the answer collector that splits the
 * played audio into WAV files, and the silence ticker that never drifts. All on a ManualClock, exact times.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, type Clock, type TimerHandle } from '../src/clock.js';
import { AnswerCollector } from '../src/chat/answer-collector.js';
import { FrameTicker } from '../src/chat/frame-ticker.js';
import { PlayoutModel } from '../src/chat/playout-model.js';

const RATE = 24_000;
/** A frame of `ms` milliseconds at 24 kHz whose samples all hold `tag`. */
const frame = (ms: number, tag = 1): Uint8Array => {
  const samples = new Int16Array((RATE * ms) / 1000).fill(tag);
  return new Uint8Array(samples.buffer);
};

function setup(leadMs = 0, startMs = 0) {
  const clock = new ManualClock(startMs);
  const events: string[] = [];
  const model = new PlayoutModel({
    clock,
    sampleRateHz: RATE,
    leadMs,
    onFrame: (bytes, start, end) => events.push(`frame ${bytes.length}B [${start}-${end}] @${clock.now()}`),
    onMark: (name) => events.push(`mark ${name} @${clock.now()}`),
  });
  return { clock, events, model, marks: () => events.filter((event) => event.startsWith('mark')) };
}

describe('chat playout model', () => {
  it('echoes a mark at once when nothing is queued', () => {
    const { model, events } = setup(0, 1000);
    model.mark('m0');
    expect(events).toEqual(['mark m0 @1000']);
    expect(model.pendingMarks).toBe(0);
  });

  it('plays frames back to back in real time and echoes each mark when the audio before it has played', () => {
    const { clock, model, events } = setup();
    model.audio(frame(20));
    model.audio(frame(20));
    model.audio(frame(20));
    model.mark('a');
    model.audio(frame(20));
    model.audio(frame(10));
    model.mark('b');
    model.mark('c');
    expect(model.queuedMs).toBe(90);
    expect(events).toEqual(['frame 960B [0-20] @0']);
    clock.advance(59);
    expect(events.at(-1)).toBe('frame 960B [40-60] @40');
    clock.advance(1);
    clock.advance(100);
    expect(events).toEqual([
      'frame 960B [0-20] @0',
      'frame 960B [20-40] @20',
      'frame 960B [40-60] @40',
      'frame 960B [60-80] @60',
      'mark a @60',
      'frame 480B [80-90] @80',
      'mark b @90',
      'mark c @90',
    ]);
    expect(model.queuedMs).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('starts audio that arrives after a pause at its arrival, not at the end of the last answer', () => {
    const { clock, model, marks } = setup();
    model.audio(frame(20));
    clock.advance(500);
    model.audio(frame(20));
    model.mark('late');
    expect(model.queuedMs).toBe(20);
    clock.advance(19);
    expect(marks()).toEqual([]);
    clock.advance(1);
    expect(marks()).toEqual(['mark late @520']);
  });

  it('queues audio that arrives faster than real time behind what is already queued', () => {
    const { clock, model, marks } = setup();
    for (let index = 0; index < 50; index++) model.audio(frame(20)); // one second sent at once
    model.mark('one-second');
    clock.advance(300);
    for (let index = 0; index < 10; index++) model.audio(frame(20));
    model.mark('after-more');
    expect(model.queuedMs).toBe(900);
    clock.advance(2000);
    expect(marks()).toEqual(['mark one-second @1000', 'mark after-more @1200']);
  });

  it('on clear drops what has not played, echoes every pending mark at once, and restarts the timeline now', () => {
    const { clock, model, events, marks } = setup();
    for (let index = 0; index < 5; index++) model.audio(frame(20));
    model.mark('a');
    for (let index = 0; index < 5; index++) model.audio(frame(20));
    model.mark('b');
    clock.advance(30); // frames [0-20] and [20-40] have started
    const result = model.clear();
    expect(result).toEqual({ droppedMs: 160, marks: ['a', 'b'] });
    expect(marks()).toEqual(['mark a @30', 'mark b @30']);
    expect(events.filter((event) => event.startsWith('frame'))).toEqual(['frame 960B [0-20] @0', 'frame 960B [20-40] @20']);
    expect(model.queuedMs).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    // The next answer starts now, not where the dropped audio would have ended.
    model.audio(frame(20));
    model.mark('c');
    clock.advance(19);
    expect(marks()).toHaveLength(2);
    clock.advance(1);
    expect(marks().at(-1)).toBe('mark c @50');
    expect(model.clear()).toEqual({ droppedMs: 0, marks: [] });
  });

  it('hands frames to the sink leadMs early but never echoes a mark early', () => {
    const { clock, model, events } = setup(50);
    for (let index = 0; index < 5; index++) model.audio(frame(20));
    model.mark('end');
    expect(events).toEqual(['frame 960B [0-20] @0', 'frame 960B [20-40] @0', 'frame 960B [40-60] @0']);
    clock.advance(100);
    expect(events.slice(3)).toEqual(['frame 960B [60-80] @10', 'frame 960B [80-100] @30', 'mark end @100']);
  });

  it('handles frames of any whole number of samples (1 sample = 1/24 ms) without losing a mark to rounding', () => {
    const { clock, model, marks } = setup();
    for (let index = 0; index < 24; index++) model.audio(new Uint8Array(2));
    model.audio(new Uint8Array(3)); // a trailing odd byte is ignored: one sample
    model.audio(new Uint8Array(1)); // no whole sample: nothing
    model.mark('m');
    clock.advance(1);
    expect(marks()).toEqual([]);
    clock.advance(1 / 24);
    expect(marks()).toHaveLength(1);
    // 25 samples of 1/24 ms each, summed in floating point.
    expect(Number(marks()[0]!.split('@')[1])).toBeCloseTo(1 + 1 / 24, 9);
  });

  it('at the end of the call hands every queued frame over at once and drops pending marks', () => {
    const { clock, model, events } = setup();
    for (let index = 0; index < 3; index++) model.audio(frame(20));
    model.mark('never');
    model.flushAndClose();
    expect(events).toEqual(['frame 960B [0-20] @0', 'frame 960B [20-40] @0', 'frame 960B [40-60] @0']);
    clock.advance(1000);
    model.audio(frame(20));
    model.mark('after');
    expect(events).toHaveLength(3);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('chat answer collector', () => {
  function collect(clock: ManualClock) {
    const answers: string[] = [];
    const collector = new AnswerCollector({ clock, sampleRateHz: RATE, onAnswer: (pcm, ms) => answers.push(`${pcm.length}B ${ms}ms @${clock.now()}`) });
    return { answers, collector };
  }

  it('ends an answer once 1 s has passed after its last frame', () => {
    const clock = new ManualClock();
    const { answers, collector } = collect(clock);
    collector.add(frame(20), 0, 20);
    clock.advance(20);
    collector.add(frame(10), 20, 30);
    clock.advance(1009);
    expect(answers).toEqual([]);
    clock.advance(1);
    expect(answers).toEqual(['1440B 30ms @1030']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('splits at a pause of 1 s or more on the timeline, keeps frames apart by less together, and cuts on demand', () => {
    const clock = new ManualClock();
    const { answers, collector } = collect(clock);
    collector.add(frame(20, 1), 0, 20);
    collector.add(frame(20, 2), 1019, 1039); // 999 ms pause: same answer
    collector.add(frame(20, 3), 2039, 2059); // 1000 ms pause: a new answer
    expect(answers).toEqual(['1920B 40ms @0']);
    collector.cut();
    expect(answers).toEqual(['1920B 40ms @0', '960B 20ms @0']);
    collector.cut();
    expect(answers).toHaveLength(2);
  });

  it('keeps the bytes it was given (a caller reusing its buffer changes nothing)', () => {
    const clock = new ManualClock();
    const saved: Uint8Array[] = [];
    const collector = new AnswerCollector({ clock, sampleRateHz: RATE, onAnswer: (pcm) => saved.push(pcm) });
    const buffer = new Uint8Array([1, 0, 2, 0]);
    collector.add(buffer, 0, 1);
    buffer.fill(9);
    collector.cut();
    expect([...saved[0]!]).toEqual([1, 0, 2, 0]);
  });
});

/** A clock whose timers all fire `lateMs` late, like a busy event loop. */
class LateClock implements Clock {
  constructor(
    private readonly inner: ManualClock,
    private readonly lateMs: number,
  ) {}
  now(): number {
    return this.inner.now();
  }
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.inner.setTimeout(callback, Math.max(0, delayMs) + this.lateMs);
  }
  clearTimeout(handle: TimerHandle): void {
    this.inner.clearTimeout(handle);
  }
}

describe('chat silence ticker', () => {
  it('sends frame n at start + n·20 ms', () => {
    const clock = new ManualClock(5);
    const sends: string[] = [];
    const ticker = new FrameTicker({ clock, frameMs: 20, onFrames: (count) => sends.push(`${count}@${clock.now()}`) });
    ticker.start();
    clock.advance(100);
    expect(sends).toEqual(['1@5', '1@25', '1@45', '1@65', '1@85', '1@105']);
    ticker.stop();
    clock.advance(100);
    expect(ticker.framesSent).toBe(6);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not drift when every timer fires late: it catches up against the start time', () => {
    const manual = new ManualClock(0);
    const clock = new LateClock(manual, 7);
    let sent = 0;
    const ticker = new FrameTicker({ clock, frameMs: 20, onFrames: (count) => (sent += count) });
    ticker.start();
    manual.advance(10_000);
    // Due by 10 s: frames at 0, 20, …, 10 000 = 501; each timer is 7 ms late, so the last one is still to come.
    expect(sent).toBe(500);
    manual.advance(7);
    expect(sent).toBe(501);
  });

  it('after a long stall sends one burst of at most 10 frames and carries on from there', () => {
    const manual = new ManualClock(0);
    let late = 0;
    const clock: Clock = {
      now: () => manual.now(),
      setTimeout: (callback, delayMs) => manual.setTimeout(callback, delayMs + late),
      clearTimeout: (handle) => manual.clearTimeout(handle),
    };
    const sends: string[] = [];
    const ticker = new FrameTicker({ clock, frameMs: 20, onFrames: (count) => sends.push(`${count}@${manual.now()}`) });
    ticker.start();
    late = 1000;
    manual.advance(20); // the timer for 20 was set before the stall: on time; the one it sets fires at 1040
    late = 0;
    manual.advance(1020); // 1040: 53 frames due, 2 sent; one burst of 10, the rest forgotten
    manual.advance(20);
    expect(sends).toEqual(['1@0', '1@20', '10@1040', '1@1060']);
  });
});
