/**
 * One simulated Realtime session: the state machine behind one WebSocket, with a full event log and the bookkeeping
 * tests assert on (turns, responses, truncates, errors, rule violations).
 *
 * It speaks the GA protocol only and enforces the real API's rules, answering a violation with the real error and
 * keeping the session open. Everything timed (audio pacing, latency, expiry) runs on the injected clock; every VAD
 * timestamp is audio time, i.e. ms of audio appended since the session started.
 */
import type {
  ConversationItem,
  RealtimeConversationItemAssistantMessage,
  RealtimeConversationItemFunctionCall,
  RealtimeErrorEvent,
  RealtimeResponse,
  RealtimeResponseUsage,
  RealtimeServerEvent,
} from 'openai/resources/realtime/realtime';
import type { Clock, TimerHandle } from '../../clock.js';
import { decodeMulaw, encodeMulaw } from '../../audio/mulaw.js';
import { base64ToBytes, bytesToBase64, Pcm16Reassembler, pcm16ToBytes } from '../../audio/pcm.js';
import { resampleClip } from '../../audio/resampler.js';
import { MULAW_SAMPLE_RATE_HZ, PCM_SAMPLE_RATE_HZ } from '../../audio/frames.js';
import type { Logger } from '../../logger.js';
import * as errors from './errors.js';
import { renderReply, type ReplySpec, type ScriptedResponse } from './replies.js';
import {
  betaShapeOf,
  defaultSession,
  formatInfo,
  mergeSession,
  transcriptionModelOf,
  turnDetectionPolicy,
  type AudioFormatInfo,
  type SimulatedSessionObject,
  type TurnDetectionPolicy,
} from './session-config.js';
import { EnergyVad, type VadTransition } from './vad.js';

type WithoutEventId<T> = T extends unknown ? Omit<T, 'event_id'> : never;
/** A server event before the session stamps its `event_id`. */
export type ServerEventBody = WithoutEventId<RealtimeServerEvent>;

/** A client event as received: parsed JSON, not trusted to match any shape. */
export interface InboundEvent {
  type?: unknown;
  event_id?: unknown;
  [key: string]: unknown;
}

export type SessionLogEntry =
  | { direction: 'in'; /** ms since the session connected (session clock) */ atMs: number; event: InboundEvent }
  | { direction: 'out'; atMs: number; event: RealtimeServerEvent };

export interface CommittedTurn {
  /** Ordinal among this session's committed turns, from 0. */
  index: number;
  itemId: string;
  previousItemId: string | null;
  /** `vad`: server VAD committed it; `client`: `input_audio_buffer.commit`. */
  trigger: 'vad' | 'client';
  /** Audio time, ms since session start: the turn's audio spans [audioStartMs, audioEndMs). */
  audioStartMs: number;
  audioEndMs: number;
  /** Session clock, ms since connect. */
  atMs: number;
}

export interface SimulatedResponseRecord {
  id: string;
  /** Ordinal among this session's responses, from 0 (selects `script[index]`). */
  index: number;
  trigger: 'vad' | 'client';
  kind: 'audio' | 'function_call';
  /** `aborted`: the socket closed mid-response (not an API status). */
  status: 'in_progress' | 'completed' | 'cancelled' | 'aborted';
  cancelReason: 'turn_detected' | 'client_cancelled' | null;
  /** The output item (assistant message or function call). */
  itemId: string;
  /** ms of audio sent per assistant item, in the output format's time base. */
  audioMsSent: Record<string, number>;
  /** Length of the whole reply the server would have sent, ms. */
  audioMsTotal: number;
  deltasSent: number;
  /** `response.create`'s `response.instructions`, or null (VAD responses, or none given). */
  instructions: string | null;
  /** Index of the last committed turn when the response was created; -1 before any turn (a greeting). */
  afterTurnIndex: number;
  transcript: string;
  callId: string | null;
  functionName: string | null;
  /** Session clock, ms since connect. */
  createdAtMs: number;
  doneAtMs: number | null;
}

export interface TruncateRecord {
  itemId: string;
  /** As the client sent it (may be a decimal or negative: that is what the rules are about). */
  audioEndMs: number;
  /** Audio the server had sent for the item when the truncate arrived, ms; NaN for an unknown item. */
  sentAudioMs: number;
  accepted: boolean;
  /** Error code when rejected (null for the code-less real errors), undefined when accepted. */
  errorCode?: string | null;
  atMs: number;
}

export interface ResponseCreateRequest {
  eventId: string | null;
  instructions: string | null;
  accepted: boolean;
  /** Position of the request in `log`: compare with `FunctionCallOutputRecord.logIndex` for ordering. */
  logIndex: number;
  atMs: number;
}

export interface FunctionCallOutputRecord {
  callId: string;
  output: string;
  /** Whether a function call with this call_id had been sent in this session. */
  knownCall: boolean;
  logIndex: number;
  atMs: number;
}

export interface UserTextMessage {
  itemId: string;
  text: string;
  atMs: number;
}

/** Counts of client behaviour the real API rejects. A correct bridge keeps them all at 0 except races it tolerates. */
export interface ViolationCounters {
  responseCreateWhileActive: number;
  cancelNotActive: number;
  truncateRejected: number;
  commitEmpty: number;
  betaShape: number;
  unknownEvent: number;
  /** Unparseable JSON or events missing required fields. */
  malformedEvent: number;
}

