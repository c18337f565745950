/**
 * Caller turns on the simulated Realtime server: server VAD on audio time with exact timestamps, exactly one response
 * per committed turn in the full GA event order, output in either format, interruption by the caller, manual turns
 * with turn detection off, and input transcription.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { decodeMulaw } from '../src/audio/mulaw.js';
import { base64ToBytes, pcm16ToBytes } from '../src/audio/pcm.js';
import {
  decodeToneTimeline,
  generateToneTimeline,
  type SimulatedRealtimeServerOptions,
} from '../src/simulator/realtime/server.js';
import {
  concatSamples,
  RawRealtimeClient,
  SIM_API_KEY as API_KEY,
  silence,
  toneBurst,
  useSimulatedServer,
} from './helpers/realtime-sim-client.js';

const sims = useSimulatedServer();

const connect = (options: SimulatedRealtimeServerOptions) => sims.connect(options, '?model=gpt-realtime');

/** Types in order with each run of audio/transcript deltas collapsed to one entry, so a sequence reads as the protocol. */
function collapsedTypes(client: RawRealtimeClient, fromIndex = 0): string[] {
  const out: string[] = [];
  for (const type of client.types.slice(fromIndex)) {
    const isDelta = type === 'response.output_audio.delta' || type === 'response.output_audio_transcript.delta';
    const last = out[out.length - 1];
    if (isDelta && (last === 'response.output_audio.delta' || last === 'response.output_audio_transcript.delta' || last === 'deltas')) {
      out[out.length - 1] = 'deltas';
      continue;
    }
    out.push(isDelta ? 'deltas' : type);
  }
  return out;
}

const VAD_TURN_THEN_RESPONSE = [
  'input_audio_buffer.speech_started',
  'input_audio_buffer.speech_stopped',
  'input_audio_buffer.committed',
  'conversation.item.added',
  'conversation.item.done',
  'response.created',
  'response.output_item.added',
  'conversation.item.added',
  'response.content_part.added',
  'deltas',
  'response.output_audio.done',
  'response.output_audio_transcript.done',
  'response.content_part.done',
  'response.output_item.done',
  'conversation.item.done',
  'response.done',
];

