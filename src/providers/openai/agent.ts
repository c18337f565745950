/**
 * The OpenAI Realtime provider behind the voice-agent port: everything OpenAI lives here, nothing of it above.
 *
 * It turns GA server events into port events and port commands into GA client events, and keeps OpenAI's rules:
 * - exactly one `response.create` in flight (ResponseGate); with server VAD + `create_response` the model answers
 *   each committed turn itself, so a turn asks for a response only when it does not;
 * - an interruption becomes `conversation.item.truncate` at what the caller heard (the model must know what the
 *   caller really heard), for items of this session only, plus `response.cancel` when the server does not
 *   interrupt by itself; the interrupted response's late audio is dropped here (the gate's stale set);
 * - function calls come from a completed `response.done`; their outputs go back as items, then one response;
 * - remote MCP tools are called by the API itself: after an `mcp_call` item is done the bridge asks for the one
 *   response that speaks its result (the API does not continue by itself), and an `mcp_approval_request` (a server
 *   declared `requireApproval: always`) is approved by the bridge, logged, since a phone call has nobody to ask.
 * Azure OpenAI is a configuration of the same connection (another URL and the `api-key` header).
 */
import type { Config, TurnDetectionConfig } from '../../config.js';
import type { Logger } from '../../logger.js';
import { base64ToBytes } from '../../audio/pcm.js';
import type {
  HeardItem,
  ResponseRequest,
  TokenUsage,
  ToolCallResult,
  VoiceAgentEvent,
  VoiceAgentFormats,
  VoiceAgentSession,
  VoiceAgentStats,
  ConversationTurn,
} from '../../voice/port.js';
import type { RealtimeConnection } from './connection-types.js';
import type { RealtimeServerEvent, ResponseDoneEvent } from './events.js';
import { ResponseGate } from './response-gate.js';
import { BoundedMap } from './wire.js';
import { REALTIME_PCM_RATE_HZ } from './session-config.js';

/** Items of this session remembered for truncation (the audio of older ones has long been played). */
const MAX_KNOWN_ITEMS = 256;

/** The formats a configured audio format means on the wire: `pcmu` passes Twilio's audio through untouched. */
export function openAiFormats(audioFormat: Readonly<Config>['openai']['audioFormat']): VoiceAgentFormats {
  return audioFormat === 'pcmu'
    ? { input: { encoding: 'pcmu', sampleRateHz: 8_000 }, output: { encoding: 'pcmu', sampleRateHz: 8_000 } }
    : { input: { encoding: 'pcm16', sampleRateHz: REALTIME_PCM_RATE_HZ }, output: { encoding: 'pcm16', sampleRateHz: REALTIME_PCM_RATE_HZ } };
}

export interface OpenAiVoiceAgentOptions {
  connection: RealtimeConnection;
  audioFormat: Readonly<Config>['openai']['audioFormat'];
  turnDetection: TurnDetectionConfig;
  logger: Logger;
}

export class OpenAiVoiceAgent implements VoiceAgentSession {
  readonly provider = 'openai';
  readonly formats: VoiceAgentFormats;
  readonly manualTurns: boolean;
  private readonly connection: RealtimeConnection;
  private readonly logger: Logger;
  private readonly modelAnswersTurns: boolean;
  private readonly serverInterrupts: boolean;
  private readonly gate: ResponseGate;
  /** Assistant items whose audio this session sent: only they may be truncated here (not a re-dialled one's). */
  private readonly knownItemIds = new Set<string>();
  /** Caller speech end per input item (from `speech_stopped`), for the turn that `committed` ends. */
  private lastSpeechStopped: { itemId: string; audioEndMs: number } | null = null;
  private listener: ((event: VoiceAgentEvent) => void) | null = null;
  private readyEmitted = false;
  private readonly counters = { lateAudioDropped: 0, truncates: 0 };
  private approvals = 0;
  /** The response each MCP call runs in (to know whether the caller interrupted it). */
  private readonly mcpCallResponses = new BoundedMap<string, string>(64);