/** The subset of a ws WebSocket the session uses. */
export interface SessionSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

const WS_OPEN = 1;

export interface SimulatedSessionSettings {
  index: number;
  model: string;
  path: string;
  /** True when the upgrade carried `OpenAI-Beta: realtime=v1`: the session is refused as the real one is. */
  betaHeader: boolean;
  clock: Clock;
  speedFactor: number;
  deltaBytes: number;
  reply: ReplySpec;
  script: ScriptedResponse[];
  /** Transcripts for the caller's committed turns, by turn index, when transcription is on. */
  callerTranscripts: string[];
  /** Delay between a commit (or `response.create`) and `response.created`. */
  responseLatencyMs: number;
  closeMidResponseAfterDeltas: number | null;
  sessionExpiredAfterMs: number | null;
  /** False replaces audio payloads in the log by their size (benchmarks with many long calls). */
  logAudio: boolean;
  logger: Logger;
}

interface StoredItem {
  id: string;
  type: string;
  role: string | null;
  /** Set for assistant audio messages: the response that streams it. */
  response: SimulatedResponseRecord | null;
  callId: string | null;
}

interface ActiveResponse {
  record: SimulatedResponseRecord;
  format: AudioFormatInfo;
  audio: Uint8Array;
  bytesSent: number;
  words: string[];
  wordsSent: number;
  timer: TimerHandle | null;
  /** Clock time at which the next delta is due; advanced by each delta's duration / speedFactor, never re-sampled. */
  nextDueMs: number;
}

const MIN_COMMIT_MS = 100;
/** Approximate token rates for `usage`: the API bills output audio at about 20 tokens/s, input audio at about 10/s. */
const OUTPUT_AUDIO_MS_PER_TOKEN = 50;
const INPUT_AUDIO_MS_PER_TOKEN = 100;

export class SimulatedSession {
  readonly index: number;
  readonly id: string;
  readonly model: string;
  readonly path: string;
  /** Every event in and out, in order, with session-clock times. */
  readonly log: SessionLogEntry[] = [];
  readonly committedTurns: CommittedTurn[] = [];
  readonly responses: SimulatedResponseRecord[] = [];
  readonly responseCreateRequests: ResponseCreateRequest[] = [];
  readonly functionCallOutputs: FunctionCallOutputRecord[] = [];
  readonly userTextMessages: UserTextMessage[] = [];
  readonly violations: ViolationCounters = {
    responseCreateWhileActive: 0,
    cancelNotActive: 0,
    truncateRejected: 0,
    commitEmpty: 0,
    betaShape: 0,
    unknownEvent: 0,
    malformedEvent: 0,
  };
  /** Resolves when the socket has closed, with the close code and reason as the server saw them. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private readonly settings: SimulatedSessionSettings;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly socket: SessionSocket;
  private readonly connectedAtMs: number;
  private readonly conversationId: string;
  private sessionObject: SimulatedSessionObject;
  private policy: TurnDetectionPolicy | null;
  private readonly vad: EnergyVad;
  private nextIdCounter = 0;
  private appendedMs = 0;
  private bufferStartMs = 0;
  private readonly inputSamples = new Pcm16Reassembler();
  private speechItemId: string | null = null;
  private speechStartMs = 0;
  private readonly items = new Map<string, StoredItem>();
  private readonly itemOrder: string[] = [];
  private readonly truncateRecords: TruncateRecord[] = [];
  private readonly knownCallIds = new Set<string>();
  private active: ActiveResponse | null = null;
  private pendingStart: TimerHandle | null = null;
  private answerCount = 0;
  private committedAudioMs = 0;
  private expiryTimer: TimerHandle | null = null;
  private isClosed = false;
  private resolveClosed!: (value: { code: number; reason: string }) => void;

  constructor(socket: SessionSocket, settings: SimulatedSessionSettings) {
    this.socket = socket;
    this.settings = settings;
    this.clock = settings.clock;
    this.index = settings.index;
    this.model = settings.model;
    this.path = settings.path;
    this.connectedAtMs = settings.clock.now();
    this.id = this.newId('sess');
    this.conversationId = this.newId('conv');
    this.logger = settings.logger.child({ realtimeSession: this.id });
    this.sessionObject = defaultSession(this.id, settings.model, Math.floor(Date.now() / 1000));
    this.policy = turnDetectionPolicy(this.sessionObject);
    this.vad = new EnergyVad(this.policy?.vad ?? { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** The current session object, as last reported in `session.created` / `session.updated`. */
  get session(): SimulatedSessionObject {
    return this.sessionObject;
  }

  /** ms of audio appended since the session started (audio time, in the input format's time base). */
  get appendedAudioMs(): number {
    return this.appendedMs;
  }

