/**
 * Real callbridge processes in one cluster (test/cluster-processes*.test.ts): each instance is the process entry
 * (src/index.ts under tsx) with its own embedded simulated Realtime backend, its own port and INSTANCE_PUBLIC_URL, and
 * the shared PostgreSQL schema; a tiny HTTP "load balancer" in front of them is PUBLIC_BASE_URL, so a simulated Twilio
 * call posts its webhook there (signed over the load balancer's URL, as Twilio signs it) and then dials whatever stream
 * URL the TwiML names — the answering instance's own, as Twilio would.
 */
import { rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/logger.js';
import { openRecordStore } from '../../src/records/db.js';
import { placeCall, type CallerAudio, type SimulatedCall } from '../../src/simulator/twilio-caller.js';
import { runEntry } from './process-entry.js';

export const AUTH_TOKEN = 'twilio-cluster-process-auth-token-0123';
export const API_KEY = 'cluster-processes-admin-key-0123456789abcdef';
export const HEARTBEAT_S = 1;

export type LogLine = Record<string, unknown>;

export interface Instance {
  readonly id: string;
  readonly port: number;
  /** http://127.0.0.1:<port>: its INSTANCE_PUBLIC_URL, and where the test talks to it directly. */
  readonly baseUrl: string;
  readonly pid: number;
  /** Its stdout as parsed JSON log lines (non-JSON lines left out). */
  logs(): LogLine[];
  /** Everything it wrote, for failure messages. */
  output(): { stdout: string; stderr: string };
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly hasExited: boolean;
  signal(signal: NodeJS.Signals): void;
}

const running = new Set<Instance>();
const balancers = new Set<LoadBalancer>();

/** A port free right now on 127.0.0.1 (the instance must know its own URL before it listens). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs the records migrations on `databaseUrl` from the test, before any instance starts: the tests that are not about
 * start-up then begin with instances that join the cluster at their first attempt (a first attempt that fails, before
 * the migrations ran, leaves an instance with extra LISTEN connections: see cluster-processes.test.ts).
 */
export async function migrate(databaseUrl: string): Promise<void> {
  const store = await openRecordStore({ databaseUrl, dataDir: scratchDir(), logger: silentLogger() });
  await store.close();
}

/** Starts one instance (does not wait for it: see {@link waitReady}). */
export function startInstance(options: { id: string; port: number; databaseUrl: string; publicBaseUrl: string; env?: Record<string, string> }): Instance {
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const { child, output } = runEntry({
    PORT: String(options.port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: options.publicBaseUrl,
    INSTANCE_PUBLIC_URL: baseUrl,
    INSTANCE_ID: options.id,
    DATABASE_URL: options.databaseUrl,
    RECORDS: 'on',
    CLUSTER_HEARTBEAT_S: String(HEARTBEAT_S),
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    CALLBRIDGE_API_KEY: API_KEY,
    DRAIN_TIMEOUT_S: '20',
    // The recordings' retention sweep and PGlite (unused with DATABASE_URL) must not touch the repository's data/.
    DATA_DIR: join(scratchDir(), options.id),
    RECORDINGS_DIR: join(scratchDir(), options.id, 'recordings'),
    ...options.env,
  });
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve({ code, signal });
    });
  });
  let parsedUpTo = 0;
  const lines: LogLine[] = [];
  const instance: Instance = {
    id: options.id,
    port: options.port,
    baseUrl,
    pid: child.pid ?? -1,
    logs: () => {
      const { stdout } = output();
      const end = stdout.lastIndexOf('\n') + 1;
      for (const line of stdout.slice(parsedUpTo, end).split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          lines.push(JSON.parse(line) as LogLine);
        } catch {
          // a line cut by SIGKILL
        }
      }
      parsedUpTo = end;
      return lines;
    },
    output,
    exited,
    get hasExited() {
      return exitedFlag;
    },
    signal: (signal) => {
      if (!exitedFlag) child.kill(signal);
    },
  };
  running.add(instance);
  void exited.then(() => running.delete(instance));
  return instance;
}

