/**
 * Keep-alive, client tools and faults on the simulated ElevenLabs server: pings taking event ids and measuring the
 * round trip from pongs, the missed-pong policy (1002), a scripted client tool call round trip, error events with
 * close codes 1002/1008/1011, a dropped connection mid-response, the maximum duration (1000), and the embedded
 * backend that `npm start` uses without a key.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/logger.js';
import { EMBEDDED_AGENT_ID, startEmbeddedElevenLabsBackend, type SimulatedAgentConfig } from '../src/simulator/elevenlabs/server.js';
import { loadSpeechBundle } from '../src/simulator/realtime/replies.js';
import { audioOf, callerSilence, callerTone, EL_API_KEY, eventually, RawConvaiClient, useSimulatedElevenLabs } from './helpers/elevenlabs-sim-client.js';
import { decodeToneTimeline } from '../src/simulator/realtime/tones.js';
import { decodeMulaw } from '../src/audio/mulaw.js';

const sims = useSimulatedElevenLabs();

async function connect(agent: Partial<SimulatedAgentConfig>, clock = new ManualClock(0)) {
  const config: SimulatedAgentConfig = { agentId: 'agent_c', public: true, inputFormat: 'ulaw_8000', outputFormat: 'ulaw_8000', speedFactor: Infinity, ...agent };
  await sims.start({ agents: [config], clock });
  const client = await sims.connectPublic('agent_c');
  await client.waitFor('conversation_initiation_metadata');
  const conversation = await sims.current.waitForConversation(0);
  return { clock, client, conversation };
}

const speakTurn = (client: RawConvaiClient) => client.sendAudio(Buffer.concat([callerTone(300, 'ulaw_8000'), callerSilence(600, 'ulaw_8000')]), 'ulaw_8000');

describe('pings', () => {
  it('pings every interval with the next event id; pongs are recorded and the round trip goes into ping_ms', async () => {
    const { clock, client, conversation } = await connect({ pingIntervalMs: 1_000, firstMessage: 'Hi.' });
    await client.waitFor('audio', 8);
    clock.advance(1_000);
    const first = await client.waitFor('ping', 1);
    expect(first).toEqual({ type: 'ping', ping_event: { event_id: 2, ping_ms: null } });
    clock.advance(40);
    client.send({ type: 'pong', event_id: 2 });
    await eventually(() => conversation.pongs[0], 'the pong');
    clock.advance(960);
    await client.waitFor('ping', 2);
    client.send({ type: 'pong', event_id: 77 }); // names no ping
    await eventually(() => conversation.pongs[1], 'the second pong');
    expect(client.bodies('ping')).toEqual([
      { event_id: 2, ping_ms: null },
      { event_id: 3, ping_ms: 40 },
    ]);
    expect(conversation.pings).toEqual([
      { eventId: 2, atMs: 1_000, pongAtMs: 1_040 },
      { eventId: 3, atMs: 2_000, pongAtMs: null },
    ]);
    expect(conversation.pongs).toEqual([
      { eventId: 2, atMs: 1_040, rttMs: 40 },
      { eventId: 77, atMs: 2_000, rttMs: null },
    ]);
    expect(conversation.violations.unknownPong).toBe(1);
    client.close();
  });

  it('closes 1002 when closeOnMissedPongs pings are unanswered at the next tick', async () => {
    const { clock, client, conversation } = await connect({ pingIntervalMs: 500, closeOnMissedPongs: 2 });
    clock.advance(500);
    await client.waitFor('ping', 1);
    clock.advance(500);
    await client.waitFor('ping', 2);
    clock.advance(500);
    expect(await client.closed).toEqual({ code: 1002, reason: 'No pong received for 2 pings.' });
    expect(client.events.slice(1)).toEqual([
      { type: 'ping', ping_event: { event_id: 1, ping_ms: null } },
      { type: 'ping', ping_event: { event_id: 2, ping_ms: null } },
      { type: 'error', error_event: { code: 1002, message: 'No pong received for 2 pings.', error_type: 'transport_receive_timeout' } },
    ]);
    expect(conversation.serverCloseCode).toBe(1002);
  });
});

describe('client tools', () => {
  it('sends the scripted client_tool_call, waits for its result, then answers with audio that mentions it', async () => {
    const { client, conversation } = await connect({
      pingIntervalMs: 0,
      script: [
        { kind: 'client_tool_call', toolName: 'lookup_order', parameters: { order_id: 'A-17' }, toolCallId: 'toolu_test1' },
        { kind: 'audio', reply: { kind: 'tone-coded', durationMs: 500 } },
      ],
    });
    speakTurn(client);
    const call = await client.waitFor('client_tool_call');
    expect(call).toEqual({
      type: 'client_tool_call',
      client_tool_call: { tool_name: 'lookup_order', tool_call_id: 'toolu_test1', parameters: { order_id: 'A-17' }, event_id: 2 },
    });
    // A second turn while the call waits: transcribed, not answered.
    speakTurn(client);
    await client.waitFor('user_transcript', 2);
    client.send({ type: 'client_tool_result', tool_call_id: 'toolu_unknown', result: 'x', is_error: false });
    client.send({ type: 'client_tool_result', tool_call_id: 'toolu_test1', result: 'shipped on Monday', is_error: false });
    await client.waitFor('audio', 4);
    expect(client.timeline()).toEqual(['conversation_initiation_metadata', 'user_transcript:1', 'client_tool_call:2', 'user_transcript:3', 'agent_response:4', 'audio:4 ×4']);
    expect(client.bodies('agent_response')).toEqual([{ agent_response: 'Tool lookup_order returned: shipped on Monday. Tone-coded response 1.', event_id: 4 }]);
    expect(decodeToneTimeline(decodeMulaw(audioOf(client, 4))).map((segment) => [segment.responseIndex, segment.segmentIndex])).toEqual([
      [1, 0],
      [1, 1],
      [1, 2],
      [1, 3],
      [1, 4],
    ]);
    expect(conversation.toolResults).toEqual([
      { toolCallId: 'toolu_unknown', result: 'x', isError: false, knownCall: false, atMs: 0 },
      { toolCallId: 'toolu_test1', result: 'shipped on Monday', isError: false, knownCall: true, atMs: 0 },
    ]);
    expect(conversation.violations.unknownToolResult).toBe(1);
    expect(conversation.responses.map((response) => [response.kind, response.eventId, response.status, response.toolCallId])).toEqual([
      ['client_tool_call', 2, 'completed', 'toolu_test1'],
      ['audio', 4, 'completed', null],
    ]);
    client.close();
  });
});

describe('faults', () => {
  it.each([1002, 1008, 1011] as const)('failAfterMs sends an error event then closes %i', async (code) => {
    const { clock, client } = await connect({ pingIntervalMs: 0, faults: { failAfterMs: { afterMs: 100, code, errorType: 'llm_error', message: 'LLM unavailable.' } } });
    clock.advance(100);
    expect(await client.closed).toEqual({ code, reason: 'LLM unavailable.' });
    expect(client.bodies('error')).toEqual([{ code, message: 'LLM unavailable.', error_type: 'llm_error' }]);
  });

  it('midResponse fails after the n-th chunk of the response, or drops the connection without a close frame', async () => {
    const failing = await connect({ pingIntervalMs: 0, firstMessage: 'Hi.', faults: { midResponse: { responseIndex: 0, afterChunks: 3, action: { code: 1011 } } } });
    expect(await failing.client.closed).toEqual({ code: 1011, reason: 'Simulated failure.' });
    expect(failing.client.timeline()).toEqual(['conversation_initiation_metadata', 'agent_response:1', 'audio:1 ×3', 'error']);
    expect(await failing.conversation.closed).toEqual({ code: 1011, reason: 'Simulated failure.' });
    expect(failing.conversation.responses[0]!.status).toBe('aborted');
    await sims.current.close();

    const dropping = await connect({ pingIntervalMs: 0, firstMessage: 'Hi.', faults: { midResponse: { responseIndex: 0, afterChunks: 2, action: 'drop' } } });
    expect(await dropping.client.closed).toEqual({ code: 1006, reason: '' });
    expect(dropping.client.timeline()).toEqual(['conversation_initiation_metadata', 'agent_response:1', 'audio:1 ×2']);
  });

  it('closes 1000 after an error event when the maximum duration is reached', async () => {
    const { clock, client, conversation } = await connect({ pingIntervalMs: 0, maxDurationMs: 5_000 });
    clock.advance(5_000);
    expect(await client.closed).toEqual({ code: 1000, reason: 'max duration exceeded' });
    expect(client.bodies('error')).toEqual([{ code: 1000, message: 'Conversation exceeded its maximum duration.', error_type: 'max_duration_exceeded' }]);
    expect(conversation.serverCloseCode).toBe(1000);
  });
});

describe('embedded backend', () => {
  it('serves a private mu-law agent that greets with bundled speech', async () => {
    const server = sims.adopt(await startEmbeddedElevenLabsBackend({ apiKey: EL_API_KEY, logger: silentLogger() }));
    const client = await sims.connectSigned(EMBEDDED_AGENT_ID);
    client.initiate({ conversation_config_override: { agent: { language: 'en' } } });
    const metadata = await client.waitFor('conversation_initiation_metadata');
    expect(metadata.conversation_initiation_metadata_event).toMatchObject({ agent_output_audio_format: 'ulaw_8000', user_input_audio_format: 'ulaw_8000' });
    const greeting = loadSpeechBundle().greeting;
    expect((await client.waitFor('agent_response')).agent_response_event).toEqual({ agent_response: greeting.transcript, event_id: 1 });
    await client.waitFor('audio', 1);
    expect(Buffer.from(client.bodies('audio')[0]!.audio_base_64, 'base64').length).toBe(800);
    client.close();
    await client.closed;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.conversations).toEqual([]);
  });
});
