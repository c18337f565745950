/**
 * The OpenAI adapter behind the voice-agent port (src/providers/openai/agent.ts), alone, over a fake
 * RealtimeConnection: it records every client event and audio append, and delivers server events, readiness and
 * faults through the handlers given to `setHandlers` (held, in order, until they are set — as the real connection
 * does). Every client event is checked whole against the GA typings (src/providers/openai/events.ts).
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/logger.js';
import type { TurnDetectionConfig } from '../src/config.js';
import { bytesToBase64 } from '../src/audio/pcm.js';
import { OpenAiVoiceAgent, openAiFormats } from '../src/providers/openai/agent.js';
import type {
  RealtimeConnection,
  RealtimeConnectionState,
  RealtimeConnectionStats,
  RealtimeFault,
  RealtimeHandlers,
} from '../src/providers/openai/connection-types.js';
import type { RealtimeClientEvent, RealtimeServerEvent, RealtimeSessionCreateRequest } from '../src/providers/openai/events.js';
import { toApiError } from '../src/providers/openai/wire.js';
import type { VoiceAgentEvent } from '../src/voice/port.js';

type ServerEvent<T extends RealtimeServerEvent['type']> = Extract<RealtimeServerEvent, { type: T }>;

type Delivery = { kind: 'event'; event: RealtimeServerEvent } | { kind: 'ready' } | { kind: 'fault'; fault: RealtimeFault };

const SESSION: RealtimeSessionCreateRequest = { type: 'realtime', audio: { input: { format: { type: 'audio/pcm', rate: 24_000 } } } };

class FakeRealtimeConnection implements RealtimeConnection {
  state: RealtimeConnectionState = 'configuring';
  session: RealtimeSessionCreateRequest | null = null;
  readonly closed: Promise<void> = Promise.resolve();
  /** Client events exactly as the adapter built them (the id the connection would stamp is returned, not added). */
  readonly sent: RealtimeClientEvent[] = [];
  readonly appended: Array<Uint8Array | string> = [];
  closeCalls = 0;
  private handlers: RealtimeHandlers | null = null;
  private readonly held: Delivery[] = [];
  private nextEventNumber = 1;

  appendAudio(audio: Uint8Array | string): void {
    this.appended.push(typeof audio === 'string' ? audio : audio.slice());
  }

  send(event: RealtimeClientEvent): string {
    this.sent.push(structuredClone(event));
    return event.event_id ?? `cb_${this.nextEventNumber++}`;
  }

  setHandlers(handlers: RealtimeHandlers): void {
    this.handlers = handlers;
    while (this.held.length > 0) this.dispatch(this.held.shift()!);
  }

  close(): void {
    this.closeCalls++;
    this.state = 'closed';
  }

  stats(): RealtimeConnectionStats {
    return {
      eventsIn: {},
      eventsOut: {},
      skippedIn: 0,
      audioBytesAppended: 0,
      heldAudioDroppedChunks: 0,
      heldAudioDroppedBytes: 0,
      bufferedEventsDropped: 0,
      droppedAfterClose: 0,
    };
  }

  // ---- the server's side ----

  /** `session.updated` confirmed our formats. */
  becomeReady(): void {
    this.state = 'ready';
    this.session = SESSION;
    this.deliver({ kind: 'ready' });
  }

  server(event: RealtimeServerEvent): void {
    this.deliver({ kind: 'event', event });
  }

  fail(fault: RealtimeFault): void {
    this.state = 'closed';
    this.deliver({ kind: 'fault', fault });
  }

  sentTypes(): string[] {
    return this.sent.map((event) => event.type);
  }

  private deliver(delivery: Delivery): void {
    if (this.handlers === null) this.held.push(delivery);
    else this.dispatch(delivery);
  }

  private dispatch(delivery: Delivery): void {
    const handlers = this.handlers!;
    switch (delivery.kind) {
      case 'event':
        handlers.onEvent(delivery.event);
        if (delivery.event.type === 'error') handlers.onApiError?.(toApiError(delivery.event));
        return;
      case 'ready':
        handlers.onReady?.(SESSION);
        return;
      case 'fault':
        handlers.onFault(delivery.fault);
        return;
    }
  }
}

// ---- server events (GA typings) ---------------------------------------------------------------------------------

let serverEventNumber = 0;
const eventId = () => `event_${++serverEventNumber}`;

