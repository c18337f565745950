/**
 * The Twilio side of a call: owns the Media Streams WebSocket, reads `connected` and `start`, then hands parsed,
 * de-duplicated, gap-filled events to one set of handlers and turns sends into exact wire messages.
 *
 * Nothing a peer sends can throw out of a socket listener: bad input is counted per code and logged once per code
 * per call (a broken peer sends the same mistake 50 times a second), and a throwing handler is caught and logged.
 * The call owner is built only after `start`, with the stream's identity as a constructor argument, so nothing
 * downstream ever runs with an unknown streamSid.
 */
import { WebSocket, type RawData } from 'ws';
import { mulawSilence, MULAW_BYTES_PER_MS } from '../audio/frames.js';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { clearMessage, markMessage, mediaMessage } from './builders.js';
import { InboundContinuity } from './continuity.js';
import {
  parseTwilioMessage,
  rawDataByteLength,
  rawDataToText,
  TWILIO_PARSE_ERROR_CODES,
  type StreamStart,
  type TwilioInboundMessage,
  type TwilioParseErrorCode,
} from './messages.js';
import type { MediaStreamRecorder } from './recorder.js';

/**
 * Why an inbound message was ignored: a parse failure, or a well-formed message in the wrong place
 * (`EVENT_BEFORE_START`: media/mark/dtmf/stop before `start`; `UNEXPECTED_EVENT`: a second `connected` or `start`;
 * `STREAM_SID_MISMATCH`: a streamSid other than this stream's).
 */
export type MediaStreamIgnoredCode = TwilioParseErrorCode | 'EVENT_BEFORE_START' | 'UNEXPECTED_EVENT' | 'STREAM_SID_MISMATCH';

export const MEDIA_STREAM_IGNORED_CODES: readonly MediaStreamIgnoredCode[] = [
  ...TWILIO_PARSE_ERROR_CODES,
  'EVENT_BEFORE_START',
  'UNEXPECTED_EVENT',
  'STREAM_SID_MISMATCH',
];

export type MediaStreamHandshakeErrorCode = 'HANDSHAKE_TIMEOUT' | 'CLOSED_BEFORE_START';

export class MediaStreamHandshakeError extends Error {
  override name = 'MediaStreamHandshakeError';
  constructor(
    readonly code: MediaStreamHandshakeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface MediaInfo {
  /** Where this audio starts on Twilio's timeline, ms since stream start. For gap fill: where the silence starts. */
  timestampMs: number;
  /** The media message's sequenceNumber; gap fill carries the number of the frame that revealed the gap. */
  sequenceNumber: number;
  /** True for silence inserted for time Twilio skipped, delivered just before the frame after the gap. */
  gapFill: boolean;
}

export interface MediaStreamHandlers {
  /** Caller audio, mu-law 8 kHz, in timeline order. Duplicates and late frames never arrive here. */
  onMedia(payload: Uint8Array, info: MediaInfo): void;
  /** A mark we sent came back: played, or flushed by `clear` (Twilio echoes pending marks on clear). */
  onMark(name: string): void;
  onDtmf(digit: string): void;
  /** Twilio ended the stream (the call hung up or moved on); the socket close follows. */
  onStop(): void;
  /** The socket closed, for any reason. Called exactly once, always last. */
  onClose(event: { code: number; reason: string }): void;
}

export interface MediaStreamStats {
  /** Text and binary messages received, including ignored ones. */
  messagesIn: number;
  /** Wire bytes received. */
  bytesIn: number;
  /** Wire bytes sent (UTF-8 length of the JSON). */
  bytesOut: number;
  /** Media messages accepted (not counting duplicates/reordered). */
  mediaFramesIn: number;
  /** mu-law payload bytes accepted, excluding gap fill. */
  mediaBytesIn: number;
  mediaMessagesOut: number;
  /** mu-law payload bytes sent. */
  mediaBytesOut: number;
  marksOut: number;
  clearsOut: number;
  /** Ignored inbound messages by reason. */
  malformed: Record<MediaStreamIgnoredCode, number>;
  gaps: number;
  /** Silence inserted, ms. */
  gapMs: number;
  cappedGaps: number;
  duplicates: number;
  reordered: number;
  /** Messages dropped because the pre-`setHandlers` buffer was full. */
  droppedBeforeHandlers: number;
  handlerErrors: number;
}

export interface MediaStreamSession {
  readonly start: StreamStart;
  /** Delivers everything received since `start` (buffered, bounded), then live events. */
  setHandlers(handlers: MediaStreamHandlers): void;
  /** Queues mu-law audio for playback. False (and nothing sent) when the socket is not open. */
  sendMedia(mulaw: Uint8Array): boolean;
  sendMark(name: string): boolean;
  /** Drops Twilio's buffered audio. */
  sendClear(): boolean;
  /** Closes the socket (Twilio then runs the next TwiML verb, or hangs up). Idempotent. */
  close(code?: number, reason?: string): void;
  /** Bytes queued in the socket but not yet written to the network. */
  readonly bufferedAmountBytes: number;
  stats(): MediaStreamStats;
}

export interface AcceptMediaStreamOptions {
  /** Time allowed from accept to `start`, ms. */
  handshakeTimeoutMs: number;
  logger: Logger;
  clock?: Clock;
  /** Receives every inbound message; closed by the transport when the socket closes. */
  recorder?: MediaStreamRecorder;
  /** Events held between `start` and `setHandlers`. Default 500 (10 s of 20 ms frames). */
  maxBufferedMessages?: number;
  /** Most silence one gap may insert, ms. Default 2000. */
  maxGapFillMs?: number;
}

/** Close code used when the handshake times out: 1008 (policy violation). */
export const HANDSHAKE_TIMEOUT_CLOSE_CODE = 1008;

/** A close frame's reason is limited to 123 bytes (RFC 6455 §5.5); ws throws beyond that. */
const MAX_CLOSE_REASON_BYTES = 123;

function truncateCloseReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = Math.min(reason.length, MAX_CLOSE_REASON_BYTES);
  while (Buffer.byteLength(reason.slice(0, end)) > MAX_CLOSE_REASON_BYTES) end--;
  // Never split a surrogate pair into an unpaired half.
  const last = reason.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return reason.slice(0, end);
}

type Queued = { kind: 'message'; message: TwilioInboundMessage } | { kind: 'close'; code: number; reason: string };
type HandlerName = keyof MediaStreamHandlers;

/**
 * Waits for `connected` then `start` on a freshly upgraded Twilio socket and resolves with the session.
 * A missing `connected` is tolerated (logged). On timeout the socket is closed with 1008 and the promise rejects
 * with HANDSHAKE_TIMEOUT; if the socket closes first it rejects with CLOSED_BEFORE_START.
 */
export function acceptMediaStream(socket: WebSocket, options: AcceptMediaStreamOptions): Promise<MediaStreamSession> {
  return new Promise<MediaStreamSession>((resolve, reject) => {
    new TwilioMediaStream(socket, options, resolve, reject);
  });
}

class TwilioMediaStream implements MediaStreamSession {
  private readonly clock: Clock;
  private readonly recorder: MediaStreamRecorder | undefined;
  private readonly maxBufferedMessages: number;
  private readonly continuity: InboundContinuity;
  private logger: Logger;
  private phase: 'handshake' | 'started' | 'failed' = 'handshake';
  private startInfo: StreamStart | null = null;
  private connectedSeen = false;
  private handshakeTimer: TimerHandle | null = null;
  private handlers: MediaStreamHandlers | null = null;
  private queue: Queued[] = [];
  private closeRequested = false;
  private closeDelivered = false;
  private readonly loggedCodes = new Set<MediaStreamIgnoredCode>();
  private readonly loggedHandlerErrors = new Set<HandlerName>();
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
    handlerErrors: 0,
  };
  private readonly malformed = Object.fromEntries(MEDIA_STREAM_IGNORED_CODES.map((code) => [code, 0])) as Record<
    MediaStreamIgnoredCode,
    number
  >;

