/**
 * HTTP + WebSocket server: the Twilio webhook, the Media Stream endpoint and /healthz on one port.
 *
 * The upgrade to /media-stream is checked in ws's `verifyClient`, i.e. before any WebSocket handshake, so an
 * unsigned or misdirected upgrade gets a plain HTTP 403/404 and never a socket. (express-ws rewrites `req.url` to
 * `…/.websocket` only after the handshake, so the check must happen here, not in an express middleware.)
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import express from 'express';
import expressWs from 'express-ws';
import type { WebSocket } from 'ws';
import type { CallSummary } from '../call/call.js';
import type { ToolDefinition } from '../call/tools.js';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { CallObservers, type CallObserver } from '../observers/hub.js';
import { rosterFromConfig } from '../agents/from-config.js';
import type { AgentRoster } from '../agents/types.js';
import type { RealtimeTarget } from '../providers/openai/dialer.js';
import { acceptMediaStream } from '../twilio/media-stream.js';
import { CallRecorder } from '../twilio/recorder.js';
import { checkMediaStreamUpgrade } from '../twilio/upgrade.js';
import { createTwilioWebhookRouter } from '../twilio/webhook.js';
import type { CallRecords } from '../records/service.js';
import { CallAdmission } from './admission.js';
import { PhoneTokens } from '../browser/phone-tokens.js';
import { consoleSessionAuth, trustedOriginsOf } from '../console/csrf.js';
import { LiveCalls } from '../console/live-calls.js';
import { ClusterMembership } from '../cluster/membership.js';
import { createConsoleRouter, createConsoleSessions } from '../console/router.js';
import { handlePhoneSocket } from '../browser/route.js';
import { checkPhoneUpgrade, isPhoneUpgrade, PHONE_WS_PATH } from '../browser/upgrade.js';
import { CallGuard } from './call-guard.js';
import { createRecordsApiRouter } from './records-api.js';
import type { CallMetrics, RefusalReason } from '../metrics/call-metrics.js';
import { createMetricsRouter } from '../metrics/router.js';
import { OutboundCalls } from '../outbound/outbound-calls.js';
import { createOutboundRouter } from '../outbound/routes.js';
import { twilioCallsFromConfig, type TwilioCalls } from '../outbound/twilio-rest.js';
import { createAgentDialer, createAgentTools, type ElevenLabsTarget } from './agents-wiring.js';

/** Where and how to reach the Realtime API (OpenAI, Azure, or the embedded simulated server). */
export type UpstreamTarget = RealtimeTarget;

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
  /** Where ElevenLabs is (the real API or the embedded simulated server); absent = ElevenLabs is not used. */
  elevenlabs?: ElevenLabsTarget;
  /** The agents (agent file); default: one agent from the environment. */
  agents?: AgentRoster;
  /** Call observers (records, metrics, console): started, live events, ended. */
  observers?: readonly CallObserver[];
  /** Call records (database, recordings, the records API); absent = no records. */
  records?: CallRecords;
  /** Prometheus metrics: observes every call and serves GET /metrics; absent = no /metrics route. */
  metrics?: CallMetrics;
  /** Twilio's Calls API for outbound calls; default from the configuration (null = outbound off). */
  twilioCalls?: TwilioCalls | null;
}

export interface RunningServer {
  readonly httpServer: http.Server;
  /** Port actually bound (differs from config when config.server.port is 0). */
  readonly port: number;
  readonly activeCalls: number;
  /** Stops accepting, ends live calls, closes sockets. Resolves when everything is closed. */
  close(): Promise<void>;
  /**
   * Graceful drain (SIGTERM): readiness goes 503 and new calls hear the busy TwiML at once; live calls finish on their
   * own for up to `timeoutMs`; then each remaining caller hears a short goodbye from the agent (at most
   * `goodbyeGraceMs`), and the server closes. Resolves when closed.
   */
  drain(options: { timeoutMs: number; goodbyeGraceMs?: number }): Promise<void>;
  readonly draining: boolean;
  /** One-time tokens for the browser phone's socket (the console issues them; tests may too). */
  readonly phoneTokens: PhoneTokens;
}

/** What the agent says to a caller still on the line when a drain runs out of time. */
export const DRAIN_GOODBYE_INSTRUCTIONS =
  'The service has to end this call now for maintenance. Apologise briefly, invite the caller to call again, and say a polite goodbye.';
const DRAIN_GOODBYE_GRACE_MS = 30_000;

const SHUTDOWN_GRACE_MS = 5_000;

/** The console's built pages (`npm run build` → dist/web), the same place from src/server and dist/server. */
const WEB_ASSETS_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** True when `promise` settled within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  const result = await Promise.race([promise.then(() => true as const), timeout]);
  clearTimeout(timer);
  return result;
}