/**
 * afterEach, pass or fail: SIGKILLs every instance still running and waits for each to be gone, closes every load
 * balancer, removes the instances' scratch directories.
 */
export async function cleanUpClusters(): Promise<void> {
  const left = [...running];
  for (const instance of left) instance.signal('SIGKILL');
  await Promise.all(left.map((instance) => instance.exited));
  for (const balancer of [...balancers]) await balancer.close();
  await rm(scratchDir(), { recursive: true, force: true });
}

function scratchDir(): string {
  return join(tmpdir(), `callbridge-cluster-processes-${process.pid}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` (every `everyMs`) until it returns something other than undefined/false; throws after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${lastError === null ? '' : ` (last error: ${String(lastError)})`}`);
    await sleep(everyMs);
  }
}

/** Log lines with this message. */
export function linesOf(instance: Instance, msg: string): LogLine[] {
  return instance.logs().filter((line) => line['msg'] === msg);
}

/** The "call ended" line (the call's summary) of `callSid`, if this instance served it. */
export function callEndedLine(instance: Instance, callSid: string): LogLine | undefined {
  return linesOf(instance, 'call ended').find((line) => line['callSid'] === callSid);
}

/** Waits until the instance listens and has joined the cluster (its heartbeat is in the database). */
export async function waitReady(instance: Instance, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    () => {
      if (instance.hasExited) throw new Error(`instance ${instance.id} exited: ${JSON.stringify(instance.output())}`);
      return linesOf(instance, 'callbridge listening').length > 0 && linesOf(instance, 'joined the cluster').length > 0;
    },
    timeoutMs,
    `instance ${instance.id} listening and joined`,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n--- ${instance.id} output ---\n${instance.output().stdout.slice(-4000)}\n${instance.output().stderr.slice(-2000)}`);
  });
}

/** GET with the API key; the JSON body (throws on a non-200). */
export async function api<T = Record<string, unknown>>(instance: Instance, path: string): Promise<T> {
  const response = await fetch(`${instance.baseUrl}${path}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
  if (response.status !== 200) throw new Error(`GET ${path} on ${instance.id}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export interface LiveEntry {
  readonly callSid: string;
  readonly instanceId?: string;
  readonly [key: string]: unknown;
}

/** `GET /api/calls?live=1` on this instance: every live call it knows of (its own and the cluster's). */
export async function liveCalls(instance: Instance): Promise<LiveEntry[]> {
  return (await api<{ calls: LiveEntry[] }>(instance, '/api/calls?live=1')).calls;
}

/** The live view as sorted `callSid → instanceId` pairs. */
export async function liveOwners(instance: Instance): Promise<Array<[string, string | undefined]>> {
  return (await liveCalls(instance)).map((call): [string, string | undefined] => [call.callSid, call.instanceId]).sort(([x], [y]) => x.localeCompare(y));
}

/** `GET /readyz` status code. */
export async function readyStatus(instance: Instance): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${instance.baseUrl}/readyz`);
  return { status: response.status, body: await response.json() };
}

/** Signs in on the console of `instance` and hangs up `callSid` there; the hang-up's HTTP status. */
export async function consoleHangUp(instance: Instance, callSid: string): Promise<number> {
  const signIn = await fetch(`${instance.baseUrl}/console/api/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ key: API_KEY }) });
  if (signIn.status !== 200 && signIn.status !== 201) throw new Error(`console sign-in on ${instance.id}: HTTP ${signIn.status}`);
  const setCookie = signIn.headers.get('set-cookie');
  if (setCookie === null) throw new Error('console sign-in set no cookie');
  const cookie = setCookie.split(';')[0]!;
  const { csrfToken } = (await signIn.json()) as { csrfToken: string };
  const response = await fetch(`${instance.baseUrl}/console/api/calls/${callSid}/hangup`, { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrfToken } });
  await response.text();
  return response.status;
}

// ---- the load balancer ------------------------------------------------------------------------------------------------

