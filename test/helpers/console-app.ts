/**
 * The console router on a real express app (127.0.0.1:0) for the console tests: a ManualClock (sessions and
 * keepalives), a wall clock tied to it, a tmp assets dir, live calls, phone tokens, an in-memory record store, the
 * records API sharing the console's sessions, and helpers to sign in and to read server-sent events.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterEach } from 'vitest';
import { agentFromConfig } from '../../src/agents/from-config.js';
import type { AgentDefinition, AgentRoster } from '../../src/agents/types.js';
import { PhoneTokens } from '../../src/browser/phone-tokens.js';
import { ManualClock } from '../../src/clock.js';
import { loadConfig, type Config } from '../../src/config.js';
import { consoleSessionAuth, trustedOriginsOf } from '../../src/console/csrf.js';
import { LiveCalls } from '../../src/console/live-calls.js';
import { createConsoleRouter, createConsoleSessions, type ConsoleRouterDeps } from '../../src/console/router.js';
import type { ConsoleSessions } from '../../src/console/sessions.js';
import { createRecordsApiRouter } from '../../src/server/records-api.js';
import { FakeRecordStore } from './fake-record-store.js';
import { captureLogs, type CapturedLogs } from './twilio-logs.js';

export const ADMIN_KEY = 'cb_admin_9d2f71c04e8a3b56';
/** The wall clock at ManualClock 0: 2025-03-10T12:30:00Z. */
export const EPOCH0 = Date.UTC(2025, 2, 10, 12, 30, 0);
export const SECRET_HEADER = 'Bearer tool-secret-5a1f0c9e2b7d';
export const SIGNING_SECRET = 'signing-secret-77c3e1a9';
export const MCP_SECRET = 'mcp-secret-31b8f6d2a0';

export function testRoster(config: Readonly<Config>): AgentRoster {
  const base = agentFromConfig(config);
  const frontDesk: AgentDefinition = {
    ...base,
    name: 'front-desk',
    numbers: ['+15559870000'],
    isDefault: true,
    builtinTools: ['end_call', 'transfer_call'],
    transferDestinations: [
      { name: 'sales', target: '+15550001111', description: 'the sales team' },
      { name: 'pbx', target: 'sip:ops:pbx-password-1@pbx.example.com;transport=tls?X-Token=sip-token-42', description: 'the office PBX' },
    ],
    httpTools: [
      {
        kind: 'http',
        name: 'book_table',
        description: 'Book a table.',
        parameters: { type: 'object' },
        url: 'https://tools.example.com/book?key=url-secret-123',
        method: 'POST',
        headers: { authorization: { value: SECRET_HEADER, secret: true } },
        timeoutMs: 5_000,
        maxResponseBytes: 65_536,
      },
    ],
    mcpServers: [{ label: 'crm', url: 'https://mcp.example.com/sse', allowedTools: ['lookup'], headers: { authorization: { value: MCP_SECRET, secret: true } }, requireApproval: 'never' }],
    toolSigningSecret: SIGNING_SECRET,
    recording: true,
  };
  const sales: AgentDefinition = { ...base, name: 'sales', numbers: ['+15559870001'], isDefault: false, provider: 'elevenlabs' };
  return { agents: [frontDesk, sales], defaultAgent: frontDesk, source: 'file' };
}

