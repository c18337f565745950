/**
 * Long calls, end to end: with the simulated Realtime server's session limit set short (5 s) and rotation at 3 s, the
 * call moves to a fresh session at a quiet moment and goes on: the new session is given the conversation so far
 * (the caller's words and the agent's answer, as items), it does not greet again, the caller's next turn is answered
 * by it, nothing is heard twice or cut, and the old session never reaches its limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from './helpers/e2e.js';
import { callerSpeech, heardToneSegments, wholeResponse } from './helpers/e2e-call-flow.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

describe('session rotation before the provider’s limit', () => {
  it('the conversation continues on a fresh session with its context: no gap, no second greeting', { timeout: 30_000 }, async () => {
    bridge = await startBridge({
      env: { SESSION_ROTATE_AFTER_S: '3', INPUT_TRANSCRIPTION_MODEL: 'gpt-4o-mini-transcribe' },
      sim: { speedFactor: 4, reply: { kind: 'tone-coded', durationMs: 600 }, callerTranscripts: ['What are your hours?', 'And on Sunday?'], faults: { sessionExpiredAfterMs: 5_000 } },
    });
    // Greeting at once; a question at 1.0 s (answered by 2.5 s); the rotation at 3 s finds the call quiet; a second
    // question at 3.6 s, answered by the new session; the caller hangs up at 5.8 s, past the old session's limit.
    const call = await bridge.call({ audio: callerSpeech([{ atMs: 1_000, durationMs: 400 }, { atMs: 3_600, durationMs: 400 }], 5_800) });
    const result = await call.closed;
    const [summary] = await bridge.waitForSummaries(1);

    expect(bridge.sim.sessions).toHaveLength(2);
    const [first, second] = bridge.sim.sessions as [NonNullable<(typeof bridge.sim.sessions)[0]>, NonNullable<(typeof bridge.sim.sessions)[0]>];
    // The old session was closed by us before its limit: it never sent session_expired.
    expect(first.errors()).toEqual([]);
    expect(first.responses.map((response) => [response.trigger, response.status])).toEqual([
      ['client', 'completed'],
      ['vad', 'completed'],
    ]);
    // The new one was seeded with the conversation as heard, asked for no greeting, and answered the next turn.
    const agentTranscript = first.eventsOut('response.output_audio_transcript.done')[1]!['transcript'] as string;
    const greetingTranscript = first.eventsOut('response.output_audio_transcript.done')[0]!['transcript'] as string;
    const seeded = second.eventsIn('conversation.item.create').map((event) => event['item']);
    expect(seeded).toEqual([
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: greetingTranscript.trim() }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What are your hours?' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: agentTranscript.trim() }] },
    ]);
    expect(second.eventsIn('response.create')).toEqual([]);
    expect(second.responses.map((response) => [response.trigger, response.status])).toEqual([['vad', 'completed']]);
    expect(second.errors()).toEqual([]);

    // The caller heard the greeting, the first answer and the second (from the new session), each whole, no gap.
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, 600), ...wholeResponse(1, 600), ...wholeResponse(0, 600)]);
    expect(result.clears).toEqual([]);
    expect(result.underrunCount).toBe(0);
    expect(result.endedBy).toBe('caller');
    expect(summary).toMatchObject({ endReason: 'caller hung up', upstreamFaults: 0, turns: 2 });
    expect(bridge.logs.filter((line) => line['msg'] === 'session rotated: a fresh provider session continues the call')).toHaveLength(1);
  });
});
