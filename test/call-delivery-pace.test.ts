/**
 * The delivery pace (src/call/delivery-pace.ts) and what the jitter cushion (src/call/jitter-cushion.ts) does with
 * it: unit tests of DeliveryPace and of JitterCushion's verdicts, then Playout → simulated Twilio on a ManualClock
 * (the line: test/helpers/jitter-line.ts) with one pace shared by answers and by calls.
 *
 * Sizes as the line cuts them: a provider's first delta queues 80 ms of whole frames, every later one 100 ms.
 * First-audio latency cost = time from an item's first frame being queued to it being sent.
 */
import { describe, expect, it, vi } from 'vitest';
import { DeliveryPace, DeliveryPaces } from '../src/call/delivery-pace.js';
import { DEFAULT_JITTER_CUSHION_MS, JitterCushion } from '../src/call/jitter-cushion.js';
import { ManualClock } from '../src/clock.js';
import { answerAudio, conversation, expectSameBytes, frame, framed, lastEndMs, line, stream, type Answer } from './helpers/jitter-line.js';
import { random } from './helpers/realtime-provider.js';

const CUSHION = DEFAULT_JITTER_CUSHION_MS;

/** A pace whose last `count` verdicts were ahead, the latest at `atMs`. */
function paceAhead(count: number, atMs: number): DeliveryPace {
  const pace = new DeliveryPace();
  for (let index = 0; index < count; index++) pace.report(true, atMs);
  return pace;
}

/** A cushion of the default size judging for `pace` (a fresh one unless given). */
function judging(pace = new DeliveryPace()): { pace: DeliveryPace; cushion: JitterCushion } {
  return { pace, cushion: new JitterCushion({ cushionMs: CUSHION, pace }) };
}

/** Spies on `pace.fast` (asked once per new item) so `fastAnswers` can tell what it answered, in order. */
const fastSpies = new WeakMap<DeliveryPace, { mock: { results: Array<{ type: string; value: unknown }> } }>();
function watch(pace: DeliveryPace): DeliveryPace {
  fastSpies.set(pace, vi.spyOn(pace, 'fast'));
  return pace;
}
function fastAnswers(pace: DeliveryPace): unknown[] {
  return fastSpies.get(pace)!.mock.results.map((result) => result.value);
}

/** Answers one after another on one timeline: each starts `gapMs` after the previous one's audio has played. */
function sequence(specs: ReadonlyArray<{ ms: number; speedFactor: number; jitterMs?: number }>, options: { startMs?: number; gapMs?: number; seed?: number; firstIndex?: number } = {}): Answer[] {
  const rand = random(options.seed ?? 1);
  const answers: Answer[] = [];
  let startMs = options.startMs ?? 500;
  for (const [offset, spec] of specs.entries()) {
    const index = (options.firstIndex ?? 0) + offset;
    const answer = stream(index, answerAudio(index, 8 * spec.ms), startMs, { speedFactor: spec.speedFactor, jitterMs: spec.jitterMs ?? 0, rand });
    answers.push(answer);
    startMs = Math.max(answer.endAtMs!, startMs) + spec.ms + (options.gapMs ?? 700);
  }
  return answers;
}

/** A fast provider with big spaced deltas: `deltas` × 600 ms of audio (4 800 bytes), one every 150 ms. */
function bigSpaced(index: number, deltas: number, startMs: number): Answer {
  const audio = answerAudio(index, 4_800 * deltas);
  const parts = Array.from({ length: deltas }, (_, k) => ({ atMs: startMs + 150 * k, bytes: audio.subarray(4_800 * k, 4_800 * (k + 1)) }));
  return { responseId: `resp_${index}`, itemId: `item_${index}`, audio, deltas: parts, endAtMs: parts.at(-1)!.atMs };
}

