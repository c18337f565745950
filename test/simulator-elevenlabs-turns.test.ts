/**
 * Turn-taking on the simulated ElevenLabs server, on a manual server clock so pacing and played positions are exact:
 * the first message (event ids, chunking, pacing, tone-coded content) in ulaw_8000 and pcm_16000, caller turns
 * found by the energy VAD in audio time (user_transcript, then the answer), barge-in (interruption naming the
 * response, the correction cut at the played share, old-id chunks with keepSendingAfterInterruption), user_message,
 * contextual_update and vad_score.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { encodeAgentAudio, formatInfo } from '../src/simulator/elevenlabs/formats.js';
import { decodeToneTimeline, generateToneTimeline, type SimulatedAgentConfig } from '../src/simulator/elevenlabs/server.js';
import { audioOf, callerSilence, callerTone, toHeard8k, useSimulatedElevenLabs } from './helpers/elevenlabs-sim-client.js';

const sims = useSimulatedElevenLabs();

const TEN_WORDS = 'one two three four five six seven eight nine ten';

async function connect(agent: Partial<SimulatedAgentConfig>) {
  const clock = new ManualClock(1_000);
  const config: SimulatedAgentConfig = { agentId: 'agent_t', public: true, inputFormat: 'ulaw_8000', outputFormat: 'ulaw_8000', pingIntervalMs: 0, ...agent };
  await sims.start({ agents: [config], clock });
  const client = await sims.connectPublic('agent_t');
  await client.waitFor('conversation_initiation_metadata');
  const conversation = await sims.current.waitForConversation(0);
  return { clock, client, conversation };
}

const settle = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

/** Segment indices of response `responseIndex` decoded from `audio` as heard. */
function heardSegments(audio: Int16Array): Array<[number, number]> {
  return decodeToneTimeline(audio).map((segment) => [segment.responseIndex, segment.segmentIndex]);
}

const range = (response: number, count: number): Array<[number, number]> => Array.from({ length: count }, (_, segment) => [response, segment]);

describe('first message', () => {
  it('ulaw_8000: agent_response then eight 125 ms chunks carrying its event id, paced at 4×, tone-coded intact', async () => {
    const { clock, client, conversation } = await connect({ firstMessage: 'Hello, how can I help?' });
    await client.waitFor('audio', 1);
    clock.advance(62.5);
    await client.waitFor('audio', 3);
    expect(conversation.log.filter((entry) => entry.event['type'] === 'audio').map((entry) => entry.atMs)).toEqual([0, 31.25, 62.5]);
    clock.advance(200);
    await client.waitFor('audio', 8);
    expect(client.timeline()).toEqual(['conversation_initiation_metadata', 'agent_response:1', 'audio:1 ×8']);
    expect(client.bodies('agent_response')).toEqual([{ agent_response: 'Hello, how can I help?', event_id: 1 }]);
    expect(client.bodies('audio').map((body) => Buffer.from(body.audio_base_64, 'base64').length)).toEqual([1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000]);
    const audio = audioOf(client);
    expect(Buffer.from(audio)).toEqual(Buffer.from(encodeAgentAudio(generateToneTimeline(0, 1_000), formatInfo('ulaw_8000'))));
    expect(heardSegments(toHeard8k(audio, 'ulaw_8000'))).toEqual(range(0, 10));
    expect(conversation.responses).toMatchObject([{ index: 0, kind: 'first_message', eventId: 1, status: 'completed', audioMsTotal: 1_000, audioMsSent: 1_000, chunksSent: 8 }]);
    client.close();
  });

  it('pcm_16000 both ways: 4 000-byte chunks out; caller PCM turns are found in audio time and answered', async () => {
    const { clock, client, conversation } = await connect({ inputFormat: 'pcm_16000', outputFormat: 'pcm_16000', firstMessage: 'Welcome.', speedFactor: Infinity });
    await client.waitFor('audio', 8);
    expect(client.bodies('audio').map((body) => Buffer.from(body.audio_base_64, 'base64').length)).toEqual(Array(8).fill(4_000));
    expect(heardSegments(toHeard8k(audioOf(client, 1), 'pcm_16000'))).toEqual(range(0, 10));
    clock.advance(1_000); // the greeting has played out: the caller does not interrupt it
    expect(conversation.audibleResponse).toBeNull();
    // 200 ms quiet, 500 ms speech, 600 ms quiet; a sample split across chunks (odd chunk sizes) is joined.
    const speech = Buffer.concat([callerSilence(200, 'pcm_16000'), callerTone(500, 'pcm_16000'), callerSilence(600, 'pcm_16000')]);
    for (let offset = 0; offset < speech.length; offset += 641) client.send({ user_audio_chunk: speech.subarray(offset, offset + 641).toString('base64') });
    await client.waitFor('audio', 16);
    expect(client.timeline()).toEqual(['conversation_initiation_metadata', 'agent_response:1', 'audio:1 ×8', 'user_transcript:2', 'agent_response:3', 'audio:3 ×8']);
    expect(client.bodies('user_transcript')).toEqual([{ user_transcript: 'Caller turn 1.', event_id: 2 }]);
    expect(client.bodies('agent_response')[1]).toEqual({ agent_response: 'Tone-coded response 1.', event_id: 3 });
    expect(heardSegments(toHeard8k(audioOf(client, 3), 'pcm_16000'))).toEqual(range(1, 10));
    expect(conversation.turns).toEqual([{ index: 0, audioStartMs: 200, audioEndMs: 1_200, transcript: 'Caller turn 1.', atMs: 1_000 }]);
    expect([conversation.audioBytesReceived, conversation.receivedAudioMs, conversation.interruptions]).toEqual([41_600, 1_300, []]);
    client.close();
  });
});

