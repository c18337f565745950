/**
 * The ElevenLabs adapter behind the voice-agent port, dialled through its dialer against the scripted fake server
 * (real sockets; the idle timer and the connect timeout on a ManualClock). What it pins down: items and their end
 * (`el_<event_id>`, done on a newer id or after the idle time), the server's interruption (one
 * `caller_speech_started`, old audio dropped and counted, newer audio plays), transcripts and corrections, the tool
 * round trip, what each command sends, pre-listen delivery, faults and close.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { createLogger, type Logger } from '../src/logger.js';
import { ElevenLabsVoiceAgent } from '../src/providers/elevenlabs/agent.js';
import { createElevenLabsDialer, type ElevenLabsDialerOptions } from '../src/providers/elevenlabs/dialer.js';
import type { VoiceAgentEvent, VoiceAgentSession } from '../src/voice/port.js';
import {
  agentCorrection,
  agentResponse,
  audio,
  bytes,
  clientToolCall,
  FakeElevenLabsServer,
  interruption,
  ping,
  userTranscript,
} from './helpers/elevenlabs-fake-server.js';

const API_KEY = 'xi-agent-test-DO-NOT-LOG-5e0d7b';

let server: FakeElevenLabsServer;
let clock: ManualClock;
let lines: string[];
let logger: Logger;
const sessions: VoiceAgentSession[] = [];

beforeEach(async () => {
  server = await FakeElevenLabsServer.start();
  clock = new ManualClock(0);
  lines = [];
  logger = createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) }, secrets: [] });
});

afterEach(async () => {
  for (const session of sessions.splice(0)) session.close();
  await server.stop();
});

function dial(options: Partial<ElevenLabsDialerOptions> = {}, dynamicVariables: Record<string, string> = {}): VoiceAgentSession {
  const dialer = createElevenLabsDialer({
    apiKey: API_KEY,
    agentId: 'agent_1',
    public: false,
    apiBaseUrl: server.apiBaseUrl,
    wsBaseUrl: server.wsBaseUrl,
    clock,
    connectTimeoutMs: 5_000,
    ...options,
  });
  const session = dialer({ dynamicVariables, logger });
  sessions.push(session);
  return session;
}

/** Event types in order, with the item (or speaker) they concern. */
const summary = (events: VoiceAgentEvent[]): string[] =>
  events.map((event) => ('itemId' in event && event.itemId !== null ? `${event.type}:${event.itemId}` : 'responseId' in event ? `${event.type}:${event.responseId}` : event.type));

async function ready(options: Partial<ElevenLabsDialerOptions> = {}, onEvent?: (event: VoiceAgentEvent, session: VoiceAgentSession) => void) {
  const session = dial(options);
  const events: VoiceAgentEvent[] = [];
  session.listen((event) => {
    events.push(event);
    onEvent?.(event, session);
  });
  await server.waitForMessages(1);
  server.sendMetadata();
  await vi.waitFor(() => expect(events.map((event) => event.type)).toContain('ready'));
  events.length = 0;
  return { session, events };
}

/** Sends server messages and waits until the client has handled them. */
async function serverSays(...messages: object[]): Promise<void> {
  for (const message of messages) server.send(message);
  await server.roundTrip();
}

describe('dialling', () => {
  it('initiates with the overrides given and the dynamic variables; formats are null until ready', async () => {
    const session = dial({ overrides: { prompt: 'Be brief.', firstMessage: 'Hi {{name}}!', language: 'fr', voiceId: 'voice_9' } }, { name: 'Ada' });
    expect(session).toBeInstanceOf(ElevenLabsVoiceAgent);
    expect(session.provider).toBe('elevenlabs');
    expect(session.manualTurns).toBe(false);
    expect(session.formats).toBeNull();
    expect(session.state).toBe('connecting');
    const events: VoiceAgentEvent[] = [];
    session.listen((event) => events.push(event));
    await server.waitForMessages(1);
    expect(server.messages[0]).toEqual({
      type: 'conversation_initiation_client_data',
      conversation_config_override: { agent: { prompt: { prompt: 'Be brief.' }, first_message: 'Hi {{name}}!', language: 'fr' }, tts: { voice_id: 'voice_9' } },
      dynamic_variables: { name: 'Ada' },
    });
    server.sendMetadata('pcm_16000', 'ulaw_8000');
    await vi.waitFor(() => expect(events).toEqual([{ type: 'ready' }]));
    expect(session.formats).toEqual({ input: { encoding: 'pcm16', sampleRateHz: 16_000 }, output: { encoding: 'pcmu', sampleRateHz: 8_000 } });
    expect(session.state).toBe('ready');
  });

  it('without overrides or variables the initiation is the bare type', async () => {
    dial();
    await server.waitForMessages(1);
    expect(server.messages[0]).toEqual({ type: 'conversation_initiation_client_data' });
  });
});

