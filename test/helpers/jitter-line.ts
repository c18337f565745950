/**
 * The jitter tests' line: Playout driven as the call drives it (mu-law deltas of the sizes a 24 kHz provider's 100 ms
 * deltas become after the call's resampler: the first yields 80 ms of whole frames, the rest 100 ms each), played by
 * the simulated Twilio (TwilioPlaybackEmulator: no jitter buffer of its own, an underrun whenever it runs dry after
 * media with no mark behind it) on the same ManualClock.
 *
 * First-audio latency cost = time from an item's first frame being queued to it being sent.
 */
import { expect } from 'vitest';
import { MULAW_SILENCE_BYTE } from '../../src/audio/frames.js';
import { bytesToBase64, concatBytes } from '../../src/audio/pcm.js';
import type { DeliveryPace } from '../../src/call/delivery-pace.js';
import type { FrameEntry } from '../../src/call/out-queue.js';
import { Playout } from '../../src/call/playout.js';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { TwilioPlaybackEmulator } from '../../src/simulator/twilio-playback.js';
import { DELTA_BYTES, FIRST_DELTA_BYTES, random } from './realtime-provider.js';

const DELTA_MS = 100;

interface Delta {
  atMs: number;
  bytes: Uint8Array;
}

export interface Answer {
  responseId: string;
  itemId: string;
  audio: Uint8Array;
  deltas: Delta[];
  /** `response.output_audio.done`. */
  endAtMs: number | null;
}

/** Distinct non-silent bytes per answer, so the heard audio proves order and completeness. */
export function answerAudio(index: number, bytes: number): Uint8Array {
  return Uint8Array.from({ length: bytes }, (_, offset) => 1 + ((index * 37 + offset) % 200));
}

/**
 * Cuts `audio` as the provider streams it: the first delta FIRST_DELTA_BYTES, then DELTA_BYTES each, due every
 * 100 ms / speedFactor after `startMs` (all at `startMs` for Infinity), each moved by up to ±jitterMs. The item ends
 * with its last delta.
 */
export function stream(index: number, audio: Uint8Array, startMs: number, options: { speedFactor?: number; jitterMs?: number; rand?: () => number } = {}): Answer {
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
export function conversation(seed: number, count: number, options: { speedFactor?: number; jitterMs?: number } = {}): Answer[] {
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

/**
 * Playout → simulated Twilio on one ManualClock (a fresh one, or `clock` to put several lines on one timeline);
 * marks are echoed back (a tick later, as over a socket).
 */
export function line(options: { jitterCushionMs?: number; deliveryPace?: DeliveryPace; clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock(0);
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
    ...(options.deliveryPace === undefined ? {} : { deliveryPace: options.deliveryPace }),
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
export function framed(answers: readonly Answer[]): Uint8Array {
  const parts = answers.map((answer) => {
    const padded = new Uint8Array(Math.ceil(answer.audio.length / 160) * 160).fill(MULAW_SILENCE_BYTE);
    padded.set(answer.audio);
    return padded;
  });
  return concatBytes(parts);
}

/** Byte-exact comparison (vitest's deep equality is slow on long typed arrays); names the first difference. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)) return;
  let index = 0;
  while (index < Math.min(actual.length, expected.length) && actual[index] === expected[index]) index++;
  expect({ length: actual.length, firstDifferenceAt: index }).toEqual({ length: expected.length, firstDifferenceAt: expected.length });
}

/** A queued 20 ms frame of `itemId` at `itemOffsetMs`, for asking a JitterCushion directly. */
export function frame(itemId: string, itemOffsetMs = 0): FrameEntry {
  return { kind: 'frame', responseId: 'r', itemId, payload: new Uint8Array(160), itemOffsetMs, audioMs: 20, frameId: 1 };
}

export function lastEndMs(answers: readonly Answer[]): number {
  return Math.max(...answers.map((answer) => answer.endAtMs ?? 0)) + 5_000;
}