  constructor(options: OpenAiVoiceAgentOptions) {
    this.connection = options.connection;
    this.logger = options.logger;
    this.formats = openAiFormats(options.audioFormat);
    const detection = options.turnDetection;
    this.manualTurns = detection.type === 'none';
    this.modelAnswersTurns = detection.type !== 'none' && detection.createResponse;
    this.serverInterrupts = detection.type !== 'none' && detection.interruptResponse;
    this.gate = new ResponseGate({ send: (event) => this.connection.send(event), logger: this.logger });
  }

  get state(): VoiceAgentSession['state'] {
    const state = this.connection.state;
    return state === 'configuring' ? 'connecting' : state;
  }

  listen(listener: (event: VoiceAgentEvent) => void): void {
    this.listener = listener;
    this.connection.setHandlers({
      onReady: () => this.emitReady(),
      onEvent: (event) => this.onServerEvent(event),
      onApiError: (error) => this.gate.onError({ code: error.code ?? null, eventId: error.eventId ?? null }),
      onFault: (fault) => this.emit({ type: 'fault', fault }),
    });
    // A pre-dialled session may have become ready before anyone listened.
    if (this.connection.state === 'ready') this.emitReady();
  }

  appendAudio(audio: Uint8Array): void {
    this.connection.appendAudio(audio);
  }

  interrupt(heard: readonly HeardItem[]): void {
    const activeResponseId = this.gate.activeResponseId;
    if (activeResponseId !== null) this.gate.markInterrupted(activeResponseId);
    for (const item of heard) {
      this.gate.markInterrupted(item.responseId);
      // After a re-dial the old session's items are unknown to this one: truncating them would be refused.
      if (!this.knownItemIds.delete(item.itemId)) continue;
      this.connection.send({ type: 'conversation.item.truncate', item_id: item.itemId, content_index: 0, audio_end_ms: Math.max(0, item.heardMs) });
      this.counters.truncates++;
    }
    if (activeResponseId !== null && !this.serverInterrupts) this.gate.cancelActive();
  }

  sendUserText(text: string): void {
    this.connection.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
  }

