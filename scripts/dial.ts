/**
 * `npm run dial -- +15551234567 [--agent NAME] [--var name=value]… [--url URL] [--callee KIND]`: places one outbound
 * call through callbridge's `POST /api/calls` and prints its progress (queued, ringing, answered by human/machine,
 * ended, duration) as it happens, by following `GET /api/outbound/:requestId`.
 *
 * Remote (`--url` or CALLBRIDGE_URL): a running callbridge, with CALLBRIDGE_API_KEY from the environment or .env.
 * Simulated (neither): everything in this process, no accounts (dial-simulated.ts, loaded only then): the call goes
 * through the real API, the real `twilio` client and the simulated Twilio REST server to a simulated callee, and at
 * the end the call's record is read back from the database through the records API and printed.
 *
 * Exit status: 0 completed; 1 busy, no-answer, failed, canceled (or the call was lost track of); 2 the request was
 * refused (or callbridge could not be reached); 78 bad usage. The argument parsing and every printed line are pure
 * functions in dial-cli.ts (test/dial-cli.test.ts).
 */
import { performance } from 'node:perf_hooks';
import dotenv from 'dotenv';
import type { OutboundProgress } from '../src/outbound/outbound-calls.js';
import type { CallRecord } from '../src/records/types.js';
import {
  apiKeyFrom,
  DialError,
  EXIT,
  exitCodeFor,
  formatCallRecord,
  INITIAL_PROGRESS,
  parseDialArgs,
  progressLines,
  refusalLine,
  USAGE,
  type DialOptions,
} from './dial-cli.js';

/** Remote: as asked. Simulated: everything is local, so closer following costs nothing and ends sooner. */
const REMOTE_POLL_MS = 500;
const SIMULATED_POLL_MS = 100;
const HTTP_TIMEOUT_MS = 15_000;
/** Consecutive failed polls (network) before giving up on following a call. */
const MAX_POLL_FAILURES = 20;
const RECORD_TIMEOUT_MS = 10_000;

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
// Output piped into `head` that has closed: keep going quietly (and clean up) rather than die on EPIPE.
process.stdout.on('error', () => undefined);
const err = (line: string): void => void process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Api {
  readonly baseUrl: string;
  readonly key: string;
}

