/**
 * End-to-end harness: the real callbridge server between a simulated Realtime server and simulated Twilio callers,
 * all on real sockets on 127.0.0.1. The public origin is a fake https host, as behind a reverse proxy: callers sign
 * over it and dial the loopback address.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import type { CallSummary } from '../../src/call/call.js';
import type { Clock } from '../../src/clock.js';
import type { AgentRoster } from '../../src/agents/types.js';
import type { ToolDefinition } from '../../src/call/tools.js';
import type { CallObserver } from '../../src/observers/hub.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { CallRecords } from '../../src/records/service.js';
import { startServer, type RunningServer } from '../../src/server/app.js';
import {
  startSimulatedRealtimeServer,
  type SimulatedRealtimeServer,
  type SimulatedRealtimeServerOptions,
} from '../../src/simulator/realtime/server.js';
import { startSimulatedElevenLabsServer, type SimulatedElevenLabsServer, type SimulatedElevenLabsServerOptions } from '../../src/simulator/elevenlabs/server.js';
import { placeCall, webhookParams, type PlaceCallOptions, type SimulatedCall } from '../../src/simulator/twilio-caller.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';

export const AUTH_TOKEN = 'twilio-test-auth-token-0123456789';
export const OPENAI_KEY = 'sk-sim-e2e-secret-key-abcdef';
export const PUBLIC_BASE_URL = 'https://callbridge.test';
export const ELEVENLABS_KEY = 'xi-sim-e2e-secret-key-0a1b2c';

export interface Bridge {
  sim: SimulatedRealtimeServer;
  /** The simulated ElevenLabs server, when `elevenlabs` was given. */
  elevenlabs: SimulatedElevenLabsServer | null;
  server: RunningServer;
  /** The call records service, when `records` was given (closed by `close()`; the store is the test's). */
  records: CallRecords | null;
  config: Readonly<Config>;
  baseUrl: string;
  summaries: CallSummary[];
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  rawLog(): string;
  call(options: Omit<PlaceCallOptions, 'baseUrl' | 'authToken' | 'publicBaseUrl'> & { authToken?: string | null }): Promise<SimulatedCall>;
  waitForSummaries(count: number, timeoutMs?: number): Promise<CallSummary[]>;
  close(): Promise<void>;
}

export async function startBridge(options: {
  env?: Record<string, string>;
  sim?: Omit<SimulatedRealtimeServerOptions, 'apiKey'>;
  tools?: ToolDefinition[];
  /** The agents (default: one from the environment, as without AGENTS_FILE). */
  agents?: AgentRoster;
  observers?: CallObserver[];
  /** Start a simulated ElevenLabs server with these agents (key ELEVENLABS_KEY) and point the bridge at it. */
  elevenlabs?: Omit<SimulatedElevenLabsServerOptions, 'apiKey'> & { publicAgent?: boolean; defaultAgentId?: string };
  predial?: boolean;
  /** False: no last-chance secret filter on log lines, so a test can prove the code itself never logs a secret. */
  filterSecrets?: boolean;
  /** The server's clock (default the system clock): a test that needs time to jump (a session's expiry) passes one. */
  clock?: Clock;
  /** Run the bridge with call records (ServerDeps.records), built with the bridge's config and logger. */
  records?: (config: Readonly<Config>, logger: Logger) => CallRecords;
} = {}): Promise<Bridge> {
  const sim = await startSimulatedRealtimeServer({ apiKey: OPENAI_KEY, ...options.sim });
  const elevenlabs = options.elevenlabs === undefined ? null : await startSimulatedElevenLabsServer({ apiKey: ELEVENLABS_KEY, ...options.elevenlabs });
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_REALTIME_URL: sim.url,
    LOG_LEVEL: 'debug',
    ...options.env,
  });
  let raw = '';
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString();
      raw += text;
      for (const line of text.split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level: config.logLevel, destination, secrets: options.filterSecrets === false ? [] : [OPENAI_KEY, AUTH_TOKEN, ELEVENLABS_KEY] });
  const records = options.records?.(config, logger) ?? null;
  const summaries: CallSummary[] = [];
  const waiters: Array<() => void> = [];
  const server = await startServer({
    config,
    logger,
    upstream: { url: sim.url, model: config.openai.model, apiKey: OPENAI_KEY, authMode: 'bearer' },
    tools: options.tools,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.agents === undefined ? {} : { agents: options.agents }),
    ...(options.observers === undefined ? {} : { observers: options.observers }),
    ...(records === null ? {} : { records }),
    ...(elevenlabs === null
      ? {}
      : {
          elevenlabs: {
            apiBaseUrl: elevenlabs.url,
            wsBaseUrl: elevenlabs.url.replace(/^http/, 'ws'),
            apiKey: ELEVENLABS_KEY,
            publicAgent: options.elevenlabs?.publicAgent ?? false,
            defaultAgentId: options.elevenlabs?.defaultAgentId ?? options.elevenlabs?.agents[0]?.agentId ?? null,
          },
        }),
    predial: options.predial,
    onCallEnded: (summary) => {
      summaries.push(summary);
      for (const wake of waiters.splice(0)) wake();
    },
  });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  return {
    sim,
    elevenlabs,
    server,
    records,
    config,
    baseUrl,
    summaries,
    logs,
    rawLog: () => raw,
    call: (callOptions) =>
      placeCall({ ...callOptions, baseUrl, publicBaseUrl: PUBLIC_BASE_URL, authToken: callOptions.authToken === undefined ? AUTH_TOKEN : callOptions.authToken }),
    waitForSummaries: async (count, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (summaries.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} call summaries, have ${summaries.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return summaries;
    },
    close: async () => {
      await server.close();
      records?.close();
      await sim.close();
      await elevenlabs?.close();
    },
  };
}

