/**
 * The pacer's send quantum (src/call/pacer.ts `quantumMs`, config PACER_QUANTUM_MS): once the lead is reached, agent
 * audio goes in batches that top Twilio's buffer up from `leadMs - quantumMs` to `leadMs`, one wake per batch, instead
 * of one frame per 20 ms. On a ManualClock: exact send times, no underruns with a real-time provider jittering
 * ±10 ms (through Playout and the simulated Twilio), the lead never exceeded, the setting validated and plumbed
 * from the configuration to the pacer.
 */
import { describe, expect, it } from 'vitest';
import { bytesToBase64 } from '../src/audio/pcm.js';
import { Call, type CallSettings } from '../src/call/call.js';
import { playoutTuning } from '../src/call/call-options.js';
import type { CallerChannel } from '../src/call/channel.js';
import { DEFAULT_JITTER_CUSHION_MS } from '../src/call/jitter-cushion.js';
import { OutQueue } from '../src/call/out-queue.js';
import { Pacer, type FrameTiming } from '../src/call/pacer.js';
import { Playout } from '../src/call/playout.js';
import { ManualClock } from '../src/clock.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import { TwilioPlaybackEmulator } from '../src/simulator/twilio-playback.js';
import { FakeVoiceAgent } from './helpers/fake-voice-agent.js';
import { DELTA_BYTES, FIRST_DELTA_BYTES, random } from './helpers/realtime-provider.js';

const LEAD_MS = 200;
const QUANTUM_MS = 100;

