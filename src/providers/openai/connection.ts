/**
 * The upstream OpenAI Realtime connection of one call: dial, configure, then a typed event pipe.
 *
 * Lifecycle: `connecting` (WebSocket handshake) → `configuring` (wait `session.created`, send our `session.update`,
 * wait `session.updated` and check it reports the audio formats we asked for) → `ready` → `closed`.
 * Nothing the caller sends reaches the socket before `ready`: audio and events are held in call order and flushed
 * on `ready`, because audio appended before the format is set would be read as the server's default format.
 *
 * What it sends (event ids, caller audio in batches, the pre-ready hold, outbound counters) is client-events.ts's.
 *
 * Failures that end the connection are reported once as a typed `RealtimeFault`; API `error` events that leave the
 * session usable are logged and passed to `onApiError`. A `close()` we asked for reports nothing.
 */
import { WebSocket, type RawData } from 'ws';
import type { IncomingMessage } from 'node:http';
import { systemClock, type Clock, type TimerHandle } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { batchBytesFor, DEFAULT_APPEND_BATCH_MS } from '../../net/audio-batch.js';
import { GuardedHandlers, HeldDeliveries, OncePerKeyLog, rawDataToText, shutDownSocket } from '../../net/socket-plumbing.js';
import {
  bytesPerSecondOf,
  CLOSE_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HELD_AUDIO_SECONDS,
  MAX_BUFFERED_SERVER_EVENTS,
  type RealtimeConnection,
  type RealtimeConnectionOptions,
  type RealtimeConnectionState,
  type RealtimeConnectionStats,
  type RealtimeFault,
  type RealtimeFaultKind,
  type RealtimeHandlers,
} from './connection-types.js';
import { ClientEvents } from './client-events.js';
import { classifyApiError, realtimeDialUrl, redactUrlForLog, toApiError } from './wire.js';
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
import { reportedFormatMismatch } from './session-config.js';

export * from './connection-types.js';
export { base64DecodedLength, realtimeDialUrl, redactUrlForLog, serializeClientEvent } from './wire.js';

/** Dials at once. Throws only for a malformed `url` (a configuration bug); every other failure is a fault. */
export function openRealtimeConnection(options: RealtimeConnectionOptions): RealtimeConnection {
  return new UpstreamConnection(options);
}

type Delivery =
  | { kind: 'event'; event: RealtimeServerEvent }
  | { kind: 'ready'; session: RealtimeSessionCreateRequest }
  | { kind: 'fault'; fault: RealtimeFault };

class UpstreamConnection implements RealtimeConnection {
  private currentState: RealtimeConnectionState = 'connecting';
  private currentSession: RealtimeSessionCreateRequest | null = null;
  readonly closed: Promise<void>;

  private readonly socket: WebSocket;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly sessionUpdate: SessionUpdateEvent;
  private readonly dialStartedMs: number;

  private handlers: RealtimeHandlers | null = null;
  private readonly held: HeldDeliveries<Delivery>;
  private readonly guard: GuardedHandlers;
  /** Everything this connection sends (ids, batching, the pre-ready hold, outbound counters). */
  private readonly out: ClientEvents;

  private sessionUpdateEventId: string | null = null;

  private faultEmitted = false;
  private closeRequested = false;
  private connectTimer: TimerHandle | null;
  private closeTimer: TimerHandle | null = null;

  private readonly eventsIn = new Map<string, number>();
  private skippedIn = 0;
  private bufferedEventsDropped = 0;
  /** Skip reasons logged at warn once (per unknown type, or per parse error code); repeats go to debug. */
  private readonly skipLog = new OncePerKeyLog(() => this.logger);

  constructor(options: RealtimeConnectionOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger.child({ component: 'realtime' });
    this.sessionUpdate = options.sessionUpdate;
    this.dialStartedMs = this.clock.now();
    this.guard = new GuardedHandlers(() => this.logger, 'realtime handler threw');
    this.held = new HeldDeliveries<Delivery>({
      limit: MAX_BUFFERED_SERVER_EVENTS,
      // Keep the latest state; readiness and the fault are never dropped.
      drop: 'oldest',
      droppable: (delivery) => delivery.kind === 'event',
      onDrop: () => {
        if (this.bufferedEventsDropped++ === 0) this.logger.warn({ limit: MAX_BUFFERED_SERVER_EVENTS }, 'no handlers: dropping oldest buffered server events');
      },
    });

    const dialUrl = realtimeDialUrl(options.url, options.model);
    const headers: Record<string, string> =
      options.authMode === 'bearer' ? { Authorization: `Bearer ${options.apiKey}` } : { 'api-key': options.apiKey };
    this.logger.info({ url: redactUrlForLog(dialUrl), authMode: options.authMode }, 'dialing realtime');

    // Compression is off: base64 audio gains little from deflate and would cost CPU on every frame of every call.
    this.socket = new WebSocket(dialUrl, { headers, perMessageDeflate: false });
    this.closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    const bytesPerSecond = bytesPerSecondOf(options.sessionUpdate);
    this.out = new ClientEvents({
      socket: this.socket,
      state: () => this.currentState,
      logger: this.logger,
      maxHeldAudioBytes: options.maxHeldAudioBytes ?? DEFAULT_HELD_AUDIO_SECONDS * bytesPerSecond,
      batchBytes: batchBytesFor(options.appendBatchMs ?? DEFAULT_APPEND_BATCH_MS, bytesPerSecond),
    });

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
    this.out.appendAudio(audio);
  }

