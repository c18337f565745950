/**
 * The jitter cushion (src/call/jitter-cushion.ts) on a ManualClock: Playout driven as the call drives it (mu-law
 * deltas of the sizes a 24 kHz provider's 100 ms deltas become after the call's resampler: the first yields 80 ms of
 * whole frames, the rest 100 ms each), played by the simulated Twilio (TwilioPlaybackEmulator: no jitter buffer of
 * its own, an underrun whenever it runs dry after media with no mark behind it) on the same clock.
 *
 * First-audio latency cost = time from an item's first frame being queued to it being sent.
 */
import { describe, expect, it } from 'vitest';
import { bytesToBase64 } from '../src/audio/pcm.js';
import { DEFAULT_JITTER_CUSHION_MS, JitterCushion } from '../src/call/jitter-cushion.js';
import { Playout } from '../src/call/playout.js';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/logger.js';
import { TwilioPlaybackEmulator } from '../src/simulator/twilio-playback.js';
import { DELTA_BYTES, FIRST_DELTA_BYTES, random } from './helpers/realtime-provider.js';

const MULAW_SILENCE = 0xff;
const DELTA_MS = 100;

interface Delta {
  atMs: number;
  bytes: Uint8Array;
}

interface Answer {
  responseId: string;
  itemId: string;
  audio: Uint8Array;
  deltas: Delta[];
  /** `response.output_audio.done`. */
  endAtMs: number | null;
}

/** Distinct non-silent bytes per answer, so the heard audio proves order and completeness. */
function answerAudio(index: number, bytes: number): Uint8Array {
  return Uint8Array.from({ length: bytes }, (_, offset) => 1 + ((index * 37 + offset) % 200));
}

/**
 * Cuts `audio` as the provider streams it: the first delta FIRST_DELTA_BYTES, then DELTA_BYTES each, due every
 * 100 ms / speedFactor after `startMs` (all at `startMs` for Infinity), each moved by up to ±jitterMs. The item ends
 * with its last delta.
 */
function stream(index: number, audio: Uint8Array, startMs: number, options: { speedFactor?: number; jitterMs?: number; rand?: () => number } = {}): Answer {
  const speedFactor = options.speedFactor ?? 1;
  const jitterMs = options.jitterMs ?? 0;
  const deltas: Delta[] = [];
  for (let offset = 0, k = 0; offset < audio.length; k++) {
    const size = k === 0 ? FIRST_DELTA_BYTES : DELTA_BYTES;
    const jitter = k === 0 || jitterMs === 0 ? 0 : (options.rand!() * 2 - 1) * jitterMs;
    const atMs = speedFactor === Infinity ? startMs : startMs + (k * DELTA_MS) / speedFactor + jitter;
    deltas.push({ atMs, bytes: audio.subarray(offset, offset + size) });
    offset += size;
  }
  return { responseId: `resp_${index}`, itemId: `item_${index}`, audio, deltas, endAtMs: deltas.at(-1)!.atMs };
}

/** Several answers in a row, a pause of 300–1200 ms after each one's playback. */
function conversation(seed: number, count: number, options: { speedFactor?: number; jitterMs?: number } = {}): Answer[] {
  const rand = random(seed);
  const answers: Answer[] = [];
  let startMs = 500;
  for (let index = 0; index < count; index++) {
    const bytes = Math.round(8 * (400 + rand() * 2_600)) + Math.floor(rand() * 8);
    const answer = stream(index, answerAudio(index, bytes), startMs, { ...options, rand });
    answers.push(answer);
    startMs = answer.endAtMs! + bytes / 8 + 300 + rand() * 900;
  }
  return answers;
}