const server = {
  responseCreated: (responseId: string): ServerEvent<'response.created'> => ({
    type: 'response.created',
    event_id: eventId(),
    response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [] },
  }),
  audioDelta: (responseId: string, itemId: string, audio: Uint8Array, outputIndex = 0): ServerEvent<'response.output_audio.delta'> => ({
    type: 'response.output_audio.delta',
    event_id: eventId(),
    response_id: responseId,
    item_id: itemId,
    output_index: outputIndex,
    content_index: 0,
    delta: bytesToBase64(audio),
  }),
  audioDone: (responseId: string, itemId: string, outputIndex = 0): ServerEvent<'response.output_audio.done'> => ({
    type: 'response.output_audio.done',
    event_id: eventId(),
    response_id: responseId,
    item_id: itemId,
    output_index: outputIndex,
    content_index: 0,
  }),
  responseDone: (
    responseId: string,
    status: 'completed' | 'cancelled' | 'failed' | 'incomplete',
    extra: Omit<ServerEvent<'response.done'>['response'], 'id' | 'status'> = {},
  ): ServerEvent<'response.done'> => ({
    type: 'response.done',
    event_id: eventId(),
    response: { id: responseId, object: 'realtime.response', status, ...extra },
  }),
  speechStarted: (itemId: string, audioStartMs: number): ServerEvent<'input_audio_buffer.speech_started'> => ({
    type: 'input_audio_buffer.speech_started',
    event_id: eventId(),
    item_id: itemId,
    audio_start_ms: audioStartMs,
  }),
  speechStopped: (itemId: string, audioEndMs: number): ServerEvent<'input_audio_buffer.speech_stopped'> => ({
    type: 'input_audio_buffer.speech_stopped',
    event_id: eventId(),
    item_id: itemId,
    audio_end_ms: audioEndMs,
  }),
  committed: (itemId: string): ServerEvent<'input_audio_buffer.committed'> => ({
    type: 'input_audio_buffer.committed',
    event_id: eventId(),
    item_id: itemId,
    previous_item_id: null,
  }),
  error: (code: string, clientEventId: string): ServerEvent<'error'> => ({
    type: 'error',
    event_id: eventId(),
    error: { type: 'invalid_request_error', code, message: code, param: null, event_id: clientEventId },
  }),
};

// ---- helpers ----------------------------------------------------------------------------------------------------

function serverVad(createResponse: boolean, interruptResponse: boolean): TurnDetectionConfig {
  return { type: 'server_vad', threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500, idleTimeoutMs: null, createResponse, interruptResponse };
}

const NO_TURN_DETECTION: TurnDetectionConfig = { type: 'none' };

function setup(options: { turnDetection?: TurnDetectionConfig; audioFormat?: 'pcm' | 'pcmu'; listen?: boolean } = {}) {
  const connection = new FakeRealtimeConnection();
  const agent = new OpenAiVoiceAgent({
    connection,
    audioFormat: options.audioFormat ?? 'pcmu',
    turnDetection: options.turnDetection ?? serverVad(true, true),
    logger: silentLogger(),
  });
  const events: VoiceAgentEvent[] = [];
  if (options.listen ?? true) agent.listen((event) => events.push(event));
  return { connection, agent, events };
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (index * 13 + seed) & 0xff);
}

const truncate = (itemId: string, audioEndMs: number): RealtimeClientEvent => ({
  type: 'conversation.item.truncate',
  item_id: itemId,
  content_index: 0,
  audio_end_ms: audioEndMs,
});

// ---- formats ----------------------------------------------------------------------------------------------------

