/**
 * What recent answers showed of a provider's delivery speed, shared by the calls of one agent: the jitter cushion's
 * memory across answers and calls.
 *
 * Why: one delta cannot tell a fast provider from a real-time one (its size is the same), so without memory every
 * answer's start is held until a second delta proves the provider ahead — up to the whole cushion (60 ms) when the
 * fast provider's deltas are big and spaced (OpenAI sends 100–600 ms of audio per delta). But speed is a property of
 * the provider and its load, not of one answer: when the last answers were all delivered ahead of real time, the
 * next one very likely is too, and its first frame can go at once.
 *
 * Each answer (agent item) is judged once, as the cushion sees its deltas:
 * - `ahead` when some delta arrives while at least a cushion of the answer's audio would still be in stock had its
 *   playback started at its first delta (audio received before that delta − time since the first ≥ cushion);
 * - `behind` when playback ran dry mid-answer (a rebuffer), or when it ended after two or more deltas without ever
 *   being ahead (a real-time provider);
 * - no verdict for an answer of a single delta, or one cut short by a barge-in.
 *
 * The provider counts as fast while its last `streak` verdicts (across calls) were all `ahead` and the latest is at
 * most `maxAgeMs` old. One `behind` ends it at once, so a provider that slows down under load costs at most the start
 * of one answer: that answer starts without a hold, and when it runs dry the cushion rebuffers it (one short gap),
 * and every answer after it is held again until the provider proves fast anew.
 */

/** Consecutive `ahead` verdicts before answers start without a hold. */
const DEFAULT_FAST_STREAK = 3;
/** A verdict older than this says nothing about now, ms. */
const DEFAULT_VERDICT_MAX_AGE_MS = 60_000;

export interface DeliveryPaceStats {
  aheadVerdicts: number;
  behindVerdicts: number;
}

export class DeliveryPace {
  private aheadStreak = 0;
  private lastVerdictAtMs = -Infinity;
  private readonly counters: DeliveryPaceStats = { aheadVerdicts: 0, behindVerdicts: 0 };

  constructor(
    private readonly streak = DEFAULT_FAST_STREAK,
    private readonly maxAgeMs = DEFAULT_VERDICT_MAX_AGE_MS,
  ) {}

  /** True when the next answer may start without a hold. */
  fast(nowMs: number): boolean {
    return this.aheadStreak >= this.streak && nowMs - this.lastVerdictAtMs <= this.maxAgeMs;
  }

  /** One answer's verdict. */
  report(ahead: boolean, nowMs: number): void {
    if (ahead) {
      this.aheadStreak++;
      this.counters.aheadVerdicts++;
    } else {
      this.aheadStreak = 0;
      this.counters.behindVerdicts++;
    }
    this.lastVerdictAtMs = nowMs;
  }

  stats(): DeliveryPaceStats {
    return { ...this.counters };
  }
}

/** One DeliveryPace per key (an agent and its provider), for the life of the process. */
export class DeliveryPaces {
  private readonly byKey = new Map<string, DeliveryPace>();

  for(key: string): DeliveryPace {
    let pace = this.byKey.get(key);
    if (pace === undefined) {
      pace = new DeliveryPace();
      this.byKey.set(key, pace);
    }
    return pace;
  }
}
