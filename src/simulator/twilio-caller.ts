/**
 * A simulated Twilio phone call against the bridge, as Twilio does it:
 *
 *   1. POST the Voice webhook (form-encoded, `X-Twilio-Signature` over the public URL plus the params);
 *   2. read the TwiML: `<Connect><Stream url>` with `<Parameter>`s, or no stream at all (busy);
 *   3. open the WebSocket, the upgrade signed over the exact stream URL with no params;
 *   4. send `connected`, `start`, then 20 ms media frames paced on the clock (plus `dtmf`), a phone's continued
 *      silence, then `stop` and close;
 *   5. play what the bridge sends through a {@link TwilioPlaybackEmulator} and echo its marks back on the socket.
 *
 * Used by tests, benchmarks, the CLI and the demo alike. Every time reported is ms since `start` was sent.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import WebSocket from 'ws';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { FRAME_DURATION_MS, MULAW_BYTES_PER_FRAME, MULAW_SAMPLE_RATE_HZ, MULAW_SILENCE_BYTE } from '../audio/frames.js';
import { encodeMulaw } from '../audio/mulaw.js';
import { bytesToBase64 } from '../audio/pcm.js';
import { resampleClip } from '../audio/resampler.js';
import { readWav } from '../audio/wav.js';
import {
  buildFixture,
  readFixture,
  type FixtureDtmf,
  type FixtureMessage,
  type TwilioInboundMessage,
  type TwilioStartMessage,
} from './fixtures.js';
import {
  TwilioPlaybackEmulator,
  type ClearRecord,
  type HeardSegment,
  type MarkEcho,
  type PlaybackCounters,
  type Underrun,
} from './twilio-playback.js';

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

export interface ParsedTwiml {
  /** `<Connect><Stream url>`, entities decoded; null when the TwiML has no bidirectional stream. */
  streamUrl: string | null;
  /** `<Parameter name value>` inside the Stream, in document order. */
  parameters: Record<string, string>;
  /** Text of every `<Say>`. */
  says: string[];
  hangup: boolean;
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

/** The Twilio params a real inbound call's webhook carries (a representative subset, all signed). */
export function webhookParams(options: { callSid: string; accountSid: string; from: string; to: string }): Record<string, string> {
  return {
    AccountSid: options.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: options.callSid,
    CallStatus: 'ringing',
    Called: options.to,
    Caller: options.from,
    Direction: 'inbound',
    From: options.from,
    To: options.to,
  };
}

/** Places one call. Resolves once `start` has been sent (or at once with outcome `busy`); rejects with TwilioCallerError. */
export async function placeCall(options: PlaceCallOptions): Promise<SimulatedCall> {
  const clock = options.clock ?? systemClock;
  const baseUrl = stripSlash(options.baseUrl);
  const publicBaseUrl = stripSlash(options.publicBaseUrl ?? baseUrl);
  const callSid = options.callSid ?? randomSid('CA');
  const accountSid = options.accountSid ?? randomSid('AC');
  // Load and encode the audio first: a bad file must fail before the phone rings.
  const script = buildScript(options);

  const webhookPath = options.webhookPath ?? '/incoming-call';
  const params = webhookParams({ callSid, accountSid, from: options.from ?? '+15005550006', to: options.to ?? '+15005550001' });
  const twiml = await postWebhook(baseUrl + webhookPath, publicBaseUrl + webhookPath, params, options.authToken);
  const parsedTwiml = parseTwiml(twiml);
  if (parsedTwiml.streamUrl === null) return busyCall({ callSid, accountSid, twiml, parsedTwiml });

  const streamUrl = parsedTwiml.streamUrl;
  const dialUrl = options.connectUrl ?? (publicBaseUrl === baseUrl ? streamUrl : rebaseUrl(streamUrl, baseUrl));
  const headers: Record<string, string> = {};
  if (options.authToken !== null && options.signUpgrade !== false) {
    headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(options.authToken, streamUrl, {});
  }
  if ((options.connectDelayMs ?? 0) > 0) {
    await new Promise<void>((resolve) => clock.setTimeout(resolve, options.connectDelayMs ?? 0));
  }
  const socket = await openSocket(dialUrl, headers);
  return new LiveCall({ clock, socket, callSid, accountSid, twiml, parsedTwiml, streamUrl, script, options }).publicView();
}