describe('OpenAiVoiceAgent formats and plain commands', () => {
  it('pcm is pcm16@24000 both ways; pcmu is pcmu@8000 both ways', () => {
    expect(openAiFormats('pcm')).toEqual({ input: { encoding: 'pcm16', sampleRateHz: 24_000 }, output: { encoding: 'pcm16', sampleRateHz: 24_000 } });
    expect(openAiFormats('pcmu')).toEqual({ input: { encoding: 'pcmu', sampleRateHz: 8_000 }, output: { encoding: 'pcmu', sampleRateHz: 8_000 } });
    expect(setup({ audioFormat: 'pcm' }).agent.formats).toEqual(openAiFormats('pcm'));
    expect(setup({ audioFormat: 'pcmu' }).agent.formats).toEqual(openAiFormats('pcmu'));
  });

  it('manualTurns only without turn detection; state follows the connection (configuring → connecting)', () => {
    expect(setup({ turnDetection: NO_TURN_DETECTION }).agent.manualTurns).toBe(true);
    expect(setup({ turnDetection: serverVad(false, false) }).agent.manualTurns).toBe(false);
    const { agent, connection } = setup();
    expect(agent.provider).toBe('openai');
    expect(agent.state).toBe('connecting');
    connection.becomeReady();
    expect(agent.state).toBe('ready');
    agent.close();
    agent.close();
    expect(agent.state).toBe('closed');
    expect(connection.closeCalls).toBe(2); // the connection's close is the idempotent one
  });

  it('audio goes to appendAudio untouched; text, instructions and manual commits are the GA client events', () => {
    const { agent, connection, events } = setup({ turnDetection: NO_TURN_DETECTION });
    const audio = pattern(160, 1);
    agent.appendAudio(audio);
    agent.sendUserText('The caller pressed 1 on the keypad.');
    agent.updateInstructions('Be brief.');
    agent.endCallerTurn();
    expect(connection.appended).toEqual([audio]);
    expect(connection.sent).toEqual([
      { type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'The caller pressed 1 on the keypad.' }] } },
      { type: 'session.update', session: { type: 'realtime', instructions: 'Be brief.' } },
      { type: 'input_audio_buffer.commit' },
    ] satisfies RealtimeClientEvent[]);
    expect(events).toEqual([]);
  });
});

// ---- responses --------------------------------------------------------------------------------------------------

describe('OpenAiVoiceAgent responses', () => {
  it('a greeting request is one response.create with its instructions; a second request waits for response.done', () => {
    const { agent, connection, events } = setup();
    connection.becomeReady();
    agent.requestResponse({ instructions: 'Greet the caller.', reason: 'greeting' });
    expect(connection.sent).toEqual([{ type: 'response.create', response: { instructions: 'Greet the caller.' } }] satisfies RealtimeClientEvent[]);
    agent.requestResponse({ reason: 'dtmf' });
    connection.server(server.responseCreated('resp_1'));
    expect(connection.sentTypes()).toEqual(['response.create']);
    connection.server(server.responseDone('resp_1', 'completed'));
    expect(connection.sent).toEqual([
      { type: 'response.create', response: { instructions: 'Greet the caller.' } },
      { type: 'response.create' },
    ] satisfies RealtimeClientEvent[]);
    expect(events).toEqual([
      { type: 'ready' },
      { type: 'response_started', responseId: 'resp_1' },
      { type: 'response_done', responseId: 'resp_1', status: 'completed', usage: null },
    ]);
  });

  it('our create refused because a response is already active: not re-sent, the next request goes after that response', () => {
    const { agent, connection } = setup();
    agent.requestResponse({ reason: 'dtmf' });
    connection.server(server.error('conversation_already_has_active_response', 'cb_1'));
    agent.requestResponse({ reason: 'dtmf' });
    expect(connection.sentTypes()).toEqual(['response.create']);
    connection.server(server.responseDone('resp_vad', 'completed'));
    expect(connection.sent).toEqual([{ type: 'response.create' }, { type: 'response.create' }] satisfies RealtimeClientEvent[]);
  });

  it('response.done reports usage in port terms', () => {
    const { connection, events } = setup();
    connection.server(server.responseCreated('resp_1'));
    connection.server(
      server.responseDone('resp_1', 'completed', {
        usage: {
          input_tokens: 100,
          output_tokens: 50,
          total_tokens: 150,
          input_token_details: { audio_tokens: 80, cached_tokens: 20, text_tokens: 20 },
          output_token_details: { audio_tokens: 40, text_tokens: 10 },
        },
      }),
    );
    expect(events).toEqual([
      { type: 'response_started', responseId: 'resp_1' },
      {
        type: 'response_done',
        responseId: 'resp_1',
        status: 'completed',
        usage: { inputTokens: 100, outputTokens: 50, inputAudioTokens: 80, outputAudioTokens: 40, cachedTokens: 20 },
      },
    ]);
  });
});

// ---- turns ------------------------------------------------------------------------------------------------------

