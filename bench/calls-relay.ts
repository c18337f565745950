/**
 * The calls benchmark against the plain relay (bench/plain-relay.ts), measured in the same run: each mode's server CPU
 * and peak RSS per call, and the bridge modes' ratios to the relay's against the targets (at 200 calls: pcmu ≤ 0.8×,
 * pcm ≤ 1.3×). Incomplete runs (a stalled server did less work) are left out of the ratios.
 */
import type { Mode } from './calls-options.js';
import { fmt } from './calls-common.js';
import { ADDED_LATENCY_TARGET_MS, round3, type ScenarioResult } from './calls-report.js';

/** Server CPU per call-second as a multiple of the plain relay's, same N, same run: the bridge's targets (at 200 calls). */
export const RELAY_CPU_TARGETS = { pcmu: 0.8, pcm: 1.3 } as const;
/** Peak RSS per call the bridge modes aim for (issue 14). */
export const RSS_PER_CALL_TARGET_KIB = 400;
/** The N the relay targets are stated for; at other N the ratios print for scale. */
export const RELAY_TARGET_CALLS = 200;

type BridgeMode = keyof typeof RELAY_CPU_TARGETS;
export const BRIDGE_MODES: readonly BridgeMode[] = ['pcmu', 'pcm'];

/** One N of one run against the plain relay: each mode's figure, and each bridge mode's ratio to the relay's. */
export interface RelayComparison {
  calls: number;
  rounds: number;
  /** Per mode, the median over the rounds (the figure itself with one round). */
  cpuMsPerCallSecond: Partial<Record<Mode, number>>;
  rssPerCallKiB: Partial<Record<Mode, number>>;
  /** Bridge mode ÷ relay: the median over the rounds of each round's ratio; null when either was not run at this N. */
  cpuRatio: Record<BridgeMode, number | null>;
  rssRatio: Record<BridgeMode, number | null>;
  /** Each round's ratio, in round order. */
  cpuRatioByRound: Record<BridgeMode, number[]>;
  rssRatioByRound: Record<BridgeMode, number[]>;
  cpuTargets: typeof RELAY_CPU_TARGETS;
  /** Whether each CPU ratio is within its target (null: no ratio). */
  cpuMet: Record<BridgeMode, boolean | null>;
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return round3(sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2);
}

/** Groups results by N (in order of appearance) and compares each bridge mode with the relay of the same N and round. */
export function relayComparisons(results: readonly ScenarioResult[]): RelayComparison[] {
  const byCalls = new Map<number, ScenarioResult[]>();
  for (const result of results) byCalls.set(result.calls, [...(byCalls.get(result.calls) ?? []), result]);
  const comparisons: RelayComparison[] = [];
  for (const [calls, group] of byCalls) {
    // Incomplete runs (a stalled server did less work) are left out.
    const of = (mode: Mode): ScenarioResult[] => group.filter((result) => result.mode === mode && result.complete).sort((a, b) => a.round - b.round);
    const relays = of('relay');
    if (relays.length === 0) continue;
    const cpu: Partial<Record<Mode, number>> = {};
    const rss: Partial<Record<Mode, number>> = {};
    for (const mode of ['relay', ...BRIDGE_MODES] as Mode[]) {
      const runs = of(mode);
      const cpuMedian = median(runs.map((run) => run.cpuMsPerCallSecond));
      const rssMedian = median(runs.map((run) => run.rssPerCallKiB));
      if (cpuMedian !== null) cpu[mode] = cpuMedian;
      if (rssMedian !== null) rss[mode] = rssMedian;
    }
    const byRound = (mode: BridgeMode, pick: (result: ScenarioResult) => number): number[] =>
      of(mode).flatMap((run) => {
        const relay = relays.find((candidate) => candidate.round === run.round);
        const value = relay === undefined || pick(relay) <= 0 ? null : round3(pick(run) / pick(relay));
        return value === null ? [] : [value];
      });
    const cpuRatioByRound = { pcmu: byRound('pcmu', (r) => r.cpuMsPerCallSecond), pcm: byRound('pcm', (r) => r.cpuMsPerCallSecond) };
    const rssRatioByRound = { pcmu: byRound('pcmu', (r) => r.rssPerCallKiB), pcm: byRound('pcm', (r) => r.rssPerCallKiB) };
    const cpuRatio = { pcmu: median(cpuRatioByRound.pcmu), pcm: median(cpuRatioByRound.pcm) };
    comparisons.push({
      calls,
      rounds: relays.length,
      cpuMsPerCallSecond: cpu,
      rssPerCallKiB: rss,
      cpuRatio,
      rssRatio: { pcmu: median(rssRatioByRound.pcmu), pcm: median(rssRatioByRound.pcm) },
      cpuRatioByRound,
      rssRatioByRound,
      cpuTargets: RELAY_CPU_TARGETS,
      cpuMet: {
        pcmu: cpuRatio.pcmu === null ? null : cpuRatio.pcmu <= RELAY_CPU_TARGETS.pcmu,
        pcm: cpuRatio.pcm === null ? null : cpuRatio.pcm <= RELAY_CPU_TARGETS.pcm,
      },
    });
  }
  return comparisons;
}

