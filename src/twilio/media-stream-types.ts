/**
 * The contract of the Twilio Media Stream transport (media-stream.ts): what the call owner receives and may send,
 * and the counters an operator reads.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { TWILIO_PARSE_ERROR_CODES, type StreamStart, type TwilioParseErrorCode } from './messages.js';
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