describe('agent audio', () => {
  it('maps event ids to items, starts each with response_started and ends it on a newer id or after the idle time', async () => {
    const { events } = await ready();
    await serverSays(audio(1, bytes(1)), audio(1, bytes(2)));
    clock.advance(299);
    expect(summary(events)).toEqual(['response_started:el_1', 'agent_audio:el_1', 'agent_audio:el_1']);
    clock.advance(1);
    await serverSays(audio(2, bytes(3)), audio(3, bytes(4)));
    expect(summary(events).slice(3)).toEqual([
      'agent_audio_done:el_1',
      'response_done:el_1',
      'response_started:el_2',
      'agent_audio:el_2',
      'agent_audio_done:el_2',
      'response_done:el_2',
      'response_started:el_3',
      'agent_audio:el_3',
    ]);
    expect(events.find((event) => event.type === 'response_done')).toEqual({ type: 'response_done', responseId: 'el_1', status: 'completed', usage: null });
    const first = events[1] as Extract<VoiceAgentEvent, { type: 'agent_audio' }>;
    expect(first).toMatchObject({ responseId: 'el_1', itemId: 'el_1' });
    expect([...first.audio]).toEqual([...bytes(1)]);
  });

  it('audio of the same id after an idle end continues as a new item; an older id is dropped', async () => {
    const { session, events } = await ready();
    await serverSays(audio(6, bytes(1)));
    clock.advance(300);
    await serverSays(audio(6, bytes(2)), audio(5, bytes(3)));
    expect(summary(events)).toEqual([
      'response_started:el_6',
      'agent_audio:el_6',
      'agent_audio_done:el_6',
      'response_done:el_6',
      'response_started:el_6.2',
      'agent_audio:el_6.2',
    ]);
    expect(session.stats().lateAudioDropped).toBe(1);
  });
});

describe('interruption', () => {
  it('tells the call once, drops the old response (counted), cancels it, and plays a newer one', async () => {
    const heardReports: number[] = [];
    const { session, events } = await ready({}, (event, owner) => {
      // What the call does: clear the caller's audio, then report what was heard.
      if (event.type === 'caller_speech_started') {
        heardReports.push(events.length);
        owner.interrupt([{ responseId: 'el_4', itemId: 'el_4', heardMs: 120 }]);
      }
    });
    await serverSays(audio(4, bytes(1)), audio(4, bytes(2)), interruption(4), audio(4, bytes(3)), audio(3, bytes(4)), audio(4, bytes(5)), audio(5, bytes(6)));
    expect(summary(events)).toEqual([
      'response_started:el_4',
      'agent_audio:el_4',
      'agent_audio:el_4',
      'caller_speech_started',
      'response_done:el_4',
      'response_started:el_5',
      'agent_audio:el_5',
    ]);
    expect(events[3]).toEqual({ type: 'caller_speech_started', audioStartMs: null });
    expect(events[4]).toEqual({ type: 'response_done', responseId: 'el_4', status: 'cancelled', usage: null });
    expect(heardReports).toHaveLength(1);
    expect(session.stats()).toEqual({ lateAudioDropped: 3, truncates: 0 });
    // No wire message reports what was heard.
    expect(server.messages.map((message) => message['type'])).toEqual(['conversation_initiation_client_data']);
  });

  it('an interruption with nothing playing still drops audio of that id that arrives later', async () => {
    const { session, events } = await ready();
    await serverSays(interruption(7), audio(7, bytes(1)), audio(8, bytes(2)));
    expect(summary(events)).toEqual(['caller_speech_started', 'response_started:el_8', 'agent_audio:el_8']);
    expect(session.stats().lateAudioDropped).toBe(1);
  });
});

