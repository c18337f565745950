/**
 * The simulated Twilio REST API's vocabulary: who answers a number and how (callee behaviours), the options, and the
 * per-call record tests read (status history, every request made with its signature and answer, the verbs run, the
 * callee's streams and what the callee heard).
 *
 * Times: ring time, `<Say>`, `<Pause>`, `<Dial>`, `Timeout` and `TimeLimit` are multiplied by the server's
 * `timeScale`; everything tied to audio (what the callee says, `hangUpAfterMs`, `recordMs`, AMD timing) runs at
 * real time on the clock, because the bridge hears it at real time.
 */
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { FixtureDtmf } from '../fixtures.js';
import type { CallerAudio, CallResult, SimulatedCall } from '../twilio-caller-types.js';
import type { HeardSegment } from '../twilio-playback.js';

/** The Call resource's `status`. */
export type CallStatus = 'queued' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

/** Twilio's AMD verdicts. */
export type AnsweredBy = 'human' | 'machine_start' | 'machine_end_beep' | 'machine_end_silence' | 'machine_end_other' | 'fax' | 'unknown';

/** Forces the AMD verdict instead of deriving it from the callee's audio. */
export interface AmdOverride {
  answeredBy: AnsweredBy;
  /** Ms since answer at which the verdict is reached (reported as MachineDetectionDuration). */
  afterMs: number;
}

/** A person who picks up and talks. */
export interface HumanCallee {
  kind: 'human';
  /** What the callee says, from the moment they answer (the bridge's stream may open later and miss the start). */
  audio: CallerAudio;
  /** Ring time before answering (scaled). Default 2 000 ms. Longer than the call's Timeout: no-answer. */
  answerAfterMs?: number;
  /** Hang up this long after answering (real time). Default: never; the call ends by TwiML or the API. */
  hangUpAfterMs?: number;
  /** Key presses, ms since answer. */
  dtmf?: readonly FixtureDtmf[];
  amd?: AmdOverride;
}

/** An answering machine: greeting, beep, then silence while it records, then it hangs up. */
export interface VoicemailCallee {
  kind: 'voicemail';
  /** The outgoing message, played from the moment of answer. */
  greeting: CallerAudio;
  /** Ring time before the machine picks up (scaled). Default 2 000 ms. */
  answerAfterMs?: number;
  /** Beep length; 0 = no beep. Default 400 ms. */
  beepMs?: number;
  /** Default 1 000 Hz. */
  beepHz?: number;
  /** How long the machine records after the beep before hanging up (real time). Default 30 000 ms. */
  recordMs?: number;
  amd?: AmdOverride;
}

export type CalleeBehaviour =
  | HumanCallee
  | VoicemailCallee
  /** The line is busy: it rings for `ringMs` (scaled, default 1 000; 0 = no ringing), then status `busy`. */
  | { kind: 'busy'; ringMs?: number }
  /** Rings until the call's Timeout, then status `no-answer`. */
  | { kind: 'no-answer' }
  /** The carrier cannot route it: status `failed` after `afterMs` (scaled, default 200), never rings. */
  | { kind: 'fail'; afterMs?: number };

export interface ApiKey {
  /** `SK…` */
  sid: string;
  secret: string;
}

export interface SimulatedTwilioRestOptions {
  accountSid: string;
  /** Signs every request the simulator makes (webhooks, callbacks, stream upgrades), as Twilio does. */
  authToken: string;
  /** Alternative credentials for the REST API (`twilio(apiKeySid, secret, { accountSid })`). */
  apiKeys?: readonly ApiKey[];
  /** Who answers each dialled number. Called once per create. */
  callees: (to: string) => CalleeBehaviour;
  /** The account's numbers: a From outside this list is refused with 21210. Default: any valid E.164 From. */
  fromNumbers?: readonly string[];
  clock?: Clock;
  logger?: Logger;
  /** Multiplies the non-audio waits (ringing, Say, Pause, Dial, Timeout, TimeLimit). Default 1. */
  timeScale?: number;
  /** How long a `<Dial>` leg lasts before its action (scaled). Default 1 000 ms. */
  dialDurationMs?: number;
  /** Keep media payloads in each stream's sent/received logs (default true). */
  keepPayloads?: boolean;
  /**
   * Where each URL Twilio was given is actually reached (webhooks, callbacks, stream upgrades); the signature is
   * always over the given URL. For an app behind a public base URL: `rebaseUrls('https://app.example',
   * 'http://127.0.0.1:8080')`. Default: as given.
   */
  routeUrl?: (url: string) => string;
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
}

