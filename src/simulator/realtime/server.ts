/**
 * The simulated OpenAI Realtime server: a real HTTP server with a WebSocket endpoint at `/v1/realtime` (and the
 * Azure shape `/openai/v1/realtime`) that stands in for OpenAI in every test, benchmark and the demo.
 *
 * The upgrade is checked as OpenAI checks it (API key before the WebSocket handshake: HTTP 401), and each accepted
 * connection becomes a `SimulatedSession` (see session.ts) that speaks the GA protocol and records everything.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { closeSimulatedServer, IndexedArrivals, listenLocally, rejectUpgrade } from '../plumbing.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { systemClock, type Clock, type TimerHandle } from '../../clock.js';
import { silentLogger, type Logger } from '../../logger.js';
import type { ReplySpec, ScriptedResponse } from './replies.js';
import { SimulatedSession, type SimulatedSessionObserver } from './session.js';

export { SimulatedSession } from './session.js';
export type {
  CommittedTurn,
  FunctionCallOutputRecord,
  InboundEvent,
  McpApprovalResponseRecord,
  McpCallRecord,
  McpListingRecord,
  ResponseCreateRequest,
  SessionLogEntry,
  SimulatedResponseRecord,
  SimulatedSessionObserver,
  TruncateRecord,
  UserTextMessage,
  ViolationCounters,
} from './session.js';
export type { ReplySpec, ScriptedResponse } from './replies.js';
export { decodeToneTimeline, generateToneTimeline, generateTone, TONE_SEGMENT_MS, type DecodedToneSegment } from './tones.js';
export { thresholdToRms } from './vad.js';
export type { SimulatedSessionObject } from './session-config.js';

export interface SimulatedRealtimeFaults {
  /** Drop the TCP connection (no close frame) right after the n-th `response.output_audio.delta` of a response. */
  closeMidResponseAfterDeltas?: number;
  /** After this long (session clock), send `error` `session_expired` and close 1001. Real sessions: 60 minutes. */
  sessionExpiredAfterMs?: number;
}

export interface SimulatedRealtimeServerOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The key clients must present as `Authorization: Bearer <key>` or `api-key: <key>`. */
  apiKey: string;
  clock?: Clock;
  /** Wait this long before accepting the WebSocket upgrade (a slow connect). */
  handshakeDelayMs?: number;
  /** Answer every upgrade with HTTP 503 (an outage). Mutable on the returned server. */
  refuseConnections?: boolean;
  /** Agent audio is streamed this many times faster than real time. Default 4; Infinity sends it all at once. */
  speedFactor?: number;
  /** Size of each `response.output_audio.delta` in output-format bytes. Default 4 801: deliberately not frame- or sample-aligned. */
  deltaBytes?: number;
  /** What the agent says when no script entry applies. Default: a 1 s tone-coded timeline. */
  reply?: ReplySpec;
  /** Per response index (per session): an audio reply or a function call. Beyond its end, `reply` applies. */
  script?: ScriptedResponse[];
  /** Faults apply to every session; the object is mutable on the returned server (e.g. only the first session). */
  faults?: SimulatedRealtimeFaults;
  /** Transcripts of the caller's committed turns when input transcription is configured, by turn index. */
  callerTranscripts?: string[];
  /** Delay from a commit or `response.create` to `response.created`, ms. Default 0. */
  responseLatencyMs?: number;
  /** Keep base64 audio in session logs (default true); false logs only sizes. */
  logAudio?: boolean;
  /** Log audio appends and deltas at all (default true); false keeps them out of `session.log` (observers still see them). */
  logAudioEvents?: boolean;
  /** Watches every session this server accepts (benchmarks: event timing without touching session state). */
  observer?: SimulatedSessionObserver;
  /** Keep closed sessions in `sessions` (default true); false forgets them (long-running embedded backend). */
  retainClosedSessions?: boolean;
  logger?: Logger;
}

export interface UpgradeAttempt {
  /** ms since the server started (server clock). */
  atMs: number;
  path: string;
  /** 101 when the WebSocket was accepted, else the HTTP status sent. */
  status: number;
}

export interface SimulatedRealtimeServer {
  /** `ws://127.0.0.1:<port>/v1/realtime` (append `?model=…`, or not: the model defaults to gpt-realtime). */
  readonly url: string;
  readonly port: number;
  /** Every accepted session, in connection order. */
  readonly sessions: SimulatedSession[];
  /** Every upgrade request with its outcome, accepted or not. */
  readonly upgradeAttempts: UpgradeAttempt[];
  refuseConnections: boolean;
  faults: SimulatedRealtimeFaults;
  /** Resolves with the session at `index` (default 0) once it has connected. */
  waitForSession(index?: number): Promise<SimulatedSession>;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

const REALTIME_PATHS = new Set(['/v1/realtime', '/openai/v1/realtime']);
const DEFAULT_MODEL = 'gpt-realtime';
const DEFAULT_DELTA_BYTES = 4_801;
const DEFAULT_SPEED_FACTOR = 4;

export async function startSimulatedRealtimeServer(options: SimulatedRealtimeServerOptions): Promise<SimulatedRealtimeServer> {
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger()).child({ component: 'simulated-realtime' });
  const startedAtMs = clock.now();
  const sessions: SimulatedSession[] = [];
  const sockets = new Set<WebSocket>();
  const upgradeAttempts: UpgradeAttempt[] = [];
  const pendingHandshakes = new Set<TimerHandle>();
  const arrivals = new IndexedArrivals<SimulatedSession>((index) => sessions.find((session) => session.index === index));
  let sessionCount = 0;
  let closing = false;