/** Playout → simulated Twilio on one ManualClock; marks are echoed back (a tick later, as over a socket). */
function line(options: { jitterCushionMs?: number } = {}) {
  const clock = new ManualClock(0);
  let playout: Playout | null = null;
  const twilio = new TwilioPlaybackEmulator({ clock, onMarkEcho: (name) => void clock.setTimeout(() => playout!.onMarkEchoed(name), 0) });
  const firstQueuedAtMs = new Map<string, number>();
  const firstSentAtMs = new Map<string, number>();
  const events: string[] = [];
  playout = new Playout({
    clock,
    leadMs: 200,
    markIntervalMs: 100,
    logger: silentLogger(),
    sink: {
      sendMedia: (payload) => void twilio.receive({ event: 'media', media: { payload: bytesToBase64(payload) } }),
      sendMark: (name) => void twilio.receive({ event: 'mark', mark: { name } }),
      sendClear: () => {
        events.push(`clear@${clock.now()}`);
        twilio.receive({ event: 'clear' });
      },
    },
    onItemStarted: (_responseId, itemId, sentAtMs) => void firstSentAtMs.set(itemId, sentAtMs),
    ...(options.jitterCushionMs === undefined ? {} : { jitterCushionMs: options.jitterCushionMs }),
  });
  const queuedBytes = new Map<string, number>();
  const enqueue = (answer: Pick<Answer, 'responseId' | 'itemId'>, bytes: Uint8Array) => {
    const before = queuedBytes.get(answer.itemId) ?? 0;
    queuedBytes.set(answer.itemId, before + bytes.length);
    if (before < 160 && before + bytes.length >= 160) firstQueuedAtMs.set(answer.itemId, clock.now());
    playout!.enqueue(answer.responseId, answer.itemId, bytes);
  };
  /** Schedules every delta and end of `answers` on the clock. */
  const play = (answers: readonly Answer[]) => {
    for (const answer of answers) {
      for (const delta of answer.deltas) clock.setTimeout(() => enqueue(answer, delta.bytes), delta.atMs - clock.now());
      if (answer.endAtMs !== null) clock.setTimeout(() => playout!.endItem(answer.responseId, answer.itemId), answer.endAtMs - clock.now());
    }
  };
  /** First-audio latency cost per item, ms. */
  const costs = () => [...firstQueuedAtMs].map(([itemId, queuedAtMs]) => (firstSentAtMs.get(itemId) ?? NaN) - queuedAtMs);
  return { clock, playout, twilio, events, enqueue, play, costs, firstSentAtMs };
}

/** Every answer as the caller must hear it: whole frames, the last one padded with mu-law silence. */
function framed(answers: readonly Answer[]): Uint8Array {
  const parts = answers.map((answer) => {
    const padded = new Uint8Array(Math.ceil(answer.audio.length / 160) * 160).fill(MULAW_SILENCE);
    padded.set(answer.audio);
    return padded;
  });
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Byte-exact comparison (vitest's deep equality is slow on long typed arrays); names the first difference. */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)) return;
  let index = 0;
  while (index < Math.min(actual.length, expected.length) && actual[index] === expected[index]) index++;
  expect({ length: actual.length, firstDifferenceAt: index }).toEqual({ length: expected.length, firstDifferenceAt: expected.length });
}

function lastEndMs(answers: readonly Answer[]): number {
  return Math.max(...answers.map((answer) => answer.endAtMs ?? 0)) + 5_000;
}

describe('jitter cushion: a provider streaming at exactly real time', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])('seed %i: 8 answers with ±10 ms jitter play without a single underrun, complete and in order', (seed) => {
    const answers = conversation(seed, 8, { jitterMs: 10 });
    const { clock, playout, twilio, play, costs } = line();
    play(answers);
    clock.advance(lastEndMs(answers));

    expect(twilio.underrunCount).toBe(0);
    expect(playout.stats()).toMatchObject({ underruns: 0, underrunMs: 0, sequenceErrors: 0, clears: 0 });
    expectSameBytes(twilio.heardAudio(), framed(answers));
    expect(playout.isActive()).toBe(false);
    // The cost: a real-time provider never proves itself ahead, so every answer starts exactly one cushion late.
    expect(costs()).toEqual(answers.map(() => DEFAULT_JITTER_CUSHION_MS));
  });

  it.each([1, 2, 3, 4, 5, 6])('seed %i: without the cushion (0) the same input underruns in every answer', (seed) => {
    const answers = conversation(seed, 8, { jitterMs: 10 });
    const { clock, playout, twilio, play, costs } = line({ jitterCushionMs: 0 });
    play(answers);
    clock.advance(lastEndMs(answers));

    // The first delta's 80 ms run dry 10–30 ms before the second arrives: at least one hole per answer.
    expect(twilio.underrunCount).toBeGreaterThanOrEqual(answers.length);
    expect(playout.stats().underruns).toBe(twilio.underrunCount);
    expectSameBytes(twilio.heardAudio(), framed(answers));
    expect(costs()).toEqual(answers.map(() => 0));
  });

  it('a 40 ms cushion is still enough for ±10 ms; 20 ms is not', () => {
    for (const [cushionMs, clean] of [[40, true], [20, false]] as const) {
      let underruns = 0;
      for (let seed = 1; seed <= 6; seed++) {
        const answers = conversation(seed, 6, { jitterMs: 10 });
        const { clock, twilio, play } = line({ jitterCushionMs: cushionMs });
        play(answers);
        clock.advance(lastEndMs(answers));
        underruns += twilio.underrunCount;
      }
      expect(underruns === 0).toBe(clean);
    }
  });

  it('the playback ledger stays exact: a barge-in mid-answer reports what the simulated Twilio really played', () => {
    const [answer] = conversation(3, 1, { jitterMs: 10 });
    const { clock, playout, twilio, play } = line();
    play([answer!]);
    clock.advance(500 + 1_234);
    const heardBefore = twilio.heardMsTotal;
    const result = playout.interrupt()!;
    expect(result.heard).toHaveLength(1);
    expect(result.heard[0]!.heardMs).toBe(Math.floor(heardBefore));
    expect(heardBefore).toBe(1_234 - DEFAULT_JITTER_CUSHION_MS);
    expect(twilio.clears).toHaveLength(1);
    expect(twilio.underrunCount).toBe(0);
  });
});

