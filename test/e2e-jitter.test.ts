/**
 * End to end over real sockets: a provider that streams its audio at exactly real time (the simulated Realtime server
 * at speedFactor 1, 100 ms deltas) must play without a single gap at the caller. Without the jitter cushion every
 * answer had one: the first delta yields only 80 ms of whole frames, so playback ran dry before the second came.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMulaw } from '../src/audio/mulaw.js';
import { decodeToneTimeline, TONE_SEGMENT_MS } from '../src/simulator/realtime/server.js';
import { callerSpeech } from './helpers/e2e-call-flow.js';
import { startBridge, type Bridge } from './helpers/e2e.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

const ANSWER_MS = 1_200;

describe('a provider streaming at exactly real time', () => {
  it('greeting and two answers play complete, in order, with zero underruns at the caller and at the bridge', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: 'Say hello.' }, sim: { speedFactor: 1, reply: { kind: 'tone-coded', durationMs: ANSWER_MS } } });
    // Greeting ~0–1.3 s; questions at 2.0 s and 5.0 s (committed ~0.5 s after each), each answer 1.2 s at real time.
    const call = await bridge.call({ audio: callerSpeech([{ atMs: 2_000, durationMs: 400 }, { atMs: 5_000, durationMs: 400 }], 8_500) });
    const result = await call.closed;
    const [summary] = await bridge.waitForSummaries(1);
    const session = bridge.sim.sessions[0]!;

    expect(session.responses.map((response) => [response.kind, response.status])).toEqual([
      ['audio', 'completed'],
      ['audio', 'completed'],
      ['audio', 'completed'],
    ]);
    const segments = decodeToneTimeline(decodeMulaw(result.heardAudio));
    for (const responseIndex of [0, 1, 2]) {
      const heard = segments.filter((segment) => segment.responseIndex === responseIndex).map((segment) => segment.segmentIndex);
      expect(heard).toEqual(Array.from({ length: ANSWER_MS / TONE_SEGMENT_MS }, (_, index) => index));
    }
    expect(result.clears).toHaveLength(0);
    expect(result.heardMsTotal).toBe(3 * ANSWER_MS);
    expect(result.underruns).toEqual([]);
    expect(result.underrunCount).toBe(0);
    expect(summary).toMatchObject({ responses: 3, underruns: 0, sequenceErrors: 0, lateDeltasDropped: 0 });
  });
});