  const httpServer = createServer((_request, response) => {
    response.writeHead(426, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Upgrade to a WebSocket.', type: 'invalid_request_error', param: null, code: null } }));
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });

  const server: SimulatedRealtimeServer = {
    url: '',
    port: 0,
    sessions,
    upgradeAttempts,
    refuseConnections: options.refuseConnections ?? false,
    faults: { ...options.faults },
    waitForSession(index = 0) {
      return arrivals.waitFor(index);
    },
    async close() {
      closing = true;
      for (const handle of pendingHandshakes) clock.clearTimeout(handle);
      pendingHandshakes.clear();
      await closeSimulatedServer(sockets, wss, httpServer);
    },
  };

  const onConnection = (socket: WebSocket, request: IncomingMessage, url: URL): void => {
    sockets.add(socket);
    const index = sessionCount++;
    const session = new SimulatedSession(socket, {
      index,
      model: url.searchParams.get('model') ?? url.searchParams.get('deployment') ?? DEFAULT_MODEL,
      path: url.pathname,
      betaHeader: /realtime\s*=\s*v1/i.test(headerValue(request, 'openai-beta') ?? ''),
      clock,
      speedFactor: options.speedFactor ?? DEFAULT_SPEED_FACTOR,
      deltaBytes: options.deltaBytes ?? DEFAULT_DELTA_BYTES,
      reply: options.reply ?? { kind: 'tone-coded', durationMs: 1_000 },
      script: options.script ?? [],
      callerTranscripts: options.callerTranscripts ?? [],
      responseLatencyMs: options.responseLatencyMs ?? 0,
      closeMidResponseAfterDeltas: server.faults.closeMidResponseAfterDeltas ?? null,
      sessionExpiredAfterMs: server.faults.sessionExpiredAfterMs ?? null,
      logAudio: options.logAudio ?? true,
      logAudioEvents: options.logAudioEvents ?? true,
      observer: options.observer ?? null,
      logger,
    });
    sessions.push(session);
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      session.receive(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    });
    socket.on('close', (code, reason) => {
      sockets.delete(socket);
      session.onSocketClosed(code, reason.toString('utf8'));
      if (options.retainClosedSessions === false) sessions.splice(sessions.indexOf(session), 1);
    });
    socket.on('error', (error) => logger.debug({ err: error, session: session.id }, 'simulated realtime socket error'));
    session.start();
    arrivals.arrive(index, session);
  };

  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://simulated.invalid');
    const attempt: UpgradeAttempt = { atMs: clock.now() - startedAtMs, path: url.pathname, status: 101 };
    upgradeAttempts.push(attempt);
    const reject = (status: number, body: object): void => {
      attempt.status = status;
      rejectUpgrade(socket, status, body);
    };
    if (closing) return reject(503, apiError('The server is shutting down.', null));
    if (server.refuseConnections) return reject(503, apiError('The server is overloaded or not ready yet.', null));
    if (!REALTIME_PATHS.has(url.pathname)) return reject(404, apiError(`Invalid URL (GET ${url.pathname})`, null));
    const presented = presentedKey(request);
    if (presented === null) {
      return reject(
        401,
        apiError(
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          null,
        ),
      );
    }
    if (presented !== options.apiKey) {
      return reject(401, apiError(`Incorrect API key provided: ${maskKey(presented)}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_api_key'));
    }
    const accept = (): void => {
      if (closing || socket.destroyed) return;
      wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request, url));
    };
    const delayMs = options.handshakeDelayMs ?? 0;
    if (delayMs <= 0) return accept();
    const handle = clock.setTimeout(() => {
      pendingHandshakes.delete(handle);
      accept();
    }, delayMs);
    pendingHandshakes.add(handle);
  });

  const { port, authority } = await listenLocally(httpServer, options);
  Object.assign(server, { port, url: `ws://${authority}/v1/realtime` });
  logger.debug({ port }, 'simulated realtime server listening');
  return server;
}

export interface EmbeddedRealtimeBackendOptions {
  apiKey: string;
  logger: Logger;
  host?: string;
  port?: number;
  observer?: SimulatedSessionObserver;
}

/**
 * The default backend for the demo and `npm start` without an OpenAI key: bundled espeak-ng speech, streamed a bit
 * faster than real time (1.5×) in 100 ms deltas after a 250 ms "thinking" pause, greeting when asked to (a
 * `response.create` with instructions before the caller has spoken). Closed sessions are not retained.
 */
export function startEmbeddedRealtimeBackend(options: EmbeddedRealtimeBackendOptions): Promise<SimulatedRealtimeServer> {
  return startSimulatedRealtimeServer({
    apiKey: options.apiKey,
    logger: options.logger,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    reply: { kind: 'speech' },
    speedFactor: 1.5,
    deltaBytes: 4_800,
    responseLatencyMs: 250,
    logAudio: false,
    retainClosedSessions: false,
    observer: options.observer,
  });
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function presentedKey(request: IncomingMessage): string | null {
  const authorization = headerValue(request, 'authorization');
  const bearer = authorization === undefined ? null : /^Bearer\s+(.+)$/i.exec(authorization.trim());
  if (bearer?.[1] !== undefined) return bearer[1].trim();
  const apiKey = headerValue(request, 'api-key');
  return apiKey === undefined || apiKey.trim() === '' ? null : apiKey.trim();
}

/** OpenAI shows the first and last few characters only; a test key must never be echoed whole. */
function maskKey(key: string): string {
  return key.length <= 8 ? '***' : `${key.slice(0, 3)}***${key.slice(-4)}`;
}

function apiError(message: string, code: string | null): object {
  return { error: { message, type: 'invalid_request_error', param: null, code } };
}