describe('jitter cushion: fast providers are not delayed', () => {
  it('a whole answer at once (speedFactor Infinity): the first frame goes the moment it is queued, 0 ms added', () => {
    const answers = conversation(5, 6, { speedFactor: Infinity });
    const { clock, playout, twilio, play, costs } = line();
    play(answers);
    clock.advance(lastEndMs(answers));
    expect(costs()).toEqual(answers.map(() => 0));
    expect(twilio.underrunCount).toBe(0);
    expect(playout.stats().underruns).toBe(0);
    expectSameBytes(twilio.heardAudio(), framed(answers));
  });

  it('a whole answer at once whose done comes later: released by the second delta (ahead of real time), 0 ms added', () => {
    const answer = stream(0, answerAudio(0, 8 * 1_500), 1_000, { speedFactor: Infinity });
    answer.endAtMs = 1_400;
    const { clock, play, costs, firstSentAtMs } = line();
    play([answer]);
    clock.advance(1_000);
    expect(firstSentAtMs.get('item_0')).toBe(1_000);
    clock.advance(3_000);
    expect(costs()).toEqual([0]);
  });

  it('speedFactor 4: released when the second delta (25 ms later) shows the provider ahead; never the whole cushion', () => {
    const answers = conversation(9, 6, { speedFactor: 4, jitterMs: 5 });
    const { clock, twilio, play, costs } = line();
    play(answers);
    clock.advance(lastEndMs(answers));
    expect(twilio.underrunCount).toBe(0);
    const measured = costs();
    for (const [index, cost] of measured.entries()) expect(cost).toBe(answers[index]!.deltas[1]!.atMs - answers[index]!.deltas[0]!.atMs);
    expect(Math.max(...measured)).toBeLessThanOrEqual(30);
  });

  it('audio the bridge queues whole (hold sound, apology: enqueue + endItem at once) goes at once', () => {
    const { clock, playout, firstSentAtMs } = line();
    clock.advance(100);
    playout.enqueue('callbridge-hold', 'hold-1', new Uint8Array(8_000).fill(3));
    playout.endItem('callbridge-hold', 'hold-1');
    expect(firstSentAtMs.get('hold-1')).toBe(100);
  });
});

