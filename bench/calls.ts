/**
 * Concurrent-calls benchmark: N simulated Twilio callers through the REAL callbridge server to the simulated
 * Realtime server, in both audio modes (`pcm`: 24 kHz PCM16 upstream, transcoded per call; `pcmu`: mu-law pass-through),
 * and through the reference, a plain relay (`relay`: bench/plain-relay.ts, the official Twilio + OpenAI Node sample's
 * mu-law relay with no transcoding, pacing or checks), in the same run, so that the bridge's CPU and memory per call
 * print as ratios to the relay's (targets at 200 calls: pcmu ≤ 0.8×, pcm ≤ 1.3× the relay's CPU per call-second).
 * Prints figures; asserts nothing (machines here are shared and noisy: compare ratios within one run).
 *
 *   npx tsx bench/calls.ts                                    (npm run bench:calls: 50 calls, 20 s, relay, pcmu, pcm)
 *   npx tsx bench/calls.ts --calls 200 --seconds 30           (the targets' measurement; --calls 50,200 runs both)
 *   npx tsx bench/calls.ts --calls 200 --seconds 30 --rounds 3 (each mode 3 times, interleaved; median ratios)
 *   npx tsx bench/calls.ts --calls 100 --seconds 30 --search  (then step N up per mode until the first unclean N:
 *                                                              clean = no underrun heard, no sequence error, every
 *                                                              answer played, caller audio p99 ≤ 50 ms)
 *
 * Options: --calls N[,N…] (50)  --seconds S (20)  --modes relay,pcmu,pcm (all three; each N runs every mode in this
 *          order)  --rounds K (1)  --search  --search-from N (0)  --search-seconds S (10)  --budget S (600)
 *          --semi-space-mb N (8, as `npm start` runs the bridge; 0 = Node's default; the relay always has Node's)
 *          --bridge-env NAME=VALUE (repeatable: the bridge's environment, e.g. APPEND_BATCH_MS=60)
 *          --relay-bufferutil (the relay with ws's native masking; the sample does not install it)
 *          --ramp-ms (1000)  --warmup-ms (2500)  --speed-factor (4)  --no-pin  --profile DIR (CPU profile of the bridge's
 *          main thread over the steady window, DIR/bridge-<mode>-<N>.cpuprofile; summarise with bench/profile-top.ts;
 *          the profiler's own cost inflates the CPU figures of that run)
 *
 * Layout: the bridge (or the relay) runs alone in a child process (bench/bridge-process.ts, `taskset -c 0` when there
 * are 2+ cores, LOG_LEVEL=warn) and answers stats requests over IPC; this process runs the callers and the simulated
 * Realtime server (pinned to core 1). Every call loops fixtures/greeting-question.jsonl (1 s silence, a 3 s question, 6 s of silence
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
 *     simulated server (matched by order per call, after the frames a server never forwarded; only frames sent
 *     after `session.updated`);
 *   - messages the callers received per call-second in the window, `media` and `mark` (the bridge joins the frames
 *     it sends in one tick into one `media`, and its pacer sends in batches of PACER_QUANTUM_MS: run with
 *     `PACER_QUANTUM_MS=20` in the environment for one frame per wake; the relay sends one `media` + one `mark` per delta);
 *   - underruns as heard by the callers' playback emulators, sequence errors from the server's call summaries (the
 *     relay keeps none: —). The relay sends a mark after every delta, and running dry right after a mark is not an
 *     underrun to the emulator, so the relay's underrun count is 0 by construction (and it forwards 4× real time);
 *   - caller frames never forwarded: the relay drops the frames that arrive before its upstream socket is open;
 *   - completeness: answers and caller frames that crossed the server in the window against what N calls should
 *     produce; a run below 90% (a stalled, overloaded server does less work, which flatters its CPU per call-second)
 *     is flagged INCOMPLETE and left out of the ratios;
 *   - against the relay: per N, each mode's CPU per call-second and peak RSS per call, and pcmu/relay, pcm/relay.
 * Times are `performance.timeOrigin + performance.now()` (epoch ms, µs resolution, comparable across processes).
 *
 * Modules: calls-options (arguments), calls-bridge (the bridge child, parent side), calls-scenario (the load: callers
 * and the simulated Realtime server, timed through its session observer), calls-report (figures), calls-print (table,
 * JSON line),
 * calls-common (shared constants and timing helpers). This file composes them: the scenarios, then the search.
 */
import { pinSelf } from './calls-bridge.js';
import { CORES } from './calls-common.js';
import { parseOptions } from './calls-options.js';
import { printJsonLine, printTable, type SearchOutcome } from './calls-print.js';
import type { ScenarioResult } from './calls-report.js';
import { describeTargets, printRatios } from './calls-relay.js';
import { CYCLE_MS, runScenario } from './calls-scenario.js';

const SEARCH_STEPS = [25, 50, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1_000];

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = Date.now();
  const cores = CORES;
  const pinned = options.pin && cores >= 2 && pinSelf(1);
  console.log(
    `callbridge calls benchmark: ${options.calls.join(', ')} calls, ${options.seconds} s steady window, modes ${options.modes.join(', ')}; ` +
      `${cores} cores, ${pinned ? 'bridge on core 0, callers + simulated Realtime on core 1' : 'not pinned'}; node ${process.version}`,
  );
  console.log(
    `  caller: greeting-question fixture looped (${CYCLE_MS / 1000} s turn cycle, phases spread); agent: bundled speech at ${options.speedFactor}× real time, no greeting`,
  );

  const results: ScenarioResult[] = [];
  for (const calls of options.calls) {
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? options.modes : [...options.modes].reverse();
      for (const mode of order) {
        const label = options.rounds > 1 ? ` (round ${round} of ${options.rounds})` : '';
        process.stderr.write(`  running ${mode} × ${calls} for ${options.seconds} s${label}…\n`);
        const result = await runScenario(mode, calls, options.seconds, options);
        result.round = round;
        results.push(result);
      }
    }
  }
  for (const calls of options.calls) {
    const ofN = results.filter((result) => result.calls === calls);
    // Columns by mode, then round.
    ofN.sort((a, b) => options.modes.indexOf(a.mode) - options.modes.indexOf(b.mode) || a.round - b.round);
    printTable(options.calls.length > 1 ? `Results, ${calls} calls` : 'Results', ofN);
  }
  printRatios(results);
  describeTargets(results);

  const search: Record<string, SearchOutcome> = {};
  if (options.search) {
    const deadline = startedAt + options.budgetS * 1_000;
    for (const mode of options.modes) {
      const entry: SearchOutcome = { largestClean: null, firstUnclean: null, steps: [], stoppedBy: 'steps exhausted' };
      search[mode] = entry;
      for (const calls of SEARCH_STEPS.filter((steps) => steps >= options.searchFrom)) {
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
    printRatios(Object.values(search).flatMap((entry) => entry.steps));
  }

  printJsonLine(options, { cores, pinned }, results, search);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:calls failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