describe('transcripts', () => {
  it('a user transcript ends the caller turn and is a final caller transcript; agent responses are final agent ones', async () => {
    const { events } = await ready();
    await serverSays(userTranscript(3, 'I want to book a table'), agentResponse(4, 'Sure, for how many people?'));
    expect(events).toEqual([
      { type: 'caller_turn_ended', itemId: 'el_user_3', audioEndMs: null },
      { type: 'transcript', speaker: 'caller', itemId: 'el_user_3', text: 'I want to book a table', final: true },
      { type: 'transcript', speaker: 'agent', itemId: 'el_4', text: 'Sure, for how many people?', final: true },
    ]);
  });

  it('a correction is a second final transcript for the same item, cut to what the caller heard', async () => {
    const { events } = await ready({}, (event, owner) => {
      if (event.type === 'caller_speech_started') owner.interrupt([{ responseId: 'el_4', itemId: 'el_4', heardMs: 500 }]);
    });
    const full = 'Sure, I can help you with your booking today';
    // 8000 bytes of mu-law: 1000 ms of agent audio, of which the caller heard 500.
    await serverSays(agentResponse(4, full), audio(4, bytes(1, 4_000)), audio(4, bytes(2, 4_000)), interruption(4));
    await serverSays(agentCorrection(4, full, 'Sure, I can help you with'));
    const transcripts = events.filter((event) => event.type === 'transcript');
    expect(transcripts).toEqual([
      { type: 'transcript', speaker: 'agent', itemId: 'el_4', text: full, final: true },
      { type: 'transcript', speaker: 'agent', itemId: 'el_4', text: 'Sure, I can', final: true, asHeard: true }, // replaces the line above in records
    ]);
  });

  it('a correction without a heard report carries the corrected text as is', async () => {
    const { events } = await ready();
    await serverSays(agentCorrection(2, 'Hello there, how are you?', 'Hello there,'));
    expect(events).toEqual([{ type: 'transcript', speaker: 'agent', itemId: 'el_2', text: 'Hello there,', final: true, asHeard: true }]);
  });
});

describe('tools', () => {
  it('a client tool call is one tool_calls event; results go back one client_tool_result each, nothing more', async () => {
    const { session, events } = await ready();
    await serverSays(clientToolCall('call_1', 'lookup_order', { order: 'A-17', rush: true }, 9));
    expect(events).toEqual([
      { type: 'tool_calls', responseId: 'el_9', calls: [{ callId: 'call_1', name: 'lookup_order', argumentsJson: '{"order":"A-17","rush":true}' }] },
    ]);
    session.sendToolResults([
      { callId: 'call_1', output: '{"status":"shipped"}', ok: true },
      { callId: 'call_2', output: 'no such order', ok: false },
    ]);
    await server.waitForMessages(3);
    await server.roundTrip();
    expect(server.messages.slice(1)).toEqual([
      { type: 'client_tool_result', tool_call_id: 'call_1', result: '{"status":"shipped"}', is_error: false },
      { type: 'client_tool_result', tool_call_id: 'call_2', result: 'no such order', is_error: true },
    ]);
  });
});

