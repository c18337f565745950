/**
 * The ElevenLabs Agents provider behind the voice-agent port: everything ElevenLabs lives here, nothing of it above.
 *
 * ElevenLabs runs the conversation itself (turn-taking, interruptions, the greeting as the agent's `first_message`,
 * answering after a tool result), so most port commands are notes to it rather than orders. Its rules, kept here:
 * - Items: every `audio` chunk of one agent response carries the response's `event_id`; an item (and a response,
 *   the same id `el_<event_id>`) starts with the first audio of a new id (`response_started`) and ends when a
 *   newer id starts or after `audioIdleMs` without audio for it (`agent_audio_done`, `response_done completed`).
 *   Audio of the same id after such an idle end (a stalled TTS) continues as a new item `el_<event_id>.<n>`.
 * - Barge-in is the server's call: `interruption {event_id: N}` → `caller_speech_started`, and every later audio
 *   with `event_id ≤ N` is dropped (counted). The interrupted item gets no `agent_audio_done`, only
 *   `response_done cancelled`. `interrupt(heard)` sends nothing (ElevenLabs has no such message); it drops the
 *   heard items' late audio too and keeps the heard ms, which cut the agent's corrected transcript.
 * - Transcripts are final only. `agent_response_correction` re-emits the agent's transcript for the same item (a
 *   second final `transcript` with the same `itemId`: the later one replaces the earlier), cut to the share of the
 *   item's audio the caller really heard when the call reported it.
 */
import { base64ToBytes } from '../../audio/pcm.js';
import { cutAtWord } from '../../voice/transcript-cut.js';
import type { Clock, TimerHandle } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { OncePerKeyLog } from '../../net/socket-plumbing.js';
import type {
  HeardItem,
  ResponseRequest,
  ToolCallResult,
  VoiceAgentEvent,
  VoiceAgentFormats,
  VoiceAgentSession,
  VoiceAgentStats,
  ConversationTurn,
} from '../../voice/port.js';
import type { ElevenLabsConnection } from './connection-types.js';
import { bytesPerMs, type ElevenLabsServerMessage } from './wire.js';

export const DEFAULT_AUDIO_IDLE_MS = 300;
/** Items of this session remembered (for interruption and transcript cuts); older ones have long been played. */
const MAX_KNOWN_ITEMS = 256;

/** How `sendUserText` (DTMF, typed text) reaches the agent: a user turn it answers, or background it only reads. */
export type ElevenLabsTextMode = 'user_message' | 'contextual_update';

export interface ElevenLabsVoiceAgentOptions {
  connection: ElevenLabsConnection;
  logger: Logger;
  clock: Clock;
  /** Silence after an item's last audio that ends it, in ms. Default 300. */
  audioIdleMs?: number;
  dtmfAs?: ElevenLabsTextMode;
  /**
   * The conversation continues a call that already spoke (a re-dial): the agent's automatic first message is not
   * played again. Its audio and text are skipped until the caller's first turn (or a tool call).
   */
  continuing?: boolean;
}

interface ItemRecord {
  readonly eventId: number;
  /** The item the agent's transcript belongs to (the first segment of a response). */
  readonly transcriptItemId: string;
  receivedBytes: number;
  heardMs: number | null;
}

export class ElevenLabsVoiceAgent implements VoiceAgentSession {
  readonly provider = 'elevenlabs';
  readonly manualTurns = false;
  private readonly connection: ElevenLabsConnection;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly audioIdleMs: number;
  private skippingFirstMessage: boolean;
  private readonly textMode: ElevenLabsTextMode;
  private listener: ((event: VoiceAgentEvent) => void) | null = null;
  private closed = false;
  private readyEmitted = false;
  /** Audio with an event id up to this is dropped (interrupted). */
  private interruptedUpTo = -Infinity;
  /** The newest event id whose audio started; older ids never play again. */
  private newestEventId = -Infinity;
  /** The item whose audio is arriving. */
  private current: { itemId: string; eventId: number; lastAudioAtMs: number; interrupted: boolean } | null = null;
  private segmentsOfNewest = 0;
  private idleTimer: TimerHandle | null = null;
  private readonly items = new Map<string, ItemRecord>();
  private lastInterruptedItemId: string | null = null;
  private userTurns = 0;
  private readonly counters = { lateAudioDropped: 0, truncates: 0 };
  private readonly oddities = new OncePerKeyLog(() => this.logger);

  constructor(options: ElevenLabsVoiceAgentOptions) {
    this.connection = options.connection;
    this.logger = options.logger;
    this.clock = options.clock;
    this.audioIdleMs = options.audioIdleMs ?? DEFAULT_AUDIO_IDLE_MS;
    this.textMode = options.dtmfAs ?? 'user_message';
    this.skippingFirstMessage = options.continuing ?? false;
  }

  get formats(): VoiceAgentFormats | null {
    return this.connection.formats;
  }

  get state(): VoiceAgentSession['state'] {
    const state = this.connection.state;
    return state === 'ready' || state === 'closed' ? state : 'connecting';
  }