describe('OpenAiVoiceAgent caller turns', () => {
  it('server VAD with create_response: a committed turn asks for nothing (the model answers by itself)', () => {
    const { connection, events } = setup({ turnDetection: serverVad(true, true) });
    connection.server(server.speechStarted('in_1', 1_000));
    connection.server(server.speechStopped('in_1', 2_340));
    connection.server(server.committed('in_1'));
    expect(connection.sent).toEqual([]);
    expect(events).toEqual([
      { type: 'caller_speech_started', audioStartMs: 1_000 },
      { type: 'caller_turn_ended', itemId: 'in_1', audioEndMs: 2_340 },
    ]);
  });

  it('server VAD without create_response: exactly one response.create per committed turn', () => {
    const { connection, events } = setup({ turnDetection: serverVad(false, true) });
    connection.server(server.speechStopped('in_1', 2_340));
    connection.server(server.committed('in_1'));
    expect(connection.sent).toEqual([{ type: 'response.create' }] satisfies RealtimeClientEvent[]);
    expect(events).toEqual([{ type: 'caller_turn_ended', itemId: 'in_1', audioEndMs: 2_340 }]);
  });

  it('semantic VAD without create_response: one response.create per committed turn', () => {
    const { connection } = setup({ turnDetection: { type: 'semantic_vad', eagerness: 'auto', createResponse: false, interruptResponse: true } });
    connection.server(server.committed('in_1'));
    expect(connection.sent).toEqual([{ type: 'response.create' }] satisfies RealtimeClientEvent[]);
  });

  it('no turn detection: endCallerTurn commits, and the committed turn gets exactly one response.create', () => {
    const { agent, connection, events } = setup({ turnDetection: NO_TURN_DETECTION });
    agent.endCallerTurn();
    connection.server(server.committed('in_1'));
    expect(connection.sent).toEqual([{ type: 'input_audio_buffer.commit' }, { type: 'response.create' }] satisfies RealtimeClientEvent[]);
    expect(events).toEqual([{ type: 'caller_turn_ended', itemId: 'in_1', audioEndMs: null }]);
  });

  it('caller_turn_ended carries speech_stopped’s audio_end_ms only for the item it committed', () => {
    const { connection, events } = setup();
    connection.server(server.speechStopped('in_1', 2_340));
    connection.server(server.committed('in_2'));
    connection.server(server.speechStopped('in_3', 7_777));
    connection.server(server.committed('in_3'));
    expect(events).toEqual([
      { type: 'caller_turn_ended', itemId: 'in_2', audioEndMs: null },
      { type: 'caller_turn_ended', itemId: 'in_3', audioEndMs: 7_777 },
    ]);
  });
});

// ---- interruption -----------------------------------------------------------------------------------------------

