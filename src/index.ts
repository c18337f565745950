/**
 * Process entry: the only place that reads the environment, listens and exits.
 */
import dotenv from 'dotenv';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { startServer, type UpstreamTarget } from './server/app.js';

function readConfigOrExit(): Readonly<Config> {
  // Variables already in the environment win over .env; `quiet` keeps dotenv's banner out of our JSON logs.
  dotenv.config({ quiet: true });
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`callbridge: configuration error: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

/** The real API when a key is configured; otherwise (never in production) the embedded simulated server. */
async function resolveUpstream(config: Readonly<Config>, logger: Logger): Promise<{ target: UpstreamTarget; close(): Promise<void> }> {
  const { openai } = config;
  if (openai.backend === 'openai' && openai.apiKey !== null) {
    return { target: { url: openai.realtimeUrl, model: openai.model, apiKey: openai.apiKey, authMode: openai.authMode }, close: async () => {} };
  }
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

async function main(): Promise<void> {
  const config = readConfigOrExit();
  const logger = createLogger({ level: config.logLevel, secrets: [config.openai.apiKey, config.twilio.authToken] });
  const upstream = await resolveUpstream(config, logger);
  const server = await startServer({ config, logger, upstream: upstream.target });
  logger.info(
    { port: server.port, webhookUrl: `${config.server.publicBaseUrl}/incoming-call`, backend: config.openai.backend, audioFormat: config.openai.audioFormat },
    'callbridge listening',
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, activeCalls: server.activeCalls }, 'shutting down');
    const forceExit = setTimeout(() => process.exit(1), 10_000);
    forceExit.unref();
    Promise.all([server.close(), upstream.close()]).then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exitCode = 0;
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`callbridge: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