  listen(listener: (event: VoiceAgentEvent) => void): void {
    if (this.listener !== null) return;
    this.listener = listener;
    this.connection.setHandlers({
      onReady: () => this.emitReady(),
      onMessage: (message) => this.onServerMessage(message),
      onFault: (fault) => {
        this.stopIdleTimer();
        this.emit({ type: 'fault', fault });
      },
    });
  }

  appendAudio(audio: Uint8Array): void {
    this.connection.appendAudio(audio);
  }

  /** Nothing goes on the wire: the server interrupted by itself. The heard items' late audio is dropped here. */
  interrupt(heard: readonly HeardItem[]): void {
    for (const item of heard) {
      const record = this.items.get(item.itemId);
      if (record === undefined) continue; // another session's item (before a re-dial)
      record.heardMs = Math.max(0, item.heardMs);
      this.interruptedUpTo = Math.max(this.interruptedUpTo, record.eventId);
      this.lastInterruptedItemId = record.transcriptItemId;
    }
    // Ended (cancelled) right after the server's interruption, or by the idle check: never from inside this call,
    // which the call makes while handling `caller_speech_started`.
    const current = this.current;
    if (current !== null) {
      this.interruptedUpTo = Math.max(this.interruptedUpTo, current.eventId);
      current.interrupted = true;
    }
  }

  sendUserText(text: string): void {
    this.connection.send({ type: this.textMode, text });
  }

  /**
   * The greeting is the agent's own `first_message` (sent in the initiation): a no-op. ElevenLabs has no "answer
   * now" message, so any other request becomes `user_activity` (the caller is there), and the agent's own
   * turn-taking decides; it never puts a second response in flight.
   */
  /**
   * ElevenLabs decides when to speak. Its own first message is the greeting (the greeting request is a no-op). A
   * request with instructions (a silence check-in, a goodbye, a failed transfer's note) goes as a `user_message` the
   * agent answers; one without (after DTMF text) only nudges it with `user_activity`.
   */
  requestResponse(request: ResponseRequest): void {
    if (request.reason === 'greeting') return;
    if (request.instructions !== undefined) {
      this.connection.send({ type: 'user_message', text: `(${request.instructions})` });
      return;
    }
    this.logger.debug({ reason: request.reason }, 'elevenlabs decides responses itself: sending user_activity');
    this.connection.send({ type: 'user_activity' });
  }

  /** One `client_tool_result` per result; ElevenLabs continues by itself (no response request). */
  sendToolResults(results: readonly ToolCallResult[]): void {
    for (const result of results) {
      this.connection.send({ type: 'client_tool_result', tool_call_id: result.callId, result: result.output, is_error: !result.ok });
    }
  }

  /** Never manual: ElevenLabs detects the caller's turns. */
  endCallerTurn(): void {}

  /** The agent's prompt cannot change mid-conversation: the text goes as background context. */
  /** ElevenLabs takes no conversation items: the conversation so far goes as one contextual update. */
  seedConversation(turns: readonly ConversationTurn[]): void {
    if (turns.length === 0) return;
    const lines = turns.map((turn) => `${turn.role === 'user' ? 'Caller' : 'You'}: ${turn.text}`);
    this.connection.send({ type: 'contextual_update', text: `This call continues a conversation. So far:\n${lines.join('\n')}` });
  }

  updateInstructions(instructions: string): void {
    this.connection.send({ type: 'contextual_update', text: instructions });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopIdleTimer();
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
    if (this.closed) return;
    this.listener?.(event);
  }

  private onServerMessage(message: ElevenLabsServerMessage): void {
    if (this.closed) return;
    if (this.skippingFirstMessage) {
      if (message.type === 'audio' || message.type === 'agent_response' || message.type === 'agent_response_correction') return;
      if (message.type === 'user_transcript' || message.type === 'client_tool_call' || message.type === 'interruption') this.skippingFirstMessage = false;
    }
    switch (message.type) {
      case 'audio':
        this.onAudio(message.eventId, message.audioBase64);
        return;
      case 'interruption':
        this.onInterruption(message.eventId);
        return;
      case 'agent_response': {
        const itemId = message.eventId === null ? this.latestItemId() : itemIdOf(message.eventId);
        this.emit({ type: 'transcript', speaker: 'agent', itemId, text: message.text, final: true });
        return;
      }
      case 'agent_response_correction':
        this.onCorrection(message.eventId, message.corrected);
        return;
      case 'user_transcript': {
        const itemId = message.eventId === null ? `el_user_${++this.userTurns}` : `el_user_${message.eventId}`;
        this.emit({ type: 'caller_turn_ended', itemId, audioEndMs: null });
        this.emit({ type: 'transcript', speaker: 'caller', itemId, text: message.text, final: true });
        return;
      }
      case 'client_tool_call': {
        const responseId = this.current?.itemId ?? (message.eventId === null ? this.latestItemId() : itemIdOf(message.eventId));
        const call = { callId: message.toolCallId, name: message.toolName, argumentsJson: JSON.stringify(message.parameters) };
        this.emit({ type: 'tool_calls', responseId, calls: [call] });
        return;
      }
      default:
        return;
    }
  }

