/**
 * Barge-in scenarios for the whole agent → caller path, with a fake Twilio that plays what it is sent in real time on
 * the ManualClock and echoes each mark when its playback reaches it (optionally late), and every pending mark at
 * once when it gets a `clear` — as the real one does (PROTOCOLS.md).
 *
 * The bug these guard against: barge-in maths on the wrong clock or on marks of a previous generation produced
 * truncates beyond the audio sent ("Audio content of 9250ms is already shorter than 57340ms").
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/logger.js';
import { Playout } from '../src/call/playout.js';

class FakeTwilio {
  readonly events: string[] = [];
  mediaCount = 0;
  private playedUntilMs = -Infinity;
  private pending: Array<{ name: string; timer: { id: number } }> = [];
  playout!: Playout;

  constructor(
    private readonly clock: ManualClock,
    private readonly echoDelayMs: number | null,
  ) {}

  readonly sink = {
    sendMedia: (payload: Uint8Array) => {
      expect(payload.length).toBe(160);
      this.mediaCount++;
      this.events.push(`media@${this.clock.now()}`);
      this.playedUntilMs = Math.max(this.playedUntilMs, this.clock.now()) + 20;
    },
    sendMark: (name: string) => {
      this.events.push(`mark ${name}`);
      if (this.echoDelayMs === null) return;
      const dueMs = Math.max(this.playedUntilMs, this.clock.now()) + this.echoDelayMs;
      const entry = { name, timer: { id: -1 } };
      entry.timer = this.clock.setTimeout(() => {
        this.pending = this.pending.filter((pending) => pending !== entry);
        this.playout.onMarkEchoed(name);
      }, dueMs - this.clock.now());
      this.pending.push(entry);
    },
    sendClear: () => {
      this.events.push(`clear@${this.clock.now()}`);
      this.playedUntilMs = -Infinity;
      const pending = this.pending;
      this.pending = [];
      for (const entry of pending) {
        this.clock.clearTimeout(entry.timer);
        this.playout.onMarkEchoed(entry.name);
      }
    },
  };
}

function setup(options: { echoDelayMs?: number | null; startMs?: number; jitterCushionMs?: number } = {}) {
  const clock = new ManualClock(options.startMs ?? 0);
  const twilio = new FakeTwilio(clock, options.echoDelayMs === undefined ? 0 : options.echoDelayMs);
  const playout = new Playout({
    clock,
    leadMs: 200,
    markIntervalMs: 100,
    logger: silentLogger(),
    sink: twilio.sink,
    ...(options.jitterCushionMs === undefined ? {} : { jitterCushionMs: options.jitterCushionMs }),
  });
  twilio.playout = playout;
  /** Enqueues `durationMs` of audio for an item in 37-byte deltas (never frame-aligned). */
  const speak = (responseId: string, itemId: string, durationMs: number, end = true) => {
    const bytes = new Uint8Array(Math.round(durationMs * 8)).fill(7);
    for (let offset = 0; offset < bytes.length; offset += 37) playout.enqueue(responseId, itemId, bytes.subarray(offset, offset + 37));
    if (end) playout.endItem(responseId, itemId);
  };
  return { clock, twilio, playout, speak };
}

