/**
 * A fake callbridge for the terminal client's tests (test/chat-cli.test.ts): just the console contract of
 * docs/console.md (sign-in, agents, phone token, `/phone/ws`), checking what the real one checks (the key, the
 * session cookie, the CSRF token, the Origin, a one-time token, the rate), on 127.0.0.1 port 0. Each phone call is
 * handed to the test, which plays the server's side; everything the client sends is recorded with its time.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly origin: string | undefined;
  readonly cookie: string | undefined;
  readonly csrf: string | undefined;
}

export type ClientMessage = { readonly atMs: number; readonly text: string } | { readonly atMs: number; readonly bytes: Buffer };

/** One browser-phone call, from the server's side. */
export class FakePhoneCall {
  readonly received: ClientMessage[] = [];
  private waiters: Array<{ test: (message: ClientMessage) => boolean; resolve: (message: ClientMessage) => void }> = [];
  readonly closed: Promise<void>;

  constructor(
    readonly ws: WebSocket,
    readonly agent: string,
  ) {
    ws.on('message', (data: Buffer, isBinary) => {
      const message: ClientMessage = isBinary ? { atMs: performance.now(), bytes: Buffer.from(data) } : { atMs: performance.now(), text: data.toString('utf8') };
      this.received.push(message);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.test(message)) return true;
        waiter.resolve(message);
        return false;
      });
    });
    this.closed = new Promise((resolve) => ws.on('close', () => resolve()));
  }

  /** The client's text messages, in order. */
  texts(): string[] {
    return this.received.flatMap((message) => ('text' in message ? [message.text] : []));
  }

  binaries(): Buffer[] {
    return this.received.flatMap((message) => ('bytes' in message ? [message.bytes] : []));
  }

  /** The next (or an already received) text message of this type. */
  waitForText(type: string, name?: string): Promise<ClientMessage & { text: string }> {
    const test = (message: ClientMessage) => {
      if (!('text' in message)) return false;
      const parsed = JSON.parse(message.text) as { type?: unknown; name?: unknown };
      return parsed.type === type && (name === undefined || parsed.name === name);
    };
    const seen = this.received.find(test);
    if (seen !== undefined) return Promise.resolve(seen as ClientMessage & { text: string });
    return new Promise((resolve) => this.waiters.push({ test, resolve: (message) => resolve(message as ClientMessage & { text: string }) }));
  }

  json(message: unknown): number {
    this.ws.send(JSON.stringify(message));
    return performance.now();
  }

  frame(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }
}

export interface FakeCallbridge {
  readonly baseUrl: string;
  readonly requests: FakeRequest[];
  /** Upgrade requests' Origin and rate. */
  readonly upgrades: Array<{ origin: string | undefined; rate: string | null }>;
  close(): Promise<void>;
}

export async function startFakeCallbridge(options: {
  key: string;
  agents: readonly string[];
  consoleOff?: boolean;
  refuseUpgrades?: boolean;
  onCall?: (call: FakePhoneCall) => void;
}): Promise<FakeCallbridge> {
  const requests: FakeRequest[] = [];
  const upgrades: FakeCallbridge['upgrades'] = [];
  const sessions = new Map<string, string>(); // cookie value → csrf token
  const tokens = new Map<string, string>(); // token → agent
  let origin = '';

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const fail = (res: http.ServerResponse, status: number, code: string, message: string) => send(res, status, { error: { code, message } });
  const sessionOf = (req: http.IncomingMessage): string | null => {
    const match = /(?:^|;\s*)cb_session=([^;]+)/.exec(req.headers.cookie ?? '');
    return match !== null && sessions.has(match[1]!) ? match[1]! : null;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', origin);
      requests.push({ method: req.method ?? '', path: url.pathname, origin: req.headers.origin, cookie: req.headers.cookie, csrf: req.headers['x-csrf-token'] as string | undefined });
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        body = {};
      }
      if (options.consoleOff === true && url.pathname.startsWith('/console')) return fail(res, 404, 'console_off', 'the console is off: CALLBRIDGE_API_KEY is not set');
      if (req.method === 'POST' && req.headers.origin !== undefined && req.headers.origin !== origin) return fail(res, 403, 'csrf', 'cross-site request');
      if (req.method === 'POST' && url.pathname === '/console/api/session') {
        if (body['key'] !== options.key) return fail(res, 401, 'bad_key', 'wrong key');
        const cookie = randomBytes(12).toString('base64url');
        const csrfToken = randomBytes(12).toString('base64url');
        sessions.set(cookie, csrfToken);
        return send(res, 200, { csrfToken, expiresAtMs: Date.now() + 3_600_000 }, { 'Set-Cookie': `cb_session=${cookie}; HttpOnly; SameSite=Strict; Path=/` });
      }
      const session = sessionOf(req);
      if (session === null) return fail(res, 401, 'no_session', 'sign in first');
      if (req.method === 'GET' && url.pathname === '/console/api/agents') {
        return send(res, 200, { agents: options.agents.map((name) => ({ name, provider: 'openai', numbers: [], tools: [], destinations: [], recording: false })) });
      }
      if (req.method === 'POST' && url.pathname === '/console/api/phone-token') {
        if (req.headers['x-csrf-token'] !== sessions.get(session) || req.headers.origin !== origin) return fail(res, 403, 'csrf', 'missing CSRF token or Origin');
        const agent = body['agent'];
        if (typeof agent !== 'string' || !options.agents.includes(agent)) return fail(res, 404, 'unknown_agent', `no agent ${String(agent)}`);
        const token = randomBytes(18).toString('base64url');
        tokens.set(token, agent);
        return send(res, 200, { token, url: `/phone/ws?token=${token}`, expiresInS: 60 });
      }
      return fail(res, 404, 'not_found', 'no such route');
    });
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin);
    upgrades.push({ origin: req.headers.origin, rate: url.searchParams.get('rate') });
    const token = url.searchParams.get('token') ?? '';
    const agent = tokens.get(token);
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== '/phone/ws' || agent === undefined || options.refuseUpgrades === true) return refuse('401 Unauthorized');
    if (req.headers.origin !== origin) return refuse('403 Forbidden');
    if (url.searchParams.get('rate') !== '24000') return refuse('400 Bad Request');
    tokens.delete(token);
    wss.handleUpgrade(req, socket, head, (ws) => options.onCall?.(new FakePhoneCall(ws, agent)));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl: origin,
    requests,
    upgrades,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `node --import tsx scripts/chat.ts …` as a child process with a clean environment (no developer .env key). */
export function runChat(args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/chat.ts', ...args], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers: Array<() => void> = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const watcher of watchers) watcher();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    /** Resolves once stdout has a line matching `pattern`. */
    waitForStdout(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${JSON.stringify({ stdout, stderr })}`)), timeoutMs);
        const check = () => {
          if (pattern.test(stdout)) {
            clearTimeout(timer);
            resolve();
          }
        };
        watchers.push(check);
        check();
      });
    },
  };
}
