/**
 * End-to-end over real sockets: simulated Twilio caller → callbridge → simulated Realtime server, replaying the
 * recorded fixtures. Judged by what the caller heard: complete, in order, nothing twice, one response per turn.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMulaw } from '../src/audio/mulaw.js';
import { decodeToneTimeline, type DecodedToneSegment } from '../src/simulator/realtime/server.js';
import { startBridge, type Bridge } from './helpers/e2e.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

function segmentsOf(heardMulaw: Uint8Array): DecodedToneSegment[] {
  return decodeToneTimeline(decodeMulaw(heardMulaw));
}

/** Asserts a response's segments were heard exactly once each, in order, none missing. */
function expectComplete(segments: DecodedToneSegment[], responseIndex: number, segmentCount: number): void {
  const indexes = segments.filter((segment) => segment.responseIndex === responseIndex).map((segment) => segment.segmentIndex);
  expect(indexes).toEqual(Array.from({ length: segmentCount }, (_, index) => index));
}

describe('a normal turn', () => {
  it('plays the answer complete and in order, with exactly one response for the one turn and no response.create from the bridge', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: '' }, sim: { reply: { kind: 'tone-coded', durationMs: 2_000 } } });
    const call = await bridge.call({ audio: { kind: 'fixture', path: 'fixtures/greeting-question.jsonl' } });
    const result = await call.closed;
    const [summary] = await bridge.waitForSummaries(1);
    const session = bridge.sim.sessions[0]!;

    expect(session.committedTurns).toHaveLength(1);
    expect(session.responsesPerCommittedTurn()).toEqual([1]);
    expect(session.eventsIn('response.create')).toHaveLength(0);
    expect(session.errors()).toEqual([]);
    expect(session.violations.responseCreateWhileActive).toBe(0);

    const segments = segmentsOf(result.heardAudio);
    expectComplete(segments, 0, 20);
    expect(result.clears).toHaveLength(0);
    expect(result.underrunCount).toBe(0);
    expect(result.protocolErrors.wrongStreamSid + result.protocolErrors.invalidJson).toBe(0);

    expect(summary).toMatchObject({ turns: 1, responses: 1, bargeIns: 0, truncates: 0, underruns: 0, sequenceErrors: 0, lateDeltasDropped: 0 });
    expect(summary!.framesIn).toBe(result.sent.filter((sent) => sent.message.event === 'media').length);
    // 2000 ms of answer = exactly 100 frames: the 24 kHz → 8 kHz path loses and adds nothing.
    expect(summary!.framesOut).toBe(100);
    expect(result.heardMsTotal).toBe(2_000);
  });

  it('greets first with exactly one response.create carrying the greeting, then answers the question', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: 'Say hello.' }, sim: { reply: { kind: 'tone-coded', durationMs: 600 } } });
    const call = await bridge.call({ audio: { kind: 'fixture', path: 'fixtures/greeting-question.jsonl' } });
    const result = await call.closed;
    await bridge.waitForSummaries(1);
    const session = bridge.sim.sessions[0]!;

    const creates = session.eventsIn('response.create');
    expect(creates).toHaveLength(1);
    expect(creates[0]).toMatchObject({ type: 'response.create', response: { instructions: 'Say hello.' } });
    expect(session.responsesPerCommittedTurn()).toEqual([1]);
    expect(session.errors()).toEqual([]);
    const segments = segmentsOf(result.heardAudio);
    expectComplete(segments, 0, 6);
    expectComplete(segments, 1, 6);
    expect(result.underrunCount).toBe(0);
  });
});

describe('every fixture', () => {
  it.each(['greeting-question', 'talk-over', 'dtmf', 'gap'])(
    '%s: exactly one response per committed turn and zero conversation_already_has_active_response',
    async (name) => {
      bridge = await startBridge({ sim: { reply: { kind: 'tone-coded', durationMs: 1_500 } } });
      const call = await bridge.call({ audio: { kind: 'fixture', path: `fixtures/${name}.jsonl` } });
      const result = await call.closed;
      const [summary] = await bridge.waitForSummaries(1);
      const session = bridge.sim.sessions[0]!;
      expect(session.committedTurns.length).toBeGreaterThan(0);
      // The model answers each spoken turn itself, exactly once.
      const vadResponsesPerTurn = session.committedTurns.map(
        (_turn, index) => session.responses.filter((response) => response.trigger === 'vad' && response.afterTurnIndex === index).length,
      );
      expect(vadResponsesPerTurn.every((count) => count === 1)).toBe(true);
      // The bridge asks only for the greeting and, in the DTMF call, one answer to the burst of key presses.
      const bridgeCreates = session.eventsIn('response.create');
      expect(bridgeCreates).toHaveLength(name === 'dtmf' ? 2 : 1);
      if (name === 'dtmf') {
        expect(session.userTextMessages.map((message) => message.text)).toEqual(['The caller pressed 1, 5 on the keypad.']);
      }
      expect(session.errors('conversation_already_has_active_response')).toHaveLength(0);
      expect(session.violations.responseCreateWhileActive).toBe(0);
      expect(session.violations.truncateRejected).toBe(0);
      expect(summary!.sequenceErrors).toBe(0);
      expect(result.underrunCount).toBe(0);
    },
  );
});