  private onAudio(eventId: number, audioBase64: string): void {
    if (eventId <= this.interruptedUpTo) {
      this.counters.lateAudioDropped++;
      return;
    }
    if (this.current?.eventId !== eventId) {
      if (eventId < this.newestEventId) {
        this.counters.lateAudioDropped++;
        this.oddities.log('audio-out-of-order', { eventId, newestEventId: this.newestEventId }, 'elevenlabs audio of an older response after a newer one: dropped');
        return;
      }
      this.finishItem();
      this.startItem(eventId);
    }
    const current = this.current!;
    const audio = base64ToBytes(audioBase64);
    this.items.get(current.itemId)!.receivedBytes += audio.byteLength;
    current.lastAudioAtMs = this.clock.now();
    this.emit({ type: 'agent_audio', responseId: current.itemId, itemId: current.itemId, audio });
    if (this.idleTimer === null) this.idleTimer = this.clock.setTimeout(() => this.onIdleCheck(), this.audioIdleMs);
  }

  private startItem(eventId: number): void {
    const continued = eventId === this.newestEventId;
    this.segmentsOfNewest = continued ? this.segmentsOfNewest + 1 : 1;
    this.newestEventId = eventId;
    const itemId = continued ? `${itemIdOf(eventId)}.${this.segmentsOfNewest}` : itemIdOf(eventId);
    this.current = { itemId, eventId, lastAudioAtMs: this.clock.now(), interrupted: false };
    this.items.set(itemId, { eventId, transcriptItemId: itemIdOf(eventId), receivedBytes: 0, heardMs: null });
    if (this.items.size > MAX_KNOWN_ITEMS) this.items.delete(this.items.keys().next().value!);
    this.emit({ type: 'response_started', responseId: itemId });
  }

  /** Ends the current item: `completed` with its `agent_audio_done`, or `cancelled` (interrupted) without. */
  private finishItem(): void {
    const current = this.current;
    if (current === null) return;
    this.current = null;
    this.stopIdleTimer();
    const status = current.interrupted ? 'cancelled' : 'completed';
    if (status === 'completed') this.emit({ type: 'agent_audio_done', responseId: current.itemId, itemId: current.itemId });
    this.emit({ type: 'response_done', responseId: current.itemId, status, usage: null });
  }

  private onIdleCheck(): void {
    this.idleTimer = null;
    const current = this.current;
    if (current === null || this.closed) return;
    const quietMs = this.clock.now() - current.lastAudioAtMs;
    if (quietMs >= this.audioIdleMs || current.interrupted) this.finishItem();
    else this.idleTimer = this.clock.setTimeout(() => this.onIdleCheck(), this.audioIdleMs - quietMs);
  }

  private stopIdleTimer(): void {
    if (this.idleTimer !== null) {
      this.clock.clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  /** The server heard the caller barge in: drop the old response's audio from now on, then tell the call. */
  private onInterruption(eventId: number): void {
    this.interruptedUpTo = Math.max(this.interruptedUpTo, eventId);
    const current = this.current;
    if (current !== null && current.eventId <= eventId) {
      current.interrupted = true;
      this.lastInterruptedItemId = this.items.get(current.itemId)?.transcriptItemId ?? null;
    }
    // The call clears the caller's audio at once and reports what was heard (interrupt()), inside this emit.
    this.emit({ type: 'caller_speech_started', audioStartMs: null });
    if (this.current?.interrupted === true) this.finishItem();
  }

  private onCorrection(eventId: number | null, corrected: string): void {
    const itemId = eventId === null ? (this.lastInterruptedItemId ?? this.latestItemId()) : itemIdOf(eventId);
    const text = this.cutToHeard(itemId, corrected);
    this.logger.debug({ itemId, correctedChars: corrected.length, keptChars: text.length }, 'agent transcript corrected after interruption');
    this.emit({ type: 'transcript', speaker: 'agent', itemId, text, final: true, asHeard: true });
  }

  /** `text` cut to the share of the item's audio the caller heard (when the call reported it), at a word end. */
  private cutToHeard(transcriptItemId: string, text: string): string {
    const formats = this.connection.formats;
    if (formats === null) return text;
    let heardMs: number | null = null;
    let receivedMs = 0;
    for (const record of this.items.values()) {
      if (record.transcriptItemId !== transcriptItemId) continue;
      receivedMs += record.receivedBytes / bytesPerMs(formats.output);
      if (record.heardMs !== null) heardMs = (heardMs ?? 0) + record.heardMs;
    }
    if (heardMs === null || receivedMs <= 0 || heardMs >= receivedMs) return text;
    return cutAtWord(text, heardMs / receivedMs);
  }

  private latestItemId(): string {
    return Number.isFinite(this.newestEventId) ? itemIdOf(this.newestEventId) : 'el_0';
  }
}

function itemIdOf(eventId: number): string {
  return `el_${eventId}`;
}
