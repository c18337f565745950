/**
 * The upstream OpenAI Realtime connection of one call: dial, configure, then a typed event pipe.
 *
 * Lifecycle: `connecting` (WebSocket handshake) → `configuring` (wait `session.created`, send our `session.update`,
 * wait `session.updated` and check it reports the audio formats we asked for) → `ready` → `closed`.
 * Nothing the caller sends reaches the socket before `ready`: audio and events are held in call order and flushed
 * on `ready`, because audio appended before the format is set would be read as the server's default format.
 *
 * Failures that end the connection are reported once as a typed `RealtimeFault`; API `error` events that leave the
 * session usable are not faults (they are logged and passed to `onApiError`). A `close()` we asked for reports nothing.
 */
import { Buffer } from 'node:buffer';
import { WebSocket, type RawData } from 'ws';
import type { IncomingMessage } from 'node:http';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import {
  isRealtimeSession,
  parseServerEvent,
  type RealtimeClientEvent,
  type RealtimeErrorEvent,
  type RealtimeServerEvent,
  type RealtimeSessionCreateRequest,
  type SessionUpdateEvent,
  type SessionUpdatedEvent,
} from './events.js';
import { describeFormat, formatMatches } from './session-config.js';

export type RealtimeConnectionState = 'connecting' | 'configuring' | 'ready' | 'closed';

export type RealtimeFaultKind =
  /** TCP/DNS/TLS failure before any HTTP answer (`code` is the Node error code, e.g. `ECONNREFUSED`). */
  | 'connect_failed'
  /** HTTP 401 or 403 to the WebSocket upgrade: the key is wrong or lacks access. */
  | 'unauthorized'
  /** Any other non-101 HTTP answer to the upgrade (`status` set). */
  | 'handshake_failed'
  /** Not `ready` within `connectTimeoutMs` (handshake, `session.created` or `session.updated` missing). */
  | 'connect_timeout'
  /** The server closed the socket (`closeCode`, `closeReason` set). */
  | 'closed'
  /** The session hit its maximum lifetime (error `session_expired`, or a close saying so). */
  | 'session_expired'
  /** The server speaks something we cannot use: beta shape refused, our session.update rejected, wrong formats. */
  | 'protocol';

