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
 *
 * Modules: calls-options (arguments), calls-bridge (the bridge child, parent side), calls-scenario (the load: callers
 * and the simulated Realtime server, timed through its session observer), calls-report (figures, table, JSON line),
 * calls-common (shared constants and timing helpers). This file composes them: the scenarios, then the search.
 */
import { pinSelf } from './calls-bridge.js';
import { CORES } from './calls-common.js';
import { parseOptions } from './calls-options.js';
import { describeTargets, printJsonLine, printTable, type ScenarioResult, type SearchOutcome } from './calls-report.js';
import { CYCLE_MS, runScenario } from './calls-scenario.js';

const SEARCH_STEPS = [25, 50, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1_000];

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

  const search: Record<string, SearchOutcome> = {};
  if (options.search) {
    const deadline = startedAt + options.budgetS * 1_000;
    for (const mode of options.modes) {
      const entry: SearchOutcome = { largestClean: null, firstUnclean: null, steps: [], stoppedBy: 'steps exhausted' };
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

  printJsonLine(options, { cores, pinned }, results, search);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:calls failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