/** Every HTTP request the simulator made for a call, in the order made. */
export interface RequestLogEntry {
  kind: 'voice-url' | 'connect-action' | 'dial-action' | 'redirect' | 'status-callback' | 'amd-callback';
  /** Ms since the call was created. */
  atMs: number;
  method: 'GET' | 'POST';
  /** As requested: for GET, with the params in the query string. */
  url: string;
  /** POST body params (GET: the same params, also in `url`). */
  params: Record<string, string>;
  /** The `X-Twilio-Signature` sent. */
  signature: string;
  /** HTTP status of the answer; null when there was none. */
  status: number | null;
  contentType: string;
  body: string;
  /** Why there was no answer (connection refused, …). */
  error: string | null;
}

/** A TwiML verb as run, with the time it started (ms since answer). */
export type ExecutedVerb =
  | { verb: 'Say'; atMs: number; text: string; voice: string | null; language: string | null }
  | { verb: 'Play'; atMs: number; url: string }
  | { verb: 'Pause'; atMs: number; lengthSec: number }
  | { verb: 'Connect'; atMs: number; streamUrl: string | null; parameters: Record<string, string>; action: string | null }
  | { verb: 'Dial'; atMs: number; number: string; action: string | null; callerId: string | null }
  | { verb: 'Redirect'; atMs: number; url: string }
  | { verb: 'Hangup'; atMs: number }
  | { verb: 'Reject'; atMs: number }
  /** A verb this simulator does not run (skipped, like an unknown verb would fail at Twilio). */
  | { verb: 'Unsupported'; atMs: number; name: string };

/** One `<Connect><Stream>` the callee's line was joined to. */
export interface CalleeStream {
  url: string;
  parameters: Record<string, string>;
  /** Ms since answer at which `start` was sent: the callee's audio in the stream begins at this point of their timeline. */
  startedAtMs: number;
  /** The live stream (the simulated caller's machinery): heard audio, marks, clears, messages. */
  call: SimulatedCall;
  /** Once closed. */
  result: CallResult | null;
}

/** What Twilio's debugger would show: errors and warnings with Twilio's codes. */
export interface Notification {
  atMs: number;
  code: number;
  message: string;
}

export type EndReason =
  | 'twiml-ended'
  | 'hangup-verb'
  | 'callee-hung-up'
  | 'api-completed'
  | 'api-canceled'
  | 'busy'
  | 'no-answer'
  | 'failed'
  | 'application-error'
  | 'time-limit'
  | 'server-closed';

/** One outbound call: live state, mutated as the call runs. */
export interface SimulatedOutboundCall {
  readonly sid: string;
  readonly accountSid: string;
  readonly to: string;
  readonly from: string;
  readonly behaviour: CalleeBehaviour;
  /** The create request's params as received (repeated params joined by a comma). */
  readonly createParams: Readonly<Record<string, string>>;
  readonly status: CallStatus;
  readonly answeredBy: AnsweredBy | null;
  /** Ms since created; null until it happens. */
  readonly answeredAtMs: number | null;
  readonly endedAtMs: number | null;
  /** Whole seconds from answer to end, rounded (0 when never answered); null while running. */
  readonly durationSec: number | null;
  readonly endReason: EndReason | null;
  /** Ms since created. */
  readonly statusHistory: ReadonlyArray<{ status: CallStatus; atMs: number }>;
  readonly requests: readonly RequestLogEntry[];
  readonly verbs: readonly ExecutedVerb[];
  readonly streams: readonly CalleeStream[];
  readonly notifications: readonly Notification[];
  /** Voicemail only, ms since answer. */
  readonly greetingEndMs: number | null;
  readonly beepEndMs: number | null;
  /** True once ended, every stream closed and every callback answered (or failed). */
  readonly finished: boolean;
  /** Everything the callee heard over all streams, `startMs` in ms since answer. */
  heardSinceAnswer(): HeardSegment[];
}

export interface SimulatedTwilioRest {
  /** `http://127.0.0.1:<port>`: set it as the twilio client's `api.baseUrl`. */
  readonly url: string;
  readonly port: number;
  calls(): SimulatedOutboundCall[];
  call(sid: string): SimulatedOutboundCall | undefined;
  /** Resolves once `predicate` holds (default: `finished`); rejects after `timeoutMs` (real time, default 10 000). */
  waitForCall(sid: string, predicate?: (call: SimulatedOutboundCall) => boolean, timeoutMs?: number): Promise<SimulatedOutboundCall>;
  /** Ends every call (no callbacks), drops every connection and stops listening. */
  close(): Promise<void>;
}
