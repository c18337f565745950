/**
 * `npm run dial -- +15551234567 [--agent NAME] [--var name=value]… [--url URL] [--callee KIND]`: places one outbound
 * call through callbridge's `POST /api/calls` and prints its progress (queued, ringing, answered by human/machine,
 * ended, duration) as it happens, by following `GET /api/outbound/:requestId`.
 *
 * Remote (`--url` or CALLBRIDGE_URL): a running callbridge, with CALLBRIDGE_API_KEY from the environment or .env.
 * Simulated (neither): everything in this process, no accounts: an embedded callbridge (127.0.0.1:0) with call records
 * on a temporary PGlite, the simulated OpenAI Realtime backend, and the simulated Twilio REST server whose callee
 * for the dialled number is a person speaking a bundled recording (or, with --callee, a voicemail, a busy line, …).
 * The call goes through the real API and the real Twilio client; at the end the call's record is read back from the
 * database through the records API and printed.
 *
 * The argument parsing and every printed line are pure functions in dial-cli.ts (tested in test/dial-cli.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { agentFromConfig } from '../src/agents/from-config.js';
import { providersUsed } from '../src/agents/credentials.js';
import { loadAgentRoster } from '../src/agents/load.js';
import { agentByName } from '../src/agents/routing.js';
import type { AgentDefinition, AgentRoster } from '../src/agents/types.js';
import { systemClock } from '../src/clock.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import type { OutboundProgress } from '../src/outbound/outbound-calls.js';
import { CallRecords } from '../src/records/service.js';
import type { CallRecord } from '../src/records/types.js';
import { startServer, type RunningServer } from '../src/server/app.js';
import type { ElevenLabsTarget } from '../src/server/agents-wiring.js';
import { fixtureMulaw, readFixture } from '../src/simulator/fixtures.js';
import { startSimulatedRealtimeServer } from '../src/simulator/realtime/server.js';
import { rebaseUrls, startSimulatedTwilioRest, type CalleeBehaviour } from '../src/simulator/twilio-rest/server.js';
import {
  apiKeyFrom,
  EXIT,
  exitCodeFor,
  formatCallRecord,
  INITIAL_PROGRESS,
  parseDialArgs,
  progressLines,
  refusalLine,
  USAGE,
  type CalleeKind,
  type DialOptions,
} from './dial-cli.js';
import { openEmbeddedRecords } from './embedded-records.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** What the simulated person says: the demo's recording (fixtures/README.md has its timeline and words). */
const CALLEE_FIXTURE = 'fixtures/talk-over.jsonl';
const CALLEE_WORDS = ['Can you tell me about your return policy for shoes?', 'Wait, stop, I have another question.'];
/** What the simulated answering machine says before its beep (an agent phrase of the bundled speech, 4 s). */
const VOICEMAIL_GREETING = 'assets/speech/greeting.wav';
/** Remote: as asked. Simulated: everything is local, so closer following costs nothing and ends sooner. */
const REMOTE_POLL_MS = 500;
const SIMULATED_POLL_MS = 100;
const HTTP_TIMEOUT_MS = 15_000;
/** Consecutive failed polls before giving up on a remote call. */
const MAX_POLL_FAILURES = 20;
/** Simulated ringing and other non-audio waits run at this fraction of real time (the conversation itself is real time). */
const SIMULATED_TIME_SCALE = 0.4;

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const err = (line: string): void => void process.stderr.write(`${line}\n`);

class DialExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

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
  let json: unknown = null;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    json = null;
  }
  return { status: response.status, json };
}

/** Why a fetch failed, in one line (undici hides the cause: ECONNREFUSED, ENOTFOUND, …). */
function fetchFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
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

