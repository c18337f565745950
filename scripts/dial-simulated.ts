/**
 * The zero-setup side of `npm run dial` (loaded by scripts/dial.ts only when there is no --url or CALLBRIDGE_URL):
 * everything a real outbound call needs, in this process, on 127.0.0.1, with no accounts:
 *
 *   - the call records on a fresh PGlite in a temporary DATA_DIR (embedded-records.ts), opened first;
 *   - the simulated OpenAI Realtime backend (bundled speech, as the embedded backend of `npm start` without a key);
 *   - the simulated Twilio REST server, whose callee for any number is a person speaking the demo's recording, or
 *     with --callee an answering machine, a busy line, nobody, or a number that cannot be routed; ringing and other
 *     non-audio waits at SIMULATED_TIME_SCALE of real time;
 *   - callbridge itself (`startServer`) with the agents of AGENTS_FILE, or one built-in agent `default` that may call
 *     any number, and the real `twilio` client pointed at the simulated REST server (TWILIO_API_URL).
 *
 * The caller of this module places the call through the real `POST /api/calls` and follows it like a remote one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { providersUsed } from '../src/agents/credentials.js';
import { agentFromConfig } from '../src/agents/from-config.js';
import { loadAgentRoster } from '../src/agents/load.js';
import { agentByName } from '../src/agents/routing.js';
import type { AgentDefinition, AgentRoster } from '../src/agents/types.js';
import { systemClock } from '../src/clock.js';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import { CallRecords } from '../src/records/service.js';
import type { ElevenLabsTarget } from '../src/server/agents-wiring.js';
import { startServer } from '../src/server/app.js';
import { fixtureMulaw, readFixture } from '../src/simulator/fixtures.js';
import { startSimulatedRealtimeServer } from '../src/simulator/realtime/server.js';
import { rebaseUrls, startSimulatedTwilioRest, type CalleeBehaviour } from '../src/simulator/twilio-rest/server.js';
import { DialError, EXIT, type CalleeKind } from './dial-cli.js';
import { openEmbeddedRecords } from './embedded-records.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** What the simulated person says: the demo's recording (fixtures/README.md has its timeline and words). */
const CALLEE_FIXTURE = 'fixtures/talk-over.jsonl';
const CALLEE_WORDS = ['Can you tell me about your return policy for shoes?', 'Wait, stop, I have another question.'];
/** The person hangs up this long after their recording ends (the agent's last answer fits in its trailing silence). */
const HANG_UP_AFTER_RECORDING_MS = 300;
/** What the simulated answering machine says before its beep: an agent phrase of the bundled speech (4 s). */
const VOICEMAIL_GREETING = 'assets/speech/greeting.wav';
const VOICEMAIL_RECORD_MS = 8_000;
/** Ringing, the ring timeout and the other non-audio waits run at this fraction of real time (audio is real time). */
export const SIMULATED_TIME_SCALE = 0.4;
const RING_TIMEOUT_S = 5;
const FROM_NUMBER = '+15005550006';

export interface SimulatedCallbridge {
  /** `http://127.0.0.1:<port>`: the API to place the call through. */
  readonly baseUrl: string;
  readonly apiKey: string;
  /** The agent to call with (--agent, else the roster's default). */
  readonly agentName: string;
  /** What runs where, for the top of the output. */
  readonly description: readonly string[];
  close(): Promise<void>;
}

function calleeBehaviour(kind: CalleeKind, hangUpAfterMs: number): CalleeBehaviour {
  switch (kind) {
    case 'human':
      return { kind: 'human', audio: { kind: 'fixture', path: path.join(root, CALLEE_FIXTURE) }, hangUpAfterMs };
    case 'voicemail':
      return { kind: 'voicemail', greeting: { kind: 'wav', path: path.join(root, VOICEMAIL_GREETING) }, recordMs: VOICEMAIL_RECORD_MS };
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
        ? `a person saying ${CALLEE_FIXTURE}: "${CALLEE_WORDS[0]}", then "${CALLEE_WORDS[1]}" over the answer`
        : `a person saying ${CALLEE_FIXTURE}: "${CALLEE_WORDS[0]}" (heard by answering-machine detection, not the agent), then "${CALLEE_WORDS[1]}" over the greeting`;
    case 'voicemail':
      return `an answering machine: a greeting (${VOICEMAIL_GREETING}, 4 s), a beep, then it records for ${VOICEMAIL_RECORD_MS / 1000} s`;
    case 'busy':
      return 'a busy line';
    case 'no-answer':
      return `nobody picks up (ring timeout ${RING_TIMEOUT_S} s)`;
    case 'failed':
      return 'a number the carrier cannot route';
  }
}

