/**
 * One simulated Realtime session: the state machine behind one WebSocket, with a full event log and the bookkeeping
 * tests assert on (turns, responses, truncates, errors, rule violations).
 *
 * It speaks the GA protocol only and enforces the real API's rules, answering a violation with the real error and
 * keeping the session open. Everything timed (audio pacing, latency, expiry) runs on the injected clock; every VAD
 * timestamp is audio time, i.e. ms of audio appended since the session started.
 *
 * This object faces the socket (parsing, dispatch, the log, the observer, close and expiry) and composes the parts
 * that do the work: turn detection (turns.ts), the conversation store (conversation.ts) and the response streamer
 * (responses.ts), which share a `SessionContext` rather than the session itself.
 */
import type { RealtimeErrorEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { Clock, TimerHandle } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { ConversationStore } from './conversation.js';
import { elideAudio } from './elide-audio.js';
import * as errors from './errors.js';
import { McpCalls } from './mcp-calls.js';
import { McpServers } from './mcp-servers.js';
import { ResponseStreamer } from './responses.js';
import { betaShapeOf, defaultSession, mergeSession, turnDetectionPolicy, type SimulatedSessionObject } from './session-config.js';
import type {
  CommittedTurn,
  FunctionCallOutputRecord,
  InboundEvent,
  McpApprovalResponseRecord,
  McpCallRecord,
  McpListingRecord,
  ResponseCreateRequest,
  ServerEventBody,
  SessionContext,
  SessionLogEntry,
  SessionSocket,
  SimulatedResponseRecord,
  SimulatedSessionObserver,
  SimulatedSessionSettings,
  TruncateRecord,
  UserTextMessage,
  ViolationCounters,
} from './session-types.js';
import { TurnDetector } from './turns.js';

// The record types are part of this module's public face (tests and the bench import them from here).
export type * from './session-types.js';

const WS_OPEN = 1;

export class SimulatedSession {
  readonly index: number;
  readonly id: string;
  readonly model: string;
  readonly path: string;
  /** Every event in and out, in order, with session-clock times (audio events only with `logAudioEvents`). */
  readonly log: SessionLogEntry[] = [];
  readonly committedTurns: CommittedTurn[];
  readonly responses: SimulatedResponseRecord[];
  readonly responseCreateRequests: ResponseCreateRequest[];
  readonly functionCallOutputs: FunctionCallOutputRecord[];
  readonly userTextMessages: UserTextMessage[];
  /** `mcp` tool servers listed, `tools/call`s made, and the client's approval answers (mcp-servers.ts, mcp-calls.ts). */
  readonly mcpListings: McpListingRecord[];
  readonly mcpCalls: McpCallRecord[];
  readonly mcpApprovalResponses: McpApprovalResponseRecord[];
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
  private readonly logAudioEvents: boolean;
  private readonly observer: SimulatedSessionObserver | null;
  private sessionObject: SimulatedSessionObject;
  private readonly conversation: ConversationStore;
  private readonly streamer: ResponseStreamer;
  private readonly mcpServers: McpServers;
  private readonly turns: TurnDetector;
  private nextIdCounter = 0;
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
    this.logAudioEvents = settings.logAudioEvents ?? true;
    this.observer = settings.observer ?? null;
    this.connectedAtMs = settings.clock.now();
    this.id = this.newId('sess');
    this.conversationId = this.newId('conv');
    this.logger = settings.logger.child({ realtimeSession: this.id });
    this.sessionObject = defaultSession(this.id, settings.model, Math.floor(Date.now() / 1000));
    const context: SessionContext = {
      settings,
      clock: this.clock,
      logger: this.logger,
      violations: this.violations,
      conversationId: this.conversationId,
      isClosed: () => this.isClosed,
      sessionObject: () => this.sessionObject,
      emit: (body) => this.emit(body),
      sendError: (error) => this.sendError(error),
      terminate: () => this.terminate(),
      newId: (prefix) => this.newId(prefix),
      sinceConnectMs: () => this.sinceConnectMs(),
    };
    this.conversation = new ConversationStore(context);
    this.mcpServers = new McpServers(context, this.conversation);
    const mcpCalls = new McpCalls(context, this.conversation, this.mcpServers);
    this.streamer = new ResponseStreamer(context, this.conversation, mcpCalls);
    this.conversation.onMcpApproval = (approval, pending) => this.streamer.onMcpApproval(approval, pending);
    this.turns = new TurnDetector(context, this.conversation, this.streamer, turnDetectionPolicy(this.sessionObject));
    this.committedTurns = this.conversation.committedTurns;
    this.functionCallOutputs = this.conversation.functionCallOutputs;
    this.userTextMessages = this.conversation.userTextMessages;
    this.mcpListings = this.mcpServers.listings;
    this.mcpCalls = mcpCalls.calls;
    this.mcpApprovalResponses = this.conversation.mcpApprovalResponses;
    this.responses = this.streamer.responses;
    this.responseCreateRequests = this.streamer.responseCreateRequests;
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
    return this.turns.appendedAudioMs;
  }

  /** The response being streamed, if any. */
  get activeResponse(): SimulatedResponseRecord | null {
    return this.streamer.activeRecord;
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
    return this.conversation.truncates();
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
    this.notify('sessionStarted', (observer) => observer.sessionStarted?.(this));
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
    if (this.logAudioEvents || event.type !== 'input_audio_buffer.append') {
      this.log.push({ direction: 'in', atMs: this.sinceConnectMs(), event: this.settings.logAudio ? event : elideAudio(event) });
    }
    if (this.observer?.clientEvent !== undefined) this.notify('clientEvent', (observer) => observer.clientEvent?.(this, event));
    const eventId = typeof event.event_id === 'string' ? event.event_id : null;
    switch (event.type) {
      case 'session.update':
        return this.onSessionUpdate(event, eventId);
      case 'input_audio_buffer.append':
        return this.turns.onAppend(event, eventId);
      case 'input_audio_buffer.commit':
        return this.turns.onCommit(eventId);
      case 'input_audio_buffer.clear':
        return this.turns.onClear();
      case 'conversation.item.create':
        return this.conversation.onItemCreate(event, eventId, logIndex);
      case 'conversation.item.truncate':
        return this.conversation.onTruncate(event, eventId);
      case 'conversation.item.delete':
        return this.conversation.onItemDelete(event, eventId);
      case 'response.create':
        return this.streamer.onResponseCreate(event, eventId, logIndex);
      case 'response.cancel':
        return this.streamer.onResponseCancel(event, eventId);
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
    this.streamer.abort();
    this.mcpServers.close();
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
    this.turns.applyPolicy(turnDetectionPolicy(this.sessionObject));
    this.emit({ type: 'session.updated', session: this.sessionObject });
    this.mcpServers.sync(this.sessionObject);
  }

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
    if (this.logAudioEvents || event.type !== 'response.output_audio.delta') {
      this.log.push({ direction: 'out', atMs: this.sinceConnectMs(), event: this.settings.logAudio ? event : (elideAudio(event) as unknown as RealtimeServerEvent) });
    }
    this.logger.trace({ type: event.type }, 'simulated realtime event out');
    if (this.observer?.serverEvent !== undefined) this.notify('serverEvent', (observer) => observer.serverEvent?.(this, event));
    this.socket.send(JSON.stringify(event));
  }

  /** An observer is a guest: whatever it throws is logged and dropped so the session carries on. */
  private notify(hook: keyof SimulatedSessionObserver, call: (observer: SimulatedSessionObserver) => void): void {
    if (this.observer === null) return;
    try {
      call(this.observer);
    } catch (error) {
      this.logger.debug({ err: error, hook }, 'simulated session observer threw; ignored');
    }
  }

  private closeSocket(code: number, reason: string): void {
    this.stopTimers();
    if (this.socket.readyState === WS_OPEN) this.socket.close(code, reason);
  }

  private stopTimers(): void {
    this.streamer.stopTimers();
    if (this.expiryTimer !== null) this.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
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