  send(event: RealtimeClientEvent): string {
    return this.out.send(event);
  }

  setHandlers(handlers: RealtimeHandlers): void {
    this.handlers = handlers;
    this.held.attach((delivery) => this.dispatch(delivery));
  }

  close(): void {
    if (this.closeRequested) return;
    this.out.flushBatch(); // the caller's last words go before the close frame
    this.closeRequested = true;
    this.held.discard();
    if (this.currentState !== 'closed') {
      this.logger.info({ state: this.currentState, ...this.summary() }, 'closing realtime connection');
      this.enterClosed();
    }
    this.shutDownSocket();
  }

  stats(): RealtimeConnectionStats {
    return {
      eventsIn: Object.fromEntries(this.eventsIn),
      eventsOut: Object.fromEntries(this.out.eventsOut),
      skippedIn: this.skippedIn,
      audioBytesAppended: this.out.audioBytesAppended,
      heldAudioDroppedChunks: this.out.heldAudioDroppedChunks,
      heldAudioDroppedBytes: this.out.heldAudioDroppedBytes,
      bufferedEventsDropped: this.bufferedEventsDropped,
      droppedAfterClose: this.out.droppedAfterClose,
    };
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
        this.held.deliver({ kind: 'event', event });
        this.onSessionCreated();
        return;
      case 'session.updated':
        this.onSessionUpdated(event);
        return;
      case 'error':
        this.held.deliver({ kind: 'event', event });
        this.onApiErrorEvent(event);
        return;
      default:
        this.held.deliver({ kind: 'event', event });
    }
  }

  private skip(logKey: string, code: string, detail: string): void {
    this.skippedIn++;
    this.skipLog.log(logKey, { code, detail }, 'skipped realtime server frame');
  }

  private onSessionCreated(): void {
    if (this.currentState !== 'configuring' || this.sessionUpdateEventId !== null) return;
    this.sessionUpdateEventId = this.out.sendNow(this.sessionUpdate);
  }

  private onSessionUpdated(event: SessionUpdatedEvent): void {
    if (this.currentState !== 'configuring' || this.sessionUpdateEventId === null) {
      // A later update (the integrator's own session.update) or an unsolicited one: just pass it on.
      if (this.currentState === 'ready' && isRealtimeSession(event.session)) this.currentSession = event.session;
      this.held.deliver({ kind: 'event', event });
      return;
    }
    const mismatch = reportedFormatMismatch(this.sessionUpdate, event.session);
    if (mismatch !== null) {
      this.fail({ kind: 'protocol', code: 'format_mismatch', message: mismatch });
      return;
    }
    const session = event.session as RealtimeSessionCreateRequest;
    this.currentState = 'ready';
    this.currentSession = session;
    this.clearConnectTimer();
    const held = this.out.releaseHeld();
    this.logger.info(
      { elapsedMs: Math.round(this.clock.now() - this.dialStartedMs), sessionId: (session as { id?: unknown }).id, ...held },
      'realtime session ready',
    );
    this.held.deliver({ kind: 'event', event });
    this.held.deliver({ kind: 'ready', session });
  }

  private onApiErrorEvent(event: RealtimeErrorEvent): void {
    const apiError = toApiError(event);
    const answersSessionUpdate = apiError.eventId !== null && apiError.eventId === this.sessionUpdateEventId && this.currentState === 'configuring';
    const verdict = classifyApiError(apiError, answersSessionUpdate);
    const clientEventType = apiError.eventId === null ? undefined : this.out.typeOf(apiError.eventId);
    const { type: errorType, code, param, eventId, message: apiMessage } = apiError;
    this.logger[verdict.fault === null ? 'warn' : 'error']({ errorType, code, param, eventId, clientEventType, apiMessage }, verdict.logMessage);
    if (verdict.fault !== null) this.fail(verdict.fault);
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
    this.held.deliver({ kind: 'fault', fault });
  }

  private enterClosed(): void {
    this.currentState = 'closed';
    this.clearConnectTimer();
    this.out.discardHeld();
  }

  private shutDownSocket(): void {
    this.closeTimer = shutDownSocket(this.socket, this.clock, CLOSE_HANDSHAKE_TIMEOUT_MS, this.closeTimer);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) {
      this.clock.clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
  }

  /** Calls one handler, guarded: a throw is logged, never unwound into the socket's event loop. */
  private dispatch(delivery: Delivery): void {
    const handlers = this.handlers;
    if (handlers === null || this.closeRequested) return;
    this.guard.run(delivery.kind, () => {
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
    });
  }

  private summary(): Record<string, unknown> {
    return {
      eventsIn: [...this.eventsIn.values()].reduce((sum, count) => sum + count, 0),
      eventsOut: [...this.out.eventsOut.values()].reduce((sum, count) => sum + count, 0),
      audioBytesAppended: this.out.audioBytesAppended,
      heldAudioDroppedBytes: this.out.heldAudioDroppedBytes,
      skippedIn: this.skippedIn,
    };
  }
}

