/**
 * The calls benchmark's figures and how they are shown: one scenario's raw measurements turned into a
 * `ScenarioResult` (what each figure means: bench/calls.ts), the side-by-side table, the targets, and the one-line
 * JSON summary that scripts read. Only figures over the steady window count; whole-call totals are labelled so.
 */
import { loadavg } from 'node:os';
import type { IntervalHistogram } from 'node:perf_hooks';
import type { CallSummary } from '../src/call/call.js';
import type { CallResult, SimulatedCall } from '../src/simulator/twilio-caller.js';
import type { BridgeStats } from './bridge-process.js';
import { FRAME_MS } from './calls-common.js';
import type { Mode, Options } from './calls-options.js';
import { relayComparisons } from './calls-relay.js';

/**
 * Clean (issue 14's capacity criterion) = every call connected, no underrun heard in the window, no sequence error,
 * every answer played, and caller audio (frame sent → appended upstream) p99 at most this.
 */
const CALLER_AUDIO_P99_LIMIT_MS = 50;
/** The first-audio target: added latency p99 at most this (printed against it, not part of clean). */
export const ADDED_LATENCY_TARGET_MS = 5;
/**
 * A run counts (for the ratios) when at least this share of the work expected in the window crossed the server: caller
 * frames appended upstream (50 per call-second) and answers (one per call per turn cycle). A server that stalls calls
 * does less work and would flatter its CPU per call-second.
 */
const COMPLETE_SHARE = 0.9;
/** A first delta with no frame at the caller within this long counts as unmatched (the response never played). */
const MATCH_LIMIT_MS = 2_000;

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