export interface RealtimeFault {
  kind: RealtimeFaultKind;
  /** Log-safe, human-readable. */
  message: string;
  /** HTTP status of a failed upgrade. */
  status?: number;
  /** Machine code: Node error code (connect_failed) or API error code (session_expired, protocol). */
  code?: string;
  /** WebSocket close code, when the fault came from a close frame. */
  closeCode?: number;
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
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Audio held before `ready` by default, in seconds of the input format. */
export const DEFAULT_HELD_AUDIO_SECONDS = 10;
/** How long a close handshake may take before the socket is destroyed, in ms. */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 2_000;
/** Server events kept while no handlers are set (a pre-dialled session waiting for its call). */
export const MAX_BUFFERED_SERVER_EVENTS = 1_000;
/** Client event ids remembered so an API error can name the event type it answers. */
const REMEMBERED_EVENT_IDS = 256;

/** API error codes after which the session is unusable. Everything else is recoverable. */
const FATAL_ERROR_CODES: Readonly<Record<string, RealtimeFaultKind>> = {
  session_expired: 'session_expired',
  beta_api_shape_disabled: 'protocol',
};

const PCM16_24KHZ_BYTES_PER_SECOND = 48_000;
const G711_8KHZ_BYTES_PER_SECOND = 8_000;

/** Dials at once. Throws only for a malformed `url` (a configuration bug); every other failure is a fault. */
export function openRealtimeConnection(options: RealtimeConnectionOptions): RealtimeConnection {
  return new UpstreamConnection(options);
}

/** The dial URL: `url` with `model` set as a query parameter, other parameters kept. */
export function realtimeDialUrl(url: string, model: string): URL {
  const dialUrl = new URL(url);
  dialUrl.searchParams.set('model', model);
  return dialUrl;
}

/** A URL safe to log: no userinfo, and values of credential-looking query parameters replaced. */
export function redactUrlForLog(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  for (const key of [...copy.searchParams.keys()]) {
    if (/key|token|secret|sig|auth|pass/i.test(key)) copy.searchParams.set(key, 'REDACTED');
  }
  return copy.href;
}

/** Decoded size of base64 text, in bytes, without decoding it. */
export function base64DecodedLength(base64: string): number {
  let padding = 0;
  if (base64.endsWith('==')) padding = 2;
  else if (base64.endsWith('=')) padding = 1;
  return Math.max(0, Math.floor((base64.length * 3) / 4) - padding);
}

function bytesPerSecondOf(sessionUpdate: SessionUpdateEvent): number {
  const session = sessionUpdate.session;
  const format = session.type === 'realtime' ? session.audio?.input?.format : undefined;
  return format?.type === 'audio/pcmu' || format?.type === 'audio/pcma' ? G711_8KHZ_BYTES_PER_SECOND : PCM16_24KHZ_BYTES_PER_SECOND;
}

function rawDataToText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

type Delivery =
  | { kind: 'event'; event: RealtimeServerEvent }
  | { kind: 'ready'; session: RealtimeSessionCreateRequest }
  | { kind: 'fault'; fault: RealtimeFault };

interface PendingClientEvent {
  event: RealtimeClientEvent;
  /** Decoded audio bytes for an append, 0 otherwise: the hold limit counts audio only. */
  audioBytes: number;
}

class UpstreamConnection implements RealtimeConnection {
  private currentState: RealtimeConnectionState = 'connecting';
  private currentSession: RealtimeSessionCreateRequest | null = null;
  readonly closed: Promise<void>;

  private readonly socket: WebSocket;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly sessionUpdate: SessionUpdateEvent;
  private readonly maxHeldAudioBytes: number;
  private readonly dialStartedMs: number;

  private handlers: RealtimeHandlers | null = null;
  private readonly deliveries: Delivery[] = [];
  private readonly pending: PendingClientEvent[] = [];
  private heldAudioBytes = 0;

  private nextEventNumber = 1;
  private sessionUpdateEventId: string | null = null;
  private readonly recentEventTypes = new Map<string, string>();

  private faultEmitted = false;
  private closeRequested = false;
  private connectTimer: TimerHandle | null;
  private closeTimer: TimerHandle | null = null;

  private readonly eventsIn = new Map<string, number>();
  private readonly eventsOut = new Map<string, number>();
  private skippedIn = 0;
  private audioBytesAppended = 0;
  private heldAudioDroppedChunks = 0;
  private heldAudioDroppedBytes = 0;
  private bufferedEventsDropped = 0;
  private droppedAfterClose = 0;
  /** Skip reasons already logged at warn (per unknown type, or per parse error code); repeats go to debug. */
  private readonly skipReasonsLogged = new Set<string>();

  constructor(options: RealtimeConnectionOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger.child({ component: 'realtime' });
    this.sessionUpdate = options.sessionUpdate;
    this.maxHeldAudioBytes = options.maxHeldAudioBytes ?? DEFAULT_HELD_AUDIO_SECONDS * bytesPerSecondOf(options.sessionUpdate);
    this.dialStartedMs = this.clock.now();

    const dialUrl = realtimeDialUrl(options.url, options.model);
    const headers: Record<string, string> =
      options.authMode === 'bearer' ? { Authorization: `Bearer ${options.apiKey}` } : { 'api-key': options.apiKey };
    this.logger.info({ url: redactUrlForLog(dialUrl), authMode: options.authMode }, 'dialing realtime');

    // Compression is off: base64 audio gains little from deflate and would cost CPU on every frame of every call.
    this.socket = new WebSocket(dialUrl, { headers, perMessageDeflate: false });
    this.closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));

    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.connectTimer = this.clock.setTimeout(() => this.onConnectTimeout(connectTimeoutMs), connectTimeoutMs);

