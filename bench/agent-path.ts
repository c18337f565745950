/**
 * The agent → caller path alone: N calls' Playout (out-queue, jitter cushion, pacer, ledger, sequence log) → the Twilio
 * transport (src/twilio/media-stream.ts) → a real loopback WebSocket, with the pacer quantum and media coalescing
 * varied in the same run. `bench/calls.ts` measures the whole bridge, where this path is a small share of the CPU and
 * the machine's noise is as large as the effect; here the CPU measured is this path's (plus the simulated provider's
 * timers and the mark echoes, the same for every variant).
 *
 *   npx tsx bench/agent-path.ts [--calls 200] [--seconds 15] [--rounds 3] [--variants q20-off,q20,q60,q100]
 *                               [--delta-ms 600 --delta-every-ms 150]   (100 and 25: the deltas of `pcm` mode)
 *
 * A variant is `q<quantum ms>` with coalescing on, `-off` for one message per frame (q20-off is the path before both).
 * Each call hears one answer per 10 s cycle (phases spread): 2.7 s of mu-law as 600 ms deltas 150 ms apart (4× real
 * time, what the simulated Realtime server sends in `pcmu` mode), then its end. The Twilio side runs in a child
 * process (pinned to core 1 when taskset is there; this process to core 0): it echoes every mark at once and counts
 * messages. Prints per variant the median CPU per call-second of this process over the window, messages per
 * call-second, and underruns and sequence errors from the playouts.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { Playout } from '../src/call/playout.js';
import { systemClock } from '../src/clock.js';
import { silentLogger } from '../src/logger.js';
import { acceptMediaStream } from '../src/twilio/media-stream.js';

const CYCLE_MS = 10_000;
const ANSWER_BYTES = 2_700 * 8;
let DELTA_BYTES = 600 * 8;
let DELTA_EVERY_MS = 150;
const ANSWER = Uint8Array.from({ length: ANSWER_BYTES }, (_, index) => (index * 7) & 0x7f);

interface Counts {
  media: number;
  mark: number;
  bytes: number;
}

// ---- the Twilio side (child process) ------------------------------------------------------------------------------

function twilioSide(port: number, calls: number): void {
  const counts: Counts = { media: 0, mark: 0, bytes: 0 };
  let open = 0;
  for (let call = 0; call < calls; call++) {
    const streamSid = `MZ${String(call).padStart(32, '0')}`;
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
    let sequence = 2;
    socket.on('open', () => {
      socket.send('{"event":"connected","protocol":"Call","version":"1.0.0"}');
      socket.send(JSON.stringify({
        event: 'start', sequenceNumber: '1', streamSid,
        start: { accountSid: 'AC1', streamSid, callSid: `CA${call}`, tracks: ['inbound'], customParameters: {}, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
      }));
      if (++open === calls) process.send?.({ type: 'open' });
    });
    socket.on('message', (data) => {
      const text = String(data);
      counts.bytes += text.length;
      if (text.startsWith('{"event":"media"')) counts.media++;
      else if (text.startsWith('{"event":"mark"')) {
        counts.mark++;
        const name = text.slice(text.indexOf('"name":') + 7, -2);
        socket.send(`{"event":"mark","sequenceNumber":"${sequence++}","streamSid":"${streamSid}","mark":{"name":${name}}}`);
      }
    });
  }
  process.on('message', (message: { type: string }) => {
    if (message.type === 'counts') process.send?.({ type: 'counts', counts: { ...counts } });
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- the bridge side (this process) -------------------------------------------------------------------------------

interface Variant {
  name: string;
  quantumMs: number;
  coalesce: boolean;
}

interface RunResult {
  variant: string;
  cpuMsPerCallSecond: number;
  mediaPerCallSecond: number;
  marksPerCallSecond: number;
  underruns: number;
  sequenceErrors: number;
  loopDelayP99Ms: number;
}

function pin(core: number, pid: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ask<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string } & T): void => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    if (type === 'counts') child.send({ type: 'counts' });
  });
}

async function runVariant(variant: Variant, calls: number, seconds: number): Promise<RunResult> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const playouts: Playout[] = [];
  const timers: NodeJS.Timeout[] = [];
  let answerNumber = 0;
  const speak = (playout: Playout): void => {
    const id = `${++answerNumber}`;
    for (let offset = 0, k = 0; offset < ANSWER_BYTES; offset += DELTA_BYTES, k++) {
      const delta = ANSWER.subarray(offset, offset + DELTA_BYTES);
      timers.push(setTimeout(() => playout.enqueue(`r${id}`, `i${id}`, delta), k * DELTA_EVERY_MS));
    }
    timers.push(setTimeout(() => playout.endItem(`r${id}`, `i${id}`), Math.floor((ANSWER_BYTES - 1) / DELTA_BYTES) * DELTA_EVERY_MS));
  };
  wss.on('connection', (socket) => {
    void acceptMediaStream(socket, { handshakeTimeoutMs: 10_000, logger: silentLogger(), coalesceMedia: variant.coalesce }).then((session) => {
      const playout = new Playout({ clock: systemClock, leadMs: 200, quantumMs: variant.quantumMs, markIntervalMs: 100, logger: silentLogger(), sink: session });
      playouts.push(playout);
      session.setHandlers({ onMedia: () => {}, onMark: (name) => void playout.onMarkEchoed(name), onDtmf: () => {}, onStop: () => {}, onClose: () => playout.dispose() });
      const phaseMs = (playouts.length * CYCLE_MS) / calls;
      timers.push(setTimeout(() => {
        speak(playout);
        timers.push(setInterval(() => speak(playout), CYCLE_MS));
      }, phaseMs));
    });
  });
  const child = fork(fileURLToPath(import.meta.url), ['--twilio-side', String((wss.address() as AddressInfo).port), String(calls)], { execArgv: ['--import', 'tsx'] });
  if (child.pid !== undefined) pin(1, child.pid);
  try {
    await ask(child, 'open');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const before = await ask<{ counts: Counts }>(child, 'counts');
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const stats0 = playouts.map((playout) => playout.stats());
    await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - wall0) / 1_000;
    const after = await ask<{ counts: Counts }>(child, 'counts');
    loop.disable();
    const stats1 = playouts.map((playout) => playout.stats());
    const callSeconds = calls * wallS;
    return {
      variant: variant.name,
      cpuMsPerCallSecond: (cpu.user + cpu.system) / 1_000 / callSeconds,
      mediaPerCallSecond: (after.counts.media - before.counts.media) / callSeconds,
      marksPerCallSecond: (after.counts.mark - before.counts.mark) / callSeconds,
      underruns: stats1.reduce((sum, stats, index) => sum + stats.underruns - (stats0[index]?.underruns ?? 0), 0),
      sequenceErrors: stats1.reduce((sum, stats) => sum + stats.sequenceErrors, 0),
      loopDelayP99Ms: Math.max(0, loop.percentile(99) / 1e6 - 10),
    };
  } finally {
    for (const timer of timers) clearTimeout(timer);
    for (const playout of playouts) playout.dispose();
    child.kill();
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
}

function parseVariants(list: string): Variant[] {
  return list.split(',').map((name) => {
    const match = /^q(\d+)(-off)?$/.exec(name.trim());
    if (match === null) throw new Error(`variant ${name}: q<quantum ms>[-off]`);
    return { name: name.trim(), quantumMs: Number(match[1]), coalesce: match[2] === undefined };
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--twilio-side') {
    twilioSide(Number(argv[1]), Number(argv[2]));
    return;
  }
  const option = (name: string, fallback: string): string => {
    const index = argv.indexOf(name);
    return index >= 0 && argv[index + 1] !== undefined ? argv[index + 1]! : fallback;
  };
  const calls = Number(option('--calls', '200'));
  const seconds = Number(option('--seconds', '15'));
  const rounds = Number(option('--rounds', '3'));
  const variants = parseVariants(option('--variants', 'q20-off,q20,q60,q100'));
  DELTA_BYTES = Number(option('--delta-ms', '600')) * 8;
  DELTA_EVERY_MS = Number(option('--delta-every-ms', '150'));
  const pinned = pin(0, process.pid);
  console.log(`agent → caller path: ${calls} calls, ${DELTA_BYTES / 8} ms deltas every ${DELTA_EVERY_MS} ms, ${seconds} s windows, ${rounds} rounds, variants ${variants.map((v) => v.name).join(', ')}; ${pinned ? 'pinned (this process core 0, Twilio side core 1)' : 'not pinned'}`);
  const results: RunResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const variant of round % 2 === 1 ? variants : [...variants].reverse()) {
      process.stderr.write(`  round ${round}: ${variant.name}…\n`);
      results.push(await runVariant(variant, calls, seconds));
    }
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  console.log('\n  variant    CPU ms/call-s (median [each round])    media / marks per call-s   underruns  seq errors  loop p99 ms');
  for (const variant of variants) {
    const runs = results.filter((result) => result.variant === variant.name);
    const cpu = runs.map((run) => run.cpuMsPerCallSecond);
    console.log(
      `  ${variant.name.padEnd(9)}  ${median(cpu).toFixed(3)} [${cpu.map((value) => value.toFixed(3)).join(' ')}]`.padEnd(52) +
        `${median(runs.map((run) => run.mediaPerCallSecond)).toFixed(1)} / ${median(runs.map((run) => run.marksPerCallSecond)).toFixed(1)}`.padEnd(27) +
        `${runs.map((run) => run.underruns).join(',')}`.padEnd(11) +
        `${runs.map((run) => run.sequenceErrors).join(',')}`.padEnd(12) +
        runs.map((run) => run.loopDelayP99Ms.toFixed(1)).join(','),
    );
  }
  console.log(JSON.stringify({ bench: 'agent-path', calls, seconds, rounds, results }));
}

main().then(
  () => {
    if (process.argv[2] !== '--twilio-side') process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`agent-path failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
