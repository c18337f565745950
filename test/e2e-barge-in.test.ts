/**
 * Barge-in, end to end. The story this guards: simple bridges keep talking over the caller, or truncate at a time
 * taken from the wrong clock and get "Audio content of 9250ms is already shorter than 57340ms". Here the caller
 * (talk-over fixture) interrupts the agent's answer ~2 s in; we assert what the caller really heard against the
 * `audio_end_ms` the bridge sent, one `clear`, one truncate, nothing of the old answer after the clear, and the next
 * answer complete and in order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MULAW_BYTES_PER_MS } from '../src/audio/frames.js';
import { decodeMulaw } from '../src/audio/mulaw.js';
import { decodeToneTimeline } from '../src/simulator/realtime/server.js';
import type { CallResult } from '../src/simulator/twilio-caller.js';
import { startBridge, type Bridge } from './helpers/e2e.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

const LONG_ANSWER_MS = 6_000;
const SHORT_ANSWER_MS = 1_500;

/** The heard stretch the clear cut short: what the caller really heard of the interrupted answer. */
function heardBeforeClear(result: CallResult): { heardMs: number; segmentIndex: number } {
  const clear = result.clears[0]!;
  const segmentIndex = result.heardSegments.findIndex(
    (segment) => segment.startMs <= clear.atMs && segment.startMs + segment.bytes.length / MULAW_BYTES_PER_MS >= clear.atMs - 1,
  );
  expect(segmentIndex).toBeGreaterThanOrEqual(0);
  return { heardMs: result.heardSegments[segmentIndex]!.bytes.length / MULAW_BYTES_PER_MS, segmentIndex };
}

async function talkOver(env: Record<string, string>, speedFactor: number) {
  bridge = await startBridge({
    env: { AGENT_GREETING: '', ...env },
    sim: {
      speedFactor,
      script: [
        { kind: 'audio', reply: { kind: 'tone-coded', durationMs: LONG_ANSWER_MS } },
        { kind: 'audio', reply: { kind: 'tone-coded', durationMs: SHORT_ANSWER_MS } },
      ],
    },
  });
  const call = await bridge.call({ audio: { kind: 'fixture', path: 'fixtures/talk-over.jsonl' } });
  const result = await call.closed;
  const [summary] = await bridge.waitForSummaries(1);
  return { result, summary: summary!, session: bridge.sim.sessions[0]! };
}

describe('barge-in', () => {
  it('clears once, truncates once at what the caller heard, plays nothing of the old answer after, then the next answer complete', async () => {
    const { result, summary, session } = await talkOver({}, 4);

    expect(result.clears).toHaveLength(1);
    const truncates = session.truncates();
    expect(truncates).toHaveLength(1);
    const [truncate] = truncates;
    const firstAnswer = session.responses[0]!;
    expect(truncate).toMatchObject({ itemId: firstAnswer.itemId, accepted: true });
    expect(Number.isInteger(truncate!.audioEndMs)).toBe(true);

    const { heardMs, segmentIndex } = heardBeforeClear(result);
    expect(heardMs).toBeGreaterThan(1_000);
    expect(heardMs).toBeLessThan(LONG_ANSWER_MS);
    expect(Math.abs(truncate!.audioEndMs - heardMs)).toBeLessThanOrEqual(40);
    expect(truncate!.audioEndMs).toBeLessThanOrEqual(truncate!.sentAudioMs);

    // Before the clear: the first answer from its start, in order. After: only the second answer, whole.
    const before = decodeToneTimeline(decodeMulaw(result.heardSegments[segmentIndex]!.bytes));
    expect(before.length).toBeGreaterThan(5);
    expect(before.every((segment, index) => segment.responseIndex === 0 && segment.segmentIndex === index)).toBe(true);
    const afterBytes = result.heardSegments.slice(segmentIndex + 1).map((segment) => segment.bytes);
    const after = afterBytes.flatMap((bytes) => decodeToneTimeline(decodeMulaw(bytes)));
    expect(after.map((segment) => segment.responseIndex)).toEqual(Array(SHORT_ANSWER_MS / 100).fill(1));
    expect(after.map((segment) => segment.segmentIndex)).toEqual(Array.from({ length: SHORT_ANSWER_MS / 100 }, (_, index) => index));

    // The session interrupts on its own (interrupt_response): the bridge sends no response.cancel and no create.
    expect(session.eventsIn('response.cancel')).toHaveLength(0);
    expect(session.eventsIn('response.create')).toHaveLength(0);
    expect(session.errors()).toEqual([]);
    expect(summary).toMatchObject({ bargeIns: 1, truncates: 1, sequenceErrors: 0, underruns: 0 });
    expect(result.underrunCount).toBe(0);
  });

  it('sends exactly one response.cancel when the session does not interrupt by itself and the answer is still being generated', async () => {
    // Generated at 2× real time: 6 s of answer take 3 s, so ~2 s into playback the response is still active.
    const { result, summary, session } = await talkOver({ VAD_INTERRUPT_RESPONSE: 'false' }, 2);

    expect(result.clears).toHaveLength(1);
    expect(session.eventsIn('response.cancel')).toHaveLength(1);
    expect(session.responses[0]!.status).toBe('cancelled');
    expect(session.errors()).toEqual([]);
    const [truncate] = session.truncates();
    const { heardMs } = heardBeforeClear(result);
    expect(truncate).toMatchObject({ accepted: true });
    expect(Math.abs(truncate!.audioEndMs - heardMs)).toBeLessThanOrEqual(40);
    expect(summary).toMatchObject({ bargeIns: 1, truncates: 1, sequenceErrors: 0 });
  });
});
