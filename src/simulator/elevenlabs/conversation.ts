/**
 * One simulated ElevenLabs conversation: the state machine behind one WebSocket, with a full log (every message in
 * and out, with server-clock times) and the records tests assert on.
 *
 * The client speaks first (`conversation_initiation_client_data`; any other first message starts the conversation
 * with the configured settings, then is handled). The server answers `conversation_initiation_metadata`, starts its
 * pings and speaks the first message. Text that is not a JSON object, or an unknown message type, is answered as the
 * platform does: `error` (invalid_message) and close 1008.
 *
 * The parts: caller turns and VAD (turns.ts), the agent's responses (responses.ts), pings (pings.ts), the
 * initiation's overrides (initiation.ts). They share a `ConversationContext` that this object implements.
 */
import type { Clock, TimerHandle } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { ConversationContext, ResolvedAgent } from './context.js';
import { applyInitiation, configuredSettings } from './initiation.js';
import { ConversationLog } from './log.js';
import { PingKeeper } from './pings.js';
import { ResponseStreamer } from './responses.js';
import { CallerTurns } from './turns.js';
import {
  EVENT_BODY_KEY,
  type CallerTurnRecord,
  type ConversationViolations,
  type EffectiveAgentSettings,
  type ElevenLabsServerEvent,
  type InboundMessage,
  type InitiationRecord,
  type InterruptionRecord,
  type PingRecord,
  type PongRecord,
  type ServerEventBodies,
  type ServerEventType,
  type SimulatedAgentResponse,
  type SimulatedFailure,
  type ToolResultRecord,
} from './types.js';

const WS_OPEN = 1;
/** RFC 6455: a close reason is at most 123 bytes. */
const MAX_CLOSE_REASON_BYTES = 123;
const KNOWN_TYPES = new Set(['pong', 'client_tool_result', 'contextual_update', 'user_message', 'user_activity', 'feedback', 'mcp_tool_approval_result']);

export interface ConversationSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

export interface SimulatedConversationOptions {
  index: number;
  agent: ResolvedAgent;
  clock: Clock;
  logger: Logger;
  /** Keep base64 audio in the log (default true); false logs `<n bytes>` instead. */
  logAudio: boolean;
  /** Connected with a signed URL's `conversation_signature`. */
  signed: boolean;
  /** The subprotocol agreed in the handshake (`convai`), or null. */
  subprotocol: string | null;
}

export class SimulatedConversation extends ConversationLog {
  readonly index: number;
  readonly agentId: string;
  readonly conversationId: string;
  readonly signed: boolean;
  readonly subprotocol: string | null;
  readonly agent: ResolvedAgent;
  readonly violations: ConversationViolations = { invalidMessage: 0, repeatedInitiation: 0, unknownToolResult: 0, unknownPong: 0 };
  readonly contextualUpdates: Array<{ text: string; atMs: number }> = [];
  readonly userMessages: Array<{ text: string; atMs: number }> = [];
  readonly userActivity: number[] = [];
  /** Resolves when the socket has closed, with the code and reason as the server saw them. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The initiation message as received (null until one arrives, or if the client never sent one). */
  initiation: InitiationRecord | null = null;
  /** The settings in force: configured, then as the initiation's overrides and dynamic variables made them. */
  settings: EffectiveAgentSettings;
  /** ms since open at which the metadata was sent (null: not yet, or never — a hang or a refused initiation). */
  metadataAtMs: number | null = null;
  /** The close code the server chose when it ended the conversation (null: the client closed, or still open). */
  serverCloseCode: number | null = null;

  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly connectedAtMs: number;
  private readonly context: ConversationContext;
  private readonly streamer: ResponseStreamer;
  private readonly callerTurns: CallerTurns;
  private readonly pingKeeper: PingKeeper;
  private socket: ConversationSocket | null = null;
  private readonly timers = new Set<TimerHandle>();
  private eventCounter = 0;
  private idCounter = 0;
  private started = false;
  private isClosed = false;
  private resolveClosed!: (value: { code: number; reason: string }) => void;