describe('OpenAiVoiceAgent interrupt', () => {
  it('truncates an item whose audio this session delivered at the heard ms, and drops the response’s late audio', () => {
    const { agent, connection, events } = setup({ turnDetection: serverVad(true, true) });
    const first = pattern(800, 1);
    connection.server(server.responseCreated('resp_1'));
    connection.server(server.audioDelta('resp_1', 'item_1', first));
    expect(events).toEqual([
      { type: 'response_started', responseId: 'resp_1' },
      { type: 'agent_audio', responseId: 'resp_1', itemId: 'item_1', audio: first },
    ]);

    agent.interrupt([{ responseId: 'resp_1', itemId: 'item_1', heardMs: 1_234 }]);
    // The server interrupts by itself (interrupt_response): no response.cancel.
    expect(connection.sent).toEqual([truncate('item_1', 1_234)]);
    expect(agent.stats()).toEqual({ lateAudioDropped: 0, truncates: 1 });

    // Late audio of the interrupted response: the same item, and a new item of the same response.
    connection.server(server.audioDelta('resp_1', 'item_1', pattern(800, 2)));
    connection.server(server.audioDelta('resp_1', 'item_2', pattern(800, 3), 1));
    connection.server(server.audioDone('resp_1', 'item_1'));
    connection.server(server.audioDone('resp_1', 'item_2', 1));
    expect(events).toHaveLength(2);
    expect(agent.stats()).toEqual({ lateAudioDropped: 2, truncates: 1 });

    // The item was truncated once: a second interruption naming it sends nothing more.
    agent.interrupt([{ responseId: 'resp_1', itemId: 'item_1', heardMs: 1_500 }]);
    expect(connection.sent).toEqual([truncate('item_1', 1_234)]);

    // The next response plays.
    const next = pattern(480, 4);
    connection.server(server.responseDone('resp_1', 'cancelled'));
    connection.server(server.responseCreated('resp_2'));
    connection.server(server.audioDelta('resp_2', 'item_3', next));
    connection.server(server.audioDone('resp_2', 'item_3'));
    expect(events.slice(2)).toEqual([
      { type: 'response_done', responseId: 'resp_1', status: 'cancelled', usage: null },
      { type: 'response_started', responseId: 'resp_2' },
      { type: 'agent_audio', responseId: 'resp_2', itemId: 'item_3', audio: next },
      { type: 'agent_audio_done', responseId: 'resp_2', itemId: 'item_3' },
    ]);
  });

  it('does not truncate items it never delivered (as after a re-dial), but still drops their response’s audio', () => {
    const { agent, connection, events } = setup();
    agent.interrupt([{ responseId: 'resp_old', itemId: 'item_old', heardMs: 500 }]);
    expect(connection.sent).toEqual([]);
    expect(agent.stats()).toEqual({ lateAudioDropped: 0, truncates: 0 });
    connection.server(server.audioDelta('resp_old', 'item_old', pattern(160, 1)));
    expect(events).toEqual([]);
    expect(agent.stats()).toEqual({ lateAudioDropped: 1, truncates: 0 });
  });

  it('truncates every item of the answer it delivered, in order, including one heard at 0 ms', () => {
    const { agent, connection } = setup();
    connection.server(server.responseCreated('resp_1'));
    connection.server(server.audioDelta('resp_1', 'item_a', pattern(160, 1)));
    connection.server(server.audioDelta('resp_1', 'item_b', pattern(160, 2), 1));
    agent.interrupt([
      { responseId: 'resp_1', itemId: 'item_a', heardMs: 640 },
      { responseId: 'resp_1', itemId: 'item_b', heardMs: 0 },
    ]);
    expect(connection.sent).toEqual([truncate('item_a', 640), truncate('item_b', 0)]);
    expect(agent.stats().truncates).toBe(2);
  });

  it('response.cancel only when the server does not interrupt by itself and a response is active', () => {
    // interrupt_response false, response active: truncate, then cancel; the cancelled response is silent after.
    const active = setup({ turnDetection: serverVad(true, false) });
    active.connection.server(server.responseCreated('resp_1'));
    active.connection.server(server.audioDelta('resp_1', 'item_1', pattern(160, 1)));
    active.agent.interrupt([{ responseId: 'resp_1', itemId: 'item_1', heardMs: 20 }]);
    active.agent.interrupt([]);
    expect(active.connection.sent).toEqual([truncate('item_1', 20), { type: 'response.cancel' }] satisfies RealtimeClientEvent[]);
    active.connection.server(server.audioDelta('resp_1', 'item_1', pattern(160, 2)));
    expect(active.agent.stats()).toEqual({ lateAudioDropped: 1, truncates: 1 });

    // The same, with nothing heard yet (interrupt([])): the active response is cancelled and its audio dropped.
    const unheard = setup({ turnDetection: serverVad(false, false) });
    unheard.connection.server(server.responseCreated('resp_1'));
    unheard.agent.interrupt([]);
    unheard.connection.server(server.audioDelta('resp_1', 'item_1', pattern(160, 1)));
    expect(unheard.connection.sent).toEqual([{ type: 'response.cancel' }] satisfies RealtimeClientEvent[]);
    expect(unheard.events).toEqual([{ type: 'response_started', responseId: 'resp_1' }]);

    // No turn detection: the server never interrupts, so the bridge cancels.
    const manual = setup({ turnDetection: NO_TURN_DETECTION });
    manual.connection.server(server.responseCreated('resp_1'));
    manual.agent.interrupt([]);
    expect(manual.connection.sent).toEqual([{ type: 'response.cancel' }] satisfies RealtimeClientEvent[]);

    // interrupt_response false, but the response is already done (its audio still playing): truncate only.
    const done = setup({ turnDetection: serverVad(true, false) });
    done.connection.server(server.responseCreated('resp_1'));
    done.connection.server(server.audioDelta('resp_1', 'item_1', pattern(160, 1)));
    done.connection.server(server.responseDone('resp_1', 'completed'));
    done.agent.interrupt([{ responseId: 'resp_1', itemId: 'item_1', heardMs: 15 }]);
    expect(done.connection.sent).toEqual([truncate('item_1', 15)]);

    // interrupt_response true, a response active but nothing of it heard yet: no cancel, and its audio is dropped.
    const notYetHeard = setup({ turnDetection: serverVad(true, true) });
    notYetHeard.connection.server(server.responseCreated('resp_1'));
    notYetHeard.agent.interrupt([]);
    notYetHeard.connection.server(server.audioDelta('resp_1', 'item_1', pattern(160, 1)));
    notYetHeard.connection.server(server.audioDone('resp_1', 'item_1'));
    expect(notYetHeard.connection.sent).toEqual([]);
    expect(notYetHeard.events).toEqual([{ type: 'response_started', responseId: 'resp_1' }]);
    expect(notYetHeard.agent.stats()).toEqual({ lateAudioDropped: 1, truncates: 0 });

    // interrupt_response true, response active: the server cancels it; the bridge only truncates.
    const serverSide = setup({ turnDetection: serverVad(true, true) });
    serverSide.connection.server(server.responseCreated('resp_1'));
    serverSide.connection.server(server.audioDelta('resp_1', 'item_1', pattern(160, 1)));
    serverSide.agent.interrupt([{ responseId: 'resp_1', itemId: 'item_1', heardMs: 10 }]);
    expect(serverSide.connection.sent).toEqual([truncate('item_1', 10)]);
  });
});

