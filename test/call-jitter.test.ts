/**
 * The jitter cushion (src/call/jitter-cushion.ts) on a ManualClock: Playout driven as the call drives it, played by
 * the simulated Twilio on the same clock (the line: test/helpers/jitter-line.ts).
 *
 * First-audio latency cost = time from an item's first frame being queued to it being sent.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_JITTER_CUSHION_MS, JitterCushion } from '../src/call/jitter-cushion.js';
import { answerAudio, conversation, expectSameBytes, frame, framed, lastEndMs, line, stream } from './helpers/jitter-line.js';
import { DELTA_BYTES, FIRST_DELTA_BYTES, random } from './helpers/realtime-provider.js';

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
    expect(cushion.stats()).toEqual({ startHolds: 2, unheldStarts: 0, rebuffers: 1, releasedAhead: 1, releasedAtDeadline: 1, releasedAtEnd: 1, heldMs: 30 + 60 + 5 });
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