async function apiFetch(api: Api, method: 'GET' | 'POST', pathname: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${api.baseUrl}${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${api.key}`, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await response.text();
  try {
    return { status: response.status, json: JSON.parse(text) as unknown };
  } catch {
    return { status: response.status, json: null };
  }
}

/** Why a fetch failed, in one line (fetch hides the cause: ECONNREFUSED, ENOTFOUND, …). */
function fetchFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${HTTP_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

interface Placed {
  readonly requestId: string;
  /** performance.now() when the request was sent: time 0 of the answering-machine verdict's line. */
  readonly sentAtMs: number;
}

/** POST /api/calls; a refusal or an unreachable server is a DialError(2). */
async function placeCall(api: Api, options: DialOptions, agent: string): Promise<Placed> {
  const body = { to: options.to, agent, ...(Object.keys(options.variables).length === 0 ? {} : { variables: options.variables }) };
  const sentAtMs = performance.now();
  let answer: { status: number; json: unknown };
  try {
    answer = await apiFetch(api, 'POST', '/api/calls', body);
  } catch (error) {
    throw new DialError(EXIT.refused, `dial: cannot reach callbridge at ${api.baseUrl}: ${fetchFailure(error)}`);
  }
  const placed = answer.json as { requestId?: unknown } | null;
  if (answer.status !== 202 || typeof placed?.requestId !== 'string') throw new DialError(EXIT.refused, refusalLine(answer.status, answer.json));
  return { requestId: placed.requestId, sentAtMs };
}

/** Polls the call's progress, printing each new line, until a final status; returns the last snapshot. */
async function follow(api: Api, placed: Placed, pollMs: number): Promise<OutboundProgress> {
  const lost = (why: string) => new DialError(EXIT.notCompleted, `dial: lost track of the call (request ${placed.requestId}): ${why}`);
  let state = INITIAL_PROGRESS;
  let failures = 0;
  for (;;) {
    let answer: { status: number; json: unknown } | null = null;
    try {
      answer = await apiFetch(api, 'GET', `/api/outbound/${encodeURIComponent(placed.requestId)}`);
    } catch (error) {
      if (++failures >= MAX_POLL_FAILURES) throw lost(fetchFailure(error));
    }
    if (answer !== null) {
      if (answer.status === 404) throw lost('callbridge no longer knows it (restarted?)');
      if (answer.status !== 200) throw lost(refusalLine(answer.status, answer.json).replace(/^dial: refused /, ''));
      failures = 0;
      const snapshot = answer.json as OutboundProgress;
      const next = progressLines(state, snapshot, (performance.now() - placed.sentAtMs) / 1000);
      state = next.state;
      for (const line of next.lines) out(line);
      if (state.ended) return snapshot;
    }
    await sleep(pollMs);
  }
}

/** The record appears once the call is over at both ends and the writer has written it: poll the records API. */
async function waitForRecord(api: Api, callSid: string): Promise<CallRecord> {
  const deadline = performance.now() + RECORD_TIMEOUT_MS;
  for (;;) {
    const answer = await apiFetch(api, 'GET', `/api/calls/${callSid}`);
    if (answer.status === 200) return answer.json as CallRecord;
    // 404 until it is written.
    if (answer.status !== 404 || performance.now() > deadline) throw new DialError(EXIT.notCompleted, refusalLine(answer.status, answer.json).replace(/^dial: refused/, 'dial: no call record'));
    await sleep(50);
  }
}

async function dialRemote(options: DialOptions, url: string): Promise<number> {
  const key = apiKeyFrom(process.env);
  if ('message' in key) throw new DialError(EXIT.usage, key.message);
  const api: Api = { baseUrl: url, key: key.key };
  const agent = options.agent ?? 'default';
  const placed = await placeCall(api, options, agent);
  out(`calling ${options.to} with agent "${agent}" through ${url} (request ${placed.requestId})`);
  process.once('SIGINT', () => {
    err(`\ndial: stopped following; the call goes on (GET /api/outbound/${placed.requestId} shows it)`);
    process.exit(130);
  });
  const last = await follow(api, placed, REMOTE_POLL_MS);
  return exitCodeFor(last.status);
}

async function dialSimulated(options: DialOptions): Promise<number> {
  // Loaded only here: the remote mode never pays for the server, the simulators or PGlite.
  const { startSimulatedCallbridge } = await import('./dial-simulated.js');
  const agentsFile = process.env['AGENTS_FILE']?.trim() || null;
  const sim = await startSimulatedCallbridge({ agent: options.agent, callee: options.callee ?? 'human', agentsFile });
  // Ctrl-C: the temporary database and the servers go too.
  process.once('SIGINT', () => {
    err('\ndial: interrupted');
    void sim.close().finally(() => process.exit(130));
  });
  try {
    for (const line of sim.description) out(line);
    out();
    const api: Api = { baseUrl: sim.baseUrl, key: sim.apiKey };
    const placed = await placeCall(api, options, sim.agentName);
    out(`calling ${options.to} (POST /api/calls → request ${placed.requestId})`);
    const last = await follow(api, placed, SIMULATED_POLL_MS);
    out();
    if (last.callSid !== null) {
      const record = await waitForRecord(api, last.callSid);
      out(`the call's record, read back from the database (GET /api/calls/${last.callSid}):`);
      for (const line of formatCallRecord(record, { recordingNote: 'in the temporary RECORDINGS_DIR (deleted at exit)' })) out(line);
    }
    return exitCodeFor(last.status);
  } finally {
    await sim.close();
  }
}

async function main(): Promise<number> {
  // Variables already in the environment win over .env, as for the server.
  // DOTENV_CONFIG_PATH names another file (tests point it nowhere, so a developer's own .env stays out of them).
  dotenv.config({ quiet: true, ...(process.env['DOTENV_CONFIG_PATH'] === undefined ? {} : { path: process.env['DOTENV_CONFIG_PATH'] }) });
  const parsed = parseDialArgs(process.argv.slice(2), process.env);
  if (parsed.kind === 'help') {
    out(USAGE);
    return 0;
  }
  if (parsed.kind === 'usage-error') throw new DialError(EXIT.usage, parsed.message);
  const { options } = parsed;
  return options.url === null ? dialSimulated(options) : dialRemote(options, options.url);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof DialError) {
      err(error.message);
      process.exit(error.code);
    }
    err(`dial: failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