describe('Playout barge-in', () => {
  it('interrupt at 730 ms with marks echoed on time: heard 730, exactly one clear, no frame after it', () => {
    const { clock, twilio, playout, speak } = setup();
    speak('r1', 'A', 2_000);
    clock.advance(730);
    const framesBefore = twilio.mediaCount;
    expect(framesBefore).toBe(10 + 36); // lead, then one per 20 ms up to 720
    const result = playout.interrupt();
    expect(result).toEqual({ heard: [{ itemId: 'A', responseId: 'r1', heardMs: 730, sentMs: 920, audioMs: 2_000 }], droppedFrames: 100 - 46 });
    clock.advance(5_000);
    expect(twilio.mediaCount).toBe(framesBefore);
    expect(twilio.events.filter((event) => event.startsWith('clear'))).toEqual(['clear@730']);
    expect(twilio.events.at(-1)).toBe('clear@730');
    // Marks at 800 and 900 were pending at Twilio: echoed by the clear, ignored.
    expect(playout.stats()).toEqual({
      framesSent: 46, marksSent: 9, marksEchoed: 7, marksIgnored: 2, underruns: 0, underrunMs: 0, sequenceErrors: 0, clears: 1, lateDeltasDropped: 0,
    });
    expect(playout.heardMs('A')).toBe(730);
    expect(playout.isActive()).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('interrupt at 730 ms with no mark echoed yet: heard 730 from the playback model', () => {
    const { clock, playout, speak } = setup({ echoDelayMs: null, startMs: 12_345 });
    speak('r1', 'A', 2_000);
    clock.advance(730);
    expect(playout.interrupt()?.heard).toEqual([{ itemId: 'A', responseId: 'r1', heardMs: 730, sentMs: 920, audioMs: 2_000 }]);
  });

  it('marks echoed 45 ms late: heard is what the echoes prove, 600 + 85', () => {
    const { clock, playout, speak } = setup({ echoDelayMs: 45 });
    speak('r1', 'A', 2_000);
    clock.advance(730);
    expect(playout.interrupt()?.heard).toEqual([{ itemId: 'A', responseId: 'r1', heardMs: 685, sentMs: 920, audioMs: 2_000 }]);
  });

  it('never reports more than was sent: short item, interrupted just before its end mark came back', () => {
    const { clock, playout, speak } = setup();
    speak('r1', 'A', 250.5); // 2004 bytes: 12 frames + a padded 10.5 ms tail
    clock.advance(258);
    expect(playout.interrupt()).toEqual({ heard: [{ itemId: 'A', responseId: 'r1', heardMs: 250, sentMs: 250.5, audioMs: 250.5 }], droppedFrames: 0 });
  });

  it('reports every item of the answer: the one heard, later ones at 0 (sent or only queued)', () => {
    const { clock, playout, speak } = setup();
    speak('r1', 'A', 300);
    speak('r1', 'B', 300);
    speak('r1', 'C', 300);
    clock.advance(150);
    expect(playout.interrupt()).toEqual({
      heard: [
        { itemId: 'A', responseId: 'r1', heardMs: 150, sentMs: 300, audioMs: 300 },
        { itemId: 'B', responseId: 'r1', heardMs: 0, sentMs: 40, audioMs: 300 }, // 40 sent + 13 frames dropped
        { itemId: 'C', responseId: 'r1', heardMs: 0, sentMs: 0, audioMs: 300 }, // only queued
      ],
      droppedFrames: 13 + 15,
    });
  });

  it('leaves out items already fully played (end mark echoed)', () => {
    const { clock, playout, speak } = setup();
    speak('r1', 'A', 300);
    speak('r1', 'B', 500);
    clock.advance(420);
    expect(playout.interrupt()?.heard).toEqual([{ itemId: 'B', responseId: 'r1', heardMs: 120, sentMs: 320, audioMs: 500 }]);
  });

  it('returns null and sends no clear when nothing is queued or playing', () => {
    const { clock, twilio, playout, speak } = setup();
    expect(playout.interrupt()).toBeNull();
    speak('r1', 'A', 100);
    clock.advance(100);
    expect(playout.isActive()).toBe(false); // end mark echoed at 100
    expect(playout.interrupt()).toBeNull();
    expect(twilio.events.some((event) => event.startsWith('clear'))).toBe(false);
    expect(playout.stats().clears).toBe(0);
  });

  it('drops late deltas of an interrupted item and plays the next answer normally', () => {
    // A new item of an interrupted response is the provider adapter's to drop (it knows which responses it
    // interrupted): see test/openai-voice-agent.test.ts. Playout refuses the cleared item.
    const { clock, twilio, playout, speak } = setup();
    speak('r1', 'A', 1_000, false);
    clock.advance(100);
    playout.interrupt();
    expect(playout.enqueue('r1', 'A', new Uint8Array(800))).toBe(false);
    const before = twilio.mediaCount;
    clock.advance(1_000);
    expect(twilio.mediaCount).toBe(before);
    speak('r2', 'B', 100);
    expect(twilio.events.slice(-6)).toEqual(['media@1100', 'media@1100', 'media@1100', 'media@1100', 'media@1100', 'mark cb2.1']);
    expect(playout.stats().lateDeltasDropped).toBe(1);
  });

  it('counts an underrun when deltas come late in the middle of an item', () => {
    // Without the jitter cushion: the first 100 ms go at once and run dry at 100. (With it, this one delta would be
    // held 60 ms and the late one absorbed: test/call-jitter.test.ts.)
    const { clock, playout } = setup({ jitterCushionMs: 0 });
    playout.enqueue('r1', 'A', new Uint8Array(800)); // 100 ms
    clock.advance(150);
    playout.enqueue('r1', 'A', new Uint8Array(800));
    playout.endItem('r1', 'A');
    expect(playout.stats()).toMatchObject({ underruns: 1, underrunMs: 50 });
    clock.advance(1_000);
    expect(playout.isActive()).toBe(false);
  });

  it('isActive() holds until the end mark echo, bounded by the grace period if it never comes', () => {
    const { clock, playout, speak } = setup({ echoDelayMs: null });
    speak('r1', 'A', 100);
    clock.advance(100);
    expect(playout.isActive()).toBe(true);
    clock.advance(999);
    expect(playout.isActive()).toBe(true);
    clock.advance(1);
    expect(playout.isActive()).toBe(false);
  });

  it('dispose() cancels the pacer timer and ignores everything afterwards', () => {
    const { clock, twilio, playout, speak } = setup();
    speak('r1', 'A', 1_000);
    // The pacer's wake-up plus the fake Twilio's echoes of marks 100 and 200.
    expect(clock.pendingTimers).toBe(3);
    playout.dispose();
    expect(clock.pendingTimers).toBe(2);
    expect(playout.enqueue('r1', 'B', new Uint8Array(160))).toBe(false);
    expect(playout.interrupt()).toBeNull();
    clock.advance(2_000);
    expect(twilio.mediaCount).toBe(10);
  });
});