describe('caller turns', () => {
  it('ulaw_8000 caller audio: user_transcript, then agent_response and its audio; later turns take later ids', async () => {
    const { client, conversation } = await connect({ speedFactor: Infinity, callerTranscripts: ['I need a taxi.'], reply: { kind: 'tone-coded', durationMs: 500 } });
    client.sendAudio(Buffer.concat([callerTone(300, 'ulaw_8000'), callerSilence(600, 'ulaw_8000')]), 'ulaw_8000');
    await client.waitFor('audio', 4);
    client.sendAudio(Buffer.concat([callerTone(300, 'ulaw_8000'), callerSilence(600, 'ulaw_8000')]), 'ulaw_8000');
    await client.waitFor('audio', 8);
    expect(client.timeline()).toEqual([
      'conversation_initiation_metadata',
      'user_transcript:1',
      'agent_response:2',
      'audio:2 ×4',
      // The second turn starts while the first answer is still "playing" (the clock has not moved): a barge-in.
      'interruption:2',
      'agent_response_correction:2',
      'user_transcript:3',
      'agent_response:4',
      'audio:4 ×4',
    ]);
    expect(client.bodies('user_transcript').map((body) => body.user_transcript)).toEqual(['I need a taxi.', 'Caller turn 2.']);
    expect(conversation.turns.map((turn) => [turn.audioStartMs, turn.audioEndMs])).toEqual([
      [0, 800],
      [900, 1_700],
    ]);
    expect(heardSegments(toHeard8k(audioOf(client, 4), 'ulaw_8000'))).toEqual(range(1, 5));
    client.close();
  });

  it('a user_message is answered like a turn; a contextual_update is only recorded', async () => {
    const { client, conversation } = await connect({ speedFactor: Infinity });
    client.send({ type: 'contextual_update', text: 'Caller is on the pricing page.' });
    client.send({ type: 'user_message', text: 'What does it cost?' });
    await client.waitFor('audio', 8);
    expect(client.timeline()).toEqual(['conversation_initiation_metadata', 'agent_response:1', 'audio:1 ×8']);
    expect(conversation.contextualUpdates).toEqual([{ text: 'Caller is on the pricing page.', atMs: 0 }]);
    expect(conversation.userMessages).toEqual([{ text: 'What does it cost?', atMs: 0 }]);
    client.close();
  });

  it('pcm_22050 caller audio (not a whole number of samples per VAD window) still makes turns', async () => {
    const { client, conversation } = await connect({ inputFormat: 'pcm_22050', outputFormat: 'pcm_24000', speedFactor: Infinity });
    client.sendAudio(Buffer.concat([callerSilence(100, 'pcm_22050'), callerTone(400, 'pcm_22050'), callerSilence(700, 'pcm_22050')]), 'pcm_22050');
    await client.waitFor('audio', 8);
    expect(client.bodies('audio').map((body) => Buffer.from(body.audio_base_64, 'base64').length)).toEqual(Array(8).fill(6_000));
    expect(conversation.turns.map((turn) => [turn.audioStartMs, turn.audioEndMs])).toEqual([[100, 1_000]]);
    expect(heardSegments(toHeard8k(audioOf(client), 'pcm_24000'))).toEqual(range(0, 10));
    client.close();
  });

  it('sends a vad_score per caller chunk when enabled', async () => {
    const { client } = await connect({ sendVadScores: true });
    client.sendAudio(callerSilence(20, 'ulaw_8000'), 'ulaw_8000');
    client.sendAudio(callerTone(20, 'ulaw_8000', 8_000), 'ulaw_8000');
    await client.waitFor('vad_score', 2);
    expect(client.ofType('vad_score')).toEqual([
      { type: 'vad_score', vad_score_event: { vad_score: 0 } },
      { type: 'vad_score', vad_score_event: { vad_score: expect.closeTo(0.945, 2) } },
    ]);
    client.close();
  });
});