describe('commands', () => {
  it('text, response requests, turns and instructions map to the ElevenLabs messages (the greeting is its own)', async () => {
    const { session } = await ready();
    session.sendUserText('The caller pressed 1');
    session.requestResponse({ instructions: 'Greet the caller', reason: 'greeting' });
    session.requestResponse({ reason: 'dtmf' });
    session.endCallerTurn();
    session.updateInstructions('The transfer failed; offer to take a message.');
    await server.waitForMessages(4);
    await server.roundTrip();
    expect(server.messages.slice(1)).toEqual([
      { type: 'user_message', text: 'The caller pressed 1' },
      { type: 'user_activity' },
      { type: 'contextual_update', text: 'The transfer failed; offer to take a message.' },
    ]);
  });

  it('a request with instructions (a check-in, a goodbye, a failed transfer\'s note) is a user message the agent answers', async () => {
    const { session } = await ready();
    session.requestResponse({ instructions: 'The caller has been silent. Ask if they are still there.', reason: 'silence check-in' });
    await server.waitForMessages(2);
    expect(server.messages[1]).toEqual({ type: 'user_message', text: '(The caller has been silent. Ask if they are still there.)' });
  });

  it('a conversation that continues a call (re-dial) skips its automatic first message until the caller speaks', async () => {
    const dialer = createElevenLabsDialer({ apiKey: API_KEY, agentId: 'agent_1', public: false, apiBaseUrl: server.apiBaseUrl, wsBaseUrl: server.wsBaseUrl, clock, connectTimeoutMs: 5_000 });
    const session = dialer({ dynamicVariables: {}, logger, continuing: true });
    sessions.push(session);
    const events: VoiceAgentEvent[] = [];
    session.listen((event) => void events.push(event));
    await server.waitForMessages(1);
    server.sendMetadata();
    await vi.waitFor(() => expect(events.map((event) => event.type)).toContain('ready'));
    await serverSays(agentResponse(1, 'Hello again!'), audio(1, bytes(1)), audio(1, bytes(2)));
    expect(summary(events)).toEqual(['ready']);
    await serverSays(userTranscript(2, 'Are you there?'), agentResponse(3, 'Yes, I am.'), audio(3, bytes(3)));
    expect(summary(events)).toEqual([
      'ready',
      'caller_turn_ended:el_user_2',
      'transcript:el_user_2',
      'transcript:el_3',
      'response_started:el_3',
      'agent_audio:el_3',
    ]);
  });

  it('dtmfAs contextual_update sends typed text as background context', async () => {
    const { session } = await ready({ dtmfAs: 'contextual_update' });
    session.sendUserText('The caller pressed 2');
    await server.waitForMessages(2);
    expect(server.messages[1]).toEqual({ type: 'contextual_update', text: 'The caller pressed 2' });
  });
});

describe('before listen()', () => {
  it('pings are answered, and everything is held and delivered in order when the call listens', async () => {
    const session = dial();
    await server.waitForMessages(1);
    server.sendMetadata();
    await serverSays(ping(11), audio(1, bytes(1)), audio(1, bytes(2)), userTranscript(2, 'hello'));
    expect(server.messages[1]).toEqual({ type: 'pong', event_id: 11 });
    expect(session.state).toBe('ready');
    const events: VoiceAgentEvent[] = [];
    session.listen((event) => events.push(event));
    expect(summary(events)).toEqual([
      'ready',
      'response_started:el_1',
      'agent_audio:el_1',
      'agent_audio:el_1',
      'caller_turn_ended:el_user_2',
      'transcript:el_user_2',
    ]);
  });
});

describe('faults and close', () => {
  it('401 on the signed URL is one unauthorized fault, and the key is in no log line', async () => {
    server.signedUrl = { kind: 'status', status: 401 };
    const session = dial();
    const events: VoiceAgentEvent[] = [];
    session.listen((event) => events.push(event));
    await vi.waitFor(() => expect(events).toHaveLength(1));
    expect(events[0]).toMatchObject({ type: 'fault', fault: { kind: 'unauthorized', status: 401 } });
    expect(session.state).toBe('closed');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(API_KEY);
  });

  it('no metadata in time is connect_timeout', async () => {
    const session = dial();
    const events: VoiceAgentEvent[] = [];
    session.listen((event) => events.push(event));
    await server.waitForMessages(1);
    clock.advance(5_000);
    expect(events).toMatchObject([{ type: 'fault', fault: { kind: 'connect_timeout' } }]);
  });

  it('close 1011 is a closed fault; nothing follows it', async () => {
    const { events } = await ready();
    await serverSays(audio(1, bytes(1)));
    server.closeClient(1011, 'internal error');
    await vi.waitFor(() => expect(events.some((event) => event.type === 'fault')).toBe(true));
    clock.advance(1_000);
    expect(events.filter((event) => event.type === 'fault')).toEqual([{ type: 'fault', fault: expect.objectContaining({ kind: 'closed', closeCode: 1011 }) }]);
    expect(events.at(-1)!.type).toBe('fault');
  });

  it('close() is idempotent and emits nothing, not even the pending item end', async () => {
    const { session, events } = await ready();
    await serverSays(audio(1, bytes(1)));
    const before = events.length;
    session.close();
    session.close();
    await server.waitForClientClose();
    clock.advance(1_000);
    session.appendAudio(bytes(9));
    expect(events).toHaveLength(before);
    expect(session.state).toBe('closed');
  });
});
