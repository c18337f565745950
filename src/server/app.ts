/**
 * HTTP + WebSocket server: the Twilio webhook, the Media Stream endpoint and /healthz on one port.
 *
 * The upgrade to /media-stream is checked in ws's `verifyClient`, i.e. before any WebSocket handshake, so an
 * unsigned or misdirected upgrade gets a plain HTTP 403/404 and never a socket. (express-ws rewrites `req.url` to
 * `…/.websocket` only after the handshake, so the check must happen here, not in an express middleware.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import expressWs from 'express-ws';
import type { WebSocket } from 'ws';
import { Call, type CallSummary } from '../call/call.js';
import { toolSchemas, type ToolDefinition } from '../call/tools.js';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { openRealtimeConnection, type RealtimeConnection } from '../realtime/client.js';
import { PredialPool } from '../realtime/predial.js';
import { buildSessionUpdate } from '../realtime/session-config.js';
import { acceptMediaStream } from '../twilio/media-stream.js';
import { CallRecorder } from '../twilio/recorder.js';
import { StreamTokenRegistry } from '../twilio/stream-tokens.js';
import { checkMediaStreamUpgrade } from '../twilio/upgrade.js';
import { createTwilioWebhookRouter } from '../twilio/webhook.js';

/** Where and how to reach the Realtime API (OpenAI, Azure, or the embedded simulated server). */
export interface UpstreamTarget {
  url: string;
  model: string;
  apiKey: string;
  authMode: 'bearer' | 'api-key';
}

export interface ServerDeps {
  config: Readonly<Config>;
  logger: Logger;
  upstream: UpstreamTarget;
  clock?: Clock;
  tools?: readonly ToolDefinition[];
  /** Open the upstream session while answering the webhook (default true). */
  predial?: boolean;
  /** Observes every finished call (tests, benchmarks). */
  onCallEnded?(summary: CallSummary): void;
}

export interface RunningServer {
  readonly httpServer: http.Server;
  /** Port actually bound (differs from config when config.server.port is 0). */
  readonly port: number;
  readonly activeCalls: number;
  /** Stops accepting, ends live calls, closes sockets. Resolves when everything is closed. */
  close(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 5_000;

export async function startServer(deps: ServerDeps): Promise<RunningServer> {
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const tools = deps.tools ?? [];
  const sessionUpdate = buildSessionUpdate(config.openai, tools.length > 0 ? toolSchemas(tools) : undefined);
  const tokens = new StreamTokenRegistry({ clock, ttlMs: config.server.streamTokenTtlMs });
  const predialPool = new PredialPool({ clock, ttlMs: config.openai.predialTimeoutMs, logger });
  const calls = new Set<Call>();
  let shuttingDown = false;

  const dialUpstream = (callLogger: Logger): RealtimeConnection =>
    openRealtimeConnection({
      url: deps.upstream.url,
      model: deps.upstream.model,
      apiKey: deps.upstream.apiKey,
      authMode: deps.upstream.authMode,
      sessionUpdate,
      logger: callLogger,
      clock,
    });

  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  const ws = expressWs(app, httpServer, {
    wsOptions: {
      maxPayload: config.server.maxMessageBytes,
      perMessageDeflate: false,
      verifyClient: (info, done) => {
        const verdict = shuttingDown
          ? ({ ok: false, status: 503, reason: 'shutting down' } as const)
          : checkMediaStreamUpgrade(info.req, config);
        if (verdict.ok) return done(true);
        logger.warn({ url: info.req.url, status: verdict.status, reason: verdict.reason, remote: info.req.socket.remoteAddress }, 'WebSocket upgrade refused');
        done(false, verdict.status, verdict.reason);
      },
    },
  });

  app.get('/healthz', (_req, res) => {
    res.status(shuttingDown ? 503 : 200).json({ status: shuttingDown ? 'stopping' : 'ok', activeCalls: calls.size });
  });

  app.use(
    createTwilioWebhookRouter({
      config,
      tokens,
      logger,
      admitCall: (callSid) => {
        const admitted = !shuttingDown && calls.size + tokens.size < config.server.maxConcurrentCalls;
        if (!admitted) logger.warn({ callSid, activeCalls: calls.size, maxConcurrentCalls: config.server.maxConcurrentCalls }, 'call refused: at capacity');
        return admitted;
      },
      onCallAccepted: ({ token, callSid }) => {
        if (deps.predial === false) return;
        predialPool.put(token, dialUpstream(logger.child({ callSid })));
      },
    }),
  );

  ws.app.ws('/media-stream', (socket: WebSocket) => {
    void handleMediaStream(socket);
  });

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });

  async function handleMediaStream(socket: WebSocket): Promise<void> {
    const recorder = config.server.recordDir === null ? undefined : new CallRecorder({ dir: config.server.recordDir, logger });
    let stream;
    try {
      stream = await acceptMediaStream(socket, { handshakeTimeoutMs: config.server.handshakeTimeoutMs, logger, clock, recorder });
    } catch (error) {
      logger.warn({ err: error }, 'media stream closed before it started');
      void recorder?.close();
      return;
    }
    const { start } = stream;
    const callLogger = logger.child({ callSid: start.callSid, streamSid: start.streamSid });
    const token = start.customParameters['streamToken'];
    const announced = token === undefined ? null : tokens.consume(token);
    const predialled = token === undefined ? null : predialPool.claim(token);
    if (announced === null || announced.callSid !== start.callSid || shuttingDown) {
      callLogger.warn(
        { reason: announced === null ? 'unknown, expired or reused stream token' : shuttingDown ? 'shutting down' : 'callSid does not match the token' },
        'media stream refused: not announced by our webhook',
      );
      predialled?.close();
      stream.close(1008, 'stream not announced');
      void recorder?.close();
      return;
    }
    const upstream = predialled ?? dialUpstream(callLogger);
    const call = new Call({
      config,
      clock,
      logger: callLogger,
      stream,
      upstream,
      tools,
      predialled: predialled !== null,
      redial: () => dialUpstream(callLogger),
    });
    calls.add(call);
    call.ended.then(
      (summary) => {
        calls.delete(call);
        void recorder?.close();
        deps.onCallEnded?.(summary);
      },
      (error: unknown) => {
        calls.delete(call);
        callLogger.error({ err: error }, 'call ended with an internal error');
      },
    );
    call.start();
  }

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.server.port, config.server.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;

  if (config.twilio.authToken === null) {
    logger.warn('TWILIO_AUTH_TOKEN is not set: webhook and WebSocket signatures are NOT checked. Development only: anyone who can reach this port can place calls on your OpenAI key.');
  }

  let closing: Promise<void> | null = null;
  return {
    httpServer,
    port,
    get activeCalls() {
      return calls.size;
    },
    close: () => {
      closing ??= (async () => {
        shuttingDown = true;
        const httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        predialPool.closeAll();
        const ending = [...calls].map((call) => {
          call.hangUp('server shutting down');
          return call.ended.catch(() => undefined);
        });
        await Promise.race([Promise.all(ending), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref())]);
        for (const client of ws.getWss().clients) client.terminate();
        httpServer.closeAllConnections();
        await httpClosed;
      })();
      return closing;
    },
  };
}