describe('jitter cushion: holds end in time', () => {
  it('an item shorter than the cushion goes at its end at once, not at the deadline', () => {
    const { clock, playout, twilio, events, enqueue, firstSentAtMs } = line();
    const item = { responseId: 'r1', itemId: 'short' };
    enqueue(item, answerAudio(0, 300)); // 37.5 ms: 1 frame + a 140-byte tail
    clock.advance(10);
    expect(firstSentAtMs.has('short')).toBe(false);
    playout.endItem('r1', 'short');
    expect(firstSentAtMs.get('short')).toBe(10);
    clock.advance(1_000);
    expect(twilio.heardMsTotal).toBe(40);
    expect(twilio.underrunCount).toBe(0);
    expect(events).toEqual([]);
  });

  it('a hold never outlasts the cushion: one delta and nothing more (no end) goes after exactly the cushion', () => {
    const { clock, enqueue, firstSentAtMs } = line();
    enqueue({ responseId: 'r1', itemId: 'A' }, answerAudio(0, FIRST_DELTA_BYTES));
    clock.advance(DEFAULT_JITTER_CUSHION_MS - 0.001);
    expect(firstSentAtMs.has('A')).toBe(false);
    clock.advance(0.001);
    expect(firstSentAtMs.get('A')).toBe(DEFAULT_JITTER_CUSHION_MS);
  });

  it('a new item while the previous one still plays: its hold costs nothing, the two play back to back', () => {
    const { clock, twilio, play } = line();
    const first = stream(0, answerAudio(0, 8 * 1_000), 0, { speedFactor: Infinity });
    const second = stream(1, answerAudio(1, 8 * 600), 300);
    play([first, second]);
    clock.advance(5_000);
    expect(twilio.heardSegments()).toHaveLength(1);
    expectSameBytes(twilio.heardAudio(), framed([first, second]));
    expect(twilio.underrunCount).toBe(0);
  });
});

describe('jitter cushion: barge-in', () => {
  it('mid-hold: exactly one clear, nothing of the held audio sent, nothing heard', () => {
    const { clock, playout, twilio, events, enqueue } = line();
    enqueue({ responseId: 'r1', itemId: 'A' }, answerAudio(0, FIRST_DELTA_BYTES));
    clock.advance(30);
    expect(playout.interrupt()).toEqual({ heard: [{ itemId: 'A', responseId: 'r1', heardMs: 0, sentMs: 0, audioMs: 80 }], droppedFrames: 4 });
    expect(events).toEqual(['clear@30']);
    clock.advance(1_000);
    expect(playout.stats()).toMatchObject({ framesSent: 0, marksSent: 0, clears: 1 });
    expect(twilio.heardMsTotal).toBe(0);
    expect(playout.heardMs('A')).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    // A late delta of the interrupted item is refused; the next answer is held afresh.
    expect(playout.enqueue('r1', 'A', answerAudio(0, DELTA_BYTES))).toBe(false);
    enqueue({ responseId: 'r2', itemId: 'B' }, answerAudio(1, FIRST_DELTA_BYTES));
    clock.advance(DEFAULT_JITTER_CUSHION_MS);
    expect(playout.stats().framesSent).toBe(4);
  });

  it('mid-rebuffer: heard ms is what played before the hole; the held frames are dropped unsent', () => {
    const { clock, playout, twilio, events, enqueue } = line();
    const item = { responseId: 'r1', itemId: 'A' };
    enqueue(item, answerAudio(0, 8 * 300)); // 300 ms: held 60, plays 60–360
    clock.advance(400); // the provider stalls: ran dry at 360
    enqueue(item, answerAudio(0, DELTA_BYTES)); // rebuffer: held up to 60 ms
    clock.advance(30);
    const heardBefore = playout.heardMs('A');
    expect(heardBefore).toBe(300);
    expect(playout.interrupt()).toEqual({ heard: [{ itemId: 'A', responseId: 'r1', heardMs: 300, sentMs: 300, audioMs: 400 }], droppedFrames: 5 });
    expect(events).toEqual(['clear@430']);
    clock.advance(1_000);
    expect(twilio.heardMsTotal).toBe(300);
    expect(playout.stats().framesSent).toBe(15);
  });
});