export function round3(value: number): number {
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

export interface ScenarioResult {
  mode: Mode;
  calls: number;
  /** Which round of --rounds (1-based; set by the caller). */
  round: number;
  /** The host's 1-minute load average at the end of the window (2 cores here: above ~2, other work competed). */
  hostLoadAverage: number;
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
  /** Caller media frames never appended upstream, whole calls (sent − appended: the frames before the upstream opened). */
  callerFramesDropped: number;
  responsesInWindow: number;
  /** Answers and caller frames the window should hold (connected calls × window ÷ turn cycle, × 50 per second). */
  responsesExpected: number;
  callerFramesExpected: number;
  /** Both at least 90% of expected: the run did the full work (ratios use complete runs only). */
  complete: boolean;
  underrunsInWindow: number;
  /** Messages the callers received in the window, per call-second: `media` (one per 20 ms frame unless joined) and `mark`. */
  wirePerCallSecond: { media: number; mark: number };
  underrunsTotal: number;
  underrunMsTotal: number;
  /** From the bridge's call summaries: null in mode `relay` (the plain relay keeps no such figures). */
  serverUnderruns: number | null;
  sequenceErrors: number | null;
  gaps: number | null;
  bargeIns: number | null;
  lateDeltasDropped: number | null;
  upstreamFaults: number | null;
  framesIn: number | null;
  framesOut: number | null;
  summaries: number;
  serverLoopDelayP99Ms: number;
  serverLoopDelayMaxMs: number;
  /** Bridge garbage collection over the window: count, total and longest pause. */
  serverGcCount: number;
  serverGcTotalMs: number;
  serverGcMaxMs: number;
  serverGcP99Ms: number;
  serverGcMinorCount: number;
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

/** Timing of one simulated Realtime session, taken by the session observer as events happen. */
export interface SessionTimes {
  /** Epoch ms at which `session.updated` left the simulated server. */
  readyAt: number | null;
  /** Epoch ms each `input_audio_buffer.append` arrived, in order. */
  appendAt: number[];
  /** Epoch ms at which the first `response.output_audio.delta` of each response left. */
  firstDeltaAt: number[];
  deltas: number;
  lastResponseId: string | null;
}

export interface PlacedCall {
  index: number;
  call: SimulatedCall;
  /** performance.now() of the call's time 0 (its `atMs` are relative to this). */
  originPerfMs: number;
}

/** Everything one scenario measured, as taken: `scenarioResult` turns it into figures. */
export interface ScenarioMeasurements {
  mode: Mode;
  calls: number;
  /** The callers' turn cycle, ms (one question, one answer). */
  cycleMs: number;
  setupErrors: string[];
  placed: readonly PlacedCall[];
  /** Hang-up results, by position in `placed`; null when the hang-up failed. */
  results: ReadonlyArray<CallResult | null>;
  /** By session index, which is the call index (calls are dialled one at a time). */
  sessionTimes: ReadonlyArray<SessionTimes | undefined>;
  /** Epoch ms bounds of the steady window. */
  windowStart: number;
  windowEnd: number;
  summaries: readonly CallSummary[];
  warnings: number;
  pinned: boolean;
  /** The bridge after GC before the calls, its idle CPU, and its stats at the window's start and end. */
  before: { rssBytes: number; heapUsedBytes: number };
  idleCpuMsPerS: number;
  s0: BridgeStats;
  s1: BridgeStats;
  /** This process over the window. */
  generatorCpu: NodeJS.CpuUsage;
  generatorWallMs: number;
  generatorDelay: IntervalHistogram;
  generatorGc: { count: number; totalMs: number; maxMs: number };
}

export function scenarioResult(measurements: ScenarioMeasurements): ScenarioResult {
  const { mode, calls, cycleMs, setupErrors, placed, results, sessionTimes, windowStart, windowEnd, summaries, warnings, pinned } = measurements;
  const { before, idleCpuMsPerS, s0, s1, generatorCpu, generatorWallMs, generatorDelay, generatorGc } = measurements;
  const added: number[] = [];
  let unmatched = 0;
  let responsesInWindow = 0;
  const callerAudio: number[] = [];
  let negative = 0;
  let callerFramesDropped = 0;
  let underrunsInWindow = 0;
  let underrunsTotal = 0;
  let underrunMsTotal = 0;
  const wire = { media: 0, mark: 0 };
  placed.forEach((entry, position) => {
    const times = sessionTimes[entry.index];
    const result: CallResult | null = results[position] ?? null;
    if (times === undefined) return;
    const origin = performance.timeOrigin + entry.originPerfMs;
    const received = result?.received ?? entry.call.received;
    const sent = result?.sent ?? entry.call.sent;

    // Added latency: first delta of each response → first media frame at the caller after it.
    const mediaAt: number[] = [];
    for (const message of received) {
      const event = (message.message as { event?: unknown }).event;
      if (event === 'media') mediaAt.push(origin + message.atMs);
      if ((event === 'media' || event === 'mark') && origin + message.atMs >= windowStart && origin + message.atMs <= windowEnd) wire[event]++;
    }
    for (const deltaAt of times.firstDeltaAt) {
      if (deltaAt < windowStart || deltaAt > windowEnd) continue;
      responsesInWindow++;
      const next = mediaAt[lowerBound(mediaAt, deltaAt)];
      if (next === undefined || next - deltaAt > MATCH_LIMIT_MS) unmatched++;
      else added.push(next - deltaAt);
    }

    // Caller audio: media frame k sent → append k received, for frames sent after session.updated, in the window.
    // A server that drops the frames arriving before its upstream socket is open (the plain relay, as the sample does)
    // appends fewer than were sent: those are the first ones (every frame after is forwarded in order, the last ones
    // before the close frame), so the match skips them. The bridge forwards every frame (none skipped).
    const readyAt = times.readyAt ?? Infinity;
    let mediaSent = 0;
    for (const message of sent) if (message.message.event === 'media') mediaSent++;
    const skipped = Math.max(0, mediaSent - times.appendAt.length);
    callerFramesDropped += skipped;
    let frame = -skipped;
    for (const message of sent) {
      if (message.message.event !== 'media') continue;
      if (frame < 0) {
        frame++;
        continue;
      }
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
  const sum = (pick: (summary: CallSummary) => number): number | null =>
    mode === 'relay' ? null : summaries.reduce((total, summary) => total + pick(summary), 0);
  const windowS = (s1.atEpochMs - s0.atEpochMs) / 1_000;
  const cpuMs = (s1.cpuUserUs + s1.cpuSystemUs - s0.cpuUserUs - s0.cpuSystemUs) / 1_000;
  const connected = placed.length;
  const addedDistribution = distribution(added);
  const callerAudioDistribution = distribution(callerAudio);
  const sequenceErrors = sum((summary) => summary.sequenceErrors);
  const result: ScenarioResult = {
    mode,
    calls,
    round: 1,
    hostLoadAverage: round1(loadavg()[0] ?? 0),
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
    callerAudioLatencyMs: { ...callerAudioDistribution, negative },
    callerFramesDropped,
    responsesInWindow,
    responsesExpected: Math.round((connected * windowS * 1_000) / cycleMs),
    callerFramesExpected: Math.round((connected * windowS * 1_000) / FRAME_MS),
    complete:
      responsesInWindow >= Math.floor(COMPLETE_SHARE * ((connected * windowS * 1_000) / cycleMs)) &&
      callerAudio.length + negative >= Math.floor(COMPLETE_SHARE * ((connected * windowS * 1_000) / FRAME_MS)),
    underrunsInWindow,
    wirePerCallSecond: { media: round1(wire.media / Math.max(1, connected) / windowS), mark: round1(wire.mark / Math.max(1, connected) / windowS) },
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
    serverGcP99Ms: round1(s1.gcP99Ms),
    serverGcMinorCount: s1.gcMinorCount,
    serverPreemptions: s1.involuntaryContextSwitches - s0.involuntaryContextSwitches,
    generatorCpuPercent: round1(((generatorCpu.user + generatorCpu.system) / 1_000 / generatorWallMs) * 100),
    generatorLoopDelayP99Ms: round3(generatorDelay.percentile(99) / 1e6),
    generatorLoopDelayMaxMs: round3(generatorDelay.max / 1e6),
    generatorGcTotalMs: round1(generatorGc.totalMs),
    generatorGcMaxMs: round1(generatorGc.maxMs),
    bridgeWarnings: warnings,
    pinned,
    clean:
      connected === calls &&
      underrunsInWindow === 0 &&
      (sequenceErrors ?? 0) === 0 &&
      unmatched === 0 &&
      callerAudioDistribution.p99 !== null &&
      callerAudioDistribution.p99 <= CALLER_AUDIO_P99_LIMIT_MS,
  };
  return result;
}