  /** The response being streamed, if any. */
  get activeResponse(): SimulatedResponseRecord | null {
    return this.active?.record ?? null;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Number of responses created after each committed turn (and before the next one), by turn index. */
  responsesPerCommittedTurn(): number[] {
    const counts = this.committedTurns.map(() => 0);
    for (const response of this.responses) {
      if (response.afterTurnIndex >= 0) counts[response.afterTurnIndex] = (counts[response.afterTurnIndex] ?? 0) + 1;
    }
    return counts;
  }

  truncates(): TruncateRecord[] {
    return [...this.truncateRecords];
  }

  /** Error events sent, optionally only those with `error.code === code` (pass null for the code-less ones). */
  errors(code?: string | null): RealtimeErrorEvent[] {
    return this.eventsOut('error').filter((event) => code === undefined || (event.error.code ?? null) === code);
  }

  /** Server events sent, optionally of one type, in order. */
  eventsOut<T extends RealtimeServerEvent['type']>(type?: T): Array<Extract<RealtimeServerEvent, { type: T }>> {
    const out: Array<Extract<RealtimeServerEvent, { type: T }>> = [];
    for (const entry of this.log) {
      if (entry.direction === 'out' && (type === undefined || entry.event.type === type)) {
        out.push(entry.event as Extract<RealtimeServerEvent, { type: T }>);
      }
    }
    return out;
  }

  /** Client events received, optionally of one type, in order. */
  eventsIn(type?: string): InboundEvent[] {
    const events: InboundEvent[] = [];
    for (const entry of this.log) if (entry.direction === 'in' && (type === undefined || entry.event.type === type)) events.push(entry.event);
    return events;
  }

  /** Called by the server once the socket is open. */
  start(): void {
    if (this.settings.betaHeader) {
      // The real service answers a beta client with this error as its first frame, then closes.
      this.violations.betaShape++;
      this.sendError(errors.betaShapeError(null));
      this.closeSocket(errors.BETA_SHAPE_CLOSE_CODE, errors.BETA_SHAPE_CLOSE_REASON);
      return;
    }
    this.emit({ type: 'session.created', session: this.sessionObject });
    if (this.settings.sessionExpiredAfterMs !== null) {
      this.expiryTimer = this.clock.setTimeout(() => this.expire(), this.settings.sessionExpiredAfterMs);
    }
  }

  /** Called by the server for every text message. */
  receive(text: string): void {
    if (this.isClosed) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.violations.malformedEvent++;
      this.sendError(errors.invalidJsonError());
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.violations.malformedEvent++;
      this.sendError(errors.invalidJsonError());
      return;
    }
    const event = parsed as InboundEvent;
    const logIndex = this.log.length;
    this.log.push({ direction: 'in', atMs: this.sinceConnectMs(), event: this.settings.logAudio ? event : elideAudio(event) });
    const eventId = typeof event.event_id === 'string' ? event.event_id : null;
    switch (event.type) {
      case 'session.update':
        return this.onSessionUpdate(event, eventId);
      case 'input_audio_buffer.append':
        return this.onAppend(event, eventId);
      case 'input_audio_buffer.commit':
        return this.onCommit(eventId);
      case 'input_audio_buffer.clear':
        return this.onClear();
      case 'conversation.item.create':
        return this.onItemCreate(event, eventId, logIndex);
      case 'conversation.item.truncate':
        return this.onTruncate(event, eventId);
      case 'conversation.item.delete':
        return this.onItemDelete(event, eventId);
      case 'response.create':
        return this.onResponseCreate(event, eventId, logIndex);
      case 'response.cancel':
        return this.onResponseCancel(event, eventId);
      default:
        this.violations.unknownEvent++;
        this.sendError(errors.unknownEventError(event.type, eventId));
    }
  }

  /** Called by the server when the socket has closed (either side). */
  onSocketClosed(code: number, reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.stopTimers();
    if (this.active !== null) {
      this.active.record.status = 'aborted';
      this.active = null;
    }
    this.logger.debug({ code, reason }, 'simulated realtime session closed');
    this.resolveClosed({ code, reason });
  }

  /** Server-side close with a close frame (tests use it to simulate the service ending a session). */
  close(code = 1000, reason = ''): void {
    this.closeSocket(code, reason);
  }

  /** Drops the TCP connection without a close frame, as a network failure would. */
  terminate(): void {
    this.stopTimers();
    this.socket.terminate();
  }

  // ---- client events -------------------------------------------------------------------------------------------

  private onSessionUpdate(event: InboundEvent, eventId: string | null): void {
    const session = event['session'];
    if (session === null || typeof session !== 'object') {
      this.violations.malformedEvent++;
      this.sendError(errors.missingParameterError('session', eventId));
      return;
    }
    if (betaShapeOf(session as Record<string, unknown>) !== null) {
      this.violations.betaShape++;
      this.sendError(errors.betaShapeError(eventId));
      this.closeSocket(errors.BETA_SHAPE_CLOSE_CODE, errors.BETA_SHAPE_CLOSE_REASON);
      return;
    }
    this.sessionObject = mergeSession(this.sessionObject, session as Record<string, unknown>);
    const policy = turnDetectionPolicy(this.sessionObject);
    if (policy !== null) this.vad.configure(policy.vad);
    if (policy === null && this.policy !== null) {
      this.vad.reset(this.appendedMs);
      this.speechItemId = null;
    }
    this.policy = policy;
    this.emit({ type: 'session.updated', session: this.sessionObject });
  }