/** The load balancer's rule of the cluster processes tests: the first instance (in order) whose /readyz is 200. */
export async function firstReady(instances: readonly Instance[]): Promise<Instance> {
  for (const instance of instances) {
    if (instance.hasExited) continue;
    try {
      if ((await fetch(`${instance.baseUrl}/readyz`)).status === 200) return instance;
    } catch {
      // not reachable: not ready
    }
  }
  throw new Error('no instance is ready');
}

export interface LoadBalancer {
  /** http://127.0.0.1:<port>: every instance's PUBLIC_BASE_URL. */
  readonly url: string;
  /** Picks the instance of each request (default: {@link firstReady} over `instances`). */
  route: () => Promise<Instance>;
  /** Every request forwarded: its path and the instance it went to. */
  readonly forwarded: Array<{ path: string; instanceId: string }>;
  close(): Promise<void>;
}

/** A plain HTTP reverse proxy on a port chosen up front (the instances need its URL before they start). */
export async function startLoadBalancer(port: number, instances: () => readonly Instance[]): Promise<LoadBalancer> {
  const forwarded: LoadBalancer['forwarded'] = [];
  const balancer: LoadBalancer = {
    url: `http://127.0.0.1:${port}`,
    route: () => firstReady(instances()),
    forwarded,
    close: () => {
      if (!balancers.delete(balancer)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
  const server = http.createServer((req, res) => {
    balancer.route().then(
      (target) => {
        forwarded.push({ path: req.url ?? '', instanceId: target.id });
        const upstream = http.request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', () => {
          if (!res.headersSent) res.writeHead(502).end();
          else res.destroy();
        });
        req.pipe(upstream);
      },
      () => res.writeHead(503).end('no instance ready'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  balancers.add(balancer);
  return balancer;
}

export interface Cluster {
  readonly a: Instance;
  readonly b: Instance;
  readonly lb: LoadBalancer;
}

/** `databaseUrl` with `application_name` set: the instance's cluster connections are then told apart in pg_stat_activity. */
export function withApplicationName(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', name);
  return url.toString();
}

/**
 * Instances `a` and `b` on free ports behind a load balancer (order a, b), started at once; resolves once both listen
 * and have joined the cluster. Each instance's cluster connections are named `<applicationPrefix>-<id>` when given.
 */
export async function startCluster(databaseUrl: string, options: { applicationPrefix?: string; env?: Record<string, string> } = {}): Promise<Cluster> {
  const [lbPort, portA, portB] = [await freePort(), await freePort(), await freePort()];
  const members: Instance[] = [];
  const lb = await startLoadBalancer(lbPort, () => members);
  const start = (id: string, port: number) =>
    startInstance({
      id,
      port,
      databaseUrl: options.applicationPrefix === undefined ? databaseUrl : withApplicationName(databaseUrl, `${options.applicationPrefix}-${id}`),
      publicBaseUrl: lb.url,
      ...(options.env === undefined ? {} : { env: options.env }),
    });
  const a = start('a', portA);
  const b = start('b', portB);
  members.push(a, b);
  await Promise.all([waitReady(a), waitReady(b)]);
  return { a, b, lb };
}

/**
 * A simulated Twilio call through the load balancer: the webhook is posted to it (signed over its URL) and the stream
 * is dialled exactly where the TwiML says, signed over that URL.
 */
export function callThrough(balancer: LoadBalancer, audio: CallerAudio, options: { hangUpAfterMs?: number } = {}): Promise<SimulatedCall> {
  return placeCall({
    baseUrl: balancer.url,
    authToken: AUTH_TOKEN,
    audio,
    ...(options.hangUpAfterMs === undefined ? {} : { hangUpAfterMs: options.hangUpAfterMs }),
  });
}

/** The stream URL an instance's TwiML must name: its INSTANCE_PUBLIC_URL as ws://, /media-stream. */
export function streamUrlOf(instance: Instance): string {
  return `ws://127.0.0.1:${instance.port}/media-stream`;
}