/** Log lines with a given message. */
export function linesWithMsg(logs: ReadonlyArray<Record<string, unknown>>, msg: string): Array<Record<string, unknown>> {
  return logs.filter((line) => line['msg'] === msg);
}

/** The stream URL the TwiML must carry: PUBLIC_BASE_URL's host, wss, the media-stream path. */
export const STREAM_URL = 'wss://callbridge.test/media-stream';
export const ACCOUNT_SID = 'AC0000000000000000000000000000e2e0';

export interface WebhookResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * POSTs the Voice webhook as Twilio would. `signWith`: the auth token to sign with (default AUTH_TOKEN), or null for
 * no `X-Twilio-Signature`; `signedUrl` / `signedParams`: what the signature covers (default: the public webhook URL
 * and the params actually posted), to forge a signature over something else.
 */
export async function postWebhook(
  bridge: Pick<Bridge, 'baseUrl'>,
  options: { callSid: string; signWith?: string | null; signedUrl?: string; signedParams?: Record<string, string> },
): Promise<WebhookResponse> {
  const params = webhookParams({ callSid: options.callSid, accountSid: ACCOUNT_SID, from: '+15005550006', to: '+15005550001' });
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const signWith = options.signWith === undefined ? AUTH_TOKEN : options.signWith;
  if (signWith !== null) {
    headers['X-Twilio-Signature'] = signTwilioRequest(signWith, options.signedUrl ?? `${PUBLIC_BASE_URL}/incoming-call`, options.signedParams ?? params);
  }
  const response = await fetch(`${bridge.baseUrl}/incoming-call`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: await response.text() };
}

export type UpgradeOutcome = { kind: 'open'; socket: WebSocket } | { kind: 'refused'; status: number; body: string };

/**
 * Opens a WebSocket to the bridge with a raw ws client. `signWith`: token for `X-Twilio-Signature` over STREAM_URL
 * (default AUTH_TOKEN), null for none. A refused upgrade resolves with its HTTP status (ws `unexpected-response`).
 */