  private onAppend(event: InboundEvent, eventId: string | null): void {
    const audio = event['audio'];
    if (typeof audio !== 'string') {
      this.violations.malformedEvent++;
      this.sendError(errors.missingParameterError('audio', eventId));
      return;
    }
    const format = formatInfo(this.sessionObject.audio?.input?.format);
    const bytes = base64ToBytes(audio);
    // A PCM16 sample split across two appends is joined, as the service's byte buffer would.
    const samples = format.kind === 'pcmu' ? decodeMulaw(bytes) : this.inputSamples.push(bytes);
    this.appendedMs += (samples.length * 1000) / format.sampleRateHz;
    if (this.policy === null) return;
    const transitions = this.vad.push(samples, format.sampleRateHz);
    for (const transition of transitions) {
      if (this.isClosed) return;
      this.onVadTransition(transition);
    }
  }

  private onVadTransition(transition: VadTransition): void {
    const policy = this.policy;
    if (policy === null) return;
    if (transition.kind === 'speech_started') {
      this.speechItemId = this.newId('item');
      this.speechStartMs = transition.audioStartMs;
      this.emit({ type: 'input_audio_buffer.speech_started', audio_start_ms: transition.audioStartMs, item_id: this.speechItemId });
      if (policy.interruptResponse && this.active !== null) this.finishAudioResponse('cancelled', 'turn_detected');
      return;
    }
    const itemId = this.speechItemId ?? this.newId('item');
    this.speechItemId = null;
    this.emit({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: transition.audioEndMs, item_id: itemId });
    this.commitTurn(itemId, 'vad', this.speechStartMs, transition.audioEndMs);
    if (!policy.createResponse) return;
    if (this.active !== null || this.pendingStart !== null) {
      // interrupt_response false and the model still talking: the real API documents that it "may fail to
      // create a response"; the simulator skips it and says so in the log.
      this.logger.debug({ itemId }, 'VAD turn committed while a response is active: no automatic response');
      return;
    }
    this.scheduleResponse('vad', null);
  }

  private onCommit(eventId: string | null): void {
    const bufferedMs = this.appendedMs - this.bufferStartMs;
    if (bufferedMs < MIN_COMMIT_MS) {
      this.violations.commitEmpty++;
      this.sendError(errors.commitEmptyError(bufferedMs, eventId));
      return;
    }
    const itemId = this.speechItemId ?? this.newId('item');
    const startMs = this.speechItemId !== null ? this.speechStartMs : this.bufferStartMs;
    this.speechItemId = null;
    this.vad.reset(this.appendedMs);
    this.commitTurn(itemId, 'client', startMs, this.appendedMs);
  }

  private onClear(): void {
    this.bufferStartMs = this.appendedMs;
    this.speechItemId = null;
    this.vad.reset(this.appendedMs);
    this.emit({ type: 'input_audio_buffer.cleared' });
  }

  private onItemCreate(event: InboundEvent, eventId: string | null, logIndex: number): void {
    const item = event['item'] as Record<string, unknown> | undefined;
    if (item === null || typeof item !== 'object' || typeof item['type'] !== 'string') {
      this.violations.malformedEvent++;
      this.sendError(errors.missingParameterError('item', eventId));
      return;
    }
    const itemId = typeof item['id'] === 'string' ? item['id'] : this.newId('item');
    const atMs = this.sinceConnectMs();
    let stored: ConversationItem;
    if (item['type'] === 'function_call_output') {
      const callId = item['call_id'];
      const output = item['output'];
      if (typeof callId !== 'string' || typeof output !== 'string') {
        this.violations.malformedEvent++;
        this.sendError(errors.missingParameterError(typeof callId !== 'string' ? 'item.call_id' : 'item.output', eventId));
        return;
      }
      this.functionCallOutputs.push({ callId, output, knownCall: this.knownCallIds.has(callId), logIndex, atMs });
      stored = { id: itemId, object: 'realtime.item', type: 'function_call_output', status: 'completed', call_id: callId, output };
    } else if (item['type'] === 'message') {
      const role = item['role'];
      const content = Array.isArray(item['content']) ? (item['content'] as Array<Record<string, unknown>>) : [];
      if (role === 'user') {
        const text = content
          .map((part) => (typeof part['text'] === 'string' ? part['text'] : ''))
          .filter((part) => part !== '')
          .join(' ');
        this.userTextMessages.push({ itemId, text, atMs });
        stored = { id: itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'user', content: content as never };
      } else if (role === 'system') {
        stored = { id: itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'system', content: content as never };
      } else if (role === 'assistant') {
        stored = { id: itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'assistant', content: content as never };
      } else {
        this.violations.malformedEvent++;
        this.sendError(errors.invalidValueError('item.role', `Invalid value: ${JSON.stringify(role)}. Supported values are: 'user', 'assistant', and 'system'.`, eventId));
        return;
      }
    } else {
      this.violations.malformedEvent++;
      this.sendError(errors.invalidValueError('item.type', `Invalid value: ${JSON.stringify(item['type'])}. Unsupported item type for this simulator.`, eventId));
      return;
    }
    const previousItemId = this.lastItemId();
    this.addItem({ id: itemId, type: String(item['type']), role: typeof item['role'] === 'string' ? item['role'] : null, response: null, callId: null });
    this.emit({ type: 'conversation.item.added', previous_item_id: previousItemId, item: stored });
    this.emit({ type: 'conversation.item.done', previous_item_id: previousItemId, item: stored });
  }