describe('Pacer with a send quantum', () => {
  function setup(options: { leadMs?: number; quantumMs?: number } = {}) {
    const clock = new ManualClock(1_000);
    const queue = new OutQueue({ markIntervalMs: 100 });
    const frames: Array<{ atMs: number; timing: FrameTiming }> = [];
    const pacer = new Pacer({
      clock,
      leadMs: options.leadMs ?? LEAD_MS,
      quantumMs: options.quantumMs ?? QUANTUM_MS,
      source: queue,
      sink: { sendFrame: (_frame, timing) => (frames.push({ atMs: clock.now(), timing }), true), sendMark: () => {} },
    });
    const push = (durationMs: number): void => {
      queue.push('r1', 'A', new Uint8Array(durationMs * 8).fill(1));
      pacer.kick();
    };
    return { clock, pacer, frames, push, times: () => frames.map((entry) => entry.atMs) };
  }

  it('an answer at once: the lead at once, then 5 frames every 100 ms on the playback model (one wake per batch)', () => {
    const { clock, pacer, frames, push, times } = setup();
    push(1_000);
    expect(times()).toEqual(Array(10).fill(1_000));
    expect(pacer.nextWakeAtMs).toBe(1_100);
    clock.advance(99.999);
    expect(frames).toHaveLength(10);
    clock.advance(0.001);
    expect(times().slice(10)).toEqual(Array(5).fill(1_100));
    expect(pacer.bufferedAheadMs()).toBe(LEAD_MS);
    expect(pacer.nextWakeAtMs).toBe(1_200);
    clock.advance(1_000);
    expect(times()).toEqual([1_000, 1_100, 1_200, 1_300, 1_400, 1_500, 1_600, 1_700, 1_800].flatMap((atMs, batch) => Array(batch === 0 ? 10 : 5).fill(atMs)));
    // Played back to back from the first frame: no gap, no underrun.
    expect(frames.map((entry) => entry.timing.playStartMs)).toEqual(Array.from({ length: 50 }, (_, index) => 1_000 + 20 * index));
    expect(pacer.stats()).toMatchObject({ framesSent: 50, underruns: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a quantum that does not divide the lead: wakes at buffered = lead − quantum and tops up to the lead', () => {
    const { clock, push, times } = setup({ quantumMs: 60 });
    push(400);
    clock.advance(1_000);
    expect(times()).toEqual([...Array(10).fill(1_000), ...Array(3).fill(1_060), ...Array(3).fill(1_120), ...Array(3).fill(1_180), 1_240]);
  });

  it('audio arriving while Twilio holds more than lead − quantum waits for the wake; below it, goes at once', () => {
    const { clock, pacer, push, times, frames } = setup();
    push(300); // 200 ms at once, the rest at the wake
    clock.advance(50);
    push(100); // buffered 150 > 100: no send now …
    expect(frames).toHaveLength(10);
    expect(pacer.nextWakeAtMs).toBe(1_100);
    clock.advance(50); // … but at the wake, one batch up to the lead
    expect(times().slice(10)).toEqual(Array(5).fill(1_100));
    clock.advance(100);
    expect(times().slice(15)).toEqual(Array(5).fill(1_200));
    clock.advance(190); // queue empty; Twilio plays until 1400: 10 ms left at 1390
    push(60); // below lead − quantum: at once, no wake awaited, no underrun
    expect(times().slice(20)).toEqual(Array(3).fill(1_390));
    expect(pacer.stats()).toMatchObject({ underruns: 0 });
  });

  it('counts an underrun when a started item runs dry, as with one frame per wake', () => {
    const { clock, pacer, push, frames } = setup();
    push(100);
    clock.advance(150);
    push(40);
    expect(frames.slice(5).map((entry) => entry.timing)).toEqual([
      { sentAtMs: 1_150, playStartMs: 1_150, underrunMs: 50 },
      { sentAtMs: 1_150, playStartMs: 1_170, underrunMs: 0 },
    ]);
    expect(pacer.stats()).toMatchObject({ underruns: 1, underrunMs: 50 });
  });

  it('rejects a quantum below one frame or above the lead minus one frame', () => {
    const make = (leadMs: number, quantumMs?: number) => () =>
      new Pacer({ clock: new ManualClock(0), leadMs, ...(quantumMs === undefined ? {} : { quantumMs }), source: new OutQueue({ markIntervalMs: 100 }), sink: { sendFrame: () => true, sendMark: () => {} } });
    expect(make(200, 10)).toThrow(RangeError);
    expect(make(100, 100)).toThrow(RangeError);
    expect(make(119, 100)).toThrow(RangeError);
    expect(make(120, 100)).not.toThrow();
    expect(make(20)).not.toThrow(); // quantum 20 (the default) keeps today's rule: lead ≥ 20
    expect(make(20, 20)).not.toThrow();
  });
});

// ---- a provider streaming in real time, through Playout and the simulated Twilio -------------------------------


interface Answer {
  itemId: string;
  audio: Uint8Array;
  deltas: Array<{ atMs: number; bytes: Uint8Array }>;
  /** `response.output_audio.done`, with the last delta. */
  endAtMs: number;
}

/**
 * Answers streamed at `speedFactor` × real time (100 ms deltas, 100 / speedFactor ms apart, each but the first moved
 * by up to ±jitterMs), a pause of 300–1200 ms after each one's playback.
 */
function conversation(seed: number, count: number, speedFactor: number, jitterMs: number): Answer[] {
  const rand = random(seed);
  const answers: Answer[] = [];
  let startMs = 500;
  for (let index = 0; index < count; index++) {
    const bytes = Math.round(8 * (400 + rand() * 2_600)) + Math.floor(rand() * 8);
    const audio = Uint8Array.from({ length: bytes }, (_, offset) => 1 + ((index * 37 + offset) % 200));
    const deltas: Answer['deltas'] = [];
    for (let offset = 0, k = 0; offset < bytes; k++) {
      const size = k === 0 ? FIRST_DELTA_BYTES : DELTA_BYTES;
      const jitter = k === 0 ? 0 : (rand() * 2 - 1) * jitterMs;
      deltas.push({ atMs: startMs + (k * 100) / speedFactor + jitter, bytes: audio.subarray(offset, offset + size) });
      offset += size;
    }
    const endAtMs = deltas.at(-1)!.atMs;
    answers.push({ itemId: `item_${index}`, audio, deltas, endAtMs });
    startMs = endAtMs + bytes / 8 + 300 + rand() * 900;
  }
  return answers;
}

/** Playout (quantum 100) → simulated Twilio on one ManualClock; marks echoed a tick later, as over a socket. */
function playoutLine(answers: readonly Answer[]) {
  const clock = new ManualClock(0);
  let playout: Playout | null = null;
  const twilio = new TwilioPlaybackEmulator({ clock, onMarkEcho: (name) => void clock.setTimeout(() => playout!.onMarkEchoed(name), 0) });
  const sendTimes: number[] = [];
  playout = new Playout({
    clock,
    leadMs: LEAD_MS,
    quantumMs: QUANTUM_MS,
    markIntervalMs: 100,
    logger: silentLogger(),
    sink: {
      sendMedia: (payload) => {
        sendTimes.push(clock.now());
        twilio.receive({ event: 'media', media: { payload: bytesToBase64(payload) } });
      },
      sendMark: (name) => void twilio.receive({ event: 'mark', mark: { name } }),
      sendClear: () => void twilio.receive({ event: 'clear' }),
    },
  });
  for (const answer of answers) {
    for (const delta of answer.deltas) clock.setTimeout(() => playout!.enqueue(`resp_${answer.itemId}`, answer.itemId, delta.bytes), delta.atMs);
    clock.setTimeout(() => playout!.endItem(`resp_${answer.itemId}`, answer.itemId), answer.endAtMs);
  }
  clock.advance(answers.at(-1)!.endAtMs + 5_000);
  return { playout, twilio, sendTimes };
}

/** Every answer as the caller must hear it: whole frames, the last one padded with mu-law silence. */
function framed(answers: readonly Answer[]): Buffer {
  return Buffer.concat(answers.map((answer) => {
    const padded = Buffer.alloc(Math.ceil(answer.audio.length / 160) * 160, 0xff);
    padded.set(answer.audio);
    return padded;
  }));
}

describe('quantum 100 with a provider streaming at exactly real time, ±10 ms jitter', () => {
  /**
   * When each frame must go: the first delta's frames when the jitter cushion lets them (60 ms after it), every later
   * delta's frames the moment it arrives (Twilio then holds 30–50 ms: below lead − quantum, a batch starts at once),
   * the padded tail at the item's end — or, if Twilio still holds more than lead − quantum then, at the wake when it
   * has fallen to that.
   */
  function expectedSendTimes(answer: Answer): number[] {
    const startMs = answer.deltas[0]!.atMs;
    const times: number[] = [];
    let received = 0;
    for (const delta of answer.deltas) {
      received += delta.bytes.length;
      while ((times.length + 1) * 160 <= received) times.push(delta === answer.deltas[0] ? startMs + DEFAULT_JITTER_CUSHION_MS : delta.atMs);
    }
    if (received % 160 !== 0) {
      const playStartMs = startMs + DEFAULT_JITTER_CUSHION_MS + 20 * times.length;
      times.push(Math.max(answer.endAtMs, playStartMs - (LEAD_MS - QUANTUM_MS)));
    }
    return times;
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: 6 answers play without an underrun, complete and in order, each frame at its exact time', (seed) => {
    const answers = conversation(seed, 6, 1, 10);
    const { playout, twilio, sendTimes } = playoutLine(answers);
    expect(twilio.underrunCount).toBe(0);
    expect(playout.stats()).toMatchObject({ underruns: 0, underrunMs: 0, sequenceErrors: 0, clears: 0 });
    expect(Buffer.from(twilio.heardAudio()).equals(framed(answers))).toBe(true);
    expect(sendTimes).toEqual(answers.flatMap(expectedSendTimes));
    // One batch (one media message on the wire) per delta, plus at most one for the tail.
    const batches = new Set(sendTimes).size;
    expect(batches).toBeLessThanOrEqual(answers.reduce((sum, answer) => sum + answer.deltas.length + 1, 0));
  });
});

describe('quantum 100 with a provider 4× faster than real time', () => {
  it.each([1, 2, 3, 4])('seed %i: no underrun; each batch starts at or below lead − quantum and never fills past the lead', (seed) => {
    const answers = conversation(seed, 6, 4, 5);
    const { playout, twilio, sendTimes } = playoutLine(answers);
    expect(twilio.underrunCount).toBe(0);
    expect(playout.stats()).toMatchObject({ underruns: 0, sequenceErrors: 0 });
    expect(Buffer.from(twilio.heardAudio()).equals(framed(answers))).toBe(true);
    // Playback is continuous within an answer; the model: frame k plays from its answer's first send + 20 k.
    let index = 0;
    let wakes = 0;
    for (const answer of answers) {
      const count = Math.ceil(answer.audio.length / 160);
      const times = sendTimes.slice(index, index + count);
      index += count;
      const playStart = (k: number) => times[0]! + 20 * k;
      for (let k = 0; k < count; k++) {
        const batchStart = k === 0 || times[k] !== times[k - 1];
        if (batchStart && k > 0) {
          wakes++;
          expect(playStart(k) - times[k]!).toBeLessThanOrEqual(LEAD_MS - QUANTUM_MS);
        }
        expect(playStart(k) + 20 - times[k]!).toBeLessThanOrEqual(LEAD_MS);
      }
    }
    // About one batch per 100 ms of audio, not one per 20 ms frame.
    expect(wakes).toBeLessThan(sendTimes.length / 4);
  });
});

// ---- from the configuration to the pacer -------------------------------------------------------------------------

describe('PACER_QUANTUM_MS', () => {
  it('defaults to 20 (one frame per wake: the larger quanta measured more underruns under stalls); a quantum past the lead is one clear line', () => {
    expect(loadConfig({}).call.pacerQuantumMs).toBe(20);
    expect(loadConfig({ PACER_QUANTUM_MS: '100' }).call.pacerQuantumMs).toBe(100);
    expect(loadConfig({ PACER_QUANTUM_MS: '20' }).call.pacerQuantumMs).toBe(20);
    expect(loadConfig({ PLAYBACK_LEAD_MS: '60', PACER_QUANTUM_MS: '40' }).call.pacerQuantumMs).toBe(40);
    expect(loadConfig({ PLAYBACK_LEAD_MS: '100' }).call.pacerQuantumMs).toBe(20);
    expect(() => loadConfig({ PACER_QUANTUM_MS: '190' })).toThrow(new ConfigError('PACER_QUANTUM_MS must be at most PLAYBACK_LEAD_MS − 20 = 180 (got 190)'));
    expect(() => loadConfig({ PACER_QUANTUM_MS: '100', PLAYBACK_LEAD_MS: '100' })).toThrow('PACER_QUANTUM_MS must be at most PLAYBACK_LEAD_MS − 20 = 80 (got 100)');
    expect(() => loadConfig({ PACER_QUANTUM_MS: '10' })).toThrow('PACER_QUANTUM_MS must be an integer from 20 to 1000 (got "10")');
  });

  it('reaches the pacer through the call settings: an answer at once goes as the lead, then one batch per 100 ms', () => {
    expect(playoutTuning({ playbackLeadMs: 200, markIntervalMs: 100, forwardDtmf: true, greeting: null, redialAttempts: 0 })).toEqual({});
    expect(playoutTuning({ playbackLeadMs: 200, markIntervalMs: 100, forwardDtmf: true, greeting: null, redialAttempts: 0, pacerQuantumMs: 100, jitterCushionMs: 0 })).toEqual({ quantumMs: 100, jitterCushionMs: 0 });

    const T0 = 10_000;
    const clock = new ManualClock(T0);
    const mediaTimes: number[] = [];
    const channel: CallerChannel = {
      start: { callSid: 'CA1', streamSid: 'MZ1', customParameters: {} },
      setHandlers: () => {},
      sendMedia: () => (mediaTimes.push(clock.now()), true),
      sendMark: () => true,
      sendClear: () => true,
      close: () => {},
      stats: () => ({ gaps: 0, gapMs: 0 }),
    };
    const settings: CallSettings = { playbackLeadMs: 200, pacerQuantumMs: 100, markIntervalMs: 100, forwardDtmf: true, greeting: null, redialAttempts: 0 };
    const agent = new FakeVoiceAgent();
    const call = new Call({ settings, clock, logger: silentLogger(), channel, agent });
    call.start();
    agent.ready();
    agent.responseStarted('resp_1');
    agent.audio('resp_1', 'item_1', new Uint8Array(8_000).fill(5)); // 1 s at once
    agent.audioDone('resp_1', 'item_1');
    clock.advance(2_000);
    expect(mediaTimes).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800].flatMap((offset, batch) => Array(batch === 0 ? 10 : 5).fill(T0 + offset)));
  });
});