describe('DeliveryPace', () => {
  it('is not fast before any verdict, at any time', () => {
    const pace = new DeliveryPace();
    expect(pace.fast(0)).toBe(false);
    expect(pace.fast(1e12)).toBe(false);
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 0 });
  });

  it('is fast after exactly 3 ahead verdicts, not after 2', () => {
    const pace = new DeliveryPace();
    pace.report(true, 100);
    expect(pace.fast(100)).toBe(false);
    pace.report(true, 200);
    expect(pace.fast(200)).toBe(false);
    expect(pace.fast(201)).toBe(false);
    pace.report(true, 300);
    expect(pace.fast(300)).toBe(true);
    pace.report(true, 400);
    expect(pace.fast(400)).toBe(true);
  });

  it('one behind verdict ends the streak at once; three new aheads are needed', () => {
    const pace = paceAhead(5, 1_000);
    expect(pace.fast(1_000)).toBe(true);
    pace.report(false, 1_100);
    expect(pace.fast(1_100)).toBe(false);
    pace.report(true, 1_200);
    pace.report(true, 1_300);
    expect(pace.fast(1_300)).toBe(false);
    // ahead, ahead, behind, ahead: the streak is counted from the behind.
    pace.report(false, 1_400);
    pace.report(true, 1_500);
    pace.report(true, 1_600);
    expect(pace.fast(1_600)).toBe(false);
    pace.report(true, 1_700);
    expect(pace.fast(1_700)).toBe(true);
  });

  it('a latest verdict older than 60 000 ms says nothing: 60 000 still fast, 60 001 not', () => {
    const pace = paceAhead(3, 5_000);
    expect(pace.fast(5_000 + 60_000)).toBe(true);
    expect(pace.fast(5_000 + 60_001)).toBe(false);
    // The age is the latest verdict's, not the streak's first: a fresh ahead makes it fast again at once.
    pace.report(true, 100_000);
    expect(pace.fast(100_000)).toBe(true);
    expect(pace.fast(160_000)).toBe(true);
    expect(pace.fast(160_001)).toBe(false);
    // A fresh behind does not.
    pace.report(false, 200_000);
    expect(pace.fast(200_000)).toBe(false);
  });

  it('counts every verdict; stats() is a copy', () => {
    const pace = new DeliveryPace();
    for (const ahead of [true, true, false, true, false, false, true]) pace.report(ahead, 0);
    const stats = pace.stats();
    expect(stats).toEqual({ aheadVerdicts: 4, behindVerdicts: 3 });
    stats.aheadVerdicts = 99;
    expect(pace.stats()).toEqual({ aheadVerdicts: 4, behindVerdicts: 3 });
  });

  it('takes its streak and max age from the constructor', () => {
    const pace = new DeliveryPace(1, 10);
    pace.report(true, 0);
    expect(pace.fast(10)).toBe(true);
    expect(pace.fast(11)).toBe(false);
  });

  it('DeliveryPaces: one instance per key for the life of the registry, distinct across keys', () => {
    const paces = new DeliveryPaces();
    const a = paces.for('agent-a');
    expect(paces.for('agent-a')).toBe(a);
    const b = paces.for('agent-b');
    expect(b).not.toBe(a);
    expect(paces.for('agent-b')).toBe(b);
    // Verdicts go where they were reported only.
    for (let index = 0; index < 3; index++) paces.for('agent-a').report(true, 0);
    expect(paces.for('agent-a').fast(0)).toBe(true);
    expect(paces.for('agent-b').fast(0)).toBe(false);
    expect(paces.for('agent-b').stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 0 });
    // Another registry starts afresh.
    expect(new DeliveryPaces().for('agent-a')).not.toBe(a);
  });
});