  constructor(
    private readonly socket: WebSocket,
    options: AcceptMediaStreamOptions,
    private readonly resolveHandshake: (session: MediaStreamSession) => void,
    private readonly rejectHandshake: (error: MediaStreamHandshakeError) => void,
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.recorder = options.recorder;
    this.maxBufferedMessages = options.maxBufferedMessages ?? 500;
    this.continuity = new InboundContinuity(options.maxGapFillMs === undefined ? {} : { maxGapFillMs: options.maxGapFillMs });

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
    const queued = this.queue;
    this.queue = [];
    for (const item of queued) {
      if (item.kind === 'message') this.deliver(item.message);
      else this.deliverClose(item.code, item.reason);
    }
  }

  sendMedia(mulaw: Uint8Array): boolean {
    if (!this.send(mediaMessage(this.start.streamSid, mulaw))) return false;
    this.counters.mediaMessagesOut++;
    this.counters.mediaBytesOut += mulaw.length;
    return true;
  }

  sendMark(name: string): boolean {
    if (!this.send(markMessage(this.start.streamSid, name))) return false;
    this.counters.marksOut++;
    return true;
  }

  sendClear(): boolean {
    if (!this.send(clearMessage(this.start.streamSid))) return false;
    this.counters.clearsOut++;
    return true;
  }

  close(code = 1000, reason = ''): void {
    this.closeSocket(code, reason);
  }

  stats(): MediaStreamStats {
    const continuity = this.continuity.stats();
    return {
      ...this.counters,
      mediaFramesIn: continuity.frames,
      malformed: { ...this.malformed },
      gaps: continuity.gaps,
      gapMs: continuity.gapMs,
      cappedGaps: continuity.cappedGaps,
      duplicates: continuity.duplicates,
      reordered: continuity.reordered,
    };
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
      this.socket.close(code, truncateCloseReason(reason));
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
    if (this.handlers !== null) {
      this.deliver(message);
    } else if (this.queue.length < this.maxBufferedMessages) {
      this.queue.push({ kind: 'message', message });
    } else {
      this.counters.droppedBeforeHandlers++;
      if (this.counters.droppedBeforeHandlers === 1) this.logger.warn('no handlers yet; dropping Twilio messages');
    }
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
    if (this.handlers === null) this.queue.push({ kind: 'close', code, reason });
    else this.deliverClose(code, reason);
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
    if (this.loggedCodes.has(code)) return;
    this.loggedCodes.add(code);
    this.logger.warn({ code, detail }, 'ignored Twilio message (logged once per code per call)');
  }

  private invoke(name: HandlerName, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.counters.handlerErrors++;
      if (this.loggedHandlerErrors.has(name)) {
        this.logger.debug({ err: error, handler: name }, 'media stream handler threw');
        return;
      }
      this.loggedHandlerErrors.add(name);
      this.logger.error({ err: error, handler: name }, 'media stream handler threw (further throws at debug)');
    }
  }
}
