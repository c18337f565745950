/**
 * Process entry: the only place that reads the environment, listens and exits.
 */
import dotenv from 'dotenv';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server/app.js';

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

async function main(): Promise<void> {
  const config = readConfigOrExit();
  const logger = createLogger({ level: config.logLevel, secrets: [config.openai.apiKey, config.twilio.authToken] });
  const server = await startServer({ config, logger });
  logger.info({ port: server.port, publicBaseUrl: config.server.publicBaseUrl }, 'callbridge listening');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const forceExit = setTimeout(() => process.exit(1), 10_000);
    forceExit.unref();
    server.close().then(
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
