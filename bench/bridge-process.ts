/**
 * The callbridge server alone in its own process, for bench/calls.ts: configured from the environment like the real
 * entry point (loadConfig), driven and measured over the IPC channel. Not meant to be run by hand.
 * With BENCH_SERVER=relay it runs the reference instead, bench/plain-relay.ts (the official sample's plain mu-law relay,
 * pointed at OPENAI_REALTIME_URL with OPENAI_API_KEY), measured the same way; only the callbridge server is loaded
 * otherwise (dynamic imports), so neither process carries the other's code.
 *
 *   node --import tsx [--expose-gc] [--cpu-prof …] bench/bridge-process.ts      (spawned by bench/calls.ts)
 *
 * Messages in (parent → here):  {type:'baseline'} {type:'stats', id, resetWindow?} {type:'shutdown'}
 * Messages out (here → parent): {type:'ready', port} {type:'baseline', …} {type:'stats', id, …} {type:'callEnded', summary}
 *
 * Memory is sampled every 100 ms (RSS, heapUsed) and the peaks kept since the last `baseline`; event-loop delay and GC
 * pauses are kept since the last `baseline` or `resetWindow`; CPU is
 * `process.cpuUsage()` (all threads of this process: JS, GC helpers, libuv) at the moment a `stats` request is served.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import type { CallSummary } from '../src/call/call.js';

export interface BridgeStats {
  /** performance.timeOrigin + performance.now() when the figures were read (epoch ms, µs resolution). */
  atEpochMs: number;
  /** process.cpuUsage(): µs since process start. */
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Since the last baseline. */
  peakRssBytes: number;
  peakHeapUsedBytes: number;
  activeCalls: number;
  /** Event-loop delay since the last baseline or resetWindow, ms. */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Garbage collections since the last baseline or resetWindow: count, total and longest pause, ms. */
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
  /** 99th percentile pause, ms, and how many of the collections were young-generation scavenges. */
  gcP99Ms: number;
  gcMinorCount: number;
  /** process.resourceUsage(): times the OS took the CPU away (another process wanted it), since process start. */
  involuntaryContextSwitches: number;
}

export type ParentMessage =
  | { type: 'baseline' }
  | { type: 'stats'; id: number; resetWindow?: boolean }
  /** CPU profile of this process's main thread (V8 sampling profiler, 250 µs) from start to stop, written to `path`. */
  | { type: 'profile'; action: 'start' }
  | { type: 'profile'; action: 'stop'; path: string }
  | { type: 'shutdown' };

export type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'baseline'; rssBytes: number; heapUsedBytes: number }
  | ({ type: 'stats'; id: number } & BridgeStats)
  | { type: 'callEnded'; summary: CallSummary }
  | { type: 'profiled'; path: string | null; error?: string };

const SAMPLE_INTERVAL_MS = 100;
/** Event-loop probe period; the histogram holds probe intervals, so this is subtracted to get the lateness. */
const LOOP_PROBE_MS = 10;

function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** What is measured: the callbridge server or the plain relay. */
interface MeasuredServer {
  readonly port: number;
  readonly activeCalls: number;
  close(): Promise<void>;
}

async function startMeasuredServer(): Promise<MeasuredServer> {
  if (process.env['BENCH_SERVER'] === 'relay') {
    const { startPlainRelay } = await import('./plain-relay.js');
    const realtimeUrl = process.env['OPENAI_REALTIME_URL'];
    const apiKey = process.env['OPENAI_API_KEY'];
    if (realtimeUrl === undefined || apiKey === undefined) throw new Error('OPENAI_REALTIME_URL and OPENAI_API_KEY must be set');
    return startPlainRelay({ host: process.env['HOST'] ?? '127.0.0.1', port: Number(process.env['PORT'] ?? 0), realtimeUrl, apiKey });
  }
  const [{ loadConfig }, { createLogger }, { startServer }] = await Promise.all([
    import('../src/config.js'),
    import('../src/logger.js'),
    import('../src/server/app.js'),
  ]);
  const config = loadConfig(process.env);
  const apiKey = config.openai.apiKey;
  if (apiKey === null) throw new Error('OPENAI_API_KEY must be set (the simulated server key)');
  const logger = createLogger({ level: config.logLevel, secrets: [apiKey, config.twilio.authToken] });
  return startServer({
    config,
    logger,
    upstream: { url: config.openai.realtimeUrl, model: config.openai.model, apiKey, authMode: 'bearer' },
    onCallEnded: (summary) => send({ type: 'callEnded', summary }),
  });
}

