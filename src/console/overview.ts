/**
 * The console's overview: calls per hour, turn latency percentiles, cost per day and faults for the last N days.
 *
 * The window is N whole UTC days, today included: from UTC midnight N−1 days ago to now. Hours and days are UTC, and
 * every hour and day of the window is listed (zero when quiet), so a chart needs no gap filling.
 *
 * `aggregateOverview` is pure (the numbers); `readOverview` gathers its input through the RecordStore: the call list
 * page by page (capped, newest first) and the store's turn latencies. Percentiles are nearest-rank: always a latency
 * that was really measured, never an interpolation.
 */
import type { CallListItem, RecordStore } from '../records/types.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const MAX_OVERVIEW_DAYS = 90;
export const DEFAULT_OVERVIEW_DAYS = 7;
/** Calls read at most for one overview (newest first); beyond it the oldest calls of the window are left out. */
export const MAX_OVERVIEW_CALLS = 20_000;
/** Turn latencies read at most (newest calls' first). */
export const MAX_OVERVIEW_TURNS = 200_000;
const PAGE_SIZE = 200;

export interface Overview {
  readonly callsPerHour: ReadonlyArray<{ readonly hourStartMs: number; readonly calls: number }>;
  /** Null percentiles when no turn was answered in the window. */
  readonly turnLatencyMs: { readonly p50: number | null; readonly p90: number | null; readonly p99: number | null; readonly turns: number };
  readonly costPerDay: ReadonlyArray<{ readonly day: string; readonly usd: number }>;
  readonly errors: { readonly faults: number; readonly byEndReason: Readonly<Record<string, number>> };
}

/** What the overview needs of one call. */
export interface OverviewCall {
  readonly startedAtEpochMs: number;
  readonly costUsd: number;
  readonly endReason: string;
  /** Provider session faults during the call (the summary's `upstreamFaults`). */
  readonly faults: number;
}

export interface OverviewWindow {
  /** UTC midnight, N−1 days before today's. */
  readonly fromEpochMs: number;
  /** Exclusive end: just after now. */
  readonly toEpochMs: number;
  readonly days: number;
}

export function overviewWindow(nowEpochMs: number, days: number): OverviewWindow {
  const today = Math.floor(nowEpochMs / DAY_MS) * DAY_MS;
  return { fromEpochMs: today - (days - 1) * DAY_MS, toEpochMs: Math.floor(nowEpochMs) + 1, days };
}

/** `days` as the API takes it: absent = 7, else an integer 1–90; null when it is not one. */
export function parseOverviewDays(raw: unknown): number | null {
  if (raw === undefined) return DEFAULT_OVERVIEW_DAYS;
  if (typeof raw !== 'string' || !/^\d{1,2}$/.test(raw)) return null;
  const days = Number(raw);
  return days >= 1 && days <= MAX_OVERVIEW_DAYS ? days : null;
}

/** The nearest-rank percentile of ascending `sorted` values (p in 0–100); null for no values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** `YYYY-MM-DD` of a UTC day. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/** Pure: the overview of `calls` and `turnLatenciesMs` over `window` (calls outside it are ignored). */
export function aggregateOverview(window: OverviewWindow, calls: Iterable<OverviewCall>, turnLatenciesMs: readonly number[]): Overview {
  const firstHour = window.fromEpochMs;
  const hours = Math.floor((window.toEpochMs - 1 - firstHour) / HOUR_MS) + 1;
  const perHour = new Array<number>(Math.max(0, hours)).fill(0);
  const perDay = new Array<number>(window.days).fill(0);
  const byEndReason: Record<string, number> = {};
  let faults = 0;
  for (const call of calls) {
    if (call.startedAtEpochMs < window.fromEpochMs || call.startedAtEpochMs >= window.toEpochMs) continue;
    const offset = call.startedAtEpochMs - window.fromEpochMs;
    perHour[Math.floor(offset / HOUR_MS)]! += 1;
    perDay[Math.floor(offset / DAY_MS)]! += Number.isFinite(call.costUsd) ? call.costUsd : 0;
    byEndReason[call.endReason] = (byEndReason[call.endReason] ?? 0) + 1;
    faults += Number.isFinite(call.faults) ? call.faults : 0;
  }
  const sorted = turnLatenciesMs.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  return {
    callsPerHour: perHour.map((count, index) => ({ hourStartMs: firstHour + index * HOUR_MS, calls: count })),
    turnLatencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), turns: sorted.length },
    // Costs are stored to 1e-6 USD; summing floats must not show 0.30000000000000004.
    costPerDay: perDay.map((usd, index) => ({ day: utcDay(window.fromEpochMs + index * DAY_MS), usd: Math.round(usd * 1e6) / 1e6 })),
    errors: { faults, byEndReason },
  };
}

export function overviewCallOf(item: CallListItem): OverviewCall {
  const faults = item.counters['upstreamFaults'];
  return { startedAtEpochMs: item.startedAtEpochMs, costUsd: item.cost.totalUsd, endReason: item.endReason, faults: typeof faults === 'number' ? faults : 0 };
}

export interface OverviewReadResult {
  readonly overview: Overview;
  /** True when the window held more calls than MAX_OVERVIEW_CALLS (the oldest were left out). */
  readonly capped: boolean;
}

/** Reads the window's calls (newest first, page by page, capped) and turn latencies, then aggregates. */
export async function readOverview(
  store: RecordStore,
  window: OverviewWindow,
  limits: { maxCalls?: number; maxTurns?: number } = {},
): Promise<OverviewReadResult> {
  const maxCalls = limits.maxCalls ?? MAX_OVERVIEW_CALLS;
  const calls: OverviewCall[] = [];
  let cursor: string | null = null;
  let capped = false;
  do {
    const page = await store.listCalls({
      fromEpochMs: window.fromEpochMs,
      toEpochMs: window.toEpochMs,
      limit: Math.min(PAGE_SIZE, maxCalls - calls.length),
      ...(cursor === null ? {} : { cursor }),
    });
    for (const item of page.calls) calls.push(overviewCallOf(item));
    cursor = page.nextCursor;
    if (cursor !== null && calls.length >= maxCalls) {
      capped = true;
      break;
    }
  } while (cursor !== null);
  const range = { fromEpochMs: window.fromEpochMs, toEpochMs: window.toEpochMs };
  const latencies = store.turnLatencies === undefined ? [] : await store.turnLatencies(range, limits.maxTurns ?? MAX_OVERVIEW_TURNS);
  return { overview: aggregateOverview(window, calls, latencies), capped };
}
