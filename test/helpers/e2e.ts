/**
 * End-to-end harness: the real callbridge server between a simulated Realtime server and simulated Twilio callers,
 * all on real sockets on 127.0.0.1. The public origin is a fake https host, as behind a reverse proxy: callers sign
 * over it and dial the loopback address.
 */
import { Writable } from 'node:stream';
import type { CallSummary } from '../../src/call/call.js';
import type { ToolDefinition } from '../../src/call/tools.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server/app.js';
import {
  startSimulatedRealtimeServer,
  type SimulatedRealtimeServer,
  type SimulatedRealtimeServerOptions,
} from '../../src/simulator/realtime/server.js';
import { placeCall, type PlaceCallOptions, type SimulatedCall } from '../../src/simulator/twilio-caller.js';

export const AUTH_TOKEN = 'twilio-test-auth-token-0123456789';
export const OPENAI_KEY = 'sk-sim-e2e-secret-key-abcdef';
export const PUBLIC_BASE_URL = 'https://callbridge.test';

export interface Bridge {
  sim: SimulatedRealtimeServer;
  server: RunningServer;
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
  predial?: boolean;
} = {}): Promise<Bridge> {
  const sim = await startSimulatedRealtimeServer({ apiKey: OPENAI_KEY, ...options.sim });
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
  const logger = createLogger({ level: config.logLevel, destination, secrets: [OPENAI_KEY, AUTH_TOKEN] });
  const summaries: CallSummary[] = [];
  const waiters: Array<() => void> = [];
  const server = await startServer({
    config,
    logger,
    upstream: { url: sim.url, model: config.openai.model, apiKey: OPENAI_KEY, authMode: 'bearer' },
    tools: options.tools,
    predial: options.predial,
    onCallEnded: (summary) => {
      summaries.push(summary);
      for (const wake of waiters.splice(0)) wake();
    },
  });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  return {
    sim,
    server,
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
      await sim.close();
    },
  };
}

/** Log lines with a given message. */
export function linesWithMsg(logs: ReadonlyArray<Record<string, unknown>>, msg: string): Array<Record<string, unknown>> {
  return logs.filter((line) => line['msg'] === msg);
}