describe('barge-in', () => {
  it('interrupts a response being played: interruption names it, old-id chunks follow, the correction cuts at the played share', async () => {
    const { clock, client, conversation } = await connect({ firstMessage: TEN_WORDS, speedFactor: Infinity, keepSendingAfterInterruption: 2 });
    await client.waitFor('audio', 8);
    const greeting = audioOf(client, 1);
    clock.advance(300); // all 1 000 ms sent at once; 300 ms of it played
    expect(conversation.audibleResponse?.eventId).toBe(1);
    client.sendAudio(Buffer.concat([callerTone(100, 'ulaw_8000'), callerSilence(600, 'ulaw_8000')]), 'ulaw_8000');
    await client.waitFor('audio', 18);
    expect(client.timeline()).toEqual([
      'conversation_initiation_metadata',
      'agent_response:1',
      'audio:1 ×8',
      'interruption:1',
      'audio:1 ×2',
      'agent_response_correction:1',
      'user_transcript:2',
      'agent_response:3',
      'audio:3 ×8',
    ]);
    expect(client.bodies('agent_response_correction')).toEqual([
      { original_agent_response: TEN_WORDS, corrected_agent_response: 'one two three', event_id: 1 },
    ]);
    // The stale chunks are the ones that would have come next (wrapping to the first): never to be played.
    const stale = client.bodies('audio').slice(8, 10).map((body) => body.audio_base_64);
    expect(stale).toEqual([Buffer.from(greeting.subarray(0, 1_000)).toString('base64'), Buffer.from(greeting.subarray(1_000, 2_000)).toString('base64')]);
    expect(conversation.interruptions).toEqual([{ eventId: 1, responseIndex: 0, atMs: 300, callerOnsetMs: 0, sentMs: 1_000, playedMs: 300, staleChunksSent: 2 }]);
    expect(conversation.responses.map((response) => [response.kind, response.status, response.correctedTranscript])).toEqual([
      ['first_message', 'interrupted', 'one two three'],
      ['audio', 'completed', null],
    ]);
    expect(heardSegments(toHeard8k(audioOf(client, 3), 'ulaw_8000'))).toEqual(range(1, 10));
    client.close();
  });

  it('stops a response still streaming: no more of its chunks, even as the clock runs on', async () => {
    const { clock, client, conversation } = await connect({ firstMessage: TEN_WORDS, speedFactor: 4 });
    clock.advance(150); // chunks at 0, 31.25, 62.5, 93.75, 125: 625 ms sent, 150 ms played
    await client.waitFor('audio', 5);
    client.sendAudio(callerTone(40, 'ulaw_8000'), 'ulaw_8000');
    await client.waitFor('agent_response_correction');
    clock.advance(2_000);
    await settle();
    expect(client.timeline()).toEqual(['conversation_initiation_metadata', 'agent_response:1', 'audio:1 ×5', 'interruption:1', 'agent_response_correction:1']);
    expect(client.bodies('agent_response_correction')[0]!.corrected_agent_response).toBe('one');
    expect(conversation.interruptions).toEqual([{ eventId: 1, responseIndex: 0, atMs: 150, callerOnsetMs: 0, sentMs: 625, playedMs: 150, staleChunksSent: 0 }]);
    expect(conversation.responses[0]).toMatchObject({ status: 'interrupted', chunksSent: 5, audioMsSent: 625 });
    client.close();
  });
});
