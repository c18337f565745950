/** HTTP tools against a real node:http server on 127.0.0.1 (no fetch mocks). */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HttpToolDefinition } from '../src/agents/types.js';
import { runTool } from '../src/call/tools.js';
import { createLogger } from '../src/logger.js';
import { createHttpTool, httpToolStats, resetHttpToolStats, type HttpToolOptions } from '../src/tools/http-tool.js';
import { verifyToolSignature } from '../src/tools/signature.js';

const SECRET = 'tool-signing-secret-0001';
const API_KEY = 'sk-live-SECRET-4242';
const NOW = 1_700_000_000_000;
const CONTEXT = { callSid: 'CA0001', streamSid: 'MZ0001' };
const SCHEMA = {
  type: 'object',
  properties: { date: { type: 'string' }, partySize: { type: 'integer', minimum: 1, maximum: 12 }, name: { type: 'string' } },
  required: ['date', 'partySize'],
  additionalProperties: false,
};
const ARGS = { date: '2025-06-01', partySize: 4, name: 'Zoë & Co' };
/** Headers fetch (undici) adds on its own; everything else is asserted exactly. */
const TRANSPORT_HEADERS = ['connection', 'accept-language', 'sec-fetch-mode', 'accept-encoding'];

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Route = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
let seen: Seen[] = [];
let lines: string[] = [];
const pending = new Set<NodeJS.Timeout>();
const big = { written: 0, closed: false, finished: false };

const routes: Record<string, Route> = {
  '/json': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"confirmed":true,"table":7}'),
  '/problem': (_req, res) => res.writeHead(200, { 'content-type': 'application/problem+json' }).end('{"title":"ok"}'),
  '/text': (_req, res) => res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('Table 7 is booked ✓'),
  '/png': (_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(64)),
  '/fail': (_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`boom ${API_KEY}`),
  '/redirect': (_req, res) => res.writeHead(302, { location: `${base}/json` }).end(),
  '/bad-json': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"oops"'),
  '/empty': (_req, res) => res.writeHead(204).end(),
  '/slow': (_req, res) => {
    const timer = setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('late'), 3_000);
    pending.add(timer);
  },
  '/stall': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial'); // and never ends
  },
  '/declared-big': (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000000' }).end('x'.repeat(1_000_000)),
  '/big': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no length to judge by
    res.on('close', () => (big.closed = true));
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const pump = (): void => {
      while (!big.closed && big.written < 20 * 1024 * 1024) {
        big.written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!big.closed) res.end(() => (big.finished = true));
    };
    pump();
  },
};

function definition(overrides: Partial<HttpToolDefinition> = {}): HttpToolDefinition {
  return {
    kind: 'http',
    name: 'book_table',
    description: 'Books a table',
    parameters: SCHEMA,
    url: `${base}/json`,
    method: 'POST',
    headers: { authorization: { value: `Bearer ${API_KEY}`, secret: true }, 'X-Tenant': { value: 'acme', secret: false } },
    timeoutMs: 2_000,
    maxResponseBytes: 64 * 1024,
    ...overrides,
  };
}

function tool(overrides: Partial<HttpToolDefinition> = {}, options: Partial<HttpToolOptions> = {}) {
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) }, secrets: [] });
  return createHttpTool(definition(overrides), { signingSecret: SECRET, logger, agentName: 'front-desk', nowEpochMs: () => NOW, ...options });
}

async function call(overrides: Partial<HttpToolDefinition>, args: unknown = ARGS) {
  const instance = tool(overrides);
  return runTool([instance], instance.name, JSON.stringify(args), CONTEXT);
}

function withoutTransport(headers: IncomingHttpHeaders): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !TRANSPORT_HEADERS.includes(name)));
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (route === undefined) res.writeHead(404).end();
      else route(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const timer of pending) clearTimeout(timer);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
  lines = [];
  resetHttpToolStats();
});

