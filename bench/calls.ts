/**
 * Concurrent-calls benchmark: N simulated Twilio callers through the REAL callbridge server to the simulated
 * Realtime server, in both audio modes (`pcm`: 24 kHz PCM16 upstream, transcoded per call; `pcmu`: mu-law pass-through).
 * Prints figures; asserts nothing (machines here are shared and noisy).
 *
 *   npx tsx bench/calls.ts --calls 50 --seconds 20            (npm run bench:calls -- --calls 50 --seconds 20)
 *   npx tsx bench/calls.ts --calls 100 --seconds 30 --search  (then step N up per mode until the first unclean N)
 *
 * Options: --calls N (50)  --seconds S (20)  --modes pcm,pcmu  --search  --search-seconds S (10)  --budget S (600)
 *          --ramp-ms (1000)  --warmup-ms (2500)  --speed-factor (4)  --no-pin  --profile DIR (CPU profile of the bridge's
 *          main thread over the steady window, DIR/bridge-<mode>-<N>.cpuprofile; summarise with bench/profile-top.ts;
 *          the profiler's own cost inflates the CPU figures of that run)
 *
 * Layout: the bridge runs alone in a child process (bench/bridge-process.ts, `taskset -c 0` when there are 2+ cores,
 * LOG_LEVEL=warn) and answers stats requests over IPC; this process runs the callers and the simulated Realtime server
 * (pinned to core 1). Every call loops fixtures/greeting-question.jsonl (1 s silence, a 3 s question, 6 s of silence
 * for the answer: a 10 s turn cycle), started at a phase spread over the cycle so turns do not all coincide. No
 * greeting (AGENT_GREETING=''): every response answers a caller turn. The agent replies with the bundled speech
 * (2.3–3.2 s) at 4× real time with the default delta size. Calls ramp up over ~1 s; figures are taken over the
 * steady window only (after the ramp and a warm-up).
 *
 * Figures:
 *   - server CPU (process.cpuUsage() in the bridge process, all threads) per call-second over the window;
 *   - peak RSS / heapUsed during the calls minus the idle figure after GC, per call (sampled every 100 ms);
 *   - added latency: the FIRST `response.output_audio.delta` of a response leaving the simulated server → the first
 *     media frame after it reaching the caller (later deltas are queued behind paced playback by design);
 *   - caller-audio latency: a media frame sent by the caller → the matching `input_audio_buffer.append` at the
 *     simulated server (matched by order per call; only frames sent after `session.updated`);
 *   - underruns as heard by the callers' playback emulators, sequence errors from the server's call summaries.
 * Times are `performance.timeOrigin + performance.now()` (epoch ms, µs resolution, comparable across processes).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { CallSummary } from '../src/call/call.js';
import { MULAW_BYTES_PER_FRAME } from '../src/audio/frames.js';
import { bytesToBase64 } from '../src/audio/pcm.js';
import {
  buildFixture,
  fixtureMulaw,
  readFixture,
  type FixtureMessage,
  type TwilioInboundMessage,
} from '../src/simulator/fixtures.js';
import { startSimulatedRealtimeServer, type SessionLogEntry, type SimulatedRealtimeServer, type SimulatedSession } from '../src/simulator/realtime/server.js';
import { placeCall, type CallResult, type SimulatedCall } from '../src/simulator/twilio-caller.js';
import type { BridgeStats, ChildMessage, ParentMessage } from './bridge-process.js';

// ---- options ------------------------------------------------------------------------------------------------------

type Mode = 'pcm' | 'pcmu';

interface Options {
  calls: number;
  seconds: number;
  modes: Mode[];
  search: boolean;
  searchSeconds: number;
  budgetS: number;
  rampMs: number;
  warmupMs: number;
  speedFactor: number;
  pin: boolean;
  profileDir: string | null;
  /** V8 young-generation semi-space for the bridge, MiB (null = Node's default). */
  semiSpaceMb: number | null;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = {
    calls: 50,
    seconds: 20,
    modes: ['pcm', 'pcmu'],
    search: false,
    searchSeconds: 10,
    budgetS: 600,
    rampMs: 1_000,
    warmupMs: 2_500,
    speedFactor: 4,
    pin: true,
    profileDir: null,
    semiSpaceMb: null,
  };
  const number = (name: string, value: string | undefined, min: number, max: number): number => {
    const parsed = Number(value);
    if (value === undefined || !Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new Error(`${name} needs a number from ${min} to ${max} (got ${value ?? 'nothing'})`);
    }
    return parsed;
  };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++index];
    switch (flag) {
      case '--calls':
        options.calls = Math.round(number(flag, value(), 1, 2_000));
        break;
      case '--seconds':
        options.seconds = number(flag, value(), 2, 600);
        break;
      case '--modes': {
        const modes = (value() ?? '').split(',').map((mode) => mode.trim());
        if (modes.length === 0 || modes.some((mode) => mode !== 'pcm' && mode !== 'pcmu')) throw new Error('--modes takes pcm, pcmu or pcm,pcmu');
        options.modes = modes as Mode[];
        break;
      }
      case '--search':
        options.search = true;
        break;
      case '--search-seconds':
        options.searchSeconds = number(flag, value(), 2, 600);
        break;
      case '--budget':
        options.budgetS = number(flag, value(), 10, 7_200);
        break;
      case '--ramp-ms':
        options.rampMs = number(flag, value(), 0, 60_000);
        break;
      case '--warmup-ms':
        options.warmupMs = number(flag, value(), 0, 60_000);
        break;
      case '--speed-factor':
        options.speedFactor = number(flag, value(), 1, 100);
        break;
      case '--no-pin':
        options.pin = false;
        break;
      case '--semi-space-mb':
        options.semiSpaceMb = Math.round(number(flag, value(), 1, 1_024));
        break;
      case '--profile':
        options.profileDir = value() ?? null;
        if (options.profileDir === null) throw new Error('--profile needs a directory');
        break;
      case '--help':
      case '-h':
        process.stdout.write(
          'usage: npx tsx bench/calls.ts [--calls N] [--seconds S] [--modes pcm,pcmu] [--search] [--search-seconds S] [--budget S]\n' +
            '                               [--ramp-ms MS] [--warmup-ms MS] [--speed-factor F] [--no-pin] [--profile DIR] [--semi-space-mb N]\n',
        );
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown option ${arg} (try --help)`);
    }
  }
  return options;
}

// ---- constants and small helpers ----------------------------------------------------------------------------------

const AUTH_TOKEN = 'bench-twilio-auth-token-0123456789';
const OPENAI_KEY = 'sk-sim-bench-key-0123456789abcdef';
const PUBLIC_BASE_URL = 'https://callbridge.bench';
const FIXTURE_PATH = fileURLToPath(new URL('../fixtures/greeting-question.jsonl', import.meta.url));
const BRIDGE_PATH = fileURLToPath(new URL('./bridge-process.ts', import.meta.url));
const FRAME_MS = 20;
/** Clean = no underruns, no sequence errors, p99 added latency below this. */
const ADDED_LATENCY_LIMIT_MS = 5;
const SEARCH_STEPS = [25, 50, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1_000];
/** A first delta with no frame at the caller within this long counts as unmatched (the response never played). */
const MATCH_LIMIT_MS = 2_000;
/** How long the idle bridge is measured before the calls. */
const IDLE_MEASURE_MS = 2_000;

/** Cores available at start (read before this process pins itself to one, which would make it 1). */
const CORES = availableParallelism();

function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

interface Distribution {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

function distribution(values: number[]): Distribution {
  if (values.length === 0) return { count: 0, p50: null, p99: null, max: null };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { count: sorted.length, p50: round3(at(50)), p99: round3(at(99)), max: round3(sorted[sorted.length - 1]!) };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Index of the first element ≥ value in an ascending array (length when none). */
function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Pins this process (every thread) to one core. Returns false when taskset is unavailable. */
function pinSelf(core: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---- caller audio -------------------------------------------------------------------------------------------------

/** One turn cycle of caller audio as shared base64 frame payloads (silence 1 s, question 3 s, silence 6 s). */
const CYCLE_PAYLOADS: readonly string[] = (() => {
  const mulaw = fixtureMulaw(readFixture(FIXTURE_PATH));
  const frames = Math.floor(mulaw.length / MULAW_BYTES_PER_FRAME);
  return Array.from({ length: frames }, (_, frame) => bytesToBase64(mulaw.subarray(frame * MULAW_BYTES_PER_FRAME, (frame + 1) * MULAW_BYTES_PER_FRAME)));
})();
const CYCLE_MS = CYCLE_PAYLOADS.length * FRAME_MS;
const START_MESSAGE = buildFixture({ mulaw: new Uint8Array(0) }).find((entry) => entry.message.event === 'start')!;

/**
 * The caller's messages for `durationMs`: the turn cycle looped, starting `phaseFrames` into it. Payload strings are
 * shared by every call (memory: hundreds of calls × minutes of frames). Timestamps keep increasing across loops.
 */
function callerMessages(phaseFrames: number, durationMs: number): FixtureMessage[] {
  const messages: FixtureMessage[] = [START_MESSAGE];
  const frames = Math.floor(durationMs / FRAME_MS);
  for (let chunk = 1; chunk <= frames; chunk++) {
    const atMs = chunk * FRAME_MS;
    const message: TwilioInboundMessage = {
      event: 'media',
      sequenceNumber: '0',
      streamSid: START_MESSAGE.message.event === 'start' ? START_MESSAGE.message.streamSid : '',
      media: { track: 'inbound', chunk: String(chunk), timestamp: String(atMs), payload: CYCLE_PAYLOADS[(chunk - 1 + phaseFrames) % CYCLE_PAYLOADS.length]! },
    };
    messages.push({ atMs, message });
  }
  return messages;
}

// ---- simulated Realtime side: per-session timing records ----------------------------------------------------------

interface SessionTimes {
  /** Epoch ms at which `session.updated` left the simulated server. */
  readyAt: number | null;
  /** Epoch ms each `input_audio_buffer.append` arrived, in order. */
  appendAt: number[];
  /** Epoch ms at which the first `response.output_audio.delta` of each response left. */
  firstDeltaAt: number[];
  deltas: number;
  lastResponseId: string | null;
}

/**
 * Timestamps what a session logs, at the moment it logs it: inbound events right after parsing, outbound ones right
 * before the socket send. Audio events (appends and deltas) are counted and timed but not kept in the session log
 * (which only test helpers read), so memory stays flat over long runs.
 */
function instrumentSession(session: SimulatedSession): SessionTimes {
  const times: SessionTimes = { readyAt: null, appendAt: [], firstDeltaAt: [], deltas: 0, lastResponseId: null };
  const log = session.log;
  const push = Array.prototype.push;
  log.push = (...entries: SessionLogEntry[]): number => {
    const at = epochNowMs();
    for (const entry of entries) {
      const type = entry.event.type;
      if (entry.direction === 'in' && type === 'input_audio_buffer.append') {
        times.appendAt.push(at);
        continue;
      }
      if (entry.direction === 'out' && type === 'response.output_audio.delta') {
        const responseId = (entry.event as { response_id?: string }).response_id ?? '';
        if (responseId !== times.lastResponseId) {
          times.lastResponseId = responseId;
          times.firstDeltaAt.push(at);
        }
        times.deltas++;
        continue;
      }
      if (entry.direction === 'out' && type === 'session.updated' && times.readyAt === null) times.readyAt = at;
      push.call(log, entry);
    }
    return log.length;
  };
  return times;
}

/** Instruments every session the server accepts, before it starts (so nothing it sends is missed), in connect order. */
function instrumentServer(sim: SimulatedRealtimeServer): SessionTimes[] {
  const all: SessionTimes[] = [];
  const push = Array.prototype.push;
  sim.sessions.push = (...sessions: SimulatedSession[]): number => {
    for (const session of sessions) all[session.index] = instrumentSession(session);
    return push.apply(sim.sessions, sessions);
  };
  return all;
}

// ---- the bridge child process -------------------------------------------------------------------------------------

interface Bridge {
  port: number;
  pinned: boolean;
  summaries: CallSummary[];
  baseline(): Promise<{ rssBytes: number; heapUsedBytes: number }>;
  /** resetWindow: start counting event-loop delay and GC afresh after this reading. */
  stats(resetWindow?: boolean): Promise<BridgeStats>;
  /** Graceful shutdown, then SIGKILL if it lingers. Idempotent. */
  stop(): Promise<void>;
  waitForSummaries(count: number, timeoutMs: number): Promise<void>;
  /** Profiles the bridge's main thread until the returned function is called; resolves with the file written. */
  startProfile(): () => Promise<string | null>;
  warnings: number;
}

const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of liveChildren) child.kill('SIGKILL');
    process.exit(130);
  });
}

async function startBridge(mode: Mode, calls: number, simUrl: string, options: Options): Promise<Bridge> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_REALTIME_URL: simUrl,
    OPENAI_AUDIO_FORMAT: mode,
    AGENT_GREETING: '',
    LOG_LEVEL: 'warn',
    MAX_CONCURRENT_CALLS: String(calls + 20),
  };
  const nodeArgs = ['--import', 'tsx', '--expose-gc'];
  if (options.semiSpaceMb !== null) nodeArgs.push(`--max-semi-space-size=${options.semiSpaceMb}`);
  nodeArgs.push(BRIDGE_PATH);
  const pin = options.pin && CORES >= 2 && hasTaskset();
  const [command, args] = pin ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], cwd: fileURLToPath(new URL('..', import.meta.url)) });
  liveChildren.add(child);
  let warnings = 0;
  const forward = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      warnings++;
      if (warnings <= 20) process.stderr.write(`  [bridge ${mode}] ${line.length > 400 ? `${line.slice(0, 400)}…` : line}\n`);
    }
  };
  child.stdout!.on('data', forward);
  child.stderr!.on('data', forward);

  const summaries: CallSummary[] = [];
  const statsWaiters = new Map<number, (stats: BridgeStats) => void>();
  let baselineWaiter: ((value: { rssBytes: number; heapUsedBytes: number }) => void) | null = null;
  let profileWaiter: ((path: string | null) => void) | null = null;
  let summaryWake: (() => void) | null = null;
  let nextId = 1;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      liveChildren.delete(child);
      resolve();
    });
  });

  const ready = new Promise<number>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`bridge process exited before it was ready (code ${code}, signal ${signal})`)));
    child.on('message', (message: ChildMessage) => {
      switch (message.type) {
        case 'ready':
          resolve(message.port);
          break;
        case 'baseline':
          baselineWaiter?.(message);
          baselineWaiter = null;
          break;
        case 'stats': {
          const waiter = statsWaiters.get(message.id);
          statsWaiters.delete(message.id);
          waiter?.(message);
          break;
        }
        case 'callEnded':
          summaries.push(message.summary);
          summaryWake?.();
          break;
        case 'profiled':
          if (message.error !== undefined) process.stderr.write(`  profile failed: ${message.error}\n`);
          profileWaiter?.(message.path);
          profileWaiter = null;
          break;
      }
    });
  });
  const post = (message: ParentMessage): void => {
    if (child.connected) child.send(message);
  };
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        post({ type: 'shutdown' });
        const killer = setTimeout(() => child.kill('SIGKILL'), options.profileDir === null ? 4_000 : 15_000);
        await exited;
        clearTimeout(killer);
      }
    })();
    return stopping;
  };

  let port: number;
  try {
    port = await withTimeout(ready, 20_000, 'bridge process start');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    port,
    pinned: pin,
    summaries,
    get warnings() {
      return warnings;
    },
    baseline: () =>
      withTimeout(
        new Promise((resolve) => {
          baselineWaiter = resolve;
          post({ type: 'baseline' });
        }),
        5_000,
        'bridge baseline',
      ),
    stats: (resetWindow = false) =>
      withTimeout(
        new Promise<BridgeStats>((resolve) => {
          const id = nextId++;
          statsWaiters.set(id, resolve);
          post({ type: 'stats', id, resetWindow });
        }),
        5_000,
        'bridge stats',
      ),
    waitForSummaries: async (count, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (summaries.length < count && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          summaryWake = resolve;
          setTimeout(resolve, 100);
        });
      }
    },
    startProfile: () => {
      post({ type: 'profile', action: 'start' });
      return () =>
        withTimeout(
          new Promise<string | null>((resolve) => {
            profileWaiter = resolve;
            post({ type: 'profile', action: 'stop', path: `${options.profileDir ?? '.'}/bridge-${mode}-${calls}.cpuprofile` });
          }),
          30_000,
          'bridge profile',
        );
    },
    stop,
  };
}

// ---- one scenario -------------------------------------------------------------------------------------------------

interface ScenarioResult {
  mode: Mode;
  calls: number;
  connected: number;
  failedSetups: number;
  setupErrors: string[];
  windowS: number;
  /** ms of bridge CPU per second of call. */
  cpuMsPerCallSecond: number;
  /** The same split into user (JS, GC, libuv) and system (kernel: socket syscalls, loopback TCP) time. */
  cpuUserMsPerCallSecond: number;
  cpuSystemMsPerCallSecond: number;
  /** Bridge CPU with no calls, ms per second (already included, spread over N, in cpuMsPerCallSecond). */
  idleCpuMsPerSecond: number;
  /** Bridge CPU as % of one core over the window. */
  serverCpuPercent: number;
  rssBeforeMiB: number;
  peakRssMiB: number;
  rssPerCallKiB: number;
  heapBeforeMiB: number;
  peakHeapMiB: number;
  heapPerCallKiB: number;
  addedLatencyMs: Distribution & { unmatched: number };
  callerAudioLatencyMs: Distribution & { negative: number };
  responsesInWindow: number;
  underrunsInWindow: number;
  underrunsTotal: number;
  underrunMsTotal: number;
  serverUnderruns: number;
  sequenceErrors: number;
  gaps: number;
  bargeIns: number;
  lateDeltasDropped: number;
  upstreamFaults: number;
  framesIn: number;
  framesOut: number;
  summaries: number;
  serverLoopDelayP99Ms: number;
  serverLoopDelayMaxMs: number;
  /** Bridge garbage collection over the window: count, total and longest pause. */
  serverGcCount: number;
  serverGcTotalMs: number;
  serverGcMaxMs: number;
  /** Times the OS preempted the bridge over the window (another process on its core: a noisy machine). */
  serverPreemptions: number;
  /** This process (callers + simulated Realtime): % of one core over the window, and its event-loop delay p99. */
  generatorCpuPercent: number;
  generatorLoopDelayP99Ms: number;
  generatorLoopDelayMaxMs: number;
  /** Its GC pauses over the window: they delay the timestamps taken here, i.e. inflate the latencies measured. */
  generatorGcTotalMs: number;
  generatorGcMaxMs: number;
  bridgeWarnings: number;
  pinned: boolean;
  clean: boolean;
}

interface PlacedCall {
  index: number;
  call: SimulatedCall;
  /** performance.now() of the call's time 0 (its `atMs` are relative to this). */
  originPerfMs: number;
}

async function runScenario(mode: Mode, calls: number, seconds: number, options: Options): Promise<ScenarioResult> {
  const sim = await startSimulatedRealtimeServer({
    apiKey: OPENAI_KEY,
    host: '127.0.0.1',
    reply: { kind: 'speech' },
    speedFactor: options.speedFactor,
    logAudio: false,
    retainClosedSessions: false,
  });
  const sessionTimes = instrumentServer(sim);
  let bridge: Bridge | null = null;
  const placed: PlacedCall[] = [];
  const setupErrors: string[] = [];
  try {
    bridge = await startBridge(mode, calls, `${sim.url}`, options);
    const baseUrl = `http://127.0.0.1:${bridge.port}`;
    await sleep(300);
    const before = await bridge.baseline();
    // Idle cost of the bridge (timers, sampler), for scale: the per-call figure below includes it, spread over N.
    const idle0 = await bridge.stats();
    await sleep(IDLE_MEASURE_MS);
    const idle1 = await bridge.stats();
    const idleCpuMsPerS = (idle1.cpuUserUs + idle1.cpuSystemUs - idle0.cpuUserUs - idle0.cpuSystemUs) / (idle1.atEpochMs - idle0.atEpochMs);

    // Ramp: call i is dialled at t0 + i·ramp/N, one at a time, so that session i on the simulated server is call i's.
    const durationMs = options.rampMs + options.warmupMs + seconds * 1_000 + 10_000 + calls * 20;
    const phaseStep = CYCLE_PAYLOADS.length / calls;
    const t0 = performance.now();
    for (let index = 0; index < calls; index++) {
      await sleep(t0 + (index * options.rampMs) / calls - performance.now());
      try {
        const call = await placeCall({
          baseUrl,
          publicBaseUrl: PUBLIC_BASE_URL,
          authToken: AUTH_TOKEN,
          audio: { kind: 'fixture', messages: callerMessages(Math.floor(index * phaseStep), durationMs) },
          hangUpAfterMs: durationMs,
          // Only times and order are read back: keeping every payload would make this process's GC the bottleneck.
          keepPayloads: false,
        });
        const originPerfMs = performance.now() - call.elapsedMs();
        if (call.outcome !== 'connected') {
          setupErrors.push(`call ${index}: busy`);
          continue;
        }
        await withTimeout(sim.waitForSession(index), 5_000, `simulated session ${index}`);
        placed.push({ index, call, originPerfMs });
      } catch (error) {
        setupErrors.push(`call ${index}: ${(error as Error).message}`);
        if (setupErrors.length > 5) throw new Error(`call setup keeps failing: ${setupErrors.join('; ')}`);
      }
    }
    const rampDoneMs = performance.now() - t0;
    await sleep(options.warmupMs);

    // Steady window.
    const generatorDelay = monitorEventLoopDelay({ resolution: 1 });
    generatorDelay.enable();
    const generatorGc = { count: 0, totalMs: 0, maxMs: 0 };
    const gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        generatorGc.count++;
        generatorGc.totalMs += entry.duration;
        generatorGc.maxMs = Math.max(generatorGc.maxMs, entry.duration);
      }
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    const generatorCpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const windowStart = epochNowMs();
    const s0 = await bridge.stats(true);
    const stopProfile = options.profileDir === null ? null : bridge.startProfile();
    await sleep(seconds * 1_000);
    const s1 = await bridge.stats(false);
    const profilePath = stopProfile === null ? null : await stopProfile();
    if (profilePath !== null) process.stderr.write(`  profile of the steady window: ${profilePath}\n`);
    const windowEnd = epochNowMs();
    const generatorCpu = process.cpuUsage(generatorCpu0);
    const generatorWallMs = performance.now() - wall0;
    generatorDelay.disable();
    gcObserver.disconnect();

    // Hang up, collect.
    const results = await Promise.all(
      placed.map((entry) => withTimeout(entry.call.hangUp(), 10_000, `hang-up of call ${entry.index}`).catch(() => null)),
    );
    await bridge.waitForSummaries(placed.length, 10_000);
    const summaries = bridge.summaries;
    const warnings = bridge.warnings;
    await bridge.stop();

    // ---- figures ----
    const added: number[] = [];
    let unmatched = 0;
    let responsesInWindow = 0;
    const callerAudio: number[] = [];
    let negative = 0;
    let underrunsInWindow = 0;
    let underrunsTotal = 0;
    let underrunMsTotal = 0;
    placed.forEach((entry, position) => {
      const times = sessionTimes[entry.index];
      const result: CallResult | null = results[position] ?? null;
      if (times === undefined) return;
      const origin = performance.timeOrigin + entry.originPerfMs;
      const received = result?.received ?? entry.call.received;
      const sent = result?.sent ?? entry.call.sent;

      // Added latency: first delta of each response → first media frame at the caller after it.
      const mediaAt: number[] = [];
      for (const message of received) if ((message.message as { event?: unknown }).event === 'media') mediaAt.push(origin + message.atMs);
      for (const deltaAt of times.firstDeltaAt) {
        if (deltaAt < windowStart || deltaAt > windowEnd) continue;
        responsesInWindow++;
        const next = mediaAt[lowerBound(mediaAt, deltaAt)];
        if (next === undefined || next - deltaAt > MATCH_LIMIT_MS) unmatched++;
        else added.push(next - deltaAt);
      }

      // Caller audio: media frame k sent → append k received, for frames sent after session.updated, in the window.
      const readyAt = times.readyAt ?? Infinity;
      let frame = 0;
      for (const message of sent) {
        if (message.message.event !== 'media') continue;
        const sentAt = origin + message.atMs;
        const appendAt = times.appendAt[frame++];
        if (appendAt === undefined) break;
        if (sentAt < windowStart || sentAt > windowEnd || sentAt < readyAt + FRAME_MS) continue;
        const latency = appendAt - sentAt;
        if (latency < 0) negative++;
        else callerAudio.push(latency);
      }

      if (result !== null) {
        underrunsTotal += result.underrunCount;
        underrunMsTotal += result.underrunMs;
        for (const underrun of result.underruns) {
          const at = origin + underrun.atMs;
          if (at >= windowStart && at <= windowEnd) underrunsInWindow++;
        }
      }
    });
    const sum = (pick: (summary: CallSummary) => number): number => summaries.reduce((total, summary) => total + pick(summary), 0);
    const windowS = (s1.atEpochMs - s0.atEpochMs) / 1_000;
    const cpuMs = (s1.cpuUserUs + s1.cpuSystemUs - s0.cpuUserUs - s0.cpuSystemUs) / 1_000;
    const connected = placed.length;
    const addedDistribution = distribution(added);
    const sequenceErrors = sum((summary) => summary.sequenceErrors);
    const result: ScenarioResult = {
      mode,
      calls,
      connected,
      failedSetups: calls - connected,
      setupErrors: setupErrors.slice(0, 5),
      windowS: round3(windowS),
      cpuMsPerCallSecond: round3(cpuMs / Math.max(1, connected) / windowS),
      cpuUserMsPerCallSecond: round3((s1.cpuUserUs - s0.cpuUserUs) / 1_000 / Math.max(1, connected) / windowS),
      cpuSystemMsPerCallSecond: round3((s1.cpuSystemUs - s0.cpuSystemUs) / 1_000 / Math.max(1, connected) / windowS),
      idleCpuMsPerSecond: round3(idleCpuMsPerS),
      serverCpuPercent: round1((cpuMs / (windowS * 1_000)) * 100),
      rssBeforeMiB: round1(before.rssBytes / 2 ** 20),
      peakRssMiB: round1(s1.peakRssBytes / 2 ** 20),
      rssPerCallKiB: round1((s1.peakRssBytes - before.rssBytes) / Math.max(1, connected) / 1024),
      heapBeforeMiB: round1(before.heapUsedBytes / 2 ** 20),
      peakHeapMiB: round1(s1.peakHeapUsedBytes / 2 ** 20),
      heapPerCallKiB: round1((s1.peakHeapUsedBytes - before.heapUsedBytes) / Math.max(1, connected) / 1024),
      addedLatencyMs: { ...addedDistribution, unmatched },
      callerAudioLatencyMs: { ...distribution(callerAudio), negative },
      responsesInWindow,
      underrunsInWindow,
      underrunsTotal,
      underrunMsTotal: round1(underrunMsTotal),
      serverUnderruns: sum((summary) => summary.underruns),
      sequenceErrors,
      gaps: sum((summary) => summary.gaps),
      bargeIns: sum((summary) => summary.bargeIns),
      lateDeltasDropped: sum((summary) => summary.lateDeltasDropped),
      upstreamFaults: sum((summary) => summary.upstreamFaults),
      framesIn: sum((summary) => summary.framesIn),
      framesOut: sum((summary) => summary.framesOut),
      summaries: summaries.length,
      serverLoopDelayP99Ms: round3(s1.loopDelayP99Ms),
      serverLoopDelayMaxMs: round3(s1.loopDelayMaxMs),
      serverGcCount: s1.gcCount,
      serverGcTotalMs: round1(s1.gcTotalMs),
      serverGcMaxMs: round1(s1.gcMaxMs),
      serverPreemptions: s1.involuntaryContextSwitches - s0.involuntaryContextSwitches,
      generatorCpuPercent: round1(((generatorCpu.user + generatorCpu.system) / 1_000 / generatorWallMs) * 100),
      generatorLoopDelayP99Ms: round3(generatorDelay.percentile(99) / 1e6),
      generatorLoopDelayMaxMs: round3(generatorDelay.max / 1e6),
      generatorGcTotalMs: round1(generatorGc.totalMs),
      generatorGcMaxMs: round1(generatorGc.maxMs),
      bridgeWarnings: warnings,
      pinned: bridge.pinned,
      clean:
        connected === calls &&
        underrunsInWindow === 0 &&
        sequenceErrors === 0 &&
        unmatched === 0 &&
        addedDistribution.p99 !== null &&
        addedDistribution.p99 < ADDED_LATENCY_LIMIT_MS,
    };
    if (rampDoneMs > options.rampMs * 3 + 2_000) process.stderr.write(`  note: the ramp took ${Math.round(rampDoneMs)} ms (call setup is sequential)\n`);
    return result;
  } finally {
    for (const entry of placed) void entry.call.hangUp().catch(() => undefined);
    await bridge?.stop();
    await sim.close();
  }
}

