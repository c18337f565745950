/**
 * The Twilio side of a call: owns the Media Streams WebSocket, reads `connected` and `start`, then hands parsed,
 * de-duplicated, gap-filled events to one set of handlers and turns sends into exact wire messages.
 *
 * Nothing a peer sends can throw out of a socket listener: bad input is counted per code and logged once per code
 * per call, and a throwing handler is caught and logged (net/socket-plumbing.ts: the same plumbing as the provider
 * connections).
 * The call owner is built only after `start`, with the stream's identity as a constructor argument, so nothing
 * downstream ever runs with an unknown streamSid.
 * Agent audio sent in one tick leaves as one `media` message (media-coalescer.ts); a mark, a clear or a close first
 * flushes the audio sent before it, so nothing ever overtakes it.
 */
import { WebSocket, type RawData } from 'ws';
import { mulawSilence, MULAW_BYTES_PER_MS } from '../audio/frames.js';
import { bytesToBase64 } from '../audio/pcm.js';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { StreamMessages } from './builders.js';
import { MediaCoalescer, type FlushScheduler } from './media-coalescer.js';
import { InboundContinuity } from './continuity.js';
import { closeReasonWithinLimit, GuardedHandlers, HeldDeliveries, OncePerKeyLog, rawDataByteLength, rawDataToText } from '../net/socket-plumbing.js';
import { parseTwilioMessage, type StreamStart, type TwilioInboundMessage } from './messages.js';
import type { MediaStreamRecorder } from './recorder.js';
import {
  MEDIA_STREAM_IGNORED_CODES,
  MediaStreamHandshakeError,
  type AcceptMediaStreamOptions,
  type MediaStreamHandlers,
  type MediaStreamHandshakeErrorCode,
  type MediaStreamIgnoredCode,
  type MediaStreamSession,
  type MediaStreamStats,
} from './media-stream-types.js';

export * from './media-stream-types.js';

/** Close code used when the handshake times out: 1008 (policy violation). */
export const HANDSHAKE_TIMEOUT_CLOSE_CODE = 1008;

export interface MediaStreamTransportOptions extends AcceptMediaStreamOptions {
  /**
   * Joins the media sent in one tick into one message (default: on, flushed by `queueMicrotask`); a function = on,
   * flushed by that scheduler; false = one message per `sendMedia`, as sent.
   */
  coalesceMedia?: boolean | FlushScheduler;
}

type Queued = { kind: 'message'; message: TwilioInboundMessage } | { kind: 'close'; code: number; reason: string };

/**
 * Waits for `connected` then `start` on a freshly upgraded Twilio socket and resolves with the session.
 * A missing `connected` is tolerated (logged). On timeout the socket is closed with 1008 and the promise rejects
 * with HANDSHAKE_TIMEOUT; if the socket closes first it rejects with CLOSED_BEFORE_START.
 */
export function acceptMediaStream(socket: WebSocket, options: MediaStreamTransportOptions): Promise<MediaStreamSession> {
  return new Promise<MediaStreamSession>((resolve, reject) => {
    new TwilioMediaStream(socket, options, resolve, reject);
  });
}

class TwilioMediaStream implements MediaStreamSession {
  private readonly clock: Clock;
  private readonly recorder: MediaStreamRecorder | undefined;
  private readonly continuity: InboundContinuity;
  /** Null when coalescing is off. */
  private readonly coalescer: MediaCoalescer | null;
  private messages: StreamMessages | null = null;
  private logger: Logger;
  private phase: 'handshake' | 'started' | 'failed' = 'handshake';
  private startInfo: StreamStart | null = null;
  private connectedSeen = false;
  private handshakeTimer: TimerHandle | null = null;
  private handlers: MediaStreamHandlers | null = null;
  private readonly held: HeldDeliveries<Queued>;
  private readonly guard: GuardedHandlers;
  private readonly ignoredLog = new OncePerKeyLog(() => this.logger, 'warn', 'silent');
  private closeRequested = false;
  private closeDelivered = false;
  private readonly counters = {
    messagesIn: 0,
    bytesIn: 0,
    bytesOut: 0,
    mediaBytesIn: 0,
    mediaMessagesOut: 0,
    mediaBytesOut: 0,
    marksOut: 0,
    clearsOut: 0,
    droppedBeforeHandlers: 0,
  };
  private readonly malformed = Object.fromEntries(MEDIA_STREAM_IGNORED_CODES.map((code) => [code, 0])) as Record<
    MediaStreamIgnoredCode,
    number
  >;

