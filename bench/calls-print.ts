/**
 * The calls benchmark's printing: the side-by-side table of ScenarioResults and the one-line JSON summary that scripts
 * read (what each figure means: bench/calls.ts and bench/calls-report.ts).
 */
import { fmt } from './calls-common.js';
import type { Options } from './calls-options.js';
import { relayComparisons } from './calls-relay.js';
import type { ScenarioResult } from './calls-report.js';

/** A count, or — when the figure does not exist for this mode. */
function count(value: number | null): string {
  return value === null ? '—' : String(value);
}

export function printTable(title: string, results: readonly ScenarioResult[]): void {
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
    ['answers, caller frames in window (% expected)', (r) => `${r.responsesInWindow}, ${r.callerAudioLatencyMs.count} (${fmt((100 * r.responsesInWindow) / Math.max(1, r.responsesExpected), 0)}%, ${fmt((100 * r.callerAudioLatencyMs.count) / Math.max(1, r.callerFramesExpected), 0)}%)`],
    ['added latency p50 / p99, ms', (r) => `${fmt(r.addedLatencyMs.p50, 3)} / ${fmt(r.addedLatencyMs.p99, 3)}`],
    ['added latency max, ms (n)', (r) => `${fmt(r.addedLatencyMs.max, 3)} (${r.addedLatencyMs.count}${r.addedLatencyMs.unmatched > 0 ? `, ${r.addedLatencyMs.unmatched} unmatched` : ''})`],
    ['caller audio p50 / p99, ms', (r) => `${fmt(r.callerAudioLatencyMs.p50, 3)} / ${fmt(r.callerAudioLatencyMs.p99, 3)}`],
    ['caller audio max, ms (n)', (r) => `${fmt(r.callerAudioLatencyMs.max, 3)} (${r.callerAudioLatencyMs.count}${r.callerAudioLatencyMs.negative > 0 ? `, ${r.callerAudioLatencyMs.negative} negative!` : ''})`],
    ['caller frames never forwarded (whole calls)', (r) => String(r.callerFramesDropped)],
    ['messages to the caller per call-second: media / mark', (r) => `${fmt(r.wirePerCallSecond.media, 1)} / ${fmt(r.wirePerCallSecond.mark, 1)}`],
    ['underruns heard (window / whole calls)', (r) => `${r.underrunsInWindow} / ${r.underrunsTotal}`],
    ['server underruns, sequence errors', (r) => `${count(r.serverUnderruns)}, ${count(r.sequenceErrors)}`],
    ['gaps, barge-ins, late deltas, faults', (r) => [r.gaps, r.bargeIns, r.lateDeltasDropped, r.upstreamFaults].map(count).join(', ')],
    ['frames in / out (whole calls)', (r) => `${count(r.framesIn)} / ${count(r.framesOut)}`],
    ['server loop delay p99 / max, ms', (r) => `${fmt(r.serverLoopDelayP99Ms, 2)} / ${fmt(r.serverLoopDelayMaxMs, 2)}`],
    ['server GC count (scavenges) / total / p99 / max pause, ms', (r) => `${r.serverGcCount} (${r.serverGcMinorCount}) / ${fmt(r.serverGcTotalMs, 1)} / ${fmt(r.serverGcP99Ms, 1)} / ${fmt(r.serverGcMaxMs, 1)}`],
    ['server preemptions (other processes)', (r) => String(r.serverPreemptions)],
    ['host load average, 1 min', (r) => fmt(r.hostLoadAverage, 1)],
    ['generator CPU %, loop delay p99 / max ms', (r) => `${fmt(r.generatorCpuPercent, 1)}, ${fmt(r.generatorLoopDelayP99Ms, 2)} / ${fmt(r.generatorLoopDelayMaxMs, 1)}`],
    ['generator GC total / max pause, ms', (r) => `${fmt(r.generatorGcTotalMs, 1)} / ${fmt(r.generatorGcMaxMs, 1)}`],
    ['clean', (r) => (r.clean ? 'yes' : 'NO')],
  ];
  const rounds = results.some((r) => r.round > 1);
  const headers = results.map((r) => `${r.mode} × ${r.calls}${rounds ? ` #${r.round}` : ''}`);
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const cells = rows.map(([, pick]) => results.map(pick));
  const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((row) => row[column]!.length)));
  const line = (label: string, values: readonly string[]): string => `  ${label.padEnd(labelWidth)}  ${values.map((value, column) => value.padStart(widths[column]!)).join('  ')}`;
  console.log(`\n${title}`);
  console.log(line('', headers));
  rows.forEach(([label], index) => console.log(line(label, cells[index]!)));
}

export interface SearchOutcome {
  largestClean: number | null;
  firstUnclean: number | null;
  steps: ScenarioResult[];
  stoppedBy: string;
}

/** The machine-readable summary: one JSON line, last on stdout. */
export function printJsonLine(
  options: Options,
  run: { cores: number; pinned: boolean },
  results: readonly ScenarioResult[],
  search: Readonly<Record<string, SearchOutcome>>,
): void {
  console.log(
    JSON.stringify({
      bench: 'calls',
      node: process.version,
      cores: run.cores,
      pinned: run.pinned,
      options: { calls: options.calls, seconds: options.seconds, modes: options.modes, speedFactor: options.speedFactor, rampMs: options.rampMs, warmupMs: options.warmupMs },
      relay: relayComparisons(results),
      results,
      searchRelay: options.search ? relayComparisons(Object.values(search).flatMap((entry) => entry.steps)) : null,
      search: options.search ? Object.fromEntries(Object.entries(search).map(([mode, entry]) => [mode, { largestClean: entry.largestClean, firstUnclean: entry.firstUnclean, stoppedBy: entry.stoppedBy, steps: entry.steps }])) : null,
    }),
  );
}