/** POST /api/calls; a refusal or an unreachable server is a DialExit(2). */
async function placeCall(api: Api, options: DialOptions, agent: string): Promise<Placed> {
  const body = { to: options.to, agent, ...(Object.keys(options.variables).length === 0 ? {} : { variables: options.variables }) };
  const sentAtMs = performance.now();
  let answer: { status: number; json: unknown };
  try {
    answer = await apiFetch(api, 'POST', '/api/calls', body);
  } catch (error) {
    throw new DialExit(EXIT.refused, `dial: cannot reach callbridge at ${api.baseUrl}: ${fetchFailure(error)}`);
  }
  const placed = answer.json as { requestId?: unknown } | null;
  if (answer.status !== 202 || typeof placed?.requestId !== 'string') throw new DialExit(EXIT.refused, refusalLine(answer.status, answer.json));
  return { requestId: placed.requestId, sentAtMs };
}

/** Polls the call's progress, printing each new line, until a final status; returns the last snapshot. */
async function follow(api: Api, placed: Placed, pollMs: number): Promise<OutboundProgress> {
  let state = INITIAL_PROGRESS;
  let failures = 0;
  for (;;) {
    let answer: { status: number; json: unknown } | null = null;
    try {
      answer = await apiFetch(api, 'GET', `/api/outbound/${encodeURIComponent(placed.requestId)}`);
    } catch (error) {
      if (++failures >= MAX_POLL_FAILURES) throw new DialExit(EXIT.notCompleted, `dial: lost track of the call (request ${placed.requestId}): ${fetchFailure(error)}`);
    }
    if (answer !== null) {
      if (answer.status === 404) throw new DialExit(EXIT.notCompleted, `dial: callbridge no longer knows request ${placed.requestId} (restarted?)`);
      if (answer.status !== 200) throw new DialExit(EXIT.notCompleted, refusalLine(answer.status, answer.json).replace('refused', 'lost track of the call'));
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------
// Remote

async function dialRemote(options: DialOptions & { url: string }): Promise<number> {
  const key = apiKeyFrom(process.env);
  if ('message' in key) throw new DialExit(EXIT.usage, key.message);
  const api: Api = { baseUrl: options.url, key: key.key };
  const agent = options.agent ?? 'default';
  const placed = await placeCall(api, options, agent);
  out(`calling ${options.to} with agent "${agent}" through ${options.url} (request ${placed.requestId})`);
  process.once('SIGINT', () => {
    err(`\ndial: stopped following; the call goes on (GET /api/outbound/${placed.requestId} shows it)`);
    process.exit(130);
  });
  const last = await follow(api, placed, REMOTE_POLL_MS);
  return exitCodeFor(last.status);
}

// ---------------------------------------------------------------------------------------------------------------
// Simulated

function callee(kind: CalleeKind, humanHangUpAfterMs: number): CalleeBehaviour {
  switch (kind) {
    case 'human':
      // Hangs up once their recording has played (the agent's last answer fits in its trailing silence).
      return { kind: 'human', audio: { kind: 'fixture', path: path.join(root, CALLEE_FIXTURE) }, hangUpAfterMs: humanHangUpAfterMs };
    case 'voicemail':
      return { kind: 'voicemail', greeting: { kind: 'wav', path: path.join(root, VOICEMAIL_GREETING) }, recordMs: 8_000 };
    case 'busy':
      return { kind: 'busy' };
    case 'no-answer':
      return { kind: 'no-answer' };
    case 'failed':
      return { kind: 'fail' };
  }
}

function describeCallee(kind: CalleeKind, agent: AgentDefinition): string {
  switch (kind) {
    case 'human':
      return agent.outbound.answeringMachine === 'off'
        ? `a person saying ${CALLEE_FIXTURE} ("${CALLEE_WORDS[0]}", then talking over the answer)`
        : `a person saying ${CALLEE_FIXTURE}: "${CALLEE_WORDS[0]}" (heard by answering-machine detection, not the agent), then talks over the greeting`;
    case 'voicemail':
      return `an answering machine: a 4 s greeting, a beep, then it records for 8 s`;
    case 'busy':
      return 'a busy line';
    case 'no-answer':
      return 'nobody picks up';
    case 'failed':
      return 'a number the carrier cannot route';
  }
}

/** The agents: AGENTS_FILE's when set, else one built-in agent `default` that may call any number. */
function simulatedRoster(config: ReturnType<typeof loadConfig>): AgentRoster {
  if (config.agentsFile !== null) return loadAgentRoster({ path: config.agentsFile, config });
  const agent: AgentDefinition = {
    ...agentFromConfig(config),
    name: 'default',
    outbound: {
      allowedPrefixes: ['+'],
      answeringMachine: 'voicemail',
      voicemailMessage: 'Say who you are, that you called about {{custom.topic}}, and that you will call back later.',
    },
  };
  return { agents: [agent], defaultAgent: agent, source: 'environment' };
}

async function dialSimulated(options: DialOptions): Promise<number> {
  const startedAt = performance.now();
  const calleeKind = options.callee ?? 'human';
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const dataDir = mkdtempSync(path.join(tmpdir(), 'callbridge-dial-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  try {
    const secret = randomBytes(12).toString('hex');
    const realtimeKey = `sim-dial-${secret}`;
    const apiKey = `dial-${secret}`;
    const authToken = `dial-auth-${secret}`;
    const accountSid = `AC${randomBytes(16).toString('hex')}`;
    const publicBaseUrl = 'https://callbridge.dial.invalid';
    const env: Record<string, string> = {
      PORT: '0',
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: publicBaseUrl,
      OPENAI_API_KEY: realtimeKey,
      TWILIO_AUTH_TOKEN: authToken,
      TWILIO_ACCOUNT_SID: accountSid,
      TWILIO_FROM_NUMBER: '+15005550006',
      CALLBRIDGE_API_KEY: apiKey,
      OUTBOUND_RING_TIMEOUT_S: '10',
      DATA_DIR: dataDir,
      RECORDINGS_DIR: path.join(dataDir, 'recordings'),
      LOG_LEVEL: 'silent',
      ...(process.env['AGENTS_FILE'] ? { AGENTS_FILE: process.env['AGENTS_FILE'] } : {}),
    };

    let roster: AgentRoster;
    let config = loadConfig(env);
    try {
      roster = simulatedRoster(config);
    } catch (error) {
      if (error instanceof ConfigError) throw new DialExit(EXIT.usage, error.message.split('\n').map((line) => `dial: ${line}`).join('\n'));
      throw error;
    }
    const agentName = options.agent ?? roster.defaultAgent?.name ?? roster.agents[0]?.name ?? 'default';
    const agent = agentByName(roster, agentName);
    if (agent === null) {
      const names = roster.agents.map((known) => `"${known.name}"`).join(', ');
      throw new DialExit(
        EXIT.usage,
        config.agentsFile === null
          ? `dial: no agent "${agentName}": without AGENTS_FILE the simulated callbridge has one agent, "default" (set AGENTS_FILE to use yours)`
          : `dial: no agent "${agentName}" in ${config.agentsFile} (agents: ${names})`,
      );
    }

    // The database first: opening PGlite stalls the event loop now and then, which a running call would hear.
    const opened = await openEmbeddedRecords({ root, dataDir });
    cleanups.push(() => opened.store.close());

    const heardFirstWords = agent.outbound.answeringMachine === 'off';
    const realtime = await startSimulatedRealtimeServer({
      apiKey: realtimeKey,
      reply: { kind: 'speech' },
      speedFactor: 1.5,
      deltaBytes: 4_800,
      responseLatencyMs: 250,
      logAudio: false,
      // The simulated "transcription" of the callee's turns: the words of the recording the agent hears.
      callerTranscripts: heardFirstWords ? CALLEE_WORDS : CALLEE_WORDS.slice(1),
    });
    cleanups.push(() => realtime.close());
    let elevenlabs: ElevenLabsTarget | undefined;
    if (providersUsed(roster).has('elevenlabs')) {
      const { startEmbeddedElevenLabsBackend, EMBEDDED_AGENT_ID } = await import('../src/simulator/elevenlabs/server.js');
      const backendKey = `sim-el-${secret}`;
      const backend = await startEmbeddedElevenLabsBackend({ apiKey: backendKey, logger: silentLogger() });
      cleanups.push(() => backend.close());
      elevenlabs = { apiBaseUrl: backend.url, wsBaseUrl: backend.url.replace(/^http/, 'ws'), apiKey: backendKey, publicAgent: false, defaultAgentId: config.elevenlabs.agentId ?? EMBEDDED_AGENT_ID };
    }

    const calleeMs = Math.round(fixtureMulaw(readFixture(path.join(root, CALLEE_FIXTURE))).length / 8);
    let route: ((url: string) => string) | null = null;
    const twilio = await startSimulatedTwilioRest({
      accountSid,
      authToken,
      callees: () => callee(calleeKind, calleeMs + 300),
      timeScale: SIMULATED_TIME_SCALE,
      keepPayloads: false,
      routeUrl: (url) => (route === null ? url : route(url)),
    });
    cleanups.push(() => twilio.close());
    config = loadConfig({ ...env, TWILIO_API_URL: twilio.url });

    const logger = silentLogger();
    const records = new CallRecords({ config, logger, clock: systemClock, secrets: [realtimeKey, apiKey, authToken], store: opened.store });
    cleanups.push(() => records.close());
    const server: RunningServer = await startServer({
      config,
      logger,
      upstream: { url: realtime.url, model: config.openai.model, apiKey: realtimeKey, authMode: 'bearer' },
      agents: roster,
      records,
      ...(elevenlabs === undefined ? {} : { elevenlabs }),
    });
    cleanups.push(() => server.close());
    const baseUrl = `http://127.0.0.1:${server.port}`;
    route = rebaseUrls(publicBaseUrl, baseUrl);
    const readyMs = performance.now() - startedAt;

    out('dial: simulated: no Twilio account needed (no --url or CALLBRIDGE_URL)');
    out(`  callbridge on ${baseUrl}, simulated Twilio REST on ${twilio.url} (ringing at ${SIMULATED_TIME_SCALE}× real time), simulated OpenAI Realtime`);
    out(`  agent "${agent.name}" (${config.agentsFile === null ? 'built in: may call any number, leaves a voicemail' : config.agentsFile}); the callee: ${describeCallee(calleeKind, agent)}`);
    out(`  records: a temporary PGlite database, ${opened.how === 'copied' ? 'copied from out/cache and opened' : 'created (initdb; later runs copy it from out/cache)'} in ${opened.openMs.toFixed(0)} ms`);
    out(`  ready in ${readyMs.toFixed(0)} ms`);
    out();

    const api: Api = { baseUrl, key: apiKey };
    const placed = await placeCall(api, options, agent.name);
    out(`calling ${options.to} (POST /api/calls → request ${placed.requestId})`);
    const last = await follow(api, placed, SIMULATED_POLL_MS);
    const code = exitCodeFor(last.status);

    out();
    if (last.callSid === null) {
      out('  no record: the call was never placed');
      return code;
    }
    const record = await waitForRecord(api, last.callSid, 10_000);
    out(`the call's record, read back from the database (GET /api/calls/${last.callSid}):`);
    for (const line of formatCallRecord(record)) out(line);
    return code;
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  }
}

/** The record appears once the call is over at both ends and the writer has written it: poll the records API. */
async function waitForRecord(api: Api, callSid: string, timeoutMs: number): Promise<CallRecord> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const answer = await apiFetch(api, 'GET', `/api/calls/${callSid}`);
    if (answer.status === 200) return answer.json as CallRecord;
    // 404 until written, 503 while the store is still opening.
    if ((answer.status !== 404 && answer.status !== 503) || performance.now() > deadline) throw new DialExit(EXIT.notCompleted, refusalLine(answer.status, answer.json).replace('refused', 'no call record'));
    await sleep(50);
  }
}

async function main(): Promise<number> {
  // Variables already in the environment win over .env, as for the server.
  dotenv.config({ quiet: true });
  const parsed = parseDialArgs(process.argv.slice(2), process.env);
  if (parsed.kind === 'help') {
    out(USAGE);
    return 0;
  }
  if (parsed.kind === 'usage-error') throw new DialExit(EXIT.usage, parsed.message);
  const { options } = parsed;
  return options.url === null ? dialSimulated(options) : dialRemote({ ...options, url: options.url });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof DialExit) {
      err(error.message);
      process.exit(error.code);
    }
    err(`dial: failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