describe('JitterCushion with a pace: verdicts', () => {
  it('ahead when a delta finds a cushion in stock: a 4× provider\'s third delta (180 − 50 = 130 ms), not its second (80 − 25 = 55 ms); once', () => {
    const { pace, cushion } = judging();
    cushion.onQueued('A', 80, 1_000, true);
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 0 });
    expect(cushion.releaseAtMs(frame('A'), 1_000)).toBe(1_060);
    cushion.onQueued('A', 100, 1_025, false); // 55 ms in stock: no verdict yet
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 0 });
    expect(cushion.releaseAtMs(frame('A'), 1_025)).toBe(1_025); // the hold's own rule: 100 ≥ 25 + 60
    cushion.onQueued('A', 100, 1_050, false); // 130 ms in stock
    expect(pace.stats()).toEqual({ aheadVerdicts: 1, behindVerdicts: 0 });
    cushion.onQueued('A', 100, 1_075, false);
    cushion.onItemEnded('A', 1_075);
    expect(pace.stats()).toEqual({ aheadVerdicts: 1, behindVerdicts: 0 });
    expect(cushion.stats()).toMatchObject({ startHolds: 1, unheldStarts: 0, releasedAhead: 1, heldMs: 25 });
  });

  it('the rule is ≥: a 600 ms first delta and the next 540 ms later finds 60 ms (ahead); 541 ms later, 59 ms (behind at the end)', () => {
    const { pace, cushion } = judging();
    cushion.onQueued('A', 600, 0, true);
    cushion.onQueued('A', 100, 540, false);
    expect(pace.stats()).toEqual({ aheadVerdicts: 1, behindVerdicts: 0 });
    cushion.onItemEnded('A', 540);

    cushion.onQueued('B', 600, 1_000, true);
    cushion.onQueued('B', 100, 1_541, false);
    expect(pace.stats()).toEqual({ aheadVerdicts: 1, behindVerdicts: 0 });
    cushion.onItemEnded('B', 1_541);
    expect(pace.stats()).toEqual({ aheadVerdicts: 1, behindVerdicts: 1 });
  });

  it('big spaced deltas: a 600 ms delta, then 100 ms 150 ms later, finds 450 ms in stock: a two-delta answer is ahead', () => {
    const { pace, cushion } = judging();
    cushion.onQueued('A', 600, 0, true);
    cushion.onQueued('A', 100, 150, false);
    cushion.onItemEnded('A', 150);
    expect(pace.stats()).toEqual({ aheadVerdicts: 1, behindVerdicts: 0 });
  });

  it('behind at its end for a real-time provider with 3 deltas, not before', () => {
    const { pace, cushion } = judging();
    cushion.onQueued('A', 80, 0, true);
    expect(cushion.releaseAtMs(frame('A'), 0)).toBe(60);
    expect(cushion.releaseAtMs(frame('A'), 60)).toBe(60);
    cushion.onQueued('A', 100, 100, false);
    cushion.onQueued('A', 100, 200, false);
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 0 });
    cushion.onItemEnded('A', 200);
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 1 });
    // Ending it again (it is gone) judges nothing more.
    cushion.onItemEnded('A', 300);
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 1 });
  });

  it('no verdict for an item of a single delta, however long', () => {
    const { pace, cushion } = judging();
    cushion.onQueued('A', 80, 0, true);
    cushion.onItemEnded('A', 0);
    cushion.onQueued('B', 3_000, 500, true);
    cushion.onItemEnded('B', 2_000);
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 0 });
  });

  it('no verdict for items dropped by reset (a barge-in), whether they had one delta or several', () => {
    const { pace, cushion } = judging();
    cushion.onQueued('A', 80, 0, true);
    cushion.onQueued('A', 100, 100, false);
    cushion.onQueued('A', 100, 200, false);
    cushion.reset();
    cushion.onItemEnded('A', 250);
    cushion.onQueued('B', 80, 1_000, true); // a 4× item cut before its second delta
    cushion.reset();
    cushion.onItemEnded('B', 1_025);
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 0 });
  });

  it('behind on a rebuffer of an item that started unheld; the item is not judged again at its end', () => {
    const { pace, cushion } = judging(paceAhead(3, 900));
    cushion.onQueued('B', 80, 1_000, true);
    expect(cushion.releaseAtMs(frame('B'), 1_000)).toBe(1_000);
    expect(cushion.holding).toBe(false);
    // Real time: the next 100 ms come 100 ms later, after the 80 ms sent at once have played out.
    cushion.onQueued('B', 100, 1_100, true);
    expect(pace.stats()).toEqual({ aheadVerdicts: 3, behindVerdicts: 1 });
    expect(pace.fast(1_100)).toBe(false);
    expect(cushion.releaseAtMs(frame('B', 80), 1_100)).toBe(1_160);
    expect(cushion.releaseAtMs(frame('B', 80), 1_160)).toBe(1_160);
    cushion.onQueued('B', 100, 1_200, false);
    cushion.onItemEnded('B', 1_200);
    expect(pace.stats()).toEqual({ aheadVerdicts: 3, behindVerdicts: 1 });
    expect(cushion.stats()).toEqual({ startHolds: 0, unheldStarts: 1, rebuffers: 1, releasedAhead: 0, releasedAtDeadline: 1, releasedAtEnd: 0, heldMs: 60 });
  });

  it('behind on a rebuffer of an item whose start hold already ended (before any end)', () => {
    const { pace, cushion } = judging();
    cushion.onQueued('A', 300, 0, true);
    expect(cushion.releaseAtMs(frame('A'), 60)).toBe(60);
    cushion.onQueued('A', 100, 400, true); // ran dry at 360
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 1 });
    expect(cushion.stats().rebuffers).toBe(1);
  });

  it('once fast: a new item\'s first frame goes at once (0 ms held), counted in unheldStarts, not startHolds', () => {
    const { pace, cushion } = judging(paceAhead(3, 0));
    cushion.onQueued('C', 80, 500, true);
    expect(cushion.holding).toBe(false);
    expect(cushion.releaseAtMs(frame('C'), 500)).toBe(500);
    // Still judged: a second delta 10 ms later finds 70 ms in stock, one more ahead.
    cushion.onQueued('C', 100, 510, false);
    cushion.onItemEnded('C', 510);
    expect(pace.stats()).toEqual({ aheadVerdicts: 4, behindVerdicts: 0 });
    cushion.onQueued('D', 80, 1_000, true);
    expect(cushion.releaseAtMs(frame('D'), 1_000)).toBe(1_000);
    expect(cushion.stats()).toEqual({ startHolds: 0, unheldStarts: 2, rebuffers: 0, releasedAhead: 0, releasedAtDeadline: 0, releasedAtEnd: 0, heldMs: 0 });
    expect(cushion.recentReleases()).toEqual([]);
  });

  it('asks the pace when the item\'s first frames are queued: a stale pace (60 001 ms) holds again', () => {
    const { pace, cushion } = judging(paceAhead(3, 0));
    cushion.onQueued('A', 80, 60_000, true);
    expect(cushion.releaseAtMs(frame('A'), 60_000)).toBe(60_000);
    cushion.onItemEnded('A', 60_000);
    cushion.onQueued('B', 80, 60_001, true);
    expect(cushion.releaseAtMs(frame('B'), 60_001)).toBe(60_061);
    expect(cushion.stats()).toMatchObject({ startHolds: 1, unheldStarts: 1 });
  });

  it('without a pace: every item starts held and nothing is counted unheld', () => {
    const cushion = new JitterCushion({ cushionMs: CUSHION });
    for (const [index, atMs] of [0, 1_000, 2_000, 3_000].entries()) {
      cushion.onQueued(`I${index}`, 80, atMs, true);
      cushion.onQueued(`I${index}`, 100, atMs + 25, false);
      expect(cushion.releaseAtMs(frame(`I${index}`), atMs + 25)).toBe(atMs + 25);
      cushion.onItemEnded(`I${index}`, atMs + 25);
    }
    expect(cushion.stats()).toMatchObject({ startHolds: 4, unheldStarts: 0, releasedAhead: 4 });
  });

  // A rebuffer says the provider fell behind: reported once per item, even after the item was judged ahead.
  it('an item judged ahead that later rebuffers is judged behind too: the provider slowed down mid-answer', () => {
    const { pace, cushion } = judging();
    cushion.onQueued('A', 80, 0, true);
    cushion.onQueued('A', 100, 15, false); // 65 ms in stock: ahead
    expect(cushion.releaseAtMs(frame('A'), 15)).toBe(15);
    cushion.onQueued('A', 100, 2_000, true); // stalled: ran dry, rebuffer
    expect(cushion.stats().rebuffers).toBe(1);
    expect(pace.stats()).toEqual({ aheadVerdicts: 1, behindVerdicts: 1 });
    expect(pace.fast(2_000)).toBe(false);
  });

  it('an item judged behind at a rebuffer gets no second verdict at its next rebuffer', () => {
    const { pace, cushion } = judging();
    cushion.onQueued('A', 300, 0, true);
    expect(cushion.releaseAtMs(frame('A'), 60)).toBe(60);
    cushion.onQueued('A', 100, 400, true); // first rebuffer: behind
    expect(cushion.releaseAtMs(frame('A', 300), 460)).toBe(460);
    cushion.onQueued('A', 100, 1_000, true); // second rebuffer
    expect(cushion.stats().rebuffers).toBe(2);
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: 1 });
  });
});

