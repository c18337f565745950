/**
 * Process entry: the only place that reads the environment, listens and exits.
 */
import dotenv from 'dotenv';
import { loadAgentRoster } from './agents/load.js';
import { checkProviderCredentials, providersUsed } from './agents/credentials.js';
import { agentSecrets, describeRoster } from './agents/secrets.js';
import type { AgentRoster } from './agents/types.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import type { ElevenLabsTarget } from './server/agents-wiring.js';
import { startServer, type UpstreamTarget } from './server/app.js';
import { CallRecords } from './records/service.js';
import { CallMetrics } from './metrics/call-metrics.js';
import type { Tracing } from './tracing/otel.js';
import { systemClock } from './clock.js';

/** Runs `read`; a configuration error prints one line per problem and exits 78 (EX_CONFIG). */
function orExit<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.message.split('\n')) process.stderr.write(`callbridge: configuration error: ${line}\n`);
      process.exit(78);
    }
    throw error;
  }
}

function readConfigOrExit(): { config: Readonly<Config>; agents: AgentRoster } {
  // Variables already in the environment win over .env; `quiet` keeps dotenv's banner out of our JSON logs.
  // DOTENV_CONFIG_PATH names another file (tests point it nowhere, so a developer's own .env stays out of them).
  dotenv.config({ quiet: true, ...(process.env['DOTENV_CONFIG_PATH'] === undefined ? {} : { path: process.env['DOTENV_CONFIG_PATH'] }) });
  const config = orExit(() => loadConfig());
  const agents = orExit(() => loadAgentRoster({ path: config.agentsFile, config }));
  orExit(() => checkProviderCredentials(config, agents));
  return { config, agents };
}

/** The real API when a key is configured; otherwise (never in production) the embedded simulated server. */
async function resolveUpstream(config: Readonly<Config>, agents: AgentRoster, logger: Logger): Promise<{ target: UpstreamTarget; close(): Promise<void> }> {
  const { openai } = config;
  // No agent uses OpenAI: nothing is started, and the target is never dialled.
  const unused = !providersUsed(agents).has('openai');
  if (unused || (openai.backend === 'openai' && openai.apiKey !== null)) {
    return { target: { url: openai.realtimeUrl, model: openai.model, apiKey: openai.apiKey ?? '', authMode: openai.authMode }, close: async () => {} };
  }
  // checkProviderCredentials refused this in production already; this guard keeps the simulator out regardless.
  if (config.nodeEnv === 'production') throw new Error('no OpenAI key in production');
  // Loaded only when used: a production process never loads the simulator (nor its speech assets).
  const { startEmbeddedRealtimeBackend } = await import('./simulator/realtime/server.js');
  const backendKey = `sim-${process.pid}-${Date.now()}`;
  const backend = await startEmbeddedRealtimeBackend({ apiKey: backendKey, logger });
  logger.warn(
    { url: backend.url },
    '*** OPENAI_API_KEY is not set: using the EMBEDDED SIMULATED Realtime backend (canned speech, no AI). Set OPENAI_API_KEY to talk to OpenAI. ***',
  );
  return { target: { url: backend.url, model: openai.model, apiKey: backendKey, authMode: 'bearer' }, close: () => backend.close() };
}

/** ElevenLabs when some agent uses it: the real API with a key (or a public agent), else the embedded simulated server. */
async function resolveElevenLabs(config: Readonly<Config>, agents: AgentRoster, logger: Logger): Promise<{ target?: ElevenLabsTarget; close(): Promise<void> }> {
  if (!providersUsed(agents).has('elevenlabs')) return { close: async () => {} };
  const { elevenlabs } = config;
  if (elevenlabs.backend === 'elevenlabs') {
    const apiBaseUrl = elevenlabs.apiUrl.replace(/\/$/, '');
    return {
      target: { apiBaseUrl, wsBaseUrl: apiBaseUrl.replace(/^http/, 'ws'), apiKey: elevenlabs.apiKey, publicAgent: elevenlabs.publicAgent, defaultAgentId: elevenlabs.agentId },
      close: async () => {},
    };
  }
  if (config.nodeEnv === 'production') throw new Error('no ElevenLabs key in production');
  // Loaded only when used, like the simulated Realtime backend.
  const { startEmbeddedElevenLabsBackend, EMBEDDED_AGENT_ID } = await import('./simulator/elevenlabs/server.js');
  const backendKey = `sim-el-${process.pid}-${Date.now()}`;
  const backend = await startEmbeddedElevenLabsBackend({ apiKey: backendKey, logger });
  logger.warn({ url: backend.url }, '*** ELEVENLABS_API_KEY is not set: using the EMBEDDED SIMULATED ElevenLabs backend (canned speech, no AI). ***');
  return {
    target: { apiBaseUrl: backend.url, wsBaseUrl: backend.url.replace(/^http/, 'ws'), apiKey: backendKey, publicAgent: false, defaultAgentId: elevenlabs.agentId ?? EMBEDDED_AGENT_ID },
    close: () => backend.close(),
  };
}

