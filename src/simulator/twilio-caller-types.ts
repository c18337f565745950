/**
 * The simulated caller's vocabulary, shared by the webhook client, the live call and `placeCall`: what to say, how to
 * call, what comes back, and the one error type a failed set-up rejects with.
 */
import type { Clock } from '../clock.js';
import type { FixtureDtmf, FixtureMessage, TwilioInboundMessage } from './fixtures.js';
import type { ParsedTwiml } from './twilio-twiml.js';
import type { ClearRecord, HeardSegment, MarkEcho, PlaybackCounters, TwilioPlaybackEmulator, Underrun } from './twilio-playback.js';

/** What the caller says. WAV input may be any rate readWav supports; it is resampled to 8 kHz and mu-law encoded. */
export type CallerAudio =
  | { kind: 'wav'; path: string }
  | { kind: 'wav'; data: Uint8Array }
  | { kind: 'mulaw'; bytes: Uint8Array }
  | { kind: 'silence'; durationMs: number }
  /** Replays recorded media/dtmf at their recorded times (relative to the fixture's `start`), with this call's ids. */
  | { kind: 'fixture'; path: string }
  | { kind: 'fixture'; messages: readonly FixtureMessage[] };

export interface PlaceCallOptions {
  /** Where to POST and connect, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Origin the signatures are computed over (the server's PUBLIC_BASE_URL). Defaults to baseUrl. */
  publicBaseUrl?: string;
  /** Null: send no `X-Twilio-Signature` at all (the server must be running without an auth token). */
  authToken: string | null;
  callSid?: string;
  accountSid?: string;
  /** E.164 caller number. */
  from?: string;
  /** E.164 number dialled. */
  to?: string;
  audio: CallerAudio;
  /** Key presses, ms since stream start. Media keeps flowing around them, as on a real line. */
  dtmf?: readonly FixtureDtmf[];
  /** Silence frames after the audio before hanging up (default 0). */
  trailingSilenceMs?: number;
  /** Hang up this many ms after stream start, cutting or extending (with silence) the audio. Overrides trailingSilenceMs. */
  hangUpAfterMs?: number;
  clock?: Clock;
  /** Dial this WebSocket URL instead of the TwiML one (a tunnel). By default, when publicBaseUrl differs from baseUrl,
   *  the TwiML URL's origin is replaced by baseUrl's. The signature is always over the TwiML URL. */
  connectUrl?: string;
  /** False: upgrade without `X-Twilio-Signature` (to test refusal). Default true. */
  signUpgrade?: boolean;
  /** Twilio sets up the media path after reading the TwiML: wait this long before opening the WebSocket (default 0). */
  connectDelayMs?: number;
  /** False: `sent`/`received` keep media messages without their base64 payload (benchmarks with many long calls). */
  keepPayloads?: boolean;
  /** Path of the Voice webhook (default `/incoming-call`). */
  webhookPath?: string;
  /**
   * True: when the script runs out, keep sending a phone's silence frames instead of hanging up, so the stream ends
   * only by `hangUp()` or the server closing it. For a callee whose hang-up time someone else decides (the simulated
   * REST API's outbound calls). Default false.
   */
  keepLineOpen?: boolean;
}

export type CallerErrorCode = 'unreachable' | 'webhook_http_error' | 'invalid_twiml' | 'upgrade_refused' | 'connect_failed' | 'invalid_audio';

/** A call that could not be set up. `message` is one human-readable line. */
export class TwilioCallerError extends Error {
  override name = 'TwilioCallerError';
  constructor(
    readonly code: CallerErrorCode,
    message: string,
    /** HTTP status of the webhook response or the refused upgrade, when there was one. */
    readonly httpStatus: number | null = null,
  ) {
    super(message);
  }
}

export interface ReceivedMessage {
  /** Ms since `start` was sent. */
  atMs: number;
  /** Parsed JSON, or the raw text when it was not JSON. */
  message: unknown;
}

export interface SentMessage {
  atMs: number;
  message: TwilioInboundMessage;
}

/** Things a real Twilio would reject or ignore (error 31951 and friends). The messages are not played. */
export interface ProtocolErrorCounts extends PlaybackCounters {
  invalidJson: number;
  binaryMessages: number;
  /** media/mark/clear with a streamSid other than this stream's. */
  wrongStreamSid: number;
}

export interface CallResult {
  outcome: 'completed' | 'busy';
  callSid: string;
  accountSid: string;
  /** Null when busy. */
  streamSid: string | null;
  /** Stream URL from the TwiML; null when busy. */
  streamUrl: string | null;
  twiml: string;
  parsedTwiml: ParsedTwiml;
  /** Who ended the stream: we sent `stop` (`caller`), or the server closed the socket first (`server`). */
  endedBy: 'caller' | 'server' | null;
  serverClosedFirst: boolean;
  closeCode: number | null;
  closeReason: string;
  /** Ms from stream start to the socket closing. */
  durationMs: number;
  heardAudio: Uint8Array;
  heardSegments: HeardSegment[];
  heardMsTotal: number;
  /** Buffered at Twilio and never played because the call ended. */
  unplayedBytesAtEnd: number;
  marks: MarkEcho[];
  clears: ClearRecord[];
  underruns: Underrun[];
  underrunCount: number;
  underrunMs: number;
  received: ReceivedMessage[];
  sent: SentMessage[];
  protocolErrors: ProtocolErrorCounts;
}

export interface SimulatedCall {
  readonly outcome: 'connected' | 'busy';
  readonly callSid: string;
  readonly accountSid: string;
  readonly streamSid: string | null;
  readonly streamUrl: string | null;
  readonly parsedTwiml: ParsedTwiml;
  /** Null when busy. */
  readonly playback: TwilioPlaybackEmulator | null;
  readonly received: readonly ReceivedMessage[];
  readonly sent: readonly SentMessage[];
  readonly protocolErrors: Readonly<ProtocolErrorCounts>;
  /** Ms since stream start on the call's clock. */
  elapsedMs(): number;
  /** Sends a key press now (between the paced frames). */
  pressDigit(digit: string): void;
  /** Resolves with the first received message (already received or future) matching, or rejects after timeoutMs. */
  waitForMessage(predicate: (message: unknown) => boolean, timeoutMs?: number): Promise<ReceivedMessage>;
  /** Sends `stop` and closes, now. Idempotent. */
  hangUp(): Promise<CallResult>;
  /** Resolves once the socket is closed (either side); never rejects. */
  readonly closed: Promise<CallResult>;
}