export function openMediaSocket(bridge: Pick<Bridge, 'server'>, options: { path?: string; signWith?: string | null } = {}): Promise<UpgradeOutcome> {
  const signWith = options.signWith === undefined ? AUTH_TOKEN : options.signWith;
  const headers: Record<string, string> = signWith === null ? {} : { 'X-Twilio-Signature': signTwilioRequest(signWith, STREAM_URL, {}) };
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${bridge.server.port}${options.path ?? '/media-stream'}`, { headers, perMessageDeflate: false });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        socket.terminate();
        resolve({ kind: 'refused', status: response.statusCode ?? 0, body });
      });
    });
    socket.once('open', () => resolve({ kind: 'open', socket }));
    socket.once('error', (error) => {
      if (socket.readyState !== WebSocket.OPEN) reject(error);
    });
  });
}

/** A Media Stream driven message by message by the test, with the ids and counters Twilio would use. */
export interface RawStream {
  readonly socket: WebSocket;
  readonly streamSid: string;
  readonly callSid: string;
  /** Every text message received, parsed, with Date.now() at arrival. */
  readonly received: Array<{ at: number; message: Record<string, unknown> }>;
  /** Resolves when the socket closes (either side), with the close code and reason the client saw. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Sends a JSON message, or a string/Buffer as is (a Buffer goes as a binary frame). */
  send(message: object | string | Buffer): void;
  /** Next sequence number (every message Twilio sends takes one). */
  nextSequenceNumber(): string;
  /**
   * Sends a media message. Bytes for this stream: the next 20 ms frame (chunk and timestamp advance). A string
   * payload is sent verbatim (e.g. invalid base64) and another streamSid marks it foreign; neither advances the clock.
   */
  sendMedia(payload: Uint8Array | string, streamSid?: string): void;
  /** Sends `stop`, then closes with 1000. */
  hangUp(): void;
  /** Agent audio received so far: the media payloads for this stream, concatenated. */
  agentAudio(): Uint8Array;
}

/**
 * Opens a signed Media Stream socket and sends `connected` and `start` with `customParameters` (the TwiML's
 * `<Parameter>`s), as Twilio does after reading the TwiML.
 */
export async function startRawStream(
  bridge: Pick<Bridge, 'server'>,
  options: { callSid: string; customParameters: Record<string, string> },
): Promise<RawStream> {
  const outcome = await openMediaSocket(bridge);
  if (outcome.kind !== 'open') throw new Error(`media stream upgrade refused with HTTP ${outcome.status}`);
  const { socket } = outcome;
  const streamSid = `MZ${randomHex(32)}`;
  const received: RawStream['received'] = [];
  let sequenceNumber = 0;
  let chunk = 0;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') }));
  });
  socket.on('error', () => undefined);
  socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
    if (isBinary) return;
    received.push({ at: Date.now(), message: JSON.parse(String(data)) as Record<string, unknown> });
  });
  const send = (message: object | string | Buffer): void => {
    if (socket.readyState !== WebSocket.OPEN) return;
    if (Buffer.isBuffer(message)) socket.send(message, { binary: true });
    else socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  };
  const nextSequenceNumber = (): string => String(++sequenceNumber);
  send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  send({
    event: 'start',
    sequenceNumber: nextSequenceNumber(),
    streamSid,
    start: {
      accountSid: ACCOUNT_SID,
      streamSid,
      callSid: options.callSid,
      tracks: ['inbound'],
      customParameters: options.customParameters,
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
  });
  return {
    socket,
    streamSid,
    callSid: options.callSid,
    received,
    closed,
    send,
    nextSequenceNumber,
    sendMedia: (payload, otherStreamSid) => {
      // Only a well-formed frame of this stream advances the media clock: the others are what the test injects.
      const advances = otherStreamSid === undefined && typeof payload !== 'string';
      if (advances) chunk++;
      const frameChunk = advances ? chunk : chunk + 1;
      send({
        event: 'media',
        sequenceNumber: nextSequenceNumber(),
        streamSid: otherStreamSid ?? streamSid,
        media: {
          track: 'inbound',
          chunk: String(frameChunk),
          timestamp: String(frameChunk * 20),
          payload: typeof payload === 'string' ? payload : Buffer.from(payload).toString('base64'),
        },
      });
    },
    hangUp: () => {
      send({ event: 'stop', sequenceNumber: nextSequenceNumber(), streamSid, stop: { accountSid: ACCOUNT_SID, callSid: options.callSid } });
      socket.close(1000);
    },
    agentAudio: () => {
      const payloads = received
        .map((entry) => entry.message)
        .filter((message) => message['event'] === 'media' && message['streamSid'] === streamSid)
        .map((message) => Buffer.from(String((message['media'] as { payload?: unknown } | undefined)?.payload ?? ''), 'base64'));
      return new Uint8Array(Buffer.concat(payloads));
    },
  };
}

/** A fresh CallSid, shaped like Twilio's. */
export function newCallSid(): string {
  return `CA${randomHex(32)}`;
}

function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2)).toString('hex').slice(0, length);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`${what}: not within ${ms} ms`)))]);
}

/** Polls until `condition` holds (for state settled by socket events that race the test's own awaits). */
export async function waitUntil(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}