describe('server VAD', () => {
  it('stamps speech_started at onset − prefix padding and speech_stopped after the silence, in audio time', async () => {
    const client = await connect({ apiKey: API_KEY, speedFactor: Infinity });
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { turn_detection: { type: 'server_vad', prefix_padding_ms: 250, silence_duration_ms: 400 } } } },
    });
    await client.waitFor('session.updated');
    // 1 000 ms quiet, 800 ms "speech", 700 ms quiet: onset 1 000, last loud audio ends at 1 800.
    client.appendPcm(concatSamples(silence(1_000), toneBurst(800), silence(700)));
    await client.waitFor('response.done');
    expect(client.ofType('input_audio_buffer.speech_started')).toEqual([
      { type: 'input_audio_buffer.speech_started', event_id: expect.any(String), audio_start_ms: 750, item_id: expect.stringMatching(/^item_/) },
    ]);
    const started = client.ofType('input_audio_buffer.speech_started')[0]!;
    expect(client.ofType('input_audio_buffer.speech_stopped')).toEqual([
      { type: 'input_audio_buffer.speech_stopped', event_id: expect.any(String), audio_end_ms: 2_200, item_id: started.item_id },
    ]);
    const session = await sims.current.waitForSession();
    expect(session.appendedAudioMs).toBe(2_500);
    expect(session.committedTurns).toMatchObject([{ index: 0, itemId: started.item_id, trigger: 'vad', audioStartMs: 750, audioEndMs: 2_200 }]);
  });

  it('clamps audio_start_ms at 0 and ignores audio below the threshold', async () => {
    const client = await connect({ apiKey: API_KEY, speedFactor: Infinity });
    // −46 dBFS hum (RMS ~115 < 328 for threshold 0.5), then speech at 100 ms.
    client.appendPcm(concatSamples(toneBurst(100, 440, 160), toneBurst(400), silence(600)));
    await client.waitFor('response.done');
    expect(client.ofType('input_audio_buffer.speech_started')[0]!.audio_start_ms).toBe(0);
    expect(client.ofType('input_audio_buffer.speech_stopped')[0]!.audio_end_ms).toBe(1_000);
  });

  it('creates exactly one response per committed turn, in the full GA order, carrying the reply audio intact', async () => {
    const client = await connect({ apiKey: API_KEY, speedFactor: Infinity, reply: { kind: 'tone-coded', durationMs: 1_000 } });
    client.appendPcm(concatSamples(silence(200), toneBurst(500), silence(600)));
    await client.waitFor('response.done');
    client.appendPcm(concatSamples(toneBurst(300), silence(600)));
    await client.waitFor('response.done', 2);
    expect(collapsedTypes(client, 1)).toEqual([...VAD_TURN_THEN_RESPONSE, ...VAD_TURN_THEN_RESPONSE]);

    const session = await sims.current.waitForSession();
    expect(session.responsesPerCommittedTurn()).toEqual([1, 1]);
    expect(session.responses.map((response) => [response.trigger, response.status])).toEqual([
      ['vad', 'completed'],
      ['vad', 'completed'],
    ]);

    const firstDone = client.ofType('response.done')[0]!;
    const itemId = client.ofType('response.output_item.added')[0]!.item.id!;
    const deltas = client.ofType('response.output_audio.delta').filter((delta) => delta.response_id === firstDone.response.id);
    // 48 000 bytes in 4 801-byte deltas: ten deltas, the last one short, none sample- or frame-aligned.
    expect(deltas.map((delta) => base64ToBytes(delta.delta).length)).toEqual([4_801, 4_801, 4_801, 4_801, 4_801, 4_801, 4_801, 4_801, 4_801, 4_791]);
    expect(deltas.every((delta) => delta.item_id === itemId && delta.output_index === 0 && delta.content_index === 0)).toBe(true);
    expect(Buffer.concat(deltas.map((delta) => base64ToBytes(delta.delta)))).toEqual(Buffer.from(pcm16ToBytes(generateToneTimeline(0, 1_000))));
    expect(firstDone.response).toMatchObject({
      id: expect.stringMatching(/^resp_/),
      object: 'realtime.response',
      status: 'completed',
      output: [{ id: itemId, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_audio', transcript: 'Tone-coded response 0.' }] }],
      usage: {
        total_tokens: expect.any(Number),
        input_tokens: expect.any(Number),
        output_tokens: expect.any(Number),
        input_token_details: { text_tokens: expect.any(Number), audio_tokens: expect.any(Number), cached_tokens: 0 },
        output_token_details: { text_tokens: 3, audio_tokens: 20 },
      },
    });
    const transcript = client
      .ofType('response.output_audio_transcript.delta')
      .filter((delta) => delta.response_id === firstDone.response.id)
      .map((delta) => delta.delta)
      .join('');
    expect(transcript).toBe('Tone-coded response 0.');
    expect(session.responses[0]!.audioMsSent).toEqual({ [itemId]: 1_000 });
  });

  it('streams in audio/pcmu when asked: 8 bytes per ms of band-limited mu-law that decodes to the same timeline', async () => {
    const client = await connect({ apiKey: API_KEY, speedFactor: Infinity, deltaBytes: 801, reply: { kind: 'tone-coded', durationMs: 600 } });
    client.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } } });
    await client.waitFor('session.updated');
    // Caller audio in mu-law too: 8 kHz, 0xFF is silence; a loud square-ish burst is speech.
    const mulawSpeech = Buffer.alloc(8 * 400, 0x10);
    const mulawSilence = Buffer.alloc(8 * 600, 0xff);
    for (const chunk of [mulawSpeech, mulawSilence]) {
      for (let offset = 0; offset < chunk.length; offset += 160) {
        client.send({ type: 'input_audio_buffer.append', audio: chunk.subarray(offset, offset + 160).toString('base64') });
      }
    }
    const done = await client.waitFor('response.done');
    expect(client.ofType('input_audio_buffer.speech_stopped')[0]!.audio_end_ms).toBe(900);
    expect(done.response.audio?.output?.format).toEqual({ type: 'audio/pcmu' });
    const bytes = Buffer.concat(client.ofType('response.output_audio.delta').map((delta) => base64ToBytes(delta.delta)));
    expect(bytes.length).toBe(4_800);
    expect(decodeToneTimeline(decodeMulaw(bytes)).map((segment) => [segment.responseIndex, segment.segmentIndex])).toEqual(
      [0, 1, 2, 3, 4, 5].map((segment) => [0, segment]),
    );
    expect((await sims.current.waitForSession()).responses[0]!.audioMsSent).toEqual({ [done.response.output![0]!.id!]: 600 });
  });
});

