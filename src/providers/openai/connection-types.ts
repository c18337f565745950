/**
 * The contract of one upstream Realtime connection (connection.ts): states, typed faults, handlers and counters.
 * Only the OpenAI provider sees these; the call owner sees the provider-neutral voice port (src/voice/port.ts).
 */
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { VoiceAgentFault, VoiceAgentFaultKind } from '../../voice/port.js';
import type { RealtimeClientEvent, RealtimeServerEvent, RealtimeSessionCreateRequest, SessionUpdateEvent } from './events.js';

export type RealtimeConnectionState = 'connecting' | 'configuring' | 'ready' | 'closed';

/**
 * The port's fault kinds, as this connection produces them: `connect_failed` (TCP/DNS/TLS, `code` the Node error
 * code), `unauthorized` (401/403 to the upgrade), `handshake_failed` (any other non-101, `status` set),
 * `connect_timeout` (handshake, `session.created` or `session.updated` missing in time), `closed` (the server closed
 * the socket), `session_expired` (error `session_expired`, or a close saying so), `protocol` (beta shape refused,
 * our session.update rejected, wrong formats).
 */
export type RealtimeFaultKind = VoiceAgentFaultKind;

/** A port fault plus the close reason the server gave. */
export interface RealtimeFault extends VoiceAgentFault {
  closeReason?: string;
}

/** The `error` of an API `error` event, flattened. `eventId` is the client `event_id` it answers, if any. */
export interface RealtimeApiError {
  type: string;
  code: string | null;
  message: string;
  param: string | null;
  eventId: string | null;
}

export interface RealtimeHandlers {
  /** Once, when `session.updated` confirmed our formats. Held audio and events have been flushed by then. */
  onReady?(session: RealtimeSessionCreateRequest): void;
  /** Every well-formed server event, in arrival order, `session.*` and `error` included. */
  onEvent(event: RealtimeServerEvent): void;
  /** Every API `error` event (after `onEvent` saw it). Most leave the session open. */
  onApiError?(error: RealtimeApiError): void;
  /** At most once; the connection is closed (or closing) when it is called. */
  onFault(fault: RealtimeFault): void;
}

export interface RealtimeConnectionStats {
  /** Well-formed server events received, by type. */
  eventsIn: Record<string, number>;
  /** Client events written to the socket, by type. */
  eventsOut: Record<string, number>;
  /** Server frames skipped: malformed JSON, not an object, no type, unknown type, binary. */
  skippedIn: number;
  /** Decoded audio bytes written in `input_audio_buffer.append`. */
  audioBytesAppended: number;
  /** Audio appended before `ready` and dropped (oldest first) because the hold limit was reached. */
  heldAudioDroppedChunks: number;
  heldAudioDroppedBytes: number;
  /** Server events dropped (oldest first) while no handlers were set. */
  bufferedEventsDropped: number;
  /** Client events (audio included) offered after the connection closed. */
  droppedAfterClose: number;
}

export interface RealtimeConnection {
  readonly state: RealtimeConnectionState;
  /** The session as `session.updated` reported it; null until `ready`. */
  readonly session: RealtimeSessionCreateRequest | null;
  /** Resolves when the socket is gone (never rejects), whoever closed it. */
  readonly closed: Promise<void>;
  /**
   * Sends `input_audio_buffer.append`. Before `ready` the audio is held (bounded by `maxHeldAudioBytes`, oldest
   * dropped). `audio` is raw bytes in the session's input format, or already base64-encoded.
   */
  appendAudio(audio: Uint8Array | string): void;
  /** Sends a client event, assigning `event_id` (`cb_<n>`) when missing; returns the id. Queued before `ready`. */
  send(event: RealtimeClientEvent): string;
  /** Events, readiness and a fault that happened before this call are delivered now, in order. */
  setHandlers(handlers: RealtimeHandlers): void;
  /** Idempotent. Works in any state (a handshake in progress is aborted). Emits no fault. */
  close(): void;
  stats(): RealtimeConnectionStats;
}

export interface RealtimeConnectionOptions {
  /** `ws:`/`wss:` endpoint; any existing query (e.g. Azure `api-version`) is kept. */
  url: string;
  /** Added as the `model` query parameter (for Azure, the deployment name). */
  model: string;
  apiKey: string;
  /** `bearer`: `Authorization: Bearer <key>` (OpenAI). `api-key`: `api-key: <key>` (Azure). */
  authMode: 'bearer' | 'api-key';
  /** Sent once, right after `session.created`. Its audio formats are what `session.updated` must report. */
  sessionUpdate: SessionUpdateEvent;
  logger: Logger;
  clock?: Clock;
  /** Time from dial to `ready`, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Audio held before `ready`, in decoded bytes. Default: 10 s of the session's input format. */
  maxHeldAudioBytes?: number;
  /**
   * Caller audio gathered per `input_audio_buffer.append`, ms (≤ 20: each chunk appended as it comes). Fewer appends
   * cost less CPU; each batch's first frame waits for the rest of it. Default DEFAULT_APPEND_BATCH_MS (net/audio-batch.ts).
   */
  appendBatchMs?: number;
}


export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Audio held before `ready` by default, in seconds of the input format. */
export const DEFAULT_HELD_AUDIO_SECONDS = 10;
/** How long a close handshake may take before the socket is destroyed, in ms. */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 2_000;
/** Server events kept while no handlers are set (a pre-dialled session waiting for its call). */
export const MAX_BUFFERED_SERVER_EVENTS = 1_000;
/** Client event ids remembered so an API error can name the event type it answers. */
export const REMEMBERED_EVENT_IDS = 256;

/** API error codes after which the session is unusable. Everything else is recoverable. */
export const FATAL_ERROR_CODES: Readonly<Record<string, RealtimeFaultKind>> = {
  session_expired: 'session_expired',
  beta_api_shape_disabled: 'protocol',
};

export const PCM16_24KHZ_BYTES_PER_SECOND = 48_000;
export const G711_8KHZ_BYTES_PER_SECOND = 8_000;

/** Input audio bytes per second of the session `sessionUpdate` asks for (sizes the pre-ready hold). */
export function bytesPerSecondOf(sessionUpdate: SessionUpdateEvent): number {
  const session = sessionUpdate.session;
  const format = session.type === 'realtime' ? session.audio?.input?.format : undefined;
  return format?.type === 'audio/pcmu' || format?.type === 'audio/pcma' ? G711_8KHZ_BYTES_PER_SECOND : PCM16_24KHZ_BYTES_PER_SECOND;
}