describe('arguments', () => {
  it('never sends schema-invalid arguments and tells the model every problem', async () => {
    const instance = tool();
    const result = await runTool([instance], 'book_table', JSON.stringify({ partySize: 0, extra: true }), CONTEXT);
    expect(result.ok).toBe(false);
    expect(JSON.parse(result.output)).toEqual({
      error: 'invalid arguments for tool book_table: arguments must have property "date"; arguments must not have property "extra"; /partySize must be >= 1',
    });
    expect(seen).toHaveLength(0);
    expect(instance.stats.failed.invalid_arguments).toBe(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, tool: 'book_table', ok: false, reason: 'invalid_arguments' });
  });
});

describe('a valid POST', () => {
  it('sends exactly the documented body and headers, signed so the receiver can verify it', async () => {
    const instance = tool();
    const result = await runTool([instance], 'book_table', JSON.stringify(ARGS), CONTEXT);
    expect(result).toEqual({ output: '{"confirmed":true,"table":7}', ok: true });
    expect(seen).toHaveLength(1);
    const request = seen[0]!;
    const body = JSON.stringify({ arguments: ARGS, call: { callSid: 'CA0001', streamSid: 'MZ0001', agent: 'front-desk' } });
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/json');
    expect(request.body).toBe(body);
    expect(withoutTransport(request.headers)).toEqual({
      host: base.slice('http://'.length),
      accept: 'application/json, text/*',
      'user-agent': 'callbridge-http-tool',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      authorization: `Bearer ${API_KEY}`,
      'x-tenant': 'acme',
      'x-callbridge-timestamp': '1700000000',
      'x-callbridge-signature': expect.stringMatching(/^v1=[0-9a-f]{64}$/),
    });
    const check = (changes: Partial<Parameters<typeof verifyToolSignature>[0]>) =>
      verifyToolSignature({
        secret: SECRET,
        timestampHeader: request.headers['x-callbridge-timestamp'],
        signatureHeader: request.headers['x-callbridge-signature'],
        body: request.body,
        nowEpochMs: NOW + 2_000,
        ...changes,
      });
    expect(check({})).toBe(true);
    expect(check({ body: request.body.replace('"partySize":4', '"partySize":9') })).toBe(false);
    expect(check({ secret: 'tool-signing-secret-0002' })).toBe(false);
    expect(check({ nowEpochMs: NOW + 301_000 })).toBe(false);
    expect(instance.stats.ok).toBe(1);
    expect(httpToolStats()['front-desk/book_table']?.ok).toBe(1);
  });

  it('sends no signature headers when the agent has no signing secret', async () => {
    const instance = tool({}, { signingSecret: null });
    await instance.handler(ARGS, CONTEXT);
    expect(Object.keys(seen[0]!.headers).filter((name) => name.startsWith('x-callbridge'))).toEqual([]);
  });

  it('turns URL credentials into a Basic authorization header (a declared authorization header wins)', async () => {
    await tool({ url: `http://bob:pa55-w0rd@${base.slice('http://'.length)}/json`, headers: {} }).handler(ARGS, CONTEXT);
    expect(seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('bob:pa55-w0rd').toString('base64')}`);
  });
});

describe('GET and DELETE', () => {
  it('put the arguments and callSid in the query and sign the empty body', async () => {
    for (const method of ['GET', 'DELETE'] as const) {
      seen = [];
      const value = await tool({ method, url: `${base}/json?source=agent` }).handler(ARGS, CONTEXT);
      expect(value).toEqual({ confirmed: true, table: 7 });
      const request = seen[0]!;
      expect(request.method).toBe(method);
      expect([...new URL(request.url, base).searchParams]).toEqual([
        ['source', 'agent'],
        ['date', '2025-06-01'],
        ['partySize', '4'],
        ['name', 'Zoë & Co'],
        ['callSid', 'CA0001'],
      ]);
      expect(request.body).toBe('');
      expect(request.headers['content-type']).toBeUndefined();
      const verified = verifyToolSignature({
        secret: SECRET,
        timestampHeader: request.headers['x-callbridge-timestamp'],
        signatureHeader: request.headers['x-callbridge-signature'],
        body: '',
        nowEpochMs: NOW,
      });
      expect(verified).toBe(true);
    }
  });
});

describe('answers', () => {
  it('gives text as the string and +json as parsed JSON; an empty 204 as {"ok":true}', async () => {
    expect(await call({ url: `${base}/text` })).toEqual({ output: 'Table 7 is booked ✓', ok: true });
    expect(await call({ url: `${base}/problem` })).toEqual({ output: '{"title":"ok"}', ok: true });
    expect(await call({ url: `${base}/empty` })).toEqual({ output: '{"ok":true}', ok: true });
  });

  it('turns non-2xx, redirects, other media types and broken JSON into errors', async () => {
    expect(await call({ url: `${base}/fail` })).toEqual({ output: '{"error":"tool book_table answered HTTP 500"}', ok: false });
    expect(await call({ url: `${base}/redirect` })).toEqual({ output: '{"error":"tool book_table answered HTTP 302"}', ok: false });
    expect(seen.map((request) => request.url)).toEqual(['/fail', '/redirect']); // the redirect was not followed
    expect(await call({ url: `${base}/png` })).toEqual({ output: '{"error":"tool book_table answered image/png, not JSON or text"}', ok: false });
    expect(await call({ url: `${base}/bad-json` })).toEqual({ output: '{"error":"tool book_table answered invalid JSON"}', ok: false });
    expect(httpToolStats()['front-desk/book_table']?.failed).toMatchObject({ http_status: 2, bad_content_type: 1, invalid_json: 1 });
  });

  it('aborts a streamed body over the cap without reading the rest', async () => {
    const instance = tool({ url: `${base}/big`, timeoutMs: 20_000 }); // the abort below is not the timeout's
    const result = await runTool([instance], 'book_table', JSON.stringify(ARGS), CONTEXT);
    expect(result).toEqual({ output: '{"error":"tool book_table answered more than 65536 bytes"}', ok: false });
    await expect.poll(() => big.closed, { timeout: 2_000 }).toBe(true);
    expect(big.finished).toBe(false);
    expect(big.written).toBeLessThan(20 * 1024 * 1024);
    expect(instance.stats.failed.too_large).toBe(1);
  });

  it('refuses a declared Content-Length over the cap before reading', async () => {
    expect(await call({ url: `${base}/declared-big` })).toEqual({ output: '{"error":"tool book_table answered more than 65536 bytes"}', ok: false });
  });
});

describe('timeouts and unreachable tools', () => {
  it.each(['/slow', '/stall'])('%s: times out after timeoutMs and settles', async (path) => {
    const started = performance.now();
    const result = await call({ url: `${base}${path}`, timeoutMs: 200 });
    const elapsed = performance.now() - started;
    expect(result).toEqual({ output: '{"error":"tool book_table timed out after 200 ms"}', ok: false });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1_500);
  });

  it('reports an unreachable tool without the URL or its credentials', async () => {
    const port = await freePort();
    const result = await call({ url: `http://bob:pa55-w0rd@127.0.0.1:${port}/json` });
    expect(result).toEqual({ output: '{"error":"tool book_table could not be reached"}', ok: false });
    expect(lines.join('\n')).not.toContain('pa55-w0rd');
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ reason: 'unreachable', cause: 'ECONNREFUSED' });
  });
});

describe('logging', () => {
  it('logs one line per call without arguments or secret header values', async () => {
    const port = await freePort();
    const outputs = [
      await call({}),
      await call({ url: `${base}/fail` }),
      await call({ url: `${base}/png` }),
      await call({ url: `${base}/slow`, timeoutMs: 100 }),
      await call({ url: `http://127.0.0.1:${port}/` }),
      await call({}, { partySize: 'many' }),
    ];
    expect(lines).toHaveLength(outputs.length);
    const text = lines.join('\n') + outputs.map((output) => output.output).join('\n');
    for (const leak of [API_KEY, SECRET, 'Zoë', '2025-06-01', 'many']) expect(text).not.toContain(leak);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ level: 30, tool: 'book_table', agent: 'front-desk', callSid: 'CA0001', status: 200, ok: true });
    expect(typeof first['durationMs']).toBe('number');
    expect(lines.slice(1).map((line) => (JSON.parse(line) as { level: number; reason: string }).reason)).toEqual([
      'http_status',
      'bad_content_type',
      'timeout',
      'unreachable',
      'invalid_arguments',
    ]);
  });
});