/** The bridge against the plain relay, one column per N: each mode's CPU and RSS per call, and the ratios. */
export function printRatios(results: readonly ScenarioResult[]): void {
  const comparisons = relayComparisons(results);
  if (comparisons.length === 0) return;
  const present = (mode: Mode): boolean => comparisons.some((comparison) => comparison.cpuMsPerCallSecond[mode] !== undefined);
  const modes = (['relay', ...BRIDGE_MODES] as Mode[]).filter(present);
  const bridgeModes = BRIDGE_MODES.filter(present);
  const rounds = Math.max(...comparisons.map((comparison) => comparison.rounds));
  const verdict = (met: boolean | null): string => (met === null ? '' : met ? ' met' : ' MISSED');
  const each = (values: readonly number[]): string => (rounds > 1 && values.length > 0 ? ` [${values.map((value) => value.toFixed(2)).join(' ')}]` : '');
  type Row = [string, (comparison: RelayComparison) => string];
  const rows: Row[] = [
    ...modes.map((mode): Row => [`${mode} server CPU, ms per call-second`, (c) => fmt(c.cpuMsPerCallSecond[mode] ?? null, 3)]),
    ...bridgeModes.map((mode): Row => [
      `${mode}/relay CPU (target ≤ ${RELAY_CPU_TARGETS[mode]})`,
      (c) => `${fmt(c.cpuRatio[mode], 2)}${verdict(c.cpuMet[mode])}${each(c.cpuRatioByRound[mode])}`,
    ]),
    ...modes.map((mode): Row => [`${mode} peak RSS per call, KiB`, (c) => fmt(c.rssPerCallKiB[mode] ?? null, 1)]),
    ...bridgeModes.map((mode): Row => [`${mode}/relay peak RSS per call`, (c) => `${fmt(c.rssRatio[mode], 2)}${each(c.rssRatioByRound[mode])}`]),
  ];
  const headers = comparisons.map((comparison) => `× ${comparison.calls}`);
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const cells = rows.map(([, pick]) => comparisons.map(pick));
  const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((row) => row[column]!.length)));
  const line = (label: string, values: readonly string[]): string => `  ${label.padEnd(labelWidth)}  ${values.map((value, column) => value.padStart(widths[column]!)).join('  ')}`;
  console.log(`\nAgainst the plain relay (bench/plain-relay.ts), same run: ratio = bridge mode ÷ relay at the same N; targets are for N = ${RELAY_TARGET_CALLS}`);
  if (rounds > 1) console.log(`  (${rounds} rounds: figures are medians over the rounds, ratios the median of each round's ratio [each round's])`);
  console.log(line('', headers));
  rows.forEach(([label], index) => console.log(line(label, cells[index]!)));
}


export function describeTargets(results: readonly ScenarioResult[]): void {
  const notes: string[] = [];
  const order: readonly Mode[] = ['relay', ...BRIDGE_MODES];
  const rounds = results.some((r) => r.round > 1);
  const sorted = [...results].sort((a, b) => a.calls - b.calls || order.indexOf(a.mode) - order.indexOf(b.mode) || a.round - b.round);
  for (const r of sorted) {
    const which = `${r.mode} × ${r.calls}${rounds ? ` #${r.round}` : ''}`;
    if (r.mode !== 'relay') {
      const target = r.mode === 'pcm' ? 4.5 : 2.5;
      notes.push(`${which}: CPU ${fmt(r.cpuMsPerCallSecond, 2)} ms/call-s (absolute target ≤ ${target}) ${r.cpuMsPerCallSecond <= target ? 'met' : 'MISSED'}`);
      notes.push(`${which}: peak RSS ${fmt(r.rssPerCallKiB, 0)} KiB per call (target ≤ ${RSS_PER_CALL_TARGET_KIB}) ${r.rssPerCallKiB <= RSS_PER_CALL_TARGET_KIB ? 'met' : 'MISSED'}`);
      const relay = results.find((other) => other.mode === 'relay' && other.calls === r.calls && other.round === r.round);
      const p99 = r.addedLatencyMs.p99;
      notes.push(
        `${which}: first audio p99 ${fmt(p99, 1)} ms, delta sent → frame received (target ≤ ${ADDED_LATENCY_TARGET_MS} added by the bridge) ${p99 !== null && p99 <= ADDED_LATENCY_TARGET_MS ? 'met' : 'MISSED'}` +
          (relay === undefined ? '' : `; the relay, same run: ${fmt(relay.addedLatencyMs.p99, 1)} ms (the harness's own floor)`),
      );
    }
    if (!r.complete) {
      notes.push(
        `${which}: INCOMPLETE: ${r.responsesInWindow} of ${r.responsesExpected} answers and ` +
          `${r.callerAudioLatencyMs.count} of ${r.callerFramesExpected} caller frames crossed the server in the window; left out of the ratios`,
      );
    }
    if (r.generatorCpuPercent > 85) notes.push(`${which}: the load generator used ${fmt(r.generatorCpuPercent, 0)}% of its core: latencies include its own queueing`);
  }
  for (const comparison of relayComparisons(results)) {
    const scale = comparison.calls === RELAY_TARGET_CALLS ? '' : ` (targets are for ${RELAY_TARGET_CALLS} calls; for scale only)`;
    for (const mode of BRIDGE_MODES) {
      const value = comparison.cpuRatio[mode];
      if (value === null) continue;
      notes.push(`${mode} × ${comparison.calls}: CPU ${fmt(value, 2)}× the plain relay (target ≤ ${RELAY_CPU_TARGETS[mode]}×) ${comparison.cpuMet[mode] === true ? 'met' : 'MISSED'}${scale}`);
    }
  }
  console.log('');
  for (const note of notes) console.log(`  ${note}`);
}