describe('Playout with a delivery pace: a provider at exactly real time', () => {
  it.each([1, 2, 3, 4, 5, 6])('seed %i: 8 answers with ±10 ms jitter: no underrun, every start held one cushion, every verdict behind', (seed) => {
    const pace = watch(new DeliveryPace());
    const answers = conversation(seed, 8, { jitterMs: 10 });
    const { clock, playout, twilio, play, costs } = line({ deliveryPace: pace });
    play(answers);
    clock.advance(lastEndMs(answers));

    expect(twilio.underrunCount).toBe(0);
    expect(playout.stats()).toMatchObject({ underruns: 0, underrunMs: 0, sequenceErrors: 0, clears: 0 });
    expectSameBytes(twilio.heardAudio(), framed(answers));
    expect(costs()).toEqual(answers.map(() => CUSHION));
    // Asked once per answer, never fast.
    expect(fastAnswers(pace)).toEqual(answers.map(() => false));
    expect(pace.stats()).toEqual({ aheadVerdicts: 0, behindVerdicts: answers.length });
    expect(pace.fast(clock.now())).toBe(false);
  });
});

describe('Playout with a delivery pace: fast providers', () => {
  it.each([3, 9, 14])('seed %i, speedFactor 4 (±5 ms): the first 3 answers are held until their second delta, every later one 0 ms', (seed) => {
    const pace = watch(new DeliveryPace());
    const answers = conversation(seed, 8, { speedFactor: 4, jitterMs: 5 });
    const { clock, playout, twilio, play, costs, firstSentAtMs } = line({ deliveryPace: pace });
    play(answers);
    clock.advance(lastEndMs(answers));

    const heldUntilSecondDelta = answers.slice(0, 3).map((answer) => answer.deltas[1]!.atMs - answer.deltas[0]!.atMs);
    for (const held of heldUntilSecondDelta) expect(held).toBeLessThanOrEqual(CUSHION);
    expect(costs()).toEqual([...heldUntilSecondDelta, 0, 0, 0, 0, 0]);
    for (const answer of answers.slice(3)) expect(firstSentAtMs.get(answer.itemId)).toBe(answer.deltas[0]!.atMs);
    expect(fastAnswers(pace)).toEqual([false, false, false, true, true, true, true, true]);
    expect(pace.stats()).toEqual({ aheadVerdicts: 8, behindVerdicts: 0 });
    expect(twilio.underrunCount).toBe(0);
    expect(playout.stats()).toMatchObject({ underruns: 0, sequenceErrors: 0 });
    expectSameBytes(twilio.heardAudio(), framed(answers));
  });

  it('big spaced deltas (600 ms of audio every 150 ms): the first 3 answers cost exactly the cushion, the rest 0 ms', () => {
    const pace = watch(new DeliveryPace());
    const answers: Answer[] = [];
    let startMs = 500;
    for (const [index, deltas] of [2, 3, 4, 5, 3, 2].entries()) {
      const answer = bigSpaced(index, deltas, startMs);
      answers.push(answer);
      startMs = answer.endAtMs! + 600 * deltas + 800;
    }
    const { clock, playout, twilio, play, costs } = line({ deliveryPace: pace });
    play(answers);
    clock.advance(lastEndMs(answers));

    // Held answers go at their deadline: the second delta (150 ms) comes after the cushion (60 ms).
    expect(costs()).toEqual([CUSHION, CUSHION, CUSHION, 0, 0, 0]);
    expect(fastAnswers(pace)).toEqual([false, false, false, true, true, true]);
    expect(pace.stats()).toEqual({ aheadVerdicts: 6, behindVerdicts: 0 });
    expect(twilio.underrunCount).toBe(0);
    expect(playout.stats().underruns).toBe(0);
    expectSameBytes(twilio.heardAudio(), framed(answers));
  });

  it('the age limit on the line: 3 fast answers, then one 60 000 ms after the last verdict starts unheld, 60 001 ms held', () => {
    const fastThree = sequence([{ ms: 1_000, speedFactor: 4 }, { ms: 1_200, speedFactor: 4 }, { ms: 900, speedFactor: 4 }]);
    const lastVerdictAtMs = fastThree[2]!.deltas[2]!.atMs; // a 4× answer is proven at its third delta (130 ms in stock)
    for (const [afterMs, cost] of [[60_000, 0], [60_001, 25]] as const) {
      const pace = new DeliveryPace();
      const late = stream(3, answerAudio(3, 8 * 1_000), lastVerdictAtMs + afterMs, { speedFactor: 4 });
      const answers = [...fastThree, late];
      const { clock, twilio, play, costs } = line({ deliveryPace: pace });
      play(answers);
      clock.advance(lastEndMs(answers));
      expect(costs()).toEqual([25, 25, 25, cost]);
      expect(pace.stats()).toEqual({ aheadVerdicts: 4, behindVerdicts: 0 });
      expect(twilio.underrunCount).toBe(0);
    }
  });

  it('a barge-in gives no verdict: a fast answer cut before its second delta does not count toward the streak', () => {
    const pace = new DeliveryPace();
    const answers = sequence([{ ms: 1_000, speedFactor: 4 }, { ms: 1_000, speedFactor: 4 }]);
    const { clock, playout, enqueue, play, costs, firstSentAtMs } = line({ deliveryPace: pace });
    play(answers);
    clock.advance(lastEndMs(answers));
    expect(pace.stats()).toEqual({ aheadVerdicts: 2, behindVerdicts: 0 });
    // A third answer: first delta, then a barge-in 10 ms later.
    enqueue({ responseId: 'resp_cut', itemId: 'item_cut' }, answerAudio(9, 760));
    clock.advance(10);
    expect(playout.interrupt()).not.toBeNull();
    clock.advance(100);
    expect(playout.enqueue('resp_cut', 'item_cut', answerAudio(9, 800))).toBe(false);
    expect(pace.stats()).toEqual({ aheadVerdicts: 2, behindVerdicts: 0 });
    // So the next answer is still held (2 aheads, not 3).
    const next = stream(4, answerAudio(4, 8 * 800), clock.now() + 500, { speedFactor: 4 });
    play([next]);
    clock.advance(5_000);
    expect(firstSentAtMs.has('item_cut')).toBe(false);
    expect(costs().filter((cost) => !Number.isNaN(cost))).toEqual([25, 25, 25]);
  });

  it('a 4× answer judged ahead that then stalls 3 s mid-answer: ahead, then behind once (the streak ends)', () => {
    const pace = new DeliveryPace();
    const answer = stream(0, answerAudio(0, 8 * 3_000), 500, { speedFactor: 4 });
    for (const delta of answer.deltas) if (delta.atMs >= 750) delta.atMs += 3_000;
    answer.endAtMs = answer.deltas.at(-1)!.atMs;
    const { clock, playout, play } = line({ deliveryPace: pace });
    play([answer]);
    clock.advance(10_000);
    expect(playout.stats().underruns).toBe(1);
    expect(pace.stats()).toEqual({ aheadVerdicts: 1, behindVerdicts: 1 });
  });
});