// ---- output -------------------------------------------------------------------------------------------------------

function fmt(value: number | null, digits = 2): string {
  return value === null ? '—' : value.toFixed(digits);
}

function printTable(title: string, results: readonly ScenarioResult[]): void {
  const rows: Array<[string, (result: ScenarioResult) => string]> = [
    ['calls connected / dialled', (r) => `${r.connected}/${r.calls}`],
    ['steady window, s', (r) => fmt(r.windowS, 1)],
    ['server CPU, ms per call-second', (r) => fmt(r.cpuMsPerCallSecond, 3)],
    ['  of which user / system', (r) => `${fmt(r.cpuUserMsPerCallSecond, 3)} / ${fmt(r.cpuSystemMsPerCallSecond, 3)}`],
    ['idle server CPU, ms per second', (r) => fmt(r.idleCpuMsPerSecond, 2)],
    ['server CPU, % of one core', (r) => fmt(r.serverCpuPercent, 1)],
    ['RSS idle → peak, MiB', (r) => `${fmt(r.rssBeforeMiB, 1)} → ${fmt(r.peakRssMiB, 1)}`],
    ['peak RSS per call, KiB', (r) => fmt(r.rssPerCallKiB, 1)],
    ['heapUsed idle → peak, MiB', (r) => `${fmt(r.heapBeforeMiB, 1)} → ${fmt(r.peakHeapMiB, 1)}`],
    ['peak heapUsed per call, KiB', (r) => fmt(r.heapPerCallKiB, 1)],
    ['added latency p50 / p99, ms', (r) => `${fmt(r.addedLatencyMs.p50, 3)} / ${fmt(r.addedLatencyMs.p99, 3)}`],
    ['added latency max, ms (n)', (r) => `${fmt(r.addedLatencyMs.max, 3)} (${r.addedLatencyMs.count}${r.addedLatencyMs.unmatched > 0 ? `, ${r.addedLatencyMs.unmatched} unmatched` : ''})`],
    ['caller audio p50 / p99, ms', (r) => `${fmt(r.callerAudioLatencyMs.p50, 3)} / ${fmt(r.callerAudioLatencyMs.p99, 3)}`],
    ['caller audio max, ms (n)', (r) => `${fmt(r.callerAudioLatencyMs.max, 3)} (${r.callerAudioLatencyMs.count}${r.callerAudioLatencyMs.negative > 0 ? `, ${r.callerAudioLatencyMs.negative} negative!` : ''})`],
    ['underruns heard (window / whole calls)', (r) => `${r.underrunsInWindow} / ${r.underrunsTotal}`],
    ['server underruns, sequence errors', (r) => `${r.serverUnderruns}, ${r.sequenceErrors}`],
    ['gaps, barge-ins, late deltas, faults', (r) => `${r.gaps}, ${r.bargeIns}, ${r.lateDeltasDropped}, ${r.upstreamFaults}`],
    ['frames in / out (whole calls)', (r) => `${r.framesIn} / ${r.framesOut}`],
    ['server loop delay p99 / max, ms', (r) => `${fmt(r.serverLoopDelayP99Ms, 2)} / ${fmt(r.serverLoopDelayMaxMs, 2)}`],
    ['server GC count / total ms / max ms', (r) => `${r.serverGcCount} / ${fmt(r.serverGcTotalMs, 1)} / ${fmt(r.serverGcMaxMs, 1)}`],
    ['server preemptions (other processes)', (r) => String(r.serverPreemptions)],
    ['generator CPU %, loop delay p99 / max ms', (r) => `${fmt(r.generatorCpuPercent, 1)}, ${fmt(r.generatorLoopDelayP99Ms, 2)} / ${fmt(r.generatorLoopDelayMaxMs, 1)}`],
    ['generator GC total / max pause, ms', (r) => `${fmt(r.generatorGcTotalMs, 1)} / ${fmt(r.generatorGcMaxMs, 1)}`],
    ['clean', (r) => (r.clean ? 'yes' : 'NO')],
  ];
  const headers = results.map((r) => `${r.mode} × ${r.calls}`);
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const cells = rows.map(([, pick]) => results.map(pick));
  const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((row) => row[column]!.length)));
  const line = (label: string, values: readonly string[]): string => `  ${label.padEnd(labelWidth)}  ${values.map((value, column) => value.padStart(widths[column]!)).join('  ')}`;
  console.log(`\n${title}`);
  console.log(line('', headers));
  rows.forEach(([label], index) => console.log(line(label, cells[index]!)));
}