describe('interruption', () => {
  it('cancels the active response when the caller starts talking: closing events, then response.done cancelled/turn_detected', async () => {
    const clock = new ManualClock();
    const client = await connect({ apiKey: API_KEY, clock, speedFactor: 1, deltaBytes: 4_800, reply: { kind: 'tone-coded', durationMs: 2_000 } });
    client.appendPcm(concatSamples(toneBurst(300), silence(500)));
    await client.waitFor('response.output_audio.delta');
    clock.advance(300); // deltas due at 0, 100, 200, 300 ms of a real-time stream
    await client.waitFor('response.output_audio.delta', 4);
    const beforeBargeIn = client.events.length;
    client.appendPcm(toneBurst(100));
    await client.waitFor('response.done');
    const itemId = client.ofType('response.output_item.added')[0]!.item.id!;
    const responseId = client.ofType('response.created')[0]!.response.id!;
    expect(collapsedTypes(client, beforeBargeIn)).toEqual([
      'input_audio_buffer.speech_started',
      'response.output_audio.done',
      'response.output_audio_transcript.done',
      'response.content_part.done',
      'response.output_item.done',
      'conversation.item.done',
      'response.done',
    ]);
    expect(client.ofType('response.output_item.done')[0]!.item).toMatchObject({ id: itemId, status: 'incomplete' });
    expect(client.ofType('response.done')[0]!.response).toMatchObject({
      id: responseId,
      status: 'cancelled',
      status_details: { type: 'cancelled', reason: 'turn_detected' },
      usage: { output_token_details: { audio_tokens: 8 } },
    });
    const session = await sims.current.waitForSession();
    expect(session.responses[0]).toMatchObject({ status: 'cancelled', cancelReason: 'turn_detected', deltasSent: 4, audioMsSent: { [itemId]: 400 } });
    // Nothing more is streamed for the cancelled response, however far the clock runs.
    clock.advance(5_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.ofType('response.output_audio.delta')).toHaveLength(4);
  });

  it('lets the response play on with interrupt_response false, and creates no second response over it', async () => {
    const clock = new ManualClock();
    const client = await connect({ apiKey: API_KEY, clock, speedFactor: 1, deltaBytes: 4_800, reply: { kind: 'tone-coded', durationMs: 1_000 } });
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { turn_detection: { type: 'server_vad', interrupt_response: false } } } },
    });
    await client.waitFor('session.updated');
    client.appendPcm(concatSamples(toneBurst(300), silence(500)));
    await client.waitFor('response.output_audio.delta');
    client.appendPcm(concatSamples(toneBurst(300), silence(500)));
    await client.waitFor('input_audio_buffer.committed', 2);
    clock.advance(1_000);
    await client.waitFor('response.done');
    expect(client.ofType('response.done')[0]!.response.status).toBe('completed');
    expect(client.ofType('response.created')).toHaveLength(1);
    expect((await sims.current.waitForSession()).responsesPerCommittedTurn()).toEqual([1, 0]);
  });
});

describe('turn detection off', () => {
  it('commits only on input_audio_buffer.commit (rejecting < 100 ms) and responds only to response.create', async () => {
    const client = await connect({ apiKey: API_KEY, speedFactor: Infinity });
    client.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { turn_detection: null } } } });
    await client.waitFor('session.updated');
    client.appendPcm(toneBurst(60));
    client.send({ type: 'input_audio_buffer.commit', event_id: 'evt_commit_1' });
    const error = await client.waitFor('error');
    expect(error.error).toEqual({
      type: 'invalid_request_error',
      code: 'input_audio_buffer_commit_empty',
      message: 'Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has 60.00ms of audio.',
      param: null,
      event_id: 'evt_commit_1',
    });
    client.appendPcm(concatSamples(toneBurst(400), silence(800)));
    client.send({ type: 'input_audio_buffer.commit' });
    await client.waitFor('input_audio_buffer.committed');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.types).not.toContain('input_audio_buffer.speech_started');
    expect(client.types).not.toContain('response.created');
    client.send({ type: 'response.create', response: { instructions: 'Answer the question.' } });
    await client.waitFor('response.done');
    const session = await sims.current.waitForSession();
    expect(session.committedTurns).toMatchObject([{ trigger: 'client', audioStartMs: 0, audioEndMs: 1_260 }]);
    expect(session.responses).toMatchObject([{ trigger: 'client', instructions: 'Answer the question.', afterTurnIndex: 0, status: 'completed' }]);
    expect(session.violations.commitEmpty).toBe(1);
  });
});

describe('input transcription', () => {
  it('sends the scripted caller transcript after each committed turn when a transcription model is configured', async () => {
    const client = await connect({ apiKey: API_KEY, speedFactor: Infinity, callerTranscripts: ['What time do you open?'] });
    client.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-mini-transcribe' } } } } });
    await client.waitFor('session.updated');
    client.appendPcm(concatSamples(toneBurst(500), silence(600)));
    await client.waitFor('response.done');
    const committed = client.ofType('input_audio_buffer.committed')[0]!;
    const completed = client.ofType('conversation.item.input_audio_transcription.completed')[0]!;
    expect(completed).toMatchObject({ item_id: committed.item_id, content_index: 0, transcript: 'What time do you open?' });
    expect(client.types.indexOf('conversation.item.input_audio_transcription.completed')).toBeLessThan(client.types.indexOf('response.created'));
  });
});