  constructor(
    private readonly socket: WebSocket,
    options: MediaStreamTransportOptions,
    private readonly resolveHandshake: (session: MediaStreamSession) => void,
    private readonly rejectHandshake: (error: MediaStreamHandshakeError) => void,
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.recorder = options.recorder;
    this.held = new HeldDeliveries<Queued>({
      limit: options.maxBufferedMessages ?? 500,
      // Keep the start of the call; the close is never dropped.
      drop: 'newest',
      droppable: (item) => item.kind === 'message',
      onDrop: () => {
        if (++this.counters.droppedBeforeHandlers === 1) this.logger.warn('no handlers yet; dropping Twilio messages');
      },
    });
    this.guard = new GuardedHandlers(() => this.logger, 'media stream handler threw (further throws at debug)');
    this.continuity = new InboundContinuity(options.maxGapFillMs === undefined ? {} : { maxGapFillMs: options.maxGapFillMs });
    const coalesce = options.coalesceMedia ?? true;
    const emit = (payloadBase64: string, bytes: number): void => this.sendMediaText(this.messages!.media(payloadBase64), bytes);
    this.coalescer = coalesce === false ? null : new MediaCoalescer(emit, coalesce === true ? queueMicrotask : coalesce);

    socket.on('message', (data, isBinary) => this.onSocketMessage(data, isBinary));
    socket.on('close', (code, reason) => this.onSocketClose(code, reason.toString('utf8')));
    socket.on('error', (error) => this.logger.warn({ err: error }, 'Twilio socket error'));

    if (socket.readyState === WebSocket.CLOSED) {
      this.failHandshake('CLOSED_BEFORE_START', 'socket already closed');
      this.closeRecorder();
      return;
    }
    this.handshakeTimer = this.clock.setTimeout(() => {
      this.handshakeTimer = null;
      if (this.phase !== 'handshake') return;
      this.failHandshake('HANDSHAKE_TIMEOUT', `no start within ${options.handshakeTimeoutMs} ms`);
      this.closeSocket(HANDSHAKE_TIMEOUT_CLOSE_CODE, 'handshake timeout');
    }, options.handshakeTimeoutMs);
  }

  get start(): StreamStart {
    // Only reachable through the resolved session, which exists only after start.
    return this.startInfo!;
  }

  get bufferedAmountBytes(): number {
    return this.socket.bufferedAmount;
  }

  setHandlers(handlers: MediaStreamHandlers): void {
    this.handlers = handlers;
    this.held.attach((item) => {
      if (item.kind === 'message') this.deliver(item.message);
      else this.deliverClose(item.code, item.reason);
    });
  }