    this.socket.on('open', () => this.onOpen());
    this.socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.socket.on('unexpected-response', (_request, response) => this.onUnexpectedResponse(response));
    this.socket.on('error', (error) => this.onSocketError(error));
    this.socket.on('close', (code, reason) => this.onSocketClose(code, reason.toString('utf8')));
  }

  get state(): RealtimeConnectionState {
    return this.currentState;
  }

  get session(): RealtimeSessionCreateRequest | null {
    return this.currentSession;
  }

  appendAudio(audio: Uint8Array | string): void {
    const base64 = typeof audio === 'string' ? audio : Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength).toString('base64');
    const audioBytes = typeof audio === 'string' ? base64DecodedLength(audio) : audio.byteLength;
    const event: RealtimeClientEvent = { type: 'input_audio_buffer.append', audio: base64, event_id: this.newEventId() };
    if (this.currentState === 'ready') {
      this.transmit(event, audioBytes);
    } else if (this.currentState === 'closed') {
      this.droppedAfterClose++;
    } else {
      this.pending.push({ event, audioBytes });
      this.heldAudioBytes += audioBytes;
      this.enforceHeldAudioLimit();
    }
  }

  send(event: RealtimeClientEvent): string {
    const eventId = event.event_id ?? this.newEventId();
    const stamped: RealtimeClientEvent = event.event_id === undefined ? { ...event, event_id: eventId } : event;
    if (this.currentState === 'ready') {
      this.transmit(stamped, 0);
    } else if (this.currentState === 'closed') {
      this.droppedAfterClose++;
      this.logger.debug({ type: event.type, eventId }, 'client event dropped: connection closed');
    } else {
      this.pending.push({ event: stamped, audioBytes: 0 });
    }
    return eventId;
  }

  setHandlers(handlers: RealtimeHandlers): void {
    this.handlers = handlers;
    while (this.deliveries.length > 0 && this.handlers !== null && !this.closeRequested) {
      this.dispatch(this.deliveries.shift()!);
    }
  }

  close(): void {
    if (this.closeRequested) return;
    this.closeRequested = true;
    this.deliveries.length = 0;
    if (this.currentState !== 'closed') {
      this.logger.info({ state: this.currentState, ...this.summary() }, 'closing realtime connection');
      this.enterClosed();
    }
    this.shutDownSocket();
  }

  stats(): RealtimeConnectionStats {
    return {
      eventsIn: Object.fromEntries(this.eventsIn),
      eventsOut: Object.fromEntries(this.eventsOut),
      skippedIn: this.skippedIn,
      audioBytesAppended: this.audioBytesAppended,
      heldAudioDroppedChunks: this.heldAudioDroppedChunks,
      heldAudioDroppedBytes: this.heldAudioDroppedBytes,
      bufferedEventsDropped: this.bufferedEventsDropped,
      droppedAfterClose: this.droppedAfterClose,
    };
  }

  private newEventId(): string {
    return `cb_${this.nextEventNumber++}`;
  }

  private onOpen(): void {
    if (this.currentState !== 'connecting') return;
    this.currentState = 'configuring';
    this.logger.debug({ elapsedMs: Math.round(this.clock.now() - this.dialStartedMs) }, 'realtime socket open, awaiting session.created');
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.currentState === 'closed') return;
    if (isBinary) {
      this.skip('binary', 'BINARY_FRAME', 'binary frame');
      return;
    }
    const parsed = parseServerEvent(rawDataToText(data));
    if (!parsed.ok) {
      this.skip(parsed.code === 'UNKNOWN_EVENT' ? `type:${parsed.detail}` : parsed.code, parsed.code, parsed.detail);
      return;
    }
    const event = parsed.event;
    this.eventsIn.set(event.type, (this.eventsIn.get(event.type) ?? 0) + 1);

    switch (event.type) {
      case 'session.created':
        this.deliver({ kind: 'event', event });
        this.onSessionCreated();
        return;
      case 'session.updated':
        this.onSessionUpdated(event);
        return;
      case 'error':
        this.deliver({ kind: 'event', event });
        this.onApiErrorEvent(event);
        return;
      default:
        this.deliver({ kind: 'event', event });
    }
  }

  private skip(logKey: string, code: string, detail: string): void {
    this.skippedIn++;
    const first = !this.skipReasonsLogged.has(logKey);
    if (first) this.skipReasonsLogged.add(logKey);
    this.logger[first ? 'warn' : 'debug']({ code, detail }, 'skipped realtime server frame');
  }

  private onSessionCreated(): void {
    if (this.currentState !== 'configuring' || this.sessionUpdateEventId !== null) return;
    const eventId = this.sessionUpdate.event_id ?? this.newEventId();
    this.sessionUpdateEventId = eventId;
    this.transmit({ ...this.sessionUpdate, event_id: eventId }, 0);
  }

  private onSessionUpdated(event: SessionUpdatedEvent): void {
    if (this.currentState !== 'configuring' || this.sessionUpdateEventId === null) {
      // A later update (the integrator's own session.update) or an unsolicited one: just pass it on.
      if (this.currentState === 'ready' && isRealtimeSession(event.session)) this.currentSession = event.session;
      this.deliver({ kind: 'event', event });
      return;
    }
    const mismatch = this.formatMismatch(event.session);
    if (mismatch !== null) {
      this.fail({ kind: 'protocol', code: 'format_mismatch', message: mismatch });
      return;
    }
    const session = event.session as RealtimeSessionCreateRequest;
    this.currentState = 'ready';
    this.currentSession = session;
    this.clearConnectTimer();
    const heldEvents = this.pending.length;
    const heldAudioBytes = this.heldAudioBytes;
    for (const entry of this.pending.splice(0)) this.transmit(entry.event, entry.audioBytes);
    this.heldAudioBytes = 0;
    this.logger.info(
      { elapsedMs: Math.round(this.clock.now() - this.dialStartedMs), sessionId: (session as { id?: unknown }).id, heldEvents, heldAudioBytes },
      'realtime session ready',
    );
    this.deliver({ kind: 'event', event });
    this.deliver({ kind: 'ready', session });
  }

  /** Null when the reported session has the formats we asked for; otherwise a log-safe description. */
  private formatMismatch(reported: SessionUpdatedEvent['session']): string | null {
    if (!isRealtimeSession(reported)) return `session.updated reports a "${String(reported.type)}" session, expected "realtime"`;
    const requested = this.sessionUpdate.session;
    if (requested.type !== 'realtime') return null;
    for (const direction of ['input', 'output'] as const) {
      const expected = requested.audio?.[direction]?.format;
      if (expected === undefined) continue;
      const actual = reported.audio?.[direction]?.format;
      if (!formatMatches(actual, expected)) {
        return `session.updated reports ${direction} format ${describeFormat(actual)}, expected ${describeFormat(expected)}`;
      }
    }
    return null;
  }

  private onApiErrorEvent(event: RealtimeErrorEvent): void {
    const apiError = toApiError(event);
    const fatalKind = apiError.code === null ? undefined : FATAL_ERROR_CODES[apiError.code];
    const answersSessionUpdate = apiError.eventId !== null && apiError.eventId === this.sessionUpdateEventId && this.currentState === 'configuring';
    const logFields = {
      errorType: apiError.type,
      code: apiError.code,
      param: apiError.param,
      eventId: apiError.eventId,
      clientEventType: apiError.eventId === null ? undefined : this.recentEventTypes.get(apiError.eventId),
      apiMessage: apiError.message,
    };
    if (fatalKind !== undefined) {
      this.logger.error(logFields, 'realtime API error ends the session');
      this.fail({ kind: fatalKind, code: apiError.code!, message: apiError.message || `API error ${apiError.code}` });
    } else if (answersSessionUpdate) {
      this.logger.error(logFields, 'realtime API rejected session.update');
      this.fail({ kind: 'protocol', code: apiError.code ?? 'session_update_rejected', message: `session.update rejected: ${apiError.message}` });
    } else {
      this.logger.warn(logFields, 'realtime API error (session continues)');
    }
  }

  private onUnexpectedResponse(response: IncomingMessage): void {
    const status = response.statusCode ?? 0;
    // The body is not read: OpenAI's 401 body quotes part of the key.
    response.resume();
    const kind: RealtimeFaultKind = status === 401 || status === 403 ? 'unauthorized' : 'handshake_failed';
    this.fail({ kind, status, message: `upgrade answered HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}` });
  }

  private onSocketError(error: Error): void {
    if (this.currentState === 'connecting' && !this.closeRequested && !this.faultEmitted) {
      const code = (error as NodeJS.ErrnoException).code;
      this.fail({ kind: 'connect_failed', message: error.message, ...(code === undefined ? {} : { code }) });
      return;
    }
    // After the handshake a socket error is always followed by 'close', which reports it.
    this.logger.debug({ err: error.message }, 'realtime socket error');
  }

  private onSocketClose(closeCode: number, closeReason: string): void {
    this.clearConnectTimer();
    if (this.closeTimer !== null) {
      this.clock.clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    if (!this.closeRequested && !this.faultEmitted) {
      const expired = closeCode === 1001 && /expire/i.test(closeReason);
      this.fail({
        kind: expired ? 'session_expired' : 'closed',
        message: `server closed the socket (${closeCode}${closeReason ? ` ${closeReason}` : ''}) while ${this.currentState}`,
        closeCode,
        closeReason,
      });
    }
    this.enterClosed();
    this.logger.debug({ closeCode, closeReason }, 'realtime socket closed');
  }

  private onConnectTimeout(connectTimeoutMs: number): void {
    this.connectTimer = null;
    const waitingFor =
      this.currentState === 'connecting' ? 'WebSocket handshake' : this.sessionUpdateEventId === null ? 'session.created' : 'session.updated';
    this.fail({ kind: 'connect_timeout', message: `no ${waitingFor} within ${connectTimeoutMs} ms` });
  }

  /** Reports `fault` once, then closes. Nothing is reported after a close we asked for. */
  private fail(fault: RealtimeFault): void {
    if (this.faultEmitted || this.closeRequested) return;
    this.faultEmitted = true;
    this.logger.warn({ fault, state: this.currentState, ...this.summary() }, 'realtime connection fault');
    this.enterClosed();
    this.shutDownSocket();
    this.deliver({ kind: 'fault', fault });
  }

  private enterClosed(): void {
    this.currentState = 'closed';
    this.clearConnectTimer();
    this.droppedAfterClose += this.pending.length;
    this.pending.length = 0;
    this.heldAudioBytes = 0;
  }

  private shutDownSocket(): void {
    const socket = this.socket;
    if (socket.readyState === WebSocket.CONNECTING) {
      // Aborts the upgrade request and destroys its TCP socket: nothing is left half-open upstream.
      socket.terminate();
      return;
    }
    if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'client closing');
    if (socket.readyState !== WebSocket.CLOSED && this.closeTimer === null) {
      this.closeTimer = this.clock.setTimeout(() => {
        this.closeTimer = null;
        socket.terminate();
      }, CLOSE_HANDSHAKE_TIMEOUT_MS);
    }
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) {
      this.clock.clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
  }

  private transmit(event: RealtimeClientEvent, audioBytes: number): void {
    if (this.socket.readyState !== WebSocket.OPEN) {
      this.droppedAfterClose++;
      return;
    }
    this.socket.send(serializeClientEvent(event));
    this.eventsOut.set(event.type, (this.eventsOut.get(event.type) ?? 0) + 1);
    this.audioBytesAppended += audioBytes;
    if (audioBytes === 0 && event.event_id !== undefined) {
      this.recentEventTypes.set(event.event_id, event.type);
      if (this.recentEventTypes.size > REMEMBERED_EVENT_IDS) {
        this.recentEventTypes.delete(this.recentEventTypes.keys().next().value!);
      }
    }
  }

  private enforceHeldAudioLimit(): void {
    while (this.heldAudioBytes > this.maxHeldAudioBytes) {
      const index = this.pending.findIndex((entry) => entry.audioBytes > 0);
      if (index === -1) break;
      const [dropped] = this.pending.splice(index, 1);
      this.heldAudioBytes -= dropped!.audioBytes;
      this.heldAudioDroppedBytes += dropped!.audioBytes;
      if (this.heldAudioDroppedChunks++ === 0) {
        this.logger.warn(
          { maxHeldAudioBytes: this.maxHeldAudioBytes, state: this.currentState },
          'upstream not ready: dropping the oldest held caller audio (logged once; see stats)',
        );
      }
    }
  }

  private deliver(delivery: Delivery): void {
    if (this.handlers !== null) {
      this.dispatch(delivery);
      return;
    }
    this.deliveries.push(delivery);
    if (this.deliveries.length > MAX_BUFFERED_SERVER_EVENTS) {
      const index = this.deliveries.findIndex((entry) => entry.kind === 'event');
      if (index !== -1) {
        this.deliveries.splice(index, 1);
        if (this.bufferedEventsDropped++ === 0) this.logger.warn({ limit: MAX_BUFFERED_SERVER_EVENTS }, 'no handlers: dropping oldest buffered server events');
      }
    }
  }

  /** Calls one handler. A throwing handler is logged, never allowed to unwind into the socket's event loop. */
  private dispatch(delivery: Delivery): void {
    const handlers = this.handlers;
    if (handlers === null || this.closeRequested) return;
    try {
      switch (delivery.kind) {
        case 'event':
          handlers.onEvent(delivery.event);
          if (delivery.event.type === 'error') handlers.onApiError?.(toApiError(delivery.event));
          return;
        case 'ready':
          handlers.onReady?.(delivery.session);
          return;
        case 'fault':
          handlers.onFault(delivery.fault);
          return;
      }
    } catch (error) {
      this.logger.error({ err: error, delivery: delivery.kind }, 'realtime handler threw');
    }
  }

  private summary(): Record<string, unknown> {
    return {
      eventsIn: [...this.eventsIn.values()].reduce((sum, count) => sum + count, 0),
      eventsOut: [...this.eventsOut.values()].reduce((sum, count) => sum + count, 0),
      audioBytesAppended: this.audioBytesAppended,
      heldAudioDroppedBytes: this.heldAudioDroppedBytes,
      skippedIn: this.skippedIn,
    };
  }
}

/** Flattens an error event, tolerating a malformed body: the envelope was checked, the payload was not. */
function toApiError(event: RealtimeErrorEvent): RealtimeApiError {
  const body: Partial<RealtimeErrorEvent['error']> = typeof event.error === 'object' && event.error !== null ? event.error : {};
  return {
    type: typeof body.type === 'string' ? body.type : 'unknown',
    code: typeof body.code === 'string' ? body.code : null,
    message: typeof body.message === 'string' ? body.message : '',
    param: typeof body.param === 'string' ? body.param : null,
    eventId: typeof body.event_id === 'string' ? body.event_id : null,
  };
}

/**
 * JSON for a client event. Audio appends (50 a second per call, each a ~1.3 KB base64 string) are built by
 * concatenation: base64 and our `cb_<n>` ids never need escaping, and JSON.stringify would scan every character.
 */
export function serializeClientEvent(event: RealtimeClientEvent): string {
  if (event.type === 'input_audio_buffer.append' && event.event_id !== undefined && /^[\w.-]*$/.test(event.event_id)) {
    return `{"type":"input_audio_buffer.append","audio":"${event.audio}","event_id":"${event.event_id}"}`;
  }
  return JSON.stringify(event);
}