async function main(): Promise<void> {
  if (process.send === undefined) {
    process.stderr.write('bench/bridge-process.ts is started by bench/calls.ts (it needs an IPC channel)\n');
    process.exit(2);
  }
  const server = await startMeasuredServer();

  let peakRss = 0;
  let peakHeapUsed = 0;
  const sample = (): void => {
    const usage = process.memoryUsage();
    if (usage.rss > peakRss) peakRss = usage.rss;
    if (usage.heapUsed > peakHeapUsed) peakHeapUsed = usage.heapUsed;
  };
  const sampler = setInterval(sample, SAMPLE_INTERVAL_MS);
  // Resolution 10 ms (the default): a 1 ms probe timer alone costs the idle server measurable CPU.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_PROBE_MS });
  loopDelay.enable();
  const gc = { count: 0, totalMs: 0, maxMs: 0, minor: 0, pausesMs: [] as number[] };
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.totalMs += entry.duration;
      if (entry.duration > gc.maxMs) gc.maxMs = entry.duration;
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
      gc.pausesMs.push(entry.duration);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const resetGc = (): void => {
    gc.count = 0;
    gc.totalMs = 0;
    gc.maxMs = 0;
    gc.minor = 0;
    gc.pausesMs = [];
  };
  const gcP99Ms = (): number => {
    const sorted = [...gc.pausesMs].sort((a, b) => a - b);
    return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
  };

  let inspector: Session | null = null;
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(sampler);
    loopDelay.disable();
    gcObserver.disconnect();
    const force = setTimeout(() => process.exit(0), 3_000);
    force.unref();
    // A normal exit, so that --cpu-prof writes its profile.
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };

  process.on('message', (message: ParentMessage) => {
    switch (message.type) {
      case 'baseline': {
        const gc = (globalThis as { gc?: () => void }).gc;
        gc?.();
        gc?.();
        const usage = process.memoryUsage();
        peakRss = usage.rss;
        peakHeapUsed = usage.heapUsed;
        loopDelay.reset();
        resetGc();
        send({ type: 'baseline', rssBytes: usage.rss, heapUsedBytes: usage.heapUsed });
        break;
      }
      case 'stats': {
        sample();
        const cpu = process.cpuUsage();
        const usage = process.memoryUsage();
        const toMs = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LOOP_PROBE_MS) : 0);
        send({
          type: 'stats',
          id: message.id,
          atEpochMs: epochNowMs(),
          cpuUserUs: cpu.user,
          cpuSystemUs: cpu.system,
          rssBytes: usage.rss,
          heapUsedBytes: usage.heapUsed,
          peakRssBytes: peakRss,
          peakHeapUsedBytes: peakHeapUsed,
          activeCalls: server.activeCalls,
          loopDelayP50Ms: toMs(loopDelay.percentile(50)),
          loopDelayP99Ms: toMs(loopDelay.percentile(99)),
          loopDelayMaxMs: toMs(loopDelay.max),
          gcCount: gc.count,
          gcTotalMs: gc.totalMs,
          gcMaxMs: gc.maxMs,
          gcP99Ms: gcP99Ms(),
          gcMinorCount: gc.minor,
          involuntaryContextSwitches: process.resourceUsage().involuntaryContextSwitches,
        });
        if (message.resetWindow === true) {
          loopDelay.reset();
          resetGc();
        }
        break;
      }
      case 'profile':
        if (message.action === 'start') {
          inspector ??= new Session();
          inspector.connect();
          inspector.post('Profiler.enable', () =>
            inspector!.post('Profiler.setSamplingInterval', { interval: 250 }, () => inspector!.post('Profiler.start')),
          );
        } else if (inspector !== null) {
          const path = message.path;
          inspector.post('Profiler.stop', (error, result) => {
            if (error !== null || result === undefined) {
              send({ type: 'profiled', path: null, error: String(error?.message ?? 'no profile') });
            } else {
              writeFileSync(path, JSON.stringify(result.profile));
              send({ type: 'profiled', path });
            }
            inspector?.disconnect();
            inspector = null;
          });
        }
        break;
      case 'shutdown':
        shutdown();
        break;
    }
  });
  // The parent is gone (crashed or killed): never outlive it.
  process.on('disconnect', () => {
    shutdown();
    setTimeout(() => process.exit(0), 500).unref();
  });
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  send({ type: 'ready', port: server.port });
}

main().catch((error: unknown) => {
  process.stderr.write(`bridge-process: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