  private onItemDelete(event: InboundEvent, eventId: string | null): void {
    const itemId = event['item_id'];
    if (typeof itemId !== 'string') {
      this.violations.malformedEvent++;
      this.sendError(errors.missingParameterError('item_id', eventId));
      return;
    }
    if (!this.items.has(itemId)) {
      this.sendError(errors.itemNotFoundError(itemId, 'item_id', eventId));
      return;
    }
    this.items.delete(itemId);
    this.itemOrder.splice(this.itemOrder.indexOf(itemId), 1);
    this.emit({ type: 'conversation.item.deleted', item_id: itemId });
  }

  /**
   * Checks in the order the service validates: the field types and bounds first (schema), then the item, then the
   * audio length. Only assistant audio messages can be truncated, at content index 0, within the audio sent.
   */
  private onTruncate(event: InboundEvent, eventId: string | null): void {
    const itemId = typeof event['item_id'] === 'string' ? event['item_id'] : '';
    const audioEndMs = event['audio_end_ms'];
    const contentIndex = event['content_index'];
    const atMs = this.sinceConnectMs();
    const reject = (error: errors.SimulatedRealtimeError, sentAudioMs: number): void => {
      this.violations.truncateRejected++;
      this.truncateRecords.push({
        itemId,
        audioEndMs: typeof audioEndMs === 'number' ? audioEndMs : NaN,
        sentAudioMs,
        accepted: false,
        errorCode: error.code,
        atMs,
      });
      this.sendError(error);
    };
    if (itemId === '') return reject(errors.missingParameterError('item_id', eventId), NaN);
    if (audioEndMs === undefined) return reject(errors.missingParameterError('audio_end_ms', eventId), NaN);
    if (typeof audioEndMs !== 'number' || !Number.isInteger(audioEndMs)) return reject(errors.truncateDecimalError(eventId), NaN);
    if (audioEndMs < 0) return reject(errors.truncateNegativeError(audioEndMs, eventId), NaN);
    const item = this.items.get(itemId);
    if (item === undefined) return reject(errors.itemNotFoundError(itemId, 'item_id', eventId), NaN);
    const response = item.response;
    if (item.type !== 'message' || item.role !== 'assistant' || response === null) {
      return reject(errors.truncateNotAssistantAudioError(eventId), NaN);
    }
    const sentAudioMs = response.audioMsSent[itemId] ?? 0;
    if (contentIndex !== 0) return reject(errors.contentIndexError(contentIndex, eventId), sentAudioMs);
    if (audioEndMs > sentAudioMs) return reject(errors.truncateBeyondAudioError(Math.floor(sentAudioMs), audioEndMs), sentAudioMs);
    this.truncateRecords.push({ itemId, audioEndMs, sentAudioMs, accepted: true, atMs });
    this.emit({ type: 'conversation.item.truncated', item_id: itemId, content_index: 0, audio_end_ms: audioEndMs });
  }

  private onResponseCreate(event: InboundEvent, eventId: string | null, logIndex: number): void {
    const response = event['response'] as Record<string, unknown> | undefined;
    const instructions = response !== null && typeof response === 'object' && typeof response['instructions'] === 'string' ? response['instructions'] : null;
    const atMs = this.sinceConnectMs();
    if (this.active !== null || this.pendingStart !== null) {
      this.violations.responseCreateWhileActive++;
      this.responseCreateRequests.push({ eventId, instructions, accepted: false, logIndex, atMs });
      const activeId = this.active?.record.id ?? this.pendingResponseId ?? 'resp_pending';
      this.sendError(errors.activeResponseError(activeId, eventId));
      return;
    }
    this.responseCreateRequests.push({ eventId, instructions, accepted: true, logIndex, atMs });
    this.scheduleResponse('client', instructions);
  }

  private onResponseCancel(event: InboundEvent, eventId: string | null): void {
    const targetId = typeof event['response_id'] === 'string' ? event['response_id'] : null;
    if (this.pendingStart !== null && (targetId === null || targetId === this.pendingResponseId)) {
      // Cancelled before it produced anything: it never existed for the client.
      this.clock.clearTimeout(this.pendingStart);
      this.pendingStart = null;
      this.pendingResponseId = null;
      return;
    }
    if (this.active === null || (targetId !== null && targetId !== this.active.record.id)) {
      this.violations.cancelNotActive++;
      this.sendError(errors.cancelNotActiveError(eventId));
      return;
    }
    this.finishAudioResponse('cancelled', 'client_cancelled');
  }

  // ---- turns and responses -------------------------------------------------------------------------------------

  private commitTurn(itemId: string, trigger: 'vad' | 'client', audioStartMs: number, audioEndMs: number): void {
    const previousItemId = this.lastItemId();
    const turn: CommittedTurn = {
      index: this.committedTurns.length,
      itemId,
      previousItemId,
      trigger,
      audioStartMs,
      audioEndMs,
      atMs: this.sinceConnectMs(),
    };
    this.committedTurns.push(turn);
    this.committedAudioMs += audioEndMs - audioStartMs;
    this.bufferStartMs = audioEndMs;
    this.addItem({ id: itemId, type: 'message', role: 'user', response: null, callId: null });
    this.emit({ type: 'input_audio_buffer.committed', item_id: itemId, previous_item_id: previousItemId });
    const item: ConversationItem = {
      id: itemId,
      object: 'realtime.item',
      type: 'message',
      status: 'completed',
      role: 'user',
      content: [{ type: 'input_audio', transcript: null as unknown as string }],
    };
    this.emit({ type: 'conversation.item.added', previous_item_id: previousItemId, item });
    this.emit({ type: 'conversation.item.done', previous_item_id: previousItemId, item });
    if (transcriptionModelOf(this.sessionObject) !== null) {
      const transcript = this.settings.callerTranscripts[turn.index] ?? `Caller turn ${turn.index + 1}.`;
      this.emit({ type: 'conversation.item.input_audio_transcription.delta', item_id: itemId, content_index: 0, delta: transcript });
      this.emit({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: itemId,
        content_index: 0,
        transcript,
        usage: { type: 'duration', seconds: Math.round((audioEndMs - audioStartMs) / 100) / 10 },
      });
    }
    this.logger.debug({ itemId, trigger, audioStartMs, audioEndMs }, 'caller turn committed');
  }