function describeTargets(results: readonly ScenarioResult[]): void {
  const notes: string[] = [];
  for (const r of results) {
    const target = r.mode === 'pcm' ? 4.5 : 2.5;
    notes.push(`${r.mode} × ${r.calls}: CPU ${fmt(r.cpuMsPerCallSecond, 2)} ms/call-s (target ≤ ${target}) ${r.cpuMsPerCallSecond <= target ? 'met' : 'MISSED'}`);
    if (r.generatorCpuPercent > 85) notes.push(`${r.mode} × ${r.calls}: the load generator used ${fmt(r.generatorCpuPercent, 0)}% of its core: latencies include its own queueing`);
  }
  console.log('');
  for (const note of notes) console.log(`  ${note}`);
}

// ---- main ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = Date.now();
  const cores = CORES;
  const pinned = options.pin && cores >= 2 && pinSelf(1);
  console.log(
    `callbridge calls benchmark: ${options.calls} calls, ${options.seconds} s steady window, modes ${options.modes.join(', ')}; ` +
      `${cores} cores, ${pinned ? 'bridge on core 0, callers + simulated Realtime on core 1' : 'not pinned'}; node ${process.version}`,
  );
  console.log(
    `  caller: greeting-question fixture looped (${CYCLE_MS / 1000} s turn cycle, phases spread); agent: bundled speech at ${options.speedFactor}× real time, no greeting`,
  );

  const results: ScenarioResult[] = [];
  for (const mode of options.modes) {
    process.stderr.write(`  running ${mode} × ${options.calls} for ${options.seconds} s…\n`);
    results.push(await runScenario(mode, options.calls, options.seconds, options));
  }
  printTable('Results', results);
  describeTargets(results);

  const search: Record<string, { largestClean: number | null; firstUnclean: number | null; steps: ScenarioResult[]; stoppedBy: string }> = {};
  if (options.search) {
    const deadline = startedAt + options.budgetS * 1_000;
    for (const mode of options.modes) {
      const entry = { largestClean: null as number | null, firstUnclean: null as number | null, steps: [] as ScenarioResult[], stoppedBy: 'steps exhausted' };
      search[mode] = entry;
      for (const calls of SEARCH_STEPS) {
        const estimateMs = options.rampMs + options.warmupMs + options.searchSeconds * 1_000 + 8_000 + calls * 30;
        if (Date.now() + estimateMs > deadline) {
          entry.stoppedBy = 'time budget';
          break;
        }
        process.stderr.write(`  search: ${mode} × ${calls} for ${options.searchSeconds} s…\n`);
        const result = await runScenario(mode, calls, options.searchSeconds, options);
        entry.steps.push(result);
        if (!result.clean) {
          entry.firstUnclean = calls;
          entry.stoppedBy = `unclean at ${calls}`;
          break;
        }
        entry.largestClean = calls;
      }
      printTable(`Search (${mode})`, entry.steps);
      console.log(`  largest clean N (${mode}): ${entry.largestClean ?? 'none'} (${entry.stoppedBy})`);
    }
  }

  console.log(
    JSON.stringify({
      bench: 'calls',
      node: process.version,
      cores,
      pinned,
      options: { calls: options.calls, seconds: options.seconds, modes: options.modes, speedFactor: options.speedFactor, rampMs: options.rampMs, warmupMs: options.warmupMs },
      results,
      search: options.search ? Object.fromEntries(Object.entries(search).map(([mode, entry]) => [mode, { largestClean: entry.largestClean, firstUnclean: entry.firstUnclean, stoppedBy: entry.stoppedBy, steps: entry.steps }])) : null,
    }),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:calls failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