/** Minimal TwiML reading: enough to find the bidirectional stream and a busy message. Not a general XML parser. */
export function parseTwiml(xml: string): ParsedTwiml {
  const parameters: Record<string, string> = {};
  const says = [...xml.matchAll(/<Say\b[^>]*>([\s\S]*?)<\/Say>/g)].map((match) => decodeXml(match[1]!.trim()));
  const hangup = /<Hangup\s*\/?>/.test(xml);
  const connect = /<Connect\b[^>]*>([\s\S]*?)<\/Connect>/.exec(xml);
  const stream = connect === null ? null : /<Stream\b([^>]*?)(\/>|>([\s\S]*?)<\/Stream>)/.exec(connect[1]!);
  if (stream === null) {
    if (/<Stream\b/.test(xml)) {
      throw new TwilioCallerError('invalid_twiml', 'TwiML has a <Stream> outside <Connect>: that stream is one-way and cannot carry the agent\'s voice');
    }
    return { streamUrl: null, parameters, says, hangup };
  }
  const url = attribute(stream[1]!, 'url');
  if (url === null) throw new TwilioCallerError('invalid_twiml', 'TwiML <Stream> has no url attribute');
  for (const parameter of (stream[3] ?? '').matchAll(/<Parameter\b([^>]*?)\/?>/g)) {
    const name = attribute(parameter[1]!, 'name');
    const value = attribute(parameter[1]!, 'value');
    if (name !== null) parameters[name] = value ?? '';
  }
  if (!/^wss?:\/\//.test(url)) throw new TwilioCallerError('invalid_twiml', `TwiML <Stream url="${url}"> is not a ws:// or wss:// URL`);
  if (new URL(url).search !== '') {
    throw new TwilioCallerError('invalid_twiml', `TwiML <Stream url="${url}"> has a query string; Twilio does not pass it on (use <Parameter>)`);
  }
  return { streamUrl: url, parameters, says, hangup };
}

// ---------------------------------------------------------------------------------------------------------------

interface ScriptEntry {
  /** Ms since stream start at which to send. */
  atMs: number;
  /** The message without streamSid/sequenceNumber: those are assigned at send time. */
  build: (streamSid: string, sequenceNumber: string) => TwilioInboundMessage;
}

interface Script {
  entries: ScriptEntry[];
  hangUpAtMs: number;
}

function buildScript(options: PlaceCallOptions): Script {
  const dtmf = options.dtmf ?? [];
  let recorded: FixtureMessage[];
  if (options.audio.kind === 'fixture') {
    const fixture = 'path' in options.audio ? readFixtureOrThrow(options.audio.path) : [...options.audio.messages];
    // Recorded times are relative to the recording's start; ours to this call's start.
    const startAtMs = fixture.find((entry) => entry.message.event === 'start')?.atMs ?? fixture[0]?.atMs ?? 0;
    recorded = fixture
      .filter((entry) => entry.message.event === 'media' || entry.message.event === 'dtmf')
      .map((entry) => ({ atMs: entry.atMs - startAtMs, message: entry.message }));
    recorded.push(...buildFixture({ mulaw: new Uint8Array(0), dtmf, envelope: false }));
    recorded.sort((a, b) => a.atMs - b.atMs);
  } else {
    recorded = buildFixture({ mulaw: loadMulaw(options.audio), dtmf, envelope: false });
  }

  const entries: ScriptEntry[] = recorded.map((entry) => ({ atMs: entry.atMs, build: rebuild(entry.message) }));
  const lastMedia = recorded.findLast((entry) => entry.message.event === 'media');
  const lastMediaAtMs = lastMedia?.atMs ?? 0;
  const audioEndMs = Math.max(lastMediaAtMs, recorded.at(-1)?.atMs ?? 0);
  const hangUpAtMs = options.hangUpAfterMs ?? audioEndMs + (options.trailingSilenceMs ?? 0);

  // A phone keeps sending frames while the caller is silent; continue the numbering of the last media frame.
  let chunk = lastMedia?.message.event === 'media' ? Number(lastMedia.message.media.chunk) : 0;
  let timestampMs = lastMedia?.message.event === 'media' ? Number(lastMedia.message.media.timestamp) : 0;
  const silencePayload = bytesToBase64(new Uint8Array(MULAW_BYTES_PER_FRAME).fill(MULAW_SILENCE_BYTE));
  for (let atMs = lastMediaAtMs + FRAME_DURATION_MS; atMs <= hangUpAtMs; atMs += FRAME_DURATION_MS) {
    chunk++;
    timestampMs += FRAME_DURATION_MS;
    const media = { track: 'inbound' as const, chunk: String(chunk), timestamp: String(timestampMs), payload: silencePayload };
    entries.push({ atMs, build: (streamSid, sequenceNumber) => ({ event: 'media', sequenceNumber, streamSid, media }) });
  }
  entries.sort((a, b) => a.atMs - b.atMs);
  return { entries: entries.filter((entry) => entry.atMs <= hangUpAtMs), hangUpAtMs };
}

function rebuild(message: TwilioInboundMessage): ScriptEntry['build'] {
  return (streamSid, sequenceNumber) => ({ ...message, streamSid, sequenceNumber }) as TwilioInboundMessage;
}

function readFixtureOrThrow(path: string): FixtureMessage[] {
  try {
    return readFixture(path);
  } catch (error) {
    throw new TwilioCallerError('invalid_audio', `cannot read fixture ${path}: ${(error as Error).message}`);
  }
}

function loadMulaw(audio: Exclude<CallerAudio, { kind: 'fixture' }>): Uint8Array {
  switch (audio.kind) {
    case 'mulaw':
      return audio.bytes;
    case 'silence':
      return new Uint8Array(Math.round((audio.durationMs * MULAW_SAMPLE_RATE_HZ) / 1000)).fill(MULAW_SILENCE_BYTE);
    case 'wav': {
      let wav;
      try {
        wav = readWav('path' in audio ? readFileSync(audio.path) : audio.data);
      } catch (error) {
        const source = 'path' in audio ? audio.path : 'WAV data';
        throw new TwilioCallerError('invalid_audio', `cannot read ${source}: ${(error as Error).message}`);
      }
      return encodeMulaw(resampleTo8k(wav.samples, wav.sampleRateHz));
    }
  }
}

/** Resamples a whole clip to 8 kHz, tail included. */
export function resampleTo8k(samples: Int16Array, sampleRateHz: number): Int16Array {
  return resampleClip(samples, sampleRateHz, MULAW_SAMPLE_RATE_HZ);
}

async function postWebhook(url: string, signedUrl: string, params: Record<string, string>, authToken: string | null): Promise<string> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
    'User-Agent': 'TwilioProxy/1.1',
    Accept: '*/*',
  };
  if (authToken !== null) headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(authToken, signedUrl, params);
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new TwilioCallerError('unreachable', `cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  const body = await response.text();
  if (response.status !== 200) {
    throw new TwilioCallerError('webhook_http_error', `POST ${url} answered HTTP ${response.status}: ${oneLine(body)}`, response.status);
  }
  return body;
}

function openSocket(url: string, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const fail = (error: TwilioCallerError) => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.terminate();
      reject(error);
    };
    socket.once('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      response.resume();
      fail(new TwilioCallerError('upgrade_refused', `WebSocket upgrade to ${url} refused with HTTP ${status}`, status));
    });
    socket.once('error', (error: Error & { code?: string }) => {
      fail(new TwilioCallerError('connect_failed', `cannot open WebSocket ${url}: ${error.code ?? error.message}`));
    });
    socket.once('open', () => {
      socket.removeAllListeners();
      resolve(socket);
    });
  });
}

function busyCall(details: { callSid: string; accountSid: string; twiml: string; parsedTwiml: ParsedTwiml }): SimulatedCall {
  const result: CallResult = {
    outcome: 'busy',
    callSid: details.callSid,
    accountSid: details.accountSid,
    streamSid: null,
    streamUrl: null,
    twiml: details.twiml,
    parsedTwiml: details.parsedTwiml,
    endedBy: null,
    serverClosedFirst: false,
    closeCode: null,
    closeReason: '',
    durationMs: 0,
    heardAudio: new Uint8Array(0),
    heardSegments: [],
    heardMsTotal: 0,
    unplayedBytesAtEnd: 0,
    marks: [],
    clears: [],
    underruns: [],
    underrunCount: 0,
    underrunMs: 0,
    received: [],
    sent: [],
    protocolErrors: { invalidJson: 0, binaryMessages: 0, wrongStreamSid: 0, invalidPayloads: 0, invalidMarks: 0, unknownEvents: 0, afterStop: 0 },
  };
  const closed = Promise.resolve(result);
  return {
    outcome: 'busy',
    callSid: details.callSid,
    accountSid: details.accountSid,
    streamSid: null,
    streamUrl: null,
    parsedTwiml: details.parsedTwiml,
    playback: null,
    received: [],
    sent: [],
    protocolErrors: result.protocolErrors,
    elapsedMs: () => 0,
    pressDigit: () => {
      throw new Error('busy call has no stream');
    },
    waitForMessage: () => Promise.reject(new Error('busy call has no stream')),
    hangUp: () => closed,
    closed,
  };
}

interface LiveCallInit {
  clock: Clock;
  socket: WebSocket;
  callSid: string;
  accountSid: string;
  twiml: string;
  parsedTwiml: ParsedTwiml;
  streamUrl: string;
  script: Script;
  options: PlaceCallOptions;
}

interface Waiter {
  predicate: (message: unknown) => boolean;
  resolve: (received: ReceivedMessage) => void;
}

/** Owns one connected call: the socket, the send schedule and the playback emulator. */
class LiveCall {
  private readonly clock: Clock;
  private readonly socket: WebSocket;
  private readonly init: LiveCallInit;
  private readonly streamSid = randomSid('MZ');
  private readonly originMs: number;
  private readonly playback: TwilioPlaybackEmulator;
  private readonly received: ReceivedMessage[] = [];
  private readonly sent: SentMessage[] = [];
  private readonly protocolErrors = { invalidJson: 0, binaryMessages: 0, wrongStreamSid: 0 };
  private readonly waiters = new Set<Waiter>();
  private sequenceNumber = 0;
  private nextEntryIndex = 0;
  private timer: TimerHandle | null = null;
  private stopSent = false;
  private endedBy: 'caller' | 'server' | null = null;
  private closeCode: number | null = null;
  private closeReason = '';
  private closedAtMs = 0;
  private readonly closedPromise: Promise<CallResult>;

  constructor(init: LiveCallInit) {
    this.init = init;
    this.clock = init.clock;
    this.socket = init.socket;
    this.closedPromise = new Promise((resolve) => {
      this.socket.on('close', (code: number, reason: Buffer) => {
        this.onClose(code, reason.toString('utf8'));
        resolve(this.result());
      });
    });
    // An error is always followed by 'close'; listening keeps it from being thrown.
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.onMessage(data, isBinary));

    this.originMs = this.clock.now();
    this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.playback = new TwilioPlaybackEmulator({ clock: this.clock, originMs: this.originMs, onMarkEcho: (name) => this.echoMark(name) });
    const start: TwilioStartMessage = {
      event: 'start',
      sequenceNumber: this.nextSequenceNumber(),
      streamSid: this.streamSid,
      start: {
        accountSid: init.accountSid,
        streamSid: this.streamSid,
        callSid: init.callSid,
        tracks: ['inbound'],
        customParameters: { ...init.parsedTwiml.parameters },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    };
    this.send(start);
    this.scheduleNext();
  }

  publicView(): SimulatedCall {
    const self = this;
    const init = this.init;
    return {
      outcome: 'connected',
      callSid: init.callSid,
      accountSid: init.accountSid,
      streamSid: this.streamSid,
      streamUrl: init.streamUrl,
      parsedTwiml: init.parsedTwiml,
      playback: this.playback,
      received: this.received,
      sent: this.sent,
      get protocolErrors() {
        return self.counters();
      },
      elapsedMs: () => this.clock.now() - this.originMs,
      pressDigit: (digit) => {
        if (this.stopSent) return;
        this.send({ event: 'dtmf', sequenceNumber: this.nextSequenceNumber(), streamSid: this.streamSid, dtmf: { track: 'inbound_track', digit } });
      },
      waitForMessage: (predicate, timeoutMs = 5_000) => this.waitForMessage(predicate, timeoutMs),
      hangUp: () => {
        this.finish();
        return this.closedPromise;
      },
      closed: this.closedPromise,
    };
  }

  private nextSequenceNumber(): string {
    return String(++this.sequenceNumber);
  }

  private send(message: TwilioInboundMessage): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.sent.push({ atMs: this.clock.now() - this.originMs, message: this.init.options.keepPayloads === false ? withoutPayload(message) : message });
    this.socket.send(JSON.stringify(message));
  }

  /**
   * Sends everything due, then sleeps until the next entry. The target time is origin + the entry's scripted time,
   * never "now + 20 ms", so a late timer is caught up on instead of drifting.
   */
  private scheduleNext(): void {
    this.timer = null;
    if (this.stopSent) return;
    const { entries, hangUpAtMs } = this.init.script;
    const elapsedMs = this.clock.now() - this.originMs;
    while (this.nextEntryIndex < entries.length && entries[this.nextEntryIndex]!.atMs <= elapsedMs) {
      const entry = entries[this.nextEntryIndex++]!;
      this.send(entry.build(this.streamSid, this.nextSequenceNumber()));
    }
    const nextAtMs = this.nextEntryIndex < entries.length ? entries[this.nextEntryIndex]!.atMs : hangUpAtMs;
    if (this.nextEntryIndex >= entries.length && hangUpAtMs <= elapsedMs) {
      this.finish();
      return;
    }
    this.timer = this.clock.setTimeout(() => this.scheduleNext(), this.originMs + nextAtMs - this.clock.now());
  }

  private echoMark(name: string): void {
    if (this.stopSent) return;
    this.send({ event: 'mark', sequenceNumber: this.nextSequenceNumber(), streamSid: this.streamSid, mark: { name } });
  }

  /** Hang up: Twilio sends `stop`, then closes the socket. */
  private finish(): void {
    if (this.stopSent) return;
    this.playback.stop();
    this.send({
      event: 'stop',
      sequenceNumber: this.nextSequenceNumber(),
      streamSid: this.streamSid,
      stop: { accountSid: this.init.accountSid, callSid: this.init.callSid },
    });
    this.stopSent = true;
    if (this.endedBy === null) this.endedBy = 'caller';
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.socket.close(1000);
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    const atMs = this.clock.now() - this.originMs;
    if (isBinary) {
      this.protocolErrors.binaryMessages++;
      this.record({ atMs, message: Buffer.isBuffer(data) ? data.toString('utf8') : String(data) });
      return;
    }
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.protocolErrors.invalidJson++;
      this.record({ atMs, message: text });
      return;
    }
    this.record({ atMs, message });
    if (typeof message !== 'object' || message === null) {
      this.protocolErrors.invalidJson++;
      return;
    }
    const { event, streamSid } = message as { event?: unknown; streamSid?: unknown };
    if ((event === 'media' || event === 'mark' || event === 'clear') && streamSid !== this.streamSid) {
      this.protocolErrors.wrongStreamSid++;
      return;
    }
    this.playback.receive(message);
  }

  private record(received: ReceivedMessage): void {
    this.received.push(this.init.options.keepPayloads === false ? { atMs: received.atMs, message: withoutPayload(received.message) } : received);
    for (const waiter of this.waiters) {
      if (waiter.predicate(received.message)) {
        this.waiters.delete(waiter);
        waiter.resolve(received);
      }
    }
  }

  private waitForMessage(predicate: (message: unknown) => boolean, timeoutMs: number): Promise<ReceivedMessage> {
    const already = this.received.find((received) => predicate(received.message));
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      // Real time on purpose: this waits for socket I/O, which a ManualClock does not drive.
      const timeout = systemClock.setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching message from the server within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (received) => {
          systemClock.clearTimeout(timeout);
          resolve(received);
        },
      };
      this.waiters.add(waiter);
    });
  }

  private onClose(code: number, reason: string): void {
    this.closedAtMs = this.clock.now() - this.originMs;
    if (this.endedBy === null) this.endedBy = 'server';
    this.stopSent = true;
    this.playback.stop();
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.closeCode = code;
    this.closeReason = reason;
  }

  private counters(): ProtocolErrorCounts {
    return { ...this.protocolErrors, ...this.playback.counters };
  }

  private result(): CallResult {
    const playback = this.playback;
    return {
      outcome: 'completed',
      callSid: this.init.callSid,
      accountSid: this.init.accountSid,
      streamSid: this.streamSid,
      streamUrl: this.init.streamUrl,
      twiml: this.init.twiml,
      parsedTwiml: this.init.parsedTwiml,
      endedBy: this.endedBy,
      serverClosedFirst: this.endedBy === 'server',
      closeCode: this.closeCode,
      closeReason: this.closeReason,
      durationMs: this.closedAtMs,
      heardAudio: playback.heardAudio(),
      heardSegments: playback.heardSegments(),
      heardMsTotal: playback.heardMsTotal,
      unplayedBytesAtEnd: playback.bufferedBytes,
      marks: [...playback.marks],
      clears: [...playback.clears],
      underruns: playback.underruns.map((underrun) => ({ ...underrun })),
      underrunCount: playback.underrunCount,
      underrunMs: playback.underrunMs,
      received: [...this.received],
      sent: [...this.sent],
      protocolErrors: this.counters(),
    };
  }
}

function randomSid(prefix: 'CA' | 'AC' | 'MZ'): string {
  return prefix + randomBytes(16).toString('hex');
}

function stripSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

/** Same path on another origin: `wss://public.example/media-stream` + `http://127.0.0.1:9` → `ws://127.0.0.1:9/media-stream`. */
function rebaseUrl(streamUrl: string, baseUrl: string): string {
  const stream = new URL(streamUrl);
  const base = new URL(baseUrl);
  return `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}${stream.pathname}${stream.search}`;
}

function attribute(attributes: string, name: string): string | null {
  const match = new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(attributes);
  if (match === null) return null;
  return decodeXml(match[1] ?? match[2] ?? '');
}

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_entity, body: string) => {
    switch (body) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(body.startsWith('#x') ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10));
    }
  });
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

/** A media message with an empty payload (the rest kept), for logs that only need times and order. */
function withoutPayload<T>(message: T): T {
  const media = (message as { event?: unknown; media?: { payload?: unknown } }).media;
  if ((message as { event?: unknown }).event !== 'media' || media === undefined) return message;
  return { ...message, media: { ...media, payload: '' } };
}