  private pendingResponseId: string | null = null;

  private scheduleResponse(trigger: 'vad' | 'client', instructions: string | null): void {
    if (this.settings.responseLatencyMs <= 0) {
      this.startResponse(trigger, instructions);
      return;
    }
    this.pendingResponseId = this.newId('resp');
    const responseId = this.pendingResponseId;
    this.pendingStart = this.clock.setTimeout(() => {
      this.pendingStart = null;
      this.pendingResponseId = null;
      this.startResponse(trigger, instructions, responseId);
    }, this.settings.responseLatencyMs);
  }

  private startResponse(trigger: 'vad' | 'client', instructions: string | null, responseId = this.newId('resp')): void {
    if (this.isClosed) return;
    const index = this.responses.length;
    const scripted: ScriptedResponse = this.settings.script[index] ?? { kind: 'audio', reply: this.settings.reply };
    const record: SimulatedResponseRecord = {
      id: responseId,
      index,
      trigger,
      kind: scripted.kind,
      status: 'in_progress',
      cancelReason: null,
      itemId: this.newId('item'),
      audioMsSent: {},
      audioMsTotal: 0,
      deltasSent: 0,
      instructions,
      afterTurnIndex: this.committedTurns.length - 1,
      transcript: '',
      callId: null,
      functionName: null,
      createdAtMs: this.sinceConnectMs(),
      doneAtMs: null,
    };
    this.responses.push(record);
    const format = formatInfo(this.sessionObject.audio?.output?.format);
    this.emit({ type: 'response.created', response: this.responseObject(record, format, 'in_progress', []) });
    if (scripted.kind === 'function_call') {
      this.runFunctionCall(record, format, scripted);
      return;
    }
    const isGreeting = trigger === 'client' && instructions !== null && this.committedTurns.length === 0 && index === 0;
    const reply = renderReply(scripted.reply, { responseIndex: index, answerIndex: this.answerCount, isGreeting });
    if (!isGreeting) this.answerCount++;
    const audio = encodeForOutput(reply.samples24k, format);
    record.audioMsTotal = audio.length / format.bytesPerMs;
    record.transcript = reply.transcript;
    record.audioMsSent[record.itemId] = 0;
    this.addItem({ id: record.itemId, type: 'message', role: 'assistant', response: record, callId: null });
    const item = assistantItem(record.itemId, 'in_progress', []);
    this.emit({ type: 'response.output_item.added', response_id: record.id, output_index: 0, item });
    this.emit({ type: 'conversation.item.added', previous_item_id: this.previousOf(record.itemId), item });
    this.emit({
      type: 'response.content_part.added',
      response_id: record.id,
      item_id: record.itemId,
      output_index: 0,
      content_index: 0,
      part: { type: 'audio', transcript: '' },
    });
    this.active = {
      record,
      format,
      audio,
      bytesSent: 0,
      words: reply.transcript.split(/\s+/).filter((word) => word !== ''),
      wordsSent: 0,
      timer: null,
      nextDueMs: this.clock.now(),
    };
    this.logger.debug({ responseId: record.id, trigger, audioMs: record.audioMsTotal }, 'response started');
    this.streamAudio(this.active);
  }

  /**
   * Sends every delta that is due, then sleeps until the next one. Deltas are due at start + (audio before them) /
   * speedFactor: the schedule is advanced by audio duration, never re-sampled from the clock, so timer lateness
   * does not accumulate into drift.
   */
  private streamAudio(active: ActiveResponse): void {
    active.timer = null;
    const deltaBytes = Math.max(1, this.settings.deltaBytes);
    while (this.active === active && !this.isClosed) {
      if (active.bytesSent >= active.audio.length) {
        this.finishAudioResponse('completed', null);
        return;
      }
      if (active.nextDueMs > this.clock.now()) {
        active.timer = this.clock.setTimeout(() => this.streamAudio(active), active.nextDueMs - this.clock.now());
        return;
      }
      const chunk = active.audio.subarray(active.bytesSent, Math.min(active.audio.length, active.bytesSent + deltaBytes));
      active.bytesSent += chunk.length;
      const record = active.record;
      record.deltasSent++;
      record.audioMsSent[record.itemId] = active.bytesSent / active.format.bytesPerMs;
      this.emit({
        type: 'response.output_audio.delta',
        response_id: record.id,
        item_id: record.itemId,
        output_index: 0,
        content_index: 0,
        delta: bytesToBase64(chunk),
      });
      const wordsDue = Math.ceil((active.words.length * active.bytesSent) / active.audio.length);
      if (wordsDue > active.wordsSent) {
        const text = active.words.slice(active.wordsSent, wordsDue).join(' ');
        this.emit({
          type: 'response.output_audio_transcript.delta',
          response_id: record.id,
          item_id: record.itemId,
          output_index: 0,
          content_index: 0,
          delta: active.wordsSent === 0 ? text : ` ${text}`,
        });
        active.wordsSent = wordsDue;
      }
      const limit = this.settings.closeMidResponseAfterDeltas;
      if (limit !== null && record.deltasSent >= limit) {
        this.logger.debug({ responseId: record.id, deltas: record.deltasSent }, 'fault: dropping the connection mid-response');
        this.terminate();
        return;
      }
      active.nextDueMs += chunk.length / active.format.bytesPerMs / this.settings.speedFactor;
    }
  }