  constructor(options: SimulatedConversationOptions) {
    super(options.logAudio);
    this.index = options.index;
    this.agent = options.agent;
    this.agentId = options.agent.agentId;
    this.signed = options.signed;
    this.subprotocol = options.subprotocol;
    this.clock = options.clock;
    this.connectedAtMs = options.clock.now();
    this.conversationId = `conv_sim${options.index.toString(36)}${Math.random().toString(36).slice(2, 10).padEnd(8, '0')}`;
    this.logger = options.logger.child({ conversation: this.conversationId });
    this.settings = configuredSettings(options.agent.config);
    this.context = {
      agent: options.agent,
      clock: options.clock,
      logger: this.logger,
      settings: () => this.settings,
      emit: (type, body) => this.emit(type, body),
      nextEventId: () => ++this.eventCounter,
      newId: (prefix) => `${prefix}_sim${this.index.toString(36)}x${(++this.idCounter).toString(36).padStart(6, '0')}`,
      sinceConnectMs: () => this.sinceConnectMs(),
      isClosed: () => this.isClosed,
      fail: (failure) => this.fail(failure),
      terminate: () => this.terminate(),
    };
    this.streamer = new ResponseStreamer(this.context, () => this.callerTurns.turns.length);
    this.callerTurns = new CallerTurns(this.context, this.streamer);
    this.pingKeeper = new PingKeeper(this.context);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get responses(): SimulatedAgentResponse[] {
    return this.streamer.responses;
  }
  get turns(): CallerTurnRecord[] {
    return this.callerTurns.turns;
  }
  get interruptions(): InterruptionRecord[] {
    return this.streamer.interruptions;
  }
  get toolResults(): ToolResultRecord[] {
    return this.streamer.toolResults;
  }
  get pings(): PingRecord[] {
    return this.pingKeeper.pings;
  }
  get pongs(): PongRecord[] {
    return this.pingKeeper.pongs;
  }
  /** Caller audio received: decoded payload bytes, `user_audio_chunk` messages, and ms of audio (audio time). */
  get audioBytesReceived(): number {
    return this.callerTurns.bytesReceived;
  }
  get audioChunksReceived(): number {
    return this.callerTurns.chunksReceived;
  }
  get receivedAudioMs(): number {
    return this.callerTurns.receivedMs;
  }
  /** The last event id taken from the conversation's counter. */
  get lastEventId(): number {
    return this.eventCounter;
  }
  get isOpen(): boolean {
    return !this.isClosed;
  }
  /** The response the caller may be hearing now (playback.ts), if any. */
  get audibleResponse(): SimulatedAgentResponse | null {
    return this.streamer.audibleResponse();
  }

  /** Called by the server once the socket is open. */
  attach(socket: ConversationSocket): void {
    this.socket = socket;
    const { faults, maxDurationMs } = this.agent;
    if (faults.failAfterMs !== undefined) {
      const { afterMs, ...failure } = faults.failAfterMs;
      this.after(afterMs, () => this.fail(failure));
    }
    if (maxDurationMs !== null) {
      this.after(maxDurationMs, () => {
        this.emit('error', { code: 1000, message: 'Conversation exceeded its maximum duration.', error_type: 'max_duration_exceeded' });
        this.closeSocket(1000, 'max duration exceeded');
      });
    }
  }

  /** Called by the server for every text message. */
  receive(text: string): void {
    // Once the server has begun closing, what still arrives is not acted on.
    if (this.isClosed || this.serverCloseCode !== null) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.recordIn(this.sinceConnectMs(), { invalid: text.slice(0, 200) });
      return this.invalidMessage('Invalid message received');
    }
    const message = parsed as InboundMessage;
    const isAudio = typeof message['user_audio_chunk'] === 'string';
    this.recordIn(this.sinceConnectMs(), message);
    if (this.agent.faults.hang === true) return;
    if (!this.started) {
      this.started = true;
      const isInitiation = message['type'] === 'conversation_initiation_client_data';
      if (!this.initiate(isInitiation ? message : null) || isInitiation) return;
    }
    if (isAudio) return this.callerTurns.onAudioChunk(String(message['user_audio_chunk']));
    this.dispatch(message);
  }

  /** Called by the server when the socket has closed (either side). */
  onSocketClosed(code: number, reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.stopTimers();
    this.streamer.abort();
    this.callerTurns.dispose();
    this.logger.debug({ code, reason }, 'simulated elevenlabs conversation closed');
    this.resolveClosed({ code, reason });
  }