describe('Playout with a delivery pace: a fast provider turns real-time', () => {
  it('the first real-time answer starts unheld and rebuffers exactly once (one 80 ms hole); the answer after it is held again', () => {
    const pace = watch(new DeliveryPace());
    const answers = sequence([
      { ms: 1_500, speedFactor: 4 },
      { ms: 1_500, speedFactor: 4 },
      { ms: 1_500, speedFactor: 4 },
      { ms: 3_000, speedFactor: 1 },
      { ms: 3_000, speedFactor: 1 },
    ]);
    const { clock, playout, twilio, play, costs } = line({ deliveryPace: pace });
    play(answers);
    clock.advance(lastEndMs(answers));

    expect(fastAnswers(pace)).toEqual([false, false, false, true, false]);
    expect(costs()).toEqual([25, 25, 25, 0, CUSHION]);
    // The unheld start plays its 80 ms at once; the next 100 ms come 100 ms later, after 20 ms of silence, and are
    // rebuffered for one cushion: one 80 ms hole, and none after it (nor in the held answer).
    expect(twilio.underrunCount).toBe(1);
    expect(playout.stats()).toMatchObject({ underruns: 1, underrunMs: 80, sequenceErrors: 0 });
    // 3 aheads; the real-time answer is judged behind at its rebuffer (once), the held one at its end.
    expect(pace.stats()).toEqual({ aheadVerdicts: 3, behindVerdicts: 2 });
    expect(pace.fast(clock.now())).toBe(false);
    expectSameBytes(twilio.heardAudio(), framed(answers));
  });

  it.each([1, 2, 3, 4])('seed %i, the real-time answers with ±10 ms jitter: still exactly one hole, of (second delta − first) − 20 ms', (seed) => {
    const pace = new DeliveryPace();
    const answers = sequence(
      [
        { ms: 1_500, speedFactor: 4 },
        { ms: 1_500, speedFactor: 4 },
        { ms: 1_500, speedFactor: 4 },
        { ms: 3_000, speedFactor: 1, jitterMs: 10 },
        { ms: 3_000, speedFactor: 1, jitterMs: 10 },
      ],
      { seed },
    );
    const { clock, playout, twilio, play, costs } = line({ deliveryPace: pace });
    play(answers);
    clock.advance(lastEndMs(answers));

    const slowed = answers[3]!;
    expect(costs()).toEqual([25, 25, 25, 0, CUSHION]);
    expect(twilio.underrunCount).toBe(1);
    expect(playout.stats().underruns).toBe(1);
    expect(playout.stats().underrunMs).toBeCloseTo(slowed.deltas[1]!.atMs - slowed.deltas[0]!.atMs - 20, 9);
    expect(pace.stats()).toEqual({ aheadVerdicts: 3, behindVerdicts: 2 });
    expectSameBytes(twilio.heardAudio(), framed(answers));
  });
});