  /** Closes the audio response's open parts in the GA order and sends `response.done`. */
  private finishAudioResponse(status: 'completed' | 'cancelled', reason: 'turn_detected' | 'client_cancelled' | null): void {
    const active = this.active;
    if (active === null) return;
    this.active = null;
    if (active.timer !== null) this.clock.clearTimeout(active.timer);
    const record = active.record;
    record.status = status;
    record.cancelReason = reason;
    record.doneAtMs = this.sinceConnectMs();
    // A cancelled response's transcript is what was generated with the audio sent, no more.
    const transcript = status === 'completed' ? record.transcript : active.words.slice(0, active.wordsSent).join(' ');
    const ids = { response_id: record.id, item_id: record.itemId, output_index: 0, content_index: 0 };
    this.emit({ type: 'response.output_audio.done', ...ids });
    this.emit({ type: 'response.output_audio_transcript.done', ...ids, transcript });
    this.emit({ type: 'response.content_part.done', ...ids, part: { type: 'audio', transcript } });
    const item = assistantItem(record.itemId, status === 'completed' ? 'completed' : 'incomplete', [{ type: 'output_audio', transcript }]);
    this.emit({ type: 'response.output_item.done', response_id: record.id, output_index: 0, item });
    this.emit({ type: 'conversation.item.done', previous_item_id: this.previousOf(record.itemId), item });
    const done = this.responseObject(record, active.format, status, [item]);
    if (reason !== null) done.status_details = { type: 'cancelled', reason };
    done.usage = this.usage(record, transcript);
    this.emit({ type: 'response.done', response: done });
    this.logger.info(
      { responseId: record.id, status, reason, audioMsSent: Math.round(record.audioMsSent[record.itemId] ?? 0), deltas: record.deltasSent },
      'simulated response done',
    );
  }

  private runFunctionCall(record: SimulatedResponseRecord, format: AudioFormatInfo, scripted: Extract<ScriptedResponse, { kind: 'function_call' }>): void {
    const callId = scripted.callId ?? this.newId('call');
    record.callId = callId;
    record.functionName = scripted.name;
    this.knownCallIds.add(callId);
    this.addItem({ id: record.itemId, type: 'function_call', role: null, response: null, callId });
    const pending: RealtimeConversationItemFunctionCall = {
      id: record.itemId,
      object: 'realtime.item',
      type: 'function_call',
      status: 'in_progress',
      name: scripted.name,
      call_id: callId,
      arguments: '',
    };
    this.emit({ type: 'response.output_item.added', response_id: record.id, output_index: 0, item: pending });
    this.emit({ type: 'conversation.item.added', previous_item_id: this.previousOf(record.itemId), item: pending });
    const pieceLength = Math.max(1, Math.ceil(scripted.arguments.length / 3));
    for (let offset = 0; offset < scripted.arguments.length; offset += pieceLength) {
      this.emit({
        type: 'response.function_call_arguments.delta',
        response_id: record.id,
        item_id: record.itemId,
        output_index: 0,
        call_id: callId,
        delta: scripted.arguments.slice(offset, offset + pieceLength),
      });
    }
    this.emit({
      type: 'response.function_call_arguments.done',
      response_id: record.id,
      item_id: record.itemId,
      output_index: 0,
      call_id: callId,
      name: scripted.name,
      arguments: scripted.arguments,
    });
    const item: RealtimeConversationItemFunctionCall = { ...pending, status: 'completed', arguments: scripted.arguments };
    this.emit({ type: 'response.output_item.done', response_id: record.id, output_index: 0, item });
    this.emit({ type: 'conversation.item.done', previous_item_id: this.previousOf(record.itemId), item });
    record.status = 'completed';
    record.doneAtMs = this.sinceConnectMs();
    const done = this.responseObject(record, format, 'completed', [item]);
    done.usage = this.usage(record, scripted.arguments);
    this.emit({ type: 'response.done', response: done });
  }

  private responseObject(
    record: SimulatedResponseRecord,
    format: AudioFormatInfo,
    status: 'in_progress' | 'completed' | 'cancelled',
    output: ConversationItem[],
  ): RealtimeResponse {
    return {
      id: record.id,
      object: 'realtime.response',
      status,
      output,
      conversation_id: this.conversationId,
      output_modalities: ['audio'],
      max_output_tokens: 'inf',
      audio: {
        output: {
          format: format.kind === 'pcmu' ? { type: 'audio/pcmu' } : { type: 'audio/pcm', rate: 24_000 },
          voice: typeof this.sessionObject.audio?.output?.voice === 'string' ? this.sessionObject.audio.output.voice : 'marin',
        },
      },
      metadata: null,
    };
  }