  /** Ends the conversation as the platform does on a failure: `error {code, message, error_type}`, then close with the code. */
  fail(failure: SimulatedFailure): void {
    const message = failure.message ?? 'Simulated failure.';
    this.emit('error', { code: failure.code, message, error_type: failure.errorType ?? 'unknown' });
    this.closeSocket(failure.code, message);
  }

  /** Server-side close with a close frame and no error event. */
  close(code = 1000, reason = ''): void {
    this.closeSocket(code, reason);
  }

  /** Drops the TCP connection without a close frame, as a network failure would. */
  terminate(): void {
    this.stopTimers();
    this.socket?.terminate();
  }

  private initiate(message: InboundMessage | null): boolean {
    const system = { system__agent_id: this.agentId, system__conversation_id: this.conversationId };
    const outcome = applyInitiation(this.agent.config, message, this.sinceConnectMs(), system);
    if (message !== null) this.initiation = outcome.record;
    if (!outcome.ok) {
      this.fail(outcome.failure);
      return false;
    }
    this.settings = outcome.settings;
    this.emit('conversation_initiation_metadata', {
      conversation_id: this.conversationId,
      agent_output_audio_format: this.agent.output.name,
      user_input_audio_format: this.agent.input.name,
    });
    this.metadataAtMs = this.sinceConnectMs();
    this.pingKeeper.start();
    this.streamer.startFirstMessage();
    return true;
  }

  private dispatch(message: InboundMessage): void {
    const type = message['type'];
    const atMs = this.sinceConnectMs();
    if (type === 'conversation_initiation_client_data') {
      this.violations.repeatedInitiation++;
      return;
    }
    if (typeof type !== 'string' || !KNOWN_TYPES.has(type)) return this.invalidMessage(`Invalid message received: unknown type ${JSON.stringify(type ?? null)}`);
    switch (type) {
      case 'pong':
        if (!this.pingKeeper.onPong(message)) this.violations.unknownPong++;
        return;
      case 'client_tool_result':
        if (typeof message['tool_call_id'] !== 'string') return this.invalidMessage('Invalid message received: tool_call_id is required');
        if (!this.streamer.onToolResult(message)) this.violations.unknownToolResult++;
        return;
      case 'contextual_update':
        this.contextualUpdates.push({ text: String(message['text'] ?? ''), atMs });
        return;
      case 'user_message':
        this.userMessages.push({ text: String(message['text'] ?? ''), atMs });
        this.streamer.onCallerSpeechStarted(null);
        this.streamer.scheduleAnswer('user_message');
        return;
      case 'user_activity':
        this.userActivity.push(atMs);
        return;
      default:
        return; // feedback, mcp_tool_approval_result: valid, logged, no effect here
    }
  }

  private invalidMessage(message: string): void {
    this.violations.invalidMessage++;
    this.fail({ code: 1008, errorType: 'invalid_message', message });
  }

  private emit<T extends ServerEventType>(type: T, body: ServerEventBodies[T]): void {
    if (this.isClosed || this.socket === null || this.socket.readyState !== WS_OPEN) return;
    const event = { type, [EVENT_BODY_KEY[type]]: body } as unknown as ElevenLabsServerEvent;
    this.recordOut(this.sinceConnectMs(), event);
    this.logger.trace({ type }, 'simulated elevenlabs event out');
    this.socket.send(JSON.stringify(event));
  }

  private closeSocket(code: number, reason: string): void {
    this.stopTimers();
    if (this.socket === null || this.socket.readyState !== WS_OPEN) return;
    this.serverCloseCode = code;
    this.socket.close(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
  }

  private after(delayMs: number, callback: () => void): void {
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      if (!this.isClosed) callback();
    }, delayMs);
    this.timers.add(handle);
  }

  private stopTimers(): void {
    for (const handle of this.timers) this.clock.clearTimeout(handle);
    this.timers.clear();
    this.pingKeeper.stop();
    this.streamer.stopTimers();
  }

  private sinceConnectMs(): number {
    return this.clock.now() - this.connectedAtMs;
  }
}

function truncateUtf8(text: string, maxBytes: number): string {
  let out = text;
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}
