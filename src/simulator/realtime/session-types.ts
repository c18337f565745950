/**
 * The simulated session's public records (what tests and benchmarks read back), its settings and observer, and the
 * internal contract its parts (turns, conversation, responses) share with the socket-facing session.
 */
import type { RealtimeMcpListTools, RealtimeMcpToolCall, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { SimulatedRealtimeError } from './errors.js';
import type { ReplySpec, ScriptedResponse } from './replies.js';
import type { SimulatedSession } from './session.js';
import type { SimulatedSessionObject } from './session-config.js';

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
  /**
   * Ordinal among this session's responses, from 0. Responses take `script` entries in order (so `script[index]`),
   * except one the server starts to carry out an approved MCP call, which takes none.
   */
  index: number;
  trigger: 'vad' | 'client';
  kind: 'audio' | 'function_call' | 'mcp_call' | 'mcp_approval_request';
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

/** One listing of an `mcp` tool's server, started by the `session.update` that configured (or changed) it. */
export interface McpListingRecord {
  serverLabel: string;
  itemId: string;
  status: 'in_progress' | 'completed' | 'failed';
  /** As in the `mcp_list_tools` item: filtered by `allowed_tools`. */
  tools: RealtimeMcpListTools.Tool[];
  error: string | null;
  atMs: number;
}

/** One `tools/call` the session made (or refused to make: an unknown server or tool fails without a request). */
export interface McpCallRecord {
  responseId: string;
  itemId: string;
  serverLabel: string;
  name: string;
  /** JSON text, as the model wrote it. */
  arguments: string;
  approvalRequestId: string | null;
  status: 'in_progress' | 'completed' | 'failed' | 'cancelled';
  output: string | null;
  error: RealtimeMcpToolCall['error'];
  atMs: number;
}

export interface McpApprovalResponseRecord {
  itemId: string;
  approvalRequestId: string;
  approve: boolean;
  reason: string | null;
  /** Whether an `mcp_approval_request` with this id had been sent in this session (and not answered yet). */
  knownRequest: boolean;
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

/**
 * Watches sessions without touching their state: benchmarks time events as they happen instead of patching the
 * session's arrays. Called synchronously on the session's own path, so keep it cheap; whatever it throws is caught
 * and logged at debug, never allowed to break the session.
 */
export interface SimulatedSessionObserver {
  /** A new session, before it sends anything. */
  sessionStarted?(session: SimulatedSession): void;
  /**
   * A client event right after it is parsed, before the session acts on it (audio appends included). Not called for
   * frames that are not a JSON object: those never become events.
   */
  clientEvent?(session: SimulatedSession, event: InboundEvent): void;
  /** A server event right before it goes on the socket, `event_id` stamped (audio deltas included). */
  serverEvent?(session: SimulatedSession, event: RealtimeServerEvent): void;
}

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
  /**
   * False keeps `input_audio_buffer.append` and `response.output_audio.delta` out of `log` altogether (default
   * true), so a session's memory stays flat however long it streams; observers still see them.
   */
  logAudioEvents?: boolean;
  observer?: SimulatedSessionObserver | null;
  logger: Logger;
}

/**
 * What the session lends its parts: identity, clock, settings and the one way out to the socket. Internal to the
 * simulator; the parts never hold the session itself, so none of them can reach around another.
 */
export interface SessionContext {
  readonly settings: SimulatedSessionSettings;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly violations: ViolationCounters;
  readonly conversationId: string;
  isClosed(): boolean;
  /** The current session object (replaced, not mutated, by every `session.update`). */
  sessionObject(): SimulatedSessionObject;
  emit(body: ServerEventBody): void;
  sendError(error: SimulatedRealtimeError): void;
  /** Drops the connection without a close frame (the mid-response fault). */
  terminate(): void;
  newId(prefix: string): string;
  sinceConnectMs(): number;
}
