/**
 * pino with the secrets taken out. Two layers: `redact` for the places secrets are known to sit (config, headers),
 * and a last-chance filter on every written line that replaces the literal secret values, so a key that lands in an
 * unexpected field (an error message echoing a header, say) still never reaches the log.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Literal values that must never appear in a log line (API keys, auth tokens). */
  secrets?: ReadonlyArray<string | null | undefined>;
  /** Defaults to stdout. Tests pass a capture stream. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

export const REDACT_PATHS = [
  'apiKey',
  'authToken',
  '*.apiKey',
  '*.authToken',
  'config.openai.apiKey',
  'config.twilio.authToken',
  'headers.authorization',
  'headers["api-key"]',
  '*.headers.authorization',
  '*.headers["api-key"]',
];

export function createLogger(options: LoggerOptions): Logger {
  const secrets = (options.secrets ?? []).filter((secret): secret is string => typeof secret === 'string' && secret.length >= 4);
  return pino(
    {
      level: options.level,
      base: options.base ?? { service: 'callbridge' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks:
        secrets.length === 0
          ? {}
          : {
              streamWrite: (line: string) => {
                let clean = line;
                for (const secret of secrets) if (clean.includes(secret)) clean = clean.split(secret).join('[REDACTED]');
                return clean;
              },
            },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that writes nowhere: for tests and benchmarks that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
