/**
 * The parent side of the bridge child process (the child is bench/bridge-process.ts, which runs the callbridge server,
 * or in mode `relay` the plain relay of bench/plain-relay.ts): spawn it alone on core 0 with
 * `taskset` when there are 2+ cores, configured for one scenario through its environment, then drive and read it
 * over IPC (baseline, stats, call summaries, CPU profile, shutdown). Children still alive when this process exits or
 * is interrupted are killed, so a failed run never leaves a bridge pinning a core.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CallSummary } from '../src/call/call.js';
import type { BridgeStats, ChildMessage, ParentMessage } from './bridge-process.js';
import { AUTH_TOKEN, CORES, OPENAI_KEY, PUBLIC_BASE_URL, withTimeout } from './calls-common.js';
import type { Mode, Options } from './calls-options.js';

const BRIDGE_PATH = fileURLToPath(new URL('./bridge-process.ts', import.meta.url));

/** Pins this process (every thread) to one core. Returns false when taskset is unavailable. */
export function pinSelf(core: number): boolean {
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

export interface Bridge {
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

export async function startBridge(mode: Mode, calls: number, simUrl: string, options: Options): Promise<Bridge> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_REALTIME_URL: simUrl,
    // The relay is mu-law both ways by construction; the variable only matters to the bridge.
    OPENAI_AUDIO_FORMAT: mode === 'relay' ? 'pcmu' : mode,
    BENCH_SERVER: mode === 'relay' ? 'relay' : 'bridge',
    AGENT_GREETING: '',
    LOG_LEVEL: 'warn',
    MAX_CONCURRENT_CALLS: String(calls + 20),
    ...(mode === 'relay' ? {} : options.bridgeEnv),
  };
  // ws loads its optional native `bufferutil` when installed (callbridge installs it); the sample does not.
  if (mode === 'relay' && !options.relayBufferutil) env.WS_NO_BUFFER_UTIL = '1';
  const nodeArgs = ['--import', 'tsx', '--expose-gc'];
  if (options.semiSpaceMb !== null && mode !== 'relay') nodeArgs.push(`--max-semi-space-size=${options.semiSpaceMb}`);
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
