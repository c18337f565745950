/**
 * deploy/compose/nginx.conf run for real: Debian's nginx, on 127.0.0.1, in front of two stand-in instances (node:http +
 * ws) in place of callbridge-a and callbridge-b. The shipped file is changed only where a test machine must differ:
 * the upstream addresses (and `resolve`, which needs nginx ≥ 1.27.3 while Debian bookworm ships 1.22; compose.yaml
 * runs nginx:1.28), the TLS port, the certificate (made by make-dev-cert.sh in a temp dir), the pid/log/temp paths,
 * and one worker. Every rewrite must match exactly once or as often as expected, so a changed config fails loudly
 * instead of being tested half-rewritten.
 *
 * nginx missing: the tests fail when CI is set (.ci/run installs it) and are skipped with a loud warning otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONF = path.join(ROOT, 'deploy/compose/nginx.conf');
const NGINX = ['nginx', '/usr/sbin/nginx'].find((bin) => spawnSync(bin, ['-v']).status === 0) ?? null;
const MISSING = "nginx is not installed, so deploy/compose/nginx.conf cannot be run. Install Debian's package: apt-get install nginx (see .ci/run).";
const mode = NGINX !== null ? 'run' : process.env['CI'] ? 'fail' : 'skip';
if (mode === 'skip') console.warn(`\n!!! deploy-nginx.test.ts: nginx tests SKIPPED. ${MISSING}\n`);

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; bodyBytes: number }
interface StandIn { name: string; port: number; seen: Seen[]; draining: boolean; close(): Promise<void> }

/** A stand-in instance: JSON echo of every request, SSE on /console/api/live, WebSocket echo, 503 webhook while draining. */
async function standIn(name: string): Promise<StandIn> {
  const state = { seen: [] as Seen[], draining: false };
  const server = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    req.on('end', () => {
      state.seen.push({ method: req.method!, url: req.url!, headers: req.headers, bodyBytes });
      if (req.url === '/console/api/live') {
        // One event, then the stream stays open (as the console's does). No X-Accel-Buffering: the config must do it.
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        res.write(`data: hello from ${name}\n\n`);
        return;
      }
      if (state.draining && req.method === 'POST' && req.url === '/incoming-call') return void res.writeHead(503).end('draining');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ server: name, url: req.url, headers: req.headers, bodyBytes }));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req) => {
    socket.send(JSON.stringify({ server: name, url: req.url }));
    socket.on('message', (data) => socket.send(`${name}:${String(data)}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    name,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Replaces `from` (string or global regex), which must occur exactly `times` times. */
function rewrite(text: string, from: string | RegExp, to: string, times = 1): string {
  const count = typeof from === 'string' ? text.split(from).length - 1 : [...text.matchAll(from)].length;
  if (count !== times) throw new Error(`nginx.conf rewrite: expected ${times} × ${String(from)}, found ${count}`);
  return typeof from === 'string' ? text.split(from).join(to) : text.replace(from, to);
}

function testConfig(source: string, dir: string, ports: { a: number; b: number; tls: number }): string {
  let conf = source;
  conf = rewrite(conf, /server callbridge-a:8080 resolve/g, `server 127.0.0.1:${ports.a}`, 3);
  conf = rewrite(conf, /server callbridge-b:8080 resolve/g, `server 127.0.0.1:${ports.b}`, 3);
  conf = rewrite(conf, 'listen 443 ssl;', `listen 127.0.0.1:${ports.tls} ssl;`);
  conf = rewrite(conf, /\/etc\/nginx\/certs\//g, `${dir}/certs/`, 2);
  conf = rewrite(conf, 'pid /tmp/nginx.pid;', `pid ${dir}/nginx.pid;`);
  conf = rewrite(conf, 'worker_processes auto;', 'worker_processes 1;');
  conf = rewrite(conf, 'error_log /dev/stderr warn;', `error_log ${dir}/error.log info;`);
  conf = rewrite(conf, 'access_log /dev/stdout callbridge;', `access_log ${dir}/access.log callbridge;`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind};`).join('\n');
  return rewrite(conf, /^http \{$/gm, `http {\n${temp}`);
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; text: string; json: any }

describe('deploy/compose/nginx.conf on a live nginx', () => {
  if (mode === 'fail') {
    it('needs nginx on CI', () => {
      throw new Error(MISSING);
    });
    return;
  }
  if (mode === 'skip') {
    it.skip('nginx is not installed');
    return;
  }

  let dir = '';
  let confPath = '';
  let tlsPort = 0;
  let nginx: ChildProcess | null = null;
  let a: StandIn;
  let b: StandIn;
  const errorLog = (): string => (existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8').slice(-2000) : '(no error log)');

  const request = (pathname: string, options: { method?: string; body?: Buffer } = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: tlsPort, path: pathname, method: options.method ?? 'GET', rejectUnauthorized: false, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try { json = JSON.parse(text); } catch { /* not JSON: nginx's own page */ }
          resolve({ status: res.statusCode!, headers: res.headers, text, json });
        });
      });
      req.on('error', reject);
      req.end(options.body);
    });

  const openSocket = (pathname: string): Promise<{ socket: WebSocket; hello: { server: string; url: string } }> =>
    new Promise((resolve, reject) => {
      const socket = new WebSocket(`wss://127.0.0.1:${tlsPort}${pathname}`, { rejectUnauthorized: false });
      socket.once('message', (data) => resolve({ socket, hello: JSON.parse(String(data)) }));
      socket.once('error', reject);
    });

  const echo = (socket: WebSocket, text: string): Promise<string> =>
    new Promise((resolve) => {
      socket.once('message', (data) => resolve(String(data)));
      socket.send(text);
    });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cb-nginx-'));
    chmodSync(dir, 0o755); // nginx's workers drop root (to nobody) and must reach the temp paths in here
    const cert = spawnSync('sh', [path.join(ROOT, 'deploy/compose/make-dev-cert.sh')], { env: { ...process.env, CERT_DIR: `${dir}/certs` }, encoding: 'utf8' });
    expect(cert.status, cert.stderr).toBe(0);
    [a, b] = await Promise.all([standIn('a'), standIn('b')]);
    tlsPort = await freePort();
    confPath = `${dir}/nginx.conf`;
    writeFileSync(confPath, testConfig(readFileSync(CONF, 'utf8'), dir, { a: a.port, b: b.port, tls: tlsPort }));
  });

  afterAll(async () => {
    if (nginx !== null && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx!.once('exit', resolve));
      nginx.kill('SIGTERM');
      await exited;
    }
    await Promise.all([a?.close(), b?.close()]);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('passes nginx -t', () => {
    const check = spawnSync(NGINX!, ['-t', '-p', dir, '-c', confPath], { encoding: 'utf8' });
    expect(check.status, `${check.stderr}\n${errorLog()}`).toBe(0);
    expect(check.stderr).toContain('test is successful');
  });

  it('starts and answers TLS on its port', async () => {
    nginx = spawn(NGINX!, ['-p', dir, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, rejectUnauthorized: false }, () => {
          socket.end();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (ok) break;
      if (nginx.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start:\n${errorLog()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it('/i/a/… reaches instance a and /i/b/… instance b, the prefix stripped and the query kept', async () => {
    const viaA = await request('/i/a/connect-action?x=1');
    expect(viaA.json).toMatchObject({ server: 'a', url: '/connect-action?x=1' });
    const viaB = await request('/i/b/outbound/status');
    expect(viaB.json).toMatchObject({ server: 'b', url: '/outbound/status' });
  });

  it('/ alternates between the instances', async () => {
    const servers: string[] = [];
    for (let i = 0; i < 4; i++) servers.push((await request('/readyz')).json.server);
    expect(new Set(servers)).toEqual(new Set(['a', 'b']));
    for (let i = 1; i < servers.length; i++) expect(servers[i]).not.toBe(servers[i - 1]);
  });

  it('tells the instance the original scheme, client and host: X-Forwarded-Proto is https on the TLS listener', async () => {
    const { json } = await request('/i/a/headers');
    expect(json.headers['x-forwarded-proto']).toBe('https');
    expect(json.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(json.headers['x-real-ip']).toBe('127.0.0.1');
    expect(json.headers['host']).toBe(`127.0.0.1:${tlsPort}`);
    expect(json.headers['x-forwarded-host']).toBe(`127.0.0.1:${tlsPort}`);
    // An ordinary request carries no Connection: upgrade/close, so the keep-alive connection to the instance is reused.
    expect(json.headers['connection']).toBeUndefined();
    expect(json.headers['upgrade']).toBeUndefined();
  });

  it('upgrades WebSockets through /i/a/media-stream and /i/b/media-stream to their instance', async () => {
    for (const name of ['a', 'b']) {
      const { socket, hello } = await openSocket(`/i/${name}/media-stream?token=t`);
      expect(hello).toEqual({ server: name, url: '/media-stream?token=t' });
      expect(await echo(socket, 'media')).toBe(`${name}:media`);
      socket.close();
    }
  });

  it('keeps one client on one instance for the console, the API and the phone (its session lives there)', async () => {
    const servers = new Set<string>();
    for (const path of ['/console/', '/console/api/session', '/api/calls', '/console/history', '/api/instances']) servers.add((await request(path)).json.server);
    const { socket, hello } = await openSocket('/phone/ws?token=abc');
    servers.add(hello.server);
    socket.close();
    expect(servers.size).toBe(1);
  });

  it('upgrades the browser phone WebSocket /phone/ws through the load balancer', async () => {
    const { socket, hello } = await openSocket('/phone/ws?token=abc');
    expect(['a', 'b']).toContain(hello.server);
    expect(hello.url).toBe('/phone/ws?token=abc');
    expect(await echo(socket, 'hi')).toBe(`${hello.server}:hi`);
    socket.close();
  });

  it('streams /console/api/live without buffering: the first event arrives while the response is still open', async () => {
    const result = await new Promise<{ status: number; type: string | undefined; first: string; ended: boolean }>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: tlsPort, path: '/console/api/live', rejectUnauthorized: false, agent: false }, (res) => {
        let ended = false;
        res.on('end', () => (ended = true));
        res.once('data', (chunk: Buffer) => {
          resolve({ status: res.statusCode!, type: res.headers['content-type'], first: chunk.toString('utf8'), ended });
          req.destroy();
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      setTimeout(() => reject(new Error('no event within 5 s: nginx is buffering the event stream')), 5_000).unref();
    });
    expect(result.status).toBe(200);
    expect(result.type).toBe('text/event-stream');
    expect(result.first).toMatch(/^data: hello from [ab]\n\n$/);
    expect(result.ended).toBe(false);
  });

  it('keeps /metrics off the public proxy, on the pool and per instance', async () => {
    const before = a.seen.length + b.seen.length;
    for (const pathname of ['/metrics', '/i/a/metrics', '/i/b/metrics']) expect((await request(pathname)).status, pathname).toBe(404);
    expect(a.seen.length + b.seen.length).toBe(before);
  });

  it('accepts a webhook-sized body and refuses a large one with 413', async () => {
    const small = await request('/i/a/dial-action', { method: 'POST', body: Buffer.alloc(16 * 1024, 'x') });
    expect(small.json).toMatchObject({ server: 'a', bodyBytes: 16 * 1024 });
    expect((await request('/api/calls', { method: 'POST', body: Buffer.alloc(256 * 1024, 'x') })).status).toBe(413);
  });

  it('retries the webhook on the other instance when one answers 503, but never a per-instance request', async () => {
    // Both healthy until here: round robin says which instance is next, so the webhook goes to b first for sure.
    if ((await request('/readyz')).json.server === 'b') await request('/readyz');
    b.draining = true;
    const seenByB = b.seen.length;
    const webhook = await request('/incoming-call', { method: 'POST', body: Buffer.from('CallSid=CA1') });
    expect(webhook.status).toBe(200);
    expect(webhook.json).toMatchObject({ server: 'a', url: '/incoming-call' });
    expect(b.seen.slice(seenByB).map((seen) => `${seen.method} ${seen.url}`)).toEqual(['POST /incoming-call']);
    // b is now out of the pool for fail_timeout (max_fails=1): the next webhooks go straight to a.
    for (let i = 0; i < 2; i++) expect((await request('/incoming-call', { method: 'POST', body: Buffer.from('CallSid=CA2') })).json.server).toBe('a');
    expect(b.seen.length).toBe(seenByB + 1);
    // Its own prefix still reaches b (the calls b is finishing), and b's answer is passed on, never sent to a.
    const seenByA = a.seen.length;
    const own = await request('/i/b/incoming-call', { method: 'POST', body: Buffer.from('CallSid=CA3') });
    expect(own.status).toBe(503);
    expect(b.seen.length).toBe(seenByB + 2);
    expect(a.seen.length).toBe(seenByA);
  });

  it('answers 502 for a per-instance path whose instance is gone, rather than sending it to the other', async () => {
    await b.close();
    const seenByA = a.seen.length;
    expect((await request('/i/b/connect-action')).status).toBe(502);
    expect(a.seen.length).toBe(seenByA);
    expect((await request('/readyz')).json.server).toBe('a');
  });
});