// ---- function calls ---------------------------------------------------------------------------------------------

describe('OpenAiVoiceAgent function calls', () => {
  const functionCalls: ServerEvent<'response.done'>['response']['output'] = [
    { type: 'function_call', id: 'fc_item_1', call_id: 'call_1', name: 'lookup_balance', arguments: '{"account":"1234"}', status: 'completed' },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'One moment.' }] },
    { type: 'function_call', id: 'fc_item_2', call_id: 'call_2', name: 'open_ticket', arguments: '{}', status: 'completed' },
  ];

  it('a completed response.done with function calls → one tool_calls; the results → one output item each, then exactly one response.create', () => {
    const { agent, connection, events } = setup();
    connection.server(server.responseCreated('resp_1'));
    connection.server(server.responseDone('resp_1', 'completed', { output: functionCalls }));
    expect(events).toEqual([
      { type: 'response_started', responseId: 'resp_1' },
      { type: 'response_done', responseId: 'resp_1', status: 'completed', usage: null },
      {
        type: 'tool_calls',
        responseId: 'resp_1',
        calls: [
          { callId: 'call_1', name: 'lookup_balance', argumentsJson: '{"account":"1234"}' },
          { callId: 'call_2', name: 'open_ticket', argumentsJson: '{}' },
        ],
      },
    ]);
    agent.sendToolResults([
      { callId: 'call_1', output: '{"balance":42}', ok: true },
      { callId: 'call_2', output: '{"error":"ticket backend down"}', ok: false },
    ]);
    expect(connection.sent).toEqual([
      { type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_1', output: '{"balance":42}' } },
      { type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_2', output: '{"error":"ticket backend down"}' } },
      { type: 'response.create' },
    ] satisfies RealtimeClientEvent[]);
  });

  it('no tool_calls for a response that did not complete', () => {
    for (const status of ['cancelled', 'incomplete', 'failed'] as const) {
      const { connection, events } = setup();
      connection.server(server.responseCreated('resp_1'));
      connection.server(server.responseDone('resp_1', status, { output: functionCalls }));
      expect(events).toEqual([
        { type: 'response_started', responseId: 'resp_1' },
        { type: 'response_done', responseId: 'resp_1', status, usage: null },
      ]);
    }
  });

  it('the follow-up response.create waits while another response is active', () => {
    const { agent, connection } = setup();
    connection.server(server.responseCreated('resp_1'));
    connection.server(server.responseDone('resp_1', 'completed', { output: functionCalls }));
    connection.server(server.responseCreated('resp_vad')); // the server VAD answered something meanwhile
    agent.sendToolResults([{ callId: 'call_1', output: 'ok', ok: true }]);
    expect(connection.sentTypes()).toEqual(['conversation.item.create']);
    connection.server(server.responseDone('resp_vad', 'completed'));
    expect(connection.sentTypes()).toEqual(['conversation.item.create', 'response.create']);
  });
});