  sendMedia(mulaw: Uint8Array): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    if (this.coalescer !== null) this.coalescer.add(mulaw);
    else this.sendMediaText(this.messages!.media(bytesToBase64(mulaw)), mulaw.length);
    return true;
  }

  sendMark(name: string): boolean {
    this.coalescer?.flush();
    if (!this.send(this.messages!.mark(name))) return false;
    this.counters.marksOut++;
    return true;
  }

  sendClear(): boolean {
    this.coalescer?.flush();
    if (!this.send(this.messages!.clear)) return false;
    this.counters.clearsOut++;
    return true;
  }

  close(code = 1000, reason = ''): void {
    if (!this.closeRequested) this.coalescer?.flush();
    this.closeSocket(code, reason);
  }

  stats(): MediaStreamStats {
    const continuity = this.continuity.stats();
    return {
      ...this.counters,
      handlerErrors: this.guard.errors,
      mediaFramesIn: continuity.frames,
      malformed: { ...this.malformed },
      gaps: continuity.gaps,
      gapMs: continuity.gapMs,
      cappedGaps: continuity.cappedGaps,
      duplicates: continuity.duplicates,
      reordered: continuity.reordered,
    };
  }

  private sendMediaText(text: string, payloadBytes: number): void {
    if (!this.send(text)) return;
    this.counters.mediaMessagesOut++;
    this.counters.mediaBytesOut += payloadBytes;
  }

  private send(text: string): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(text);
    this.counters.bytesOut += Buffer.byteLength(text);
    return true;
  }

  private closeSocket(code: number, reason: string): void {
    if (this.closeRequested) return;
    this.closeRequested = true;
    const state = this.socket.readyState;
    if (state === WebSocket.CLOSING || state === WebSocket.CLOSED) return;
    try {
      this.socket.close(code, closeReasonWithinLimit(reason));
    } catch (error) {
      // ws throws on a close code outside the allowed ranges; closing must still happen.
      this.logger.warn({ err: error, code }, 'invalid close code; terminating Twilio socket');
      this.socket.terminate();
    }
  }

  private onSocketMessage(data: RawData, isBinary: boolean): void {
    try {
      this.counters.messagesIn++;
      this.counters.bytesIn += rawDataByteLength(data);
      const text = rawDataToText(data);
      const result = parseTwilioMessage(isBinary ? data : text, isBinary);
      this.recorder?.record(text, !isBinary && (result.ok || result.code !== 'INVALID_JSON'));
      if (!result.ok) {
        this.ignore(result.code, result.detail);
        return;
      }
      if (this.phase === 'started') this.onStartedMessage(result.message);
      else if (this.phase === 'handshake') this.onHandshakeMessage(result.message);
    } catch (error) {
      // Defensive: parsing never throws and handlers are wrapped, so this is a bug here, not bad input.
      this.logger.error({ err: error }, 'unexpected error handling a Twilio message');
    }
  }

  private onHandshakeMessage(message: TwilioInboundMessage): void {
    switch (message.event) {
      case 'connected':
        if (this.connectedSeen) this.ignore('UNEXPECTED_EVENT', 'second connected');
        this.connectedSeen = true;
        return;
      case 'start':
        this.begin(message.start);
        return;
      default:
        this.ignore('EVENT_BEFORE_START', `${message.event} before start`);
    }
  }

  private begin(start: StreamStart): void {
    if (this.handshakeTimer !== null) {
      this.clock.clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
    }
    this.phase = 'started';
    this.startInfo = start;
    this.messages = new StreamMessages(start.streamSid);
    this.logger = this.logger.child({ callSid: start.callSid, streamSid: start.streamSid });
    if (!this.connectedSeen) this.logger.info('Twilio stream started without a connected message');
    this.recorder?.identify({ streamSid: start.streamSid, callSid: start.callSid });
    this.resolveHandshake(this);
  }

  private onStartedMessage(message: TwilioInboundMessage): void {
    if (message.event === 'connected' || message.event === 'start') {
      this.ignore('UNEXPECTED_EVENT', `${message.event} after start`);
      return;
    }
    if (message.streamSid !== this.start.streamSid) {
      this.ignore('STREAM_SID_MISMATCH', `${message.event} for another stream`);
      return;
    }
    this.held.deliver({ kind: 'message', message });
  }

  private deliver(message: TwilioInboundMessage): void {
    const handlers = this.handlers!;
    switch (message.event) {
      case 'media': {
        const { media } = message;
        const verdict = this.continuity.observe({
          sequenceNumber: message.sequenceNumber,
          chunk: media.chunk,
          timestampMs: media.timestampMs,
          payloadBytes: media.payload.length,
        });
        if (!verdict.accept) {
          this.logger.trace({ sequenceNumber: message.sequenceNumber, reason: verdict.reason }, 'dropped media frame');
          return;
        }
        this.counters.mediaBytesIn += media.payload.length;
        if (verdict.gapSilenceBytes > 0) {
          const silence = mulawSilence(verdict.gapSilenceBytes);
          const info = {
            timestampMs: media.timestampMs - verdict.gapSilenceBytes / MULAW_BYTES_PER_MS,
            sequenceNumber: message.sequenceNumber,
            gapFill: true,
          };
          this.logger.debug({ gapMs: verdict.gapSilenceBytes / MULAW_BYTES_PER_MS, sequenceNumber: message.sequenceNumber }, 'filled inbound gap');
          this.invoke('onMedia', () => handlers.onMedia(silence, info));
        }
        const info = { timestampMs: media.timestampMs, sequenceNumber: message.sequenceNumber, gapFill: false };
        this.invoke('onMedia', () => handlers.onMedia(media.payload, info));
        return;
      }
      case 'mark':
        this.invoke('onMark', () => handlers.onMark(message.mark.name));
        return;
      case 'dtmf':
        this.invoke('onDtmf', () => handlers.onDtmf(message.dtmf.digit));
        return;
      case 'stop':
        this.invoke('onStop', () => handlers.onStop());
        return;
      default:
        return;
    }
  }

  private onSocketClose(code: number, reason: string): void {
    this.coalescer?.discard();
    if (this.handshakeTimer !== null) {
      this.clock.clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
    }
    this.closeRecorder();
    if (this.phase === 'handshake') {
      this.failHandshake('CLOSED_BEFORE_START', `socket closed before start (code ${code})`);
      return;
    }
    if (this.phase !== 'started') return;
    this.held.deliver({ kind: 'close', code, reason });
  }

  private deliverClose(code: number, reason: string): void {
    if (this.closeDelivered) return;
    this.closeDelivered = true;
    const handlers = this.handlers!;
    this.logger.info({ code, reason, stats: this.stats() }, 'Twilio stream closed');
    this.invoke('onClose', () => handlers.onClose({ code, reason }));
  }

  private failHandshake(code: MediaStreamHandshakeErrorCode, detail: string): void {
    this.phase = 'failed';
    this.logger.warn({ code, detail, malformed: this.malformed }, 'Twilio stream handshake failed');
    this.rejectHandshake(new MediaStreamHandshakeError(code, detail));
  }

  private closeRecorder(): void {
    if (this.recorder === undefined) return;
    this.recorder.close().catch((error: unknown) => this.logger.error({ err: error }, 'closing the call recording failed'));
  }

  private ignore(code: MediaStreamIgnoredCode, detail: string): void {
    this.malformed[code]++;
    this.ignoredLog.log(code, { code, detail }, 'ignored Twilio message (logged once per code per call)');
  }

  private invoke(name: keyof MediaStreamHandlers, call: () => void): void {
    this.guard.run(name, call);
  }
}