export interface ConsoleApp {
  readonly base: string;
  readonly clock: ManualClock;
  readonly logs: CapturedLogs;
  readonly liveCalls: LiveCalls;
  readonly phoneTokens: PhoneTokens;
  readonly store: FakeRecordStore;
  readonly sessions: ConsoleSessions | null;
  readonly hangUps: Array<{ callSid: string; reason: string }>;
  readonly assetsDir: string;
  /** Live call sids `hangUp` says yes to. */
  readonly live: Set<string>;
  request(path: string, init?: RequestInit & { headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

export interface StartOptions {
  adminKey?: string | null;
  env?: Record<string, string>;
  storeAvailable?: boolean;
  assetsDir?: string;
  /** express 'trust proxy' = loopback: X-Forwarded-Proto / X-Forwarded-Host from the test count. */
  trustProxy?: boolean;
  /** Extra deps (e.g. a different roster). */
  deps?: Partial<ConsoleRouterDeps>;
}

export async function startConsoleApp(options: StartOptions = {}): Promise<ConsoleApp> {
  const config = loadConfig({ CONSOLE_SESSION_TTL_S: '3600', ...options.env });
  const logs = captureLogs();
  const clock = new ManualClock(0);
  const epochNow = (): number => EPOCH0 + clock.now();
  const liveCalls = new LiveCalls({ logger: logs.logger, epochNow });
  const phoneTokens = new PhoneTokens({ clock });
  const store = new FakeRecordStore();
  const hangUps: Array<{ callSid: string; reason: string }> = [];
  const live = new Set<string>();
  const ownAssets = options.assetsDir === undefined;
  const assetsDir = options.assetsDir ?? (await mkdtemp(join(tmpdir(), 'cb-console-')));
  const adminKey = options.adminKey === undefined ? ADMIN_KEY : options.adminKey;
  const sessions = createConsoleSessions({ config, clock, adminKey, epochNow });
  const app = express();
  if (options.trustProxy === true) app.set('trust proxy', 'loopback');
  app.use(
    createConsoleRouter({
      config,
      logger: logs.logger,
      clock,
      adminKey,
      assetsDir,
      roster: testRoster(config),
      phoneTokens,
      liveCalls,
      hangUp: (callSid, reason) => {
        hangUps.push({ callSid, reason });
        return live.has(callSid);
      },
      store: () => (options.storeAvailable === false ? null : store),
      sessions,
      epochNow,
      ...options.deps,
    }),
  );
  app.use(
    createRecordsApiRouter({
      apiKey: adminKey,
      store: () => store,
      recordingsDir: null,
      logger: logs.logger,
      ...(sessions === null ? {} : { consoleSession: consoleSessionAuth(sessions, trustedOriginsOf(config.server.publicBaseUrl)) }),
    }),
  );
  app.use((_req, res) => void res.status(404).type('text/plain').send('app 404'));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    clock,
    logs,
    liveCalls,
    phoneTokens,
    store,
    sessions,
    hangUps,
    assetsDir,
    live,
    request: (path, init = {}) => fetch(base + path, { redirect: 'manual', ...init }),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      if (ownAssets) await rm(assetsDir, { recursive: true, force: true });
    },
  };
}

/** A `start` for the calling test file: each app it starts is closed after the test. */
export function useConsoleApps(): (options?: StartOptions) => Promise<ConsoleApp> {
  const running: ConsoleApp[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((app) => app.close()));
  });
  return async (options = {}) => {
    const app = await startConsoleApp(options);
    running.push(app);
    return app;
  };
}

export interface SignedIn {
  /** `cb_session=…`, for the Cookie header. */
  readonly cookie: string;
  readonly csrfToken: string;
  readonly expiresAtMs: number;
  readonly setCookie: string;
}

export async function signIn(app: ConsoleApp, key = ADMIN_KEY): Promise<SignedIn> {
  const response = await app.request('/console/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
  if (response.status !== 200) throw new Error(`sign-in answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { csrfToken: string; expiresAtMs: number };
  const setCookie = response.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0]!, csrfToken: body.csrfToken, expiresAtMs: body.expiresAtMs, setCookie };
}

export async function errorOf(response: Response): Promise<{ status: number; code: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, code: body.error.code };
}

/** Reads server-sent events from a streaming response, one message (or comment) at a time. */
export class SseReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();

  constructor(response: Response) {
    if (response.body === null) throw new Error('no body');
    this.reader = response.body.getReader();
  }

  /** The next message: `{event, data}` for an event, `{comment}` for a comment line; null when the stream ended. */
  async next(): Promise<{ event: string; data: unknown } | { comment: string } | null> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        if (block.startsWith(':')) return { comment: block.slice(1).trim() };
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
        return { event, data: JSON.parse(data) as unknown };
      }
      const { done, value } = await this.reader.read();
      if (done) return null;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel();
  }
}