/** AGENTS_FILE's agents when set, else one built-in agent `default` that may call any number and leaves a voicemail. */
function simulatedRoster(config: Readonly<Config>): AgentRoster {
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

/** Starts everything (the database first); a bad AGENTS_FILE or an unknown agent is a DialError(78). */
export async function startSimulatedCallbridge(options: { agent: string | null; callee: CalleeKind; agentsFile: string | null }): Promise<SimulatedCallbridge> {
  const startedAt = performance.now();
  const cleanups: Array<() => unknown> = [];
  const close = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve().then(cleanup).catch(() => undefined);
  };
  const dataDir = mkdtempSync(path.join(tmpdir(), 'callbridge-dial-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  try {
    const secret = randomBytes(12).toString('hex');
    const realtimeKey = `sim-dial-${secret}`;
    const apiKey = `dial-${secret}`;
    const authToken = `dial-auth-${secret}`;
    const accountSid = `AC${randomBytes(16).toString('hex')}`;
    const publicBaseUrl = 'https://callbridge.dial.invalid';
    // Nothing from the process environment but AGENTS_FILE: a .env with real keys must not turn this into a real call.
    const env: Record<string, string> = {
      PORT: '0',
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: publicBaseUrl,
      OPENAI_API_KEY: realtimeKey,
      TWILIO_AUTH_TOKEN: authToken,
      TWILIO_ACCOUNT_SID: accountSid,
      TWILIO_FROM_NUMBER: FROM_NUMBER,
      CALLBRIDGE_API_KEY: apiKey,
      OUTBOUND_RING_TIMEOUT_S: String(RING_TIMEOUT_S),
      DATA_DIR: dataDir,
      RECORDINGS_DIR: path.join(dataDir, 'recordings'),
      LOG_LEVEL: 'silent',
      ...(options.agentsFile === null ? {} : { AGENTS_FILE: options.agentsFile }),
    };
    let config = loadConfig(env);
    let roster: AgentRoster;
    try {
      roster = simulatedRoster(config);
    } catch (error) {
      if (error instanceof ConfigError) throw new DialError(EXIT.usage, error.message.split('\n').map((line) => `dial: ${line}`).join('\n'));
      throw error;
    }
    const agentName = options.agent ?? roster.defaultAgent?.name ?? roster.agents[0]?.name ?? 'default';
    const agent = agentByName(roster, agentName);
    if (agent === null) {
      throw new DialError(
        EXIT.usage,
        config.agentsFile === null
          ? `dial: no agent "${agentName}": without AGENTS_FILE the simulated callbridge has one agent, "default" (set AGENTS_FILE to use yours)`
          : `dial: no agent "${agentName}" in ${config.agentsFile} (agents: ${roster.agents.map((known) => `"${known.name}"`).join(', ')})`,
      );
    }

    // The database first: opening PGlite stalls the event loop now and then, which a running call would hear.
    const opened = await openEmbeddedRecords({ root, dataDir });
    cleanups.push(() => opened.store.close());

    const realtime = await startSimulatedRealtimeServer({
      apiKey: realtimeKey,
      reply: { kind: 'speech' },
      speedFactor: 1.5,
      deltaBytes: 4_800,
      responseLatencyMs: 250,
      logAudio: false,
      // The simulated "transcription" of the callee's turns: the words of the recording that reach the agent (with
      // answering-machine detection on, the first sentence goes to the detection, before the agent listens).
      callerTranscripts: agent.outbound.answeringMachine === 'off' ? CALLEE_WORDS : CALLEE_WORDS.slice(1),
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

    const recordingMs = Math.round(fixtureMulaw(readFixture(path.join(root, CALLEE_FIXTURE))).length / 8);
    let route: ((url: string) => string) | null = null;
    const twilio = await startSimulatedTwilioRest({
      accountSid,
      authToken,
      callees: () => calleeBehaviour(options.callee, recordingMs + HANG_UP_AFTER_RECORDING_MS),
      timeScale: SIMULATED_TIME_SCALE,
      keepPayloads: false,
      // Twilio would reach PUBLIC_BASE_URL; here that is callbridge on 127.0.0.1 (known once it listens).
      routeUrl: (url) => (route === null ? url : route(url)),
    });
    cleanups.push(() => twilio.close());
    config = loadConfig({ ...env, TWILIO_API_URL: twilio.url });

    const logger = silentLogger();
    const records = new CallRecords({ config, logger, clock: systemClock, secrets: [realtimeKey, apiKey, authToken], store: opened.store });
    cleanups.push(() => records.close());
    const server = await startServer({
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

    const source = config.agentsFile === null ? 'built in: may call any number, leaves a voicemail' : `from ${config.agentsFile}`;
    const database = opened.how === 'copied' ? 'copied from out/cache and opened' : 'created (initdb; later runs copy it from out/cache)';
    return {
      baseUrl,
      apiKey,
      agentName: agent.name,
      description: [
        'dial: simulated: no Twilio account needed (no --url or CALLBRIDGE_URL)',
        `  callbridge on ${baseUrl}, simulated Twilio REST (ringing at ${SIMULATED_TIME_SCALE}× real time), simulated OpenAI Realtime (canned phrases)`,
        `  agent "${agent.name}" (${source})`,
        `  the callee: ${describeCallee(options.callee, agent)}`,
        `  records: a temporary PGlite database, ${database} in ${opened.openMs.toFixed(0)} ms`,
        `  ready in ${(performance.now() - startedAt).toFixed(0)} ms`,
      ],
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
