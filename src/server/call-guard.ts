/**
 * Guard rails on spend and abuse, checked at the door (the webhook) before anything is dialled:
 *   - a blocklist of caller numbers (exact, or prefixes ending in `*`; `anonymous` for withheld numbers);
 *   - at most CALLER_MAX_CALLS_PER_HOUR calls per caller number in a rolling hour (this instance's count);
 *   - a daily spend cap: today's (UTC) computed cost of every call — read from the records database, which several
 *     instances share, every REFRESH_MS, plus what this instance's calls cost since the last read. The figure is at
 *     most one refresh (30 s) of records off either way: a cap is a guard rail, not an invoice.
 * The check is synchronous and cheap: it reads cached figures. Outbound calls are held to the spend cap too.
 */
import type { CallSummary } from '../call/call-summary.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { CallInfo, CallObserver } from '../observers/hub.js';
import { costOf, priceFor } from '../records/pricing.js';
import type { RecordStore } from '../records/types.js';

export type GuardReason = 'blocklist' | 'per_number_limit' | 'spend_cap';


const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const REFRESH_MS = 30_000;
/** Caller numbers tracked at most for the hourly limit (stale ones are pruned first). */
const MAX_TRACKED_NUMBERS = 100_000;

export interface CallGuardOptions {
  config: Readonly<Config>;
  logger: Logger;
  /** The records store when open (the spend of every instance); null = this instance's own spend only. */
  store?: () => RecordStore | null;
  nowEpochMs?: () => number;
}

export class CallGuard implements CallObserver {
  readonly name = 'guard';
  private readonly options: CallGuardOptions;
  private readonly now: () => number;
  private readonly blockedExact = new Set<string>();
  private readonly blockedPrefixes: string[] = [];
  private readonly recentCalls = new Map<string, number[]>();
  private dayStartEpochMs: number;
  /** Today's cost in the database at the last read, and this instance's since then. */
  private storedTodayUsd = 0;
  private localSinceReadUsd = 0;
  private timer: NodeJS.Timeout | null = null;
  private capLogged = false;

  constructor(options: CallGuardOptions) {
    this.options = options;
    this.now = options.nowEpochMs ?? Date.now;
    this.dayStartEpochMs = dayStart(this.now());
    for (const entry of options.config.guard.blocklist) {
      if (entry.endsWith('*')) this.blockedPrefixes.push(entry.slice(0, -1));
      else this.blockedExact.add(entry);
    }
  }

  /** Starts reading today's spend from the database (when a cap is set). */
  start(): void {
    if (this.options.config.guard.dailySpendCapUsd === null || this.timer !== null) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Today's spend as the guard sees it, USD. */
  get spentTodayUsd(): number {
    this.rollDay();
    return this.storedTodayUsd + this.localSinceReadUsd;
  }

  /** An inbound caller at the door: null = welcome (and counted for the hourly limit), else why not. */
  screenCaller(from: string): GuardReason | null {
    const caller = from === '' ? 'anonymous' : from;
    if (this.blockedExact.has(caller) || this.blockedPrefixes.some((prefix) => caller.startsWith(prefix))) return 'blocklist';
    if (this.spendCapReached()) return 'spend_cap';
    const limit = this.options.config.guard.callerMaxCallsPerHour;
    if (limit !== null) {
      const nowMs = this.now();
      const recent = (this.recentCalls.get(caller) ?? []).filter((atMs) => atMs > nowMs - HOUR_MS);
      if (recent.length >= limit) {
        this.recentCalls.set(caller, recent);
        return 'per_number_limit';
      }
      recent.push(nowMs);
      if (!this.recentCalls.has(caller) && this.recentCalls.size >= MAX_TRACKED_NUMBERS) this.pruneNumbers(nowMs);
      this.recentCalls.set(caller, recent);
    }
    return null;
  }

  /** The daily cap is reached (new calls, inbound or outbound, are refused). */
  spendCapReached(): boolean {
    const cap = this.options.config.guard.dailySpendCapUsd;
    if (cap === null) return false;
    const reached = this.spentTodayUsd >= cap;
    if (reached && !this.capLogged) {
      this.capLogged = true;
      this.options.logger.warn({ capUsd: cap, spentTodayUsd: Math.round(this.spentTodayUsd * 1e4) / 1e4 }, 'daily spend cap reached: new calls are refused until midnight UTC');
    }
    return reached;
  }

  callEnded(info: CallInfo, summary: CallSummary): void {
    this.rollDay();
    const priced = info.model === null ? null : priceFor(this.options.config.records.prices, info.model);
    if (priced !== null) this.localSinceReadUsd += costOf(priced.price, summary.usage, summary.durationMs);
  }

  /** Reads today's spend of every instance from the database. */
  async refresh(): Promise<void> {
    const store = this.options.store?.() ?? null;
    if (store === null) return;
    this.rollDay();
    const day = this.dayStartEpochMs;
    const localBefore = this.localSinceReadUsd;
    try {
      const stored = await store.costSince(day);
      if (day !== this.dayStartEpochMs) return;
      this.storedTodayUsd = stored;
      // What this instance added while the read ran is not in it for sure: keep it.
      this.localSinceReadUsd = Math.max(0, this.localSinceReadUsd - localBefore);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'spend cap: could not read today’s spend from the records database (this instance’s own spend still counts)');
    }
  }

  private rollDay(): void {
    const today = dayStart(this.now());
    if (today === this.dayStartEpochMs) return;
    this.dayStartEpochMs = today;
    this.storedTodayUsd = 0;
    this.localSinceReadUsd = 0;
    this.capLogged = false;
  }

  private pruneNumbers(nowMs: number): void {
    for (const [caller, times] of this.recentCalls) if (times.every((atMs) => atMs <= nowMs - HOUR_MS)) this.recentCalls.delete(caller);
  }
}

function dayStart(epochMs: number): number {
  return Math.floor(epochMs / DAY_MS) * DAY_MS;
}