  seedConversation(turns: readonly ConversationTurn[]): void {
    // GA item shapes: user text is `input_text`, what the assistant said is `output_text`.
    for (const turn of turns) {
      if (turn.role === 'user') {
        this.connection.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: turn.text }] } });
      } else {
        this.connection.send({ type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: turn.text }] } });
      }
    }
  }

  requestResponse(request: ResponseRequest): void {
    this.gate.requestCreate(request.instructions === undefined ? { reason: request.reason } : { instructions: request.instructions, reason: request.reason });
  }

  sendToolResults(results: readonly ToolCallResult[]): void {
    for (const result of results) {
      this.connection.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: result.callId, output: result.output } });
    }
    this.gate.requestCreate({ reason: 'function_call_output' });
  }

  endCallerTurn(): void {
    this.connection.send({ type: 'input_audio_buffer.commit' });
  }

  updateInstructions(instructions: string): void {
    this.connection.send({ type: 'session.update', session: { type: 'realtime', instructions } });
  }

  close(): void {
    this.connection.close();
  }

  stats(): VoiceAgentStats {
    return { ...this.counters };
  }

  private emitReady(): void {
    if (this.readyEmitted) return;
    this.readyEmitted = true;
    this.emit({ type: 'ready' });
  }

  private emit(event: VoiceAgentEvent): void {
    this.listener?.(event);
  }

  private onServerEvent(event: RealtimeServerEvent): void {
    switch (event.type) {
      case 'response.created':
        this.gate.onResponseCreated(event.response.id ?? '');
        this.emit({ type: 'response_started', responseId: event.response.id ?? '' });
        return;
      case 'response.output_audio.delta':
        if (this.gate.isStale(event.response_id)) {
          this.counters.lateAudioDropped++;
          return;
        }
        this.rememberItem(event.item_id);
        this.emit({ type: 'agent_audio', responseId: event.response_id, itemId: event.item_id, audio: base64ToBytes(event.delta) });
        return;
      case 'response.output_audio.done':
        if (!this.gate.isStale(event.response_id)) this.emit({ type: 'agent_audio_done', responseId: event.response_id, itemId: event.item_id });
        return;
      case 'response.done':
        this.onResponseDone(event);
        return;
      case 'input_audio_buffer.speech_started':
        this.emit({ type: 'caller_speech_started', audioStartMs: event.audio_start_ms });
        return;
      case 'input_audio_buffer.speech_stopped':
        this.lastSpeechStopped = { itemId: event.item_id, audioEndMs: event.audio_end_ms };
        return;
      case 'input_audio_buffer.committed':
        this.onTurnCommitted(event.item_id);
        return;
      case 'conversation.item.input_audio_transcription.delta':
        this.emit({ type: 'transcript', speaker: 'caller', itemId: event.item_id, text: event.delta ?? '', final: false });
        return;
      case 'conversation.item.input_audio_transcription.completed':
        this.emit({ type: 'transcript', speaker: 'caller', itemId: event.item_id, text: event.transcript, final: true });
        return;
      case 'response.output_audio_transcript.delta':
        this.emit({ type: 'transcript', speaker: 'agent', itemId: event.item_id, text: event.delta, final: false });
        return;
      case 'response.output_audio_transcript.done':
        this.emit({ type: 'transcript', speaker: 'agent', itemId: event.item_id, text: event.transcript, final: true });
        return;
      case 'response.output_item.added':
        if (event.item.type === 'mcp_call' && event.item.id !== undefined) this.mcpCallResponses.set(event.item.id, event.response_id);
        return;
      case 'conversation.item.done':
        this.onItemDone(event.item);
        return;
      case 'conversation.item.truncated':
        this.logger.debug({ itemId: event.item_id, audioEndMs: event.audio_end_ms }, 'upstream confirmed truncate');
        return;
      default:
        return;
    }
  }

  private onItemDone(item: Extract<RealtimeServerEvent, { type: 'conversation.item.done' }>['item']): void {
    if (item.type === 'mcp_call') {
      this.logger.info({ serverLabel: item.server_label, tool: item.name, ok: item.error === null || item.error === undefined }, 'MCP tool called by the model');
      // The result of a call in a response the caller interrupted is not spoken: the caller's new turn is answered.
      const responseId = this.mcpCallResponses.get(item.id);
      this.mcpCallResponses.delete(item.id);
      if (responseId === undefined || !this.gate.isStale(responseId)) this.gate.requestCreate({ reason: 'mcp_call' });
      return;
    }
    if (item.type === 'mcp_approval_request') {
      this.logger.info({ serverLabel: item.server_label, tool: item.name }, 'MCP tool call approved');
      this.connection.send({
        type: 'conversation.item.create',
        item: { type: 'mcp_approval_response', id: `cb_approval_${++this.approvals}`, approval_request_id: item.id, approve: true },
      });
    }
  }

  private onTurnCommitted(itemId: string): void {
    const stopped = this.lastSpeechStopped;
    const audioEndMs = stopped !== null && stopped.itemId === itemId ? stopped.audioEndMs : null;
    this.emit({ type: 'caller_turn_ended', itemId, audioEndMs });
    this.logger.debug({ itemId, modelAnswersItself: this.modelAnswersTurns }, 'caller turn committed');
    if (!this.modelAnswersTurns) this.gate.requestCreate({ reason: 'turn' });
  }

  private onResponseDone(event: ResponseDoneEvent): void {
    const { response } = event;
    const responseId = response.id ?? '';
    const status = response.status ?? 'completed';
    this.gate.onResponseDone(responseId, status);
    this.emit({ type: 'response_done', responseId, status, usage: usageOf(response.usage) });
    const calls = (response.output ?? []).flatMap((item) =>
      item.type === 'function_call' ? [{ callId: item.call_id ?? '', name: item.name ?? '', argumentsJson: item.arguments ?? '' }] : [],
    );
    if (calls.length > 0 && response.status === 'completed') this.emit({ type: 'tool_calls', responseId, calls });
  }

  private rememberItem(itemId: string): void {
    if (this.knownItemIds.has(itemId)) return;
    this.knownItemIds.add(itemId);
    if (this.knownItemIds.size > MAX_KNOWN_ITEMS) this.knownItemIds.delete(this.knownItemIds.values().next().value!);
  }
}

function usageOf(usage: ResponseDoneEvent['response']['usage']): TokenUsage | null {
  if (usage === undefined) return null;
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    inputAudioTokens: usage.input_token_details?.audio_tokens ?? 0,
    outputAudioTokens: usage.output_token_details?.audio_tokens ?? 0,
    cachedTokens: usage.input_token_details?.cached_tokens ?? 0,
  };
}