/** The password inside DATABASE_URL, so the log filter catches it on its own too. */
function databasePassword(databaseUrl: string | null): string | null {
  if (databaseUrl === null) return null;
  try {
    const password = decodeURIComponent(new URL(databaseUrl).password);
    return password === '' ? null : password;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const { config, agents } = readConfigOrExit();
  const logger = createLogger({
    level: config.logLevel,
    secrets: [config.openai.apiKey, config.twilio.authToken, config.twilio.apiKeySecret, config.elevenlabs.apiKey, config.api.key, config.metrics.token, config.records.databaseUrl, databasePassword(config.records.databaseUrl), ...agentSecrets(agents)],
  });
  // Loaded only when configured: with tracing off neither the tracing module nor the OpenTelemetry SDK is loaded.
  let tracing: Tracing | null = null;
  if (config.tracing.otlpEndpoint !== null) {
    const { startTracing } = await import('./tracing/otel.js');
    tracing = startTracing({ endpoint: config.tracing.otlpEndpoint, tracesEndpoint: config.tracing.otlpTracesEndpoint ?? undefined, clock: systemClock, logger });
    logger.info({ host: new URL(config.tracing.otlpEndpoint).host }, 'tracing: one OpenTelemetry trace per call (OTLP/HTTP)');
  }
  const upstream = await resolveUpstream(config, agents, logger);
  const elevenlabs = await resolveElevenLabs(config, agents, logger);
  const secrets = [config.openai.apiKey, config.twilio.authToken, config.twilio.apiKeySecret, config.elevenlabs.apiKey, config.api.key, config.records.databaseUrl, ...agentSecrets(agents)];
  const records = config.records.enabled ? new CallRecords({ config, logger, clock: systemClock, secrets }) : undefined;
  if (records === undefined) logger.info('RECORDS=off: no call records, no records API');
  const metrics = new CallMetrics({
    prices: config.records.prices,
    maxConcurrentCalls: config.server.maxConcurrentCalls,
    ...(records === undefined ? {} : { recordStats: () => records.stats() }),
  });
  const server = await startServer({
    config,
    logger,
    upstream: upstream.target,
    agents,
    ...(elevenlabs.target === undefined ? {} : { elevenlabs: elevenlabs.target }),
    ...(records === undefined ? {} : { records }),
    metrics,
    ...(tracing === null ? {} : { observers: [tracing.observer] }),
  });
  logger.info(
    { port: server.port, webhookUrl: `${config.server.publicBaseUrl}/incoming-call`, backend: config.openai.backend, audioFormat: config.openai.audioFormat },
    'callbridge listening',
  );
  logger.info(describeRoster(agents), agents.source === 'file' ? `agents loaded from ${config.agentsFile}` : 'one agent from the environment (no AGENTS_FILE)');

  // First SIGTERM/SIGINT: drain (readiness 503, new calls busy, live calls finish for up to DRAIN_TIMEOUT_S, then a
  // goodbye), records flushed, exit 0. A second signal: end at once (calls hung up, records flushed briefly).
  let signals = 0;
  const finish = async (): Promise<void> => {
    await Promise.all([upstream.close(), elevenlabs.close()]);
    // Records of the calls just ended are written before the process exits.
    if (records !== undefined && !(await records.flush(8_000))) logger.warn({ ...records.stats() }, 'shutdown: some call records were not written');
    records?.close();
    await tracing?.shutdown(5_000);
  };
  /** Runs `shutDown`, then the rest of the shutdown, then exits: 0 when everything went, 1 on an error. */
  const exitAfter = (shutDown: Promise<void>, what: string): void => {
    shutDown.then(finish).then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, `error while ${what}`);
        logger.flush();
        process.exit(1);
      },
    );
  };
  const stop = (signal: string): void => {
    signals++;
    if (signals === 1) {
      logger.info({ signal, activeCalls: server.activeCalls, drainTimeoutS: config.server.drainTimeoutS }, 'draining (a second signal stops at once)');
      exitAfter(server.drain({ timeoutMs: config.server.drainTimeoutS * 1000 }), 'draining');
      return;
    }
    if (signals > 2) process.exit(1);
    logger.warn({ signal, activeCalls: server.activeCalls }, 'second signal: stopping now');
    setTimeout(() => process.exit(1), 10_000).unref();
    exitAfter(server.close(), 'stopping');
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`callbridge: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
