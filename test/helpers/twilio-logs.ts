/** A pino logger whose lines are kept in memory as parsed objects, for asserting what was logged and how often. */
import { createLogger, type Logger } from '../../src/logger.js';

export interface CapturedLogs {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  /** Lines whose `msg` contains `text`. */
  matching(text: string): Array<Record<string, unknown>>;
}

export function captureLogs(level = 'debug'): CapturedLogs {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level,
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { logger, lines, matching: (text) => lines.filter((line) => String(line['msg']).includes(text)) };
}