export async function startServer(deps: ServerDeps): Promise<RunningServer> {
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const tools = deps.tools ?? [];
  const onCallEnded = deps.onCallEnded;
  const guard = new CallGuard({ config, logger, store: () => deps.records?.store() ?? null });
  guard.start();
  // The console's live view: every call's events so far, fanned out to signed-in pages.
  const liveCalls = new LiveCalls({ logger });
  const observers = new CallObservers(
    [
      liveCalls,
      ...(deps.records === undefined ? [] : [deps.records]),
      guard,
      ...(deps.metrics === undefined ? [] : [deps.metrics]),
      ...(deps.observers ?? []).filter((observer) => observer !== deps.metrics),
      ...(onCallEnded === undefined ? [] : [{ name: 'onCallEnded', callEnded: (_call: unknown, summary: CallSummary) => onCallEnded(summary) }])],
    logger,
  );
  const roster = deps.agents ?? rosterFromConfig(config);
  const wiring = { config, roster, target: deps.upstream, clock, logger, codeTools: tools, ...(deps.elevenlabs === undefined ? {} : { elevenlabs: deps.elevenlabs }) };
  const outbound = new OutboundCalls({
    config,
    roster,
    logger,
    clock,
    observers,
    twilio: deps.twilioCalls === undefined ? twilioCallsFromConfig(config) : deps.twilioCalls,
    spendCapReached: () => guard.spendCapReached(),
  });
  const admission = new CallAdmission({
    outbound,
    config,
    logger,
    clock,
    roster,
    dialAgent: createAgentDialer(wiring),
    toolsFor: createAgentTools(wiring),
    predial: deps.predial !== false,
    observers,
    guard,
    ...(deps.records === undefined ? {} : { recordingFor: deps.records.recordingFor.bind(deps.records) }),
    ...(deps.metrics === undefined ? {} : { onRefusal: (reason: RefusalReason) => deps.metrics?.countRefusal(reason) }),
  });
  const phoneTokens = new PhoneTokens({ clock });
  // Our origins besides a request's own (PUBLIC_BASE_URL): the console may be served through the load balancer's
  // origin, read the records API there and open the phone on this instance's own URL.
  const trustedOrigins = trustedOriginsOf(config.server.publicBaseUrl);
  deps.metrics?.observeDraining(() => admission.isDraining || !admission.accepting);

  const app = express();
  app.disable('x-powered-by');
  // Behind a TLS-terminating proxy: the console's cookie is Secure and its sign-in throttle sees the real client.
  if (config.server.trustProxy !== null) app.set('trust proxy', config.server.trustProxy);
  const httpServer = http.createServer(app);
  const ws = expressWs(app, httpServer, {
    wsOptions: {
      maxPayload: config.server.maxMessageBytes,
      perMessageDeflate: false,
      verifyClient: (info, done) => {
        const verdict = !admission.accepting
          ? ({ ok: false, status: 503, reason: 'shutting down' } as const)
          : isPhoneUpgrade(info.req)
            ? checkPhoneUpgrade(info.req, phoneTokens, trustedOrigins)
            : checkMediaStreamUpgrade(info.req, config);
        if (verdict.ok) return done(true);
        // The path only: the browser phone's query carries its one-time token, still live after a 403 or a 400.
        const path = (info.req.url ?? '').split('?', 1)[0];
        logger.warn({ url: path, status: verdict.status, reason: verdict.reason, remote: info.req.socket.remoteAddress }, 'WebSocket upgrade refused');
        done(false, verdict.status, verdict.reason);
      },
    },
  });

  // Liveness: the process answers (a draining process is alive: its calls are finishing).
  app.get('/healthz', (_req, res) => {
    res.status(200).json({ status: admission.accepting ? 'ok' : 'stopping', activeCalls: admission.activeCalls });
  });
  if (deps.metrics !== undefined) app.use(createMetricsRouter(deps.metrics, { bearerToken: config.metrics.token }));
  // Readiness: may this instance take new calls? A load balancer takes a draining instance out at once.
  app.get('/readyz', (_req, res) => {
    const ready = admission.ready;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : admission.isDraining ? 'draining' : 'stopping', activeCalls: admission.activeCalls });
  });

  app.use(
    createTwilioWebhookRouter({
      config,
      tokens: admission.tokens,
      logger,
      admitCall: (callSid) => admission.admitWebhook(callSid),
      // In a cluster another instance is up while this one drains (docs/scale-out.md).
      retryElsewhere: () => config.cluster.enabled && admission.isDraining,
      refuseCaller: (from, callSid) => admission.refuseCaller(from, callSid),
      agentFor: (calledNumber) => admission.agentFor(calledNumber),
      onCallAccepted: (call) => admission.callAccepted(call),
      afterStream: (request, resume) => admission.afterStream(request, resume),
      outboundCall: (requestId, callSid) => outbound.voiceRequest(requestId, callSid),
    }),
  );
  app.use(createOutboundRouter({ config, logger, outbound }));

  const records = deps.records;
  const consoleSessions = createConsoleSessions({ config, clock, adminKey: config.api.key });
  const cluster =
    config.cluster.enabled && config.records.databaseUrl !== null
      ? new ClusterMembership({
          cluster: config.cluster,
          databaseUrl: config.records.databaseUrl,
          logger,
          liveCalls,
          figures: () => ({ activeCalls: admission.activeCalls, maxCalls: config.server.maxConcurrentCalls, draining: !admission.ready }),
          hangUpLocal: (callSid, reason) => admission.hangUpCall(callSid, reason),
          onLostCalls: (lost) => {
            for (const call of lost) records?.callLost(call.info, Date.now());
          },
        })
      : null;
  const instances = async () =>
    cluster === null
      ? [{ instanceId: config.cluster.instanceId, publicUrl: config.cluster.instancePublicUrl, activeCalls: admission.activeCalls, maxCalls: config.server.maxConcurrentCalls, draining: !admission.ready, alive: true }]
      : cluster.instances();
  app.use(
    createConsoleRouter({
      config,
      logger,
      clock,
      adminKey: config.api.key,
      assetsDir: WEB_ASSETS_DIR,
      roster,
      phoneTokens,
      liveCalls,
      hangUp: (callSid, reason) => admission.hangUpCall(callSid, reason) || (cluster?.hangUpRemote(callSid, reason) ?? false),
      store: () => records?.store() ?? null,
      sessions: consoleSessions,
    }),
  );
  app.use(
    createRecordsApiRouter({
      ...(consoleSessions === null ? {} : { consoleSession: consoleSessionAuth(consoleSessions, trustedOrigins) }),
      apiKey: config.api.key,
      liveCalls: () => liveCalls.snapshot(),
      instances,
      store: () => records?.store() ?? null,
      recordingsDir: records === undefined ? null : config.records.recordingsDir,
      logger,
    }),
  );

  ws.app.ws('/media-stream', (socket: WebSocket) => {
    void handleMediaStream(socket);
  });
  ws.app.ws(PHONE_WS_PATH, (socket: WebSocket, req) => handlePhoneSocket(socket, req, { tokens: phoneTokens, admission, logger, trustedOrigins }));

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
    try {
      admission.acceptStream(stream, () => void recorder?.close());
    } catch (error) {
      // A dial that throws (a configuration the start-up checks did not catch) ends this stream, not the process.
      logger.error({ err: error, callSid: stream.start.callSid }, 'could not start the call');
      stream.close(1011, 'internal error');
      void recorder?.close();
    }
  }

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.server.port, config.server.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  void cluster?.join();

  if (config.api.key === null) logger.info('CALLBRIDGE_API_KEY is not set: the HTTP API (records, outbound calls), the console and the browser phone are off');
  else {
    logger.info({ console: `${config.server.publicBaseUrl}/console` }, 'the operator console is on (sign in with CALLBRIDGE_API_KEY)');
    if (!outbound.enabled) logger.info('outbound calls are off: set TWILIO_ACCOUNT_SID, TWILIO_FROM_NUMBER and a Twilio credential');
  }
  if (config.twilio.authToken === null) {
    logger.warn('TWILIO_AUTH_TOKEN is not set: webhook and WebSocket signatures are NOT checked. Development only: anyone who can reach this port can place calls on your OpenAI key.');
  }

  let closing: Promise<void> | null = null;
  let draining: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      outbound.stop();
      guard.stop();
      await admission.shutdown(SHUTDOWN_GRACE_MS);
      // After the calls ended: the others hear of it, then this instance leaves.
      await cluster?.stop();
      for (const client of ws.getWss().clients) client.terminate();
      httpServer.closeAllConnections();
      await httpClosed;
    })();
    return closing;
  };
  return {
    httpServer,
    port,
    get activeCalls() {
      return admission.activeCalls;
    },
    close,
    get draining() {
      return admission.isDraining;
    },
    phoneTokens,
    drain: ({ timeoutMs, goodbyeGraceMs = DRAIN_GOODBYE_GRACE_MS }) => {
      draining ??= (async () => {
        outbound.stop();
        logger.info({ activeCalls: admission.activeCalls, timeoutMs }, 'draining: new calls are refused, live calls finish');
        const idle = admission.drain();
        if (!(await settlesWithin(idle, timeoutMs))) {
          logger.warn({ activeCalls: admission.activeCalls }, 'drain timed out: the remaining callers hear a goodbye');
          admission.endAllPolitely('server draining', DRAIN_GOODBYE_INSTRUCTIONS);
          await settlesWithin(admission.whenIdle(), goodbyeGraceMs);
        }
        await close();
      })();
      return draining;
    },
  };
}