  private usage(record: SimulatedResponseRecord, outputText: string): RealtimeResponseUsage {
    const textOf = (value: string | null | undefined): number => (value ?? '').split(/\s+/).filter((word) => word !== '').length;
    const inputTextTokens = textOf(this.sessionObject.instructions) + textOf(record.instructions) + this.userTextMessages.reduce((sum, message) => sum + textOf(message.text), 0);
    const inputAudioTokens = Math.ceil(this.committedAudioMs / INPUT_AUDIO_MS_PER_TOKEN);
    const outputAudioTokens = Math.ceil((record.audioMsSent[record.itemId] ?? 0) / OUTPUT_AUDIO_MS_PER_TOKEN);
    const outputTextTokens = textOf(outputText);
    const inputTokens = inputTextTokens + inputAudioTokens;
    const outputTokens = outputTextTokens + outputAudioTokens;
    return {
      total_tokens: inputTokens + outputTokens,
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      input_token_details: { text_tokens: inputTextTokens, audio_tokens: inputAudioTokens, cached_tokens: 0 },
      output_token_details: { text_tokens: outputTextTokens, audio_tokens: outputAudioTokens },
    };
  }

  // ---- plumbing ------------------------------------------------------------------------------------------------

  private expire(): void {
    this.expiryTimer = null;
    if (this.isClosed) return;
    this.sendError(errors.sessionExpiredError());
    this.closeSocket(1001, 'session expired');
  }

  private sendError(error: errors.SimulatedRealtimeError): void {
    this.emit({ type: 'error', error });
  }

  private emit(body: ServerEventBody): void {
    if (this.isClosed || this.socket.readyState !== WS_OPEN) return;
    const event = { event_id: this.newId('event'), ...body } as RealtimeServerEvent;
    this.log.push({ direction: 'out', atMs: this.sinceConnectMs(), event: this.settings.logAudio ? event : (elideAudio(event) as unknown as RealtimeServerEvent) });
    this.logger.trace({ type: event.type }, 'simulated realtime event out');
    this.socket.send(JSON.stringify(event));
  }

  private closeSocket(code: number, reason: string): void {
    this.stopTimers();
    if (this.socket.readyState === WS_OPEN) this.socket.close(code, reason);
  }

  private stopTimers(): void {
    if (this.active?.timer != null) this.clock.clearTimeout(this.active.timer);
    if (this.pendingStart !== null) this.clock.clearTimeout(this.pendingStart);
    if (this.expiryTimer !== null) this.clock.clearTimeout(this.expiryTimer);
    this.pendingStart = null;
    this.expiryTimer = null;
  }

  private addItem(item: StoredItem): void {
    this.items.set(item.id, item);
    this.itemOrder.push(item.id);
  }

  private lastItemId(): string | null {
    return this.itemOrder[this.itemOrder.length - 1] ?? null;
  }

  private previousOf(itemId: string): string | null {
    const position = this.itemOrder.indexOf(itemId);
    return position > 0 ? this.itemOrder[position - 1]! : null;
  }

  private sinceConnectMs(): number {
    return this.clock.now() - this.connectedAtMs;
  }

  /** Alphanumeric ids shaped like the real ones (`event_…`, `item_…`, `resp_…`), deterministic per session. */
  private newId(prefix: string): string {
    this.nextIdCounter++;
    return `${prefix}_Sim${this.settings.index.toString(36)}x${this.nextIdCounter.toString(36).padStart(8, '0')}`;
  }
}

function assistantItem(
  id: string,
  status: 'in_progress' | 'completed' | 'incomplete',
  content: RealtimeConversationItemAssistantMessage.Content[],
): RealtimeConversationItemAssistantMessage {
  return { id, object: 'realtime.item', type: 'message', status, role: 'assistant', content };
}

/** 24 kHz PCM16 → the session's output format: PCM16 bytes as they are, or band-limited to 8 kHz and mu-law coded. */
function encodeForOutput(samples24k: Int16Array, format: AudioFormatInfo): Uint8Array {
  if (format.kind === 'pcm') return pcm16ToBytes(samples24k).slice();
  const samples8k = resampleClip(samples24k, PCM_SAMPLE_RATE_HZ, MULAW_SAMPLE_RATE_HZ);
  // Keep exactly duration × 8 samples: the filter tail must not lengthen the item past the audio it represents.
  const exactLength = Math.round((samples24k.length * MULAW_SAMPLE_RATE_HZ) / PCM_SAMPLE_RATE_HZ);
  return encodeMulaw(samples8k.subarray(0, exactLength));
}

/** Replaces base64 audio payloads by their decoded size, for logs of long sessions. */
function elideAudio<T extends object>(event: T): T {
  const record = event as Record<string, unknown>;
  for (const key of ['audio', 'delta'] as const) {
    const value = record[key];
    if (typeof value === 'string' && (record['type'] === 'input_audio_buffer.append' || record['type'] === 'response.output_audio.delta')) {
      return { ...event, [key]: `[${Math.floor((value.length * 3) / 4)} bytes elided]` };
    }
  }
  return event;
}