describe('jitter cushion: mid-answer rebuffering', () => {
  it('after a stall the cushion is rebuilt: one hole, not one per delta', () => {
    const rand = random(77);
    // Real time, ±10 ms, but no audio from 1.0 s to 1.4 s: everything after arrives 400 ms late.
    const answer = stream(0, answerAudio(0, 8 * 3_000), 0, { jitterMs: 10, rand });
    for (const delta of answer.deltas) if (delta.atMs >= 1_000) delta.atMs += 400;
    answer.endAtMs = answer.deltas.at(-1)!.atMs;
    const { clock, playout, twilio, play } = line();
    play([answer]);
    clock.advance(6_000);
    expect(twilio.underrunCount).toBe(1);
    expect(playout.stats().underruns).toBe(1);
    expectSameBytes(twilio.heardAudio(), framed([answer]));
  });

  it('a provider slightly slower than real time (0.9×): rebuffering turns a hole per delta into a few', () => {
    const count = (jitterCushionMs: number) => {
      const answer = stream(0, answerAudio(0, 8 * 4_000), 0, { speedFactor: 0.9 });
      const { clock, twilio, play } = line({ jitterCushionMs });
      play([answer]);
      clock.advance(10_000);
      expectSameBytes(twilio.heardAudio(), framed([answer]));
      return twilio.underrunCount;
    };
    const without = count(0);
    const withCushion = count(DEFAULT_JITTER_CUSHION_MS);
    expect(without).toBeGreaterThanOrEqual(35);
    expect(withCushion).toBeLessThanOrEqual(without / 4);
  });
});

describe('JitterCushion', () => {
  const frame = (itemId: string, itemOffsetMs = 0) => ({ kind: 'frame' as const, responseId: 'r', itemId, payload: new Uint8Array(160), itemOffsetMs, audioMs: 20, frameId: 1 });

  it('holds a first chunk until the deadline, releases early once later audio outruns the clock by the cushion', () => {
    const cushion = new JitterCushion({ cushionMs: 60 });
    cushion.onQueued('A', 80, 1_000, true);
    expect(cushion.releaseAtMs(frame('A'), 1_000)).toBe(1_060);
    cushion.onQueued('A', 60, 1_020, false); // 60 more after 20 ms: not 20 + 60 ahead yet
    expect(cushion.releaseAtMs(frame('A'), 1_020)).toBe(1_060);
    cushion.onQueued('A', 40, 1_030, false); // 100 after 30 ms: 30 + 60 ≤ 100
    expect(cushion.releaseAtMs(frame('A'), 1_030)).toBe(1_030);
    expect(cushion.holding).toBe(false);
    // Flowing: more audio while the far end plays is never held.
    cushion.onQueued('A', 100, 1_100, false);
    expect(cushion.releaseAtMs(frame('A', 200), 1_100)).toBe(1_100);
    // Ran dry mid-item: held again (a rebuffer), at most one cushion.
    cushion.onQueued('A', 100, 1_500, true);
    expect(cushion.releaseAtMs(frame('A', 300), 1_500)).toBe(1_560);
    expect(cushion.releaseAtMs(frame('A', 300), 1_560)).toBe(1_560);
    cushion.onQueued('B', 20, 2_000, true);
    cushion.onItemEnded('B', 2_005);
    expect(cushion.releaseAtMs(frame('B'), 2_005)).toBe(2_005);
    expect(cushion.stats()).toEqual({ startHolds: 2, rebuffers: 1, releasedAhead: 1, releasedAtDeadline: 1, releasedAtEnd: 1, heldMs: 30 + 60 + 5 });
    expect(cushion.recentReleases().map((release) => [release.itemId, release.kind, release.cause, release.heldMs])).toEqual([
      ['A', 'start', 'ahead', 30],
      ['A', 'rebuffer', 'deadline', 60],
      ['B', 'start', 'ended', 5],
    ]);
  });

  it('never holds an item it has not seen, nor after reset', () => {
    const cushion = new JitterCushion({ cushionMs: 60 });
    expect(cushion.releaseAtMs(frame('X'), 5)).toBe(5);
    cushion.onQueued('A', 80, 0, true);
    cushion.reset();
    expect(cushion.releaseAtMs(frame('A'), 1)).toBe(1);
    expect(() => new JitterCushion({ cushionMs: 0 })).toThrow(RangeError);
    expect(() => new JitterCushion({ cushionMs: 501 })).toThrow(RangeError);
  });
});