describe('Playout with a delivery pace: one pace shared by the calls of an agent', () => {
  it('a second Playout\'s first answer starts unheld once the first Playout\'s answers made the pace fast', () => {
    const clock = new ManualClock(0);
    const paces = new DeliveryPaces();
    const pace = watch(paces.for('agent-a'));
    const first = line({ clock, deliveryPace: pace });
    const second = line({ clock, deliveryPace: paces.for('agent-a') });
    const otherAgent = line({ clock, deliveryPace: paces.for('agent-b') });

    const earlier = sequence([{ ms: 1_200, speedFactor: 4 }, { ms: 1_000, speedFactor: 4 }, { ms: 1_400, speedFactor: 4 }]);
    first.play(earlier);
    clock.advance(lastEndMs(earlier));
    expect(first.costs()).toEqual([25, 25, 25]);
    expect(pace.stats()).toEqual({ aheadVerdicts: 3, behindVerdicts: 0 });

    const startMs = clock.now() + 1_000;
    const answer = stream(0, answerAudio(0, 8 * 1_500), startMs, { speedFactor: 4 });
    second.play([answer]);
    otherAgent.play([answer]);
    clock.advance(5_000);
    expect(second.costs()).toEqual([0]);
    expect(second.firstSentAtMs.get('item_0')).toBe(startMs);
    // Another agent's pace knows nothing of it.
    expect(otherAgent.costs()).toEqual([25]);
    expect(fastAnswers(pace)).toEqual([false, false, false, true]);
    expect(pace.stats()).toEqual({ aheadVerdicts: 4, behindVerdicts: 0 });
    expect(paces.for('agent-b').stats()).toEqual({ aheadVerdicts: 1, behindVerdicts: 0 });
    for (const call of [first, second, otherAgent]) expect(call.twilio.underrunCount).toBe(0);
    expectSameBytes(second.twilio.heardAudio(), framed([answer]));
  });

  it('a behind verdict from one call holds the other call\'s next answer', () => {
    const clock = new ManualClock(0);
    const pace = paceAhead(3, 0);
    const a = line({ clock, deliveryPace: pace });
    const b = line({ clock, deliveryPace: pace });
    const slow = stream(0, answerAudio(0, 8 * 1_000), 500); // real time: unheld, rebuffered, behind at 600
    a.play([slow]);
    clock.advance(700);
    expect(pace.stats()).toEqual({ aheadVerdicts: 3, behindVerdicts: 1 });
    const fast = stream(1, answerAudio(1, 8 * 1_000), 800, { speedFactor: 4 });
    b.play([fast]);
    clock.advance(5_000);
    expect(a.costs()).toEqual([0]);
    expect(b.costs()).toEqual([25]);
    expect(a.twilio.underrunCount).toBe(1);
    expect(b.twilio.underrunCount).toBe(0);
  });
});