// ---- transcripts, listen, faults --------------------------------------------------------------------------------

describe('OpenAiVoiceAgent transcripts, delivery order and faults', () => {
  it('input and output transcripts become transcript events with the right speaker and final flag', () => {
    const { connection, events } = setup();
    connection.server({ type: 'conversation.item.input_audio_transcription.delta', event_id: eventId(), item_id: 'in_1', content_index: 0, delta: 'What are' });
    connection.server({ type: 'conversation.item.input_audio_transcription.delta', event_id: eventId(), item_id: 'in_1' }); // no delta text
    connection.server({
      type: 'conversation.item.input_audio_transcription.completed',
      event_id: eventId(),
      item_id: 'in_1',
      content_index: 0,
      transcript: 'What are your hours?',
      usage: { type: 'duration', seconds: 1.2 },
    });
    connection.server({ type: 'response.output_audio_transcript.delta', event_id: eventId(), response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0, delta: 'We open' });
    connection.server({
      type: 'response.output_audio_transcript.done',
      event_id: eventId(),
      response_id: 'resp_1',
      item_id: 'item_1',
      output_index: 0,
      content_index: 0,
      transcript: 'We open at nine.',
    });
    expect(events).toEqual([
      { type: 'transcript', speaker: 'caller', itemId: 'in_1', text: 'What are', final: false },
      { type: 'transcript', speaker: 'caller', itemId: 'in_1', text: '', final: false },
      { type: 'transcript', speaker: 'caller', itemId: 'in_1', text: 'What are your hours?', final: true },
      { type: 'transcript', speaker: 'agent', itemId: 'item_1', text: 'We open', final: false },
      { type: 'transcript', speaker: 'agent', itemId: 'item_1', text: 'We open at nine.', final: true },
    ]);
  });

  it('events that happened before listen() arrive when it is called, in order, ready once', () => {
    const { agent, connection, events } = setup({ listen: false });
    const audio = pattern(320, 5);
    connection.becomeReady();
    connection.server(server.responseCreated('resp_1'));
    connection.server(server.audioDelta('resp_1', 'item_1', audio));
    connection.server(server.speechStarted('in_1', 40));
    connection.server(server.audioDone('resp_1', 'item_1'));
    expect(events).toEqual([]);
    agent.listen((event) => events.push(event));
    expect(events).toEqual([
      { type: 'ready' },
      { type: 'response_started', responseId: 'resp_1' },
      { type: 'agent_audio', responseId: 'resp_1', itemId: 'item_1', audio },
      { type: 'caller_speech_started', audioStartMs: 40 },
      { type: 'agent_audio_done', responseId: 'resp_1', itemId: 'item_1' },
    ]);
    connection.server(server.responseDone('resp_1', 'completed'));
    expect(events.at(-1)).toEqual({ type: 'response_done', responseId: 'resp_1', status: 'completed', usage: null });
  });

  it('a connection already ready with no readiness left to deliver still yields one ready on listen()', () => {
    const connection = new FakeRealtimeConnection();
    connection.state = 'ready';
    const agent = new OpenAiVoiceAgent({ connection, audioFormat: 'pcm', turnDetection: serverVad(true, true), logger: silentLogger() });
    const events: VoiceAgentEvent[] = [];
    agent.listen((event) => events.push(event));
    expect(events).toEqual([{ type: 'ready' }]);
    connection.becomeReady(); // a late duplicate readiness: still one
    expect(events).toEqual([{ type: 'ready' }]);
  });

  it('a fault (even one before listen) becomes one port fault, as the connection reported it', () => {
    const { agent, connection, events } = setup({ listen: false });
    connection.fail({ kind: 'closed', message: 'upstream closed the socket (1011)', closeCode: 1011, closeReason: 'internal error' });
    agent.listen((event) => events.push(event));
    expect(events).toEqual([
      { type: 'fault', fault: { kind: 'closed', message: 'upstream closed the socket (1011)', closeCode: 1011, closeReason: 'internal error' } },
    ]);

    const refused = setup();
    refused.connection.fail({ kind: 'unauthorized', message: 'HTTP 401', status: 401 });
    expect(refused.events).toEqual([{ type: 'fault', fault: { kind: 'unauthorized', message: 'HTTP 401', status: 401 } }]);
  });
});
