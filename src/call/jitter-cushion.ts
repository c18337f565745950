/**
 * The jitter cushion: an adaptive start for each agent item, so a provider that streams at exactly real time does
 * not leave the caller a hole at every delta.
 *
 * Why: Twilio plays what it is sent at once, with no jitter buffer of its own. A provider at real time sends 100 ms
 * deltas 100 ms apart, but the first one yields only ~80 ms of whole frames (the resampler's delay and the 20 ms frame
 * cutting hold the rest back until the next delta), so playback started at once runs dry ~20 ms (plus any jitter)
 * before the next delta arrives — a gap at every delta boundary where the stock is lowest. Starting playback a little
 * later shifts the whole answer by that much and keeps that much audio in stock for its whole length.
 *
 * Per item, two states: `holding` (its next frame waits) and `flowing` (the pacer alone decides). A hold starts
 * - at the item's first whole frame (`start`), and
 * - mid-item (`rebuffer`) when a delta of an item that has started arrives with nothing queued and the far end's
 *   playback already run dry: the provider fell behind real time, a gap is being heard anyway, and growing it by up to
 *   one cushion now beats a gap at every following delta. (It never holds while the far end still plays: that would
 *   make a gap where there was none.)
 *
 * A hold is released, whichever comes first, when
 * - the deltas show the provider is ahead of real time: the audio received after the hold's first chunk is at least
 *   the time since that chunk plus the cushion (a fast provider's second delta, or a whole answer at once, releases at
 *   once — a single first delta cannot tell a fast provider from a real-time one, its size is the same);
 * - the deadline: `cushionMs` after the hold's first frame was queued (so a real-time provider's first audio costs
 *   exactly `cushionMs`, and a short piece is never stuck);
 * - the item ends (`endItem`, or the next item's first delta): nothing more will come, so everything goes at once.
 *
 * With a `pace` (delivery-pace.ts), an item starts without a hold while the provider's last answers were all
 * delivered ahead of real time (a fast provider's first audio then goes the moment it is queued), and every item's
 * delivery is judged for it: ahead as soon as a delta arrives while at least a cushion of the item's audio would still
 * be in stock had playback started at its first delta (received so far − time since ≥ cushion), behind when it ends
 * after two or more deltas without that, and behind at its first rebuffer (even after an ahead verdict: the provider
 * slowed down mid-answer). A real-time provider's deltas find ~0 in stock (−20 ms after a 24 kHz first delta); a fast
 * one's find its head start, whatever the delta sizes (600 ms every 150 ms: 450 ms). A mid-item rebuffer still
 * protects an item that started unheld.
 *
 * The cushion only delays frames the pacer would send: it never reorders, never drops, and a barge-in's `clear` drops
 * held frames like any queued ones (`reset`). Held frames were not sent, so the playback ledger never counts them.
 * Everything on the caller's injected clock.
 */
import type { DeliveryPace } from './delivery-pace.js';
import type { FrameEntry } from './out-queue.js';
import type { PacerGate } from './pacer.js';

/** Default cushion, ms: covers the ~20 ms a 24 kHz provider's first delta holds back, plus deltas up to ~35 ms late. */
export const DEFAULT_JITTER_CUSHION_MS = 60;
/** Largest cushion accepted, ms (it is first-audio latency for a real-time provider). */
export const MAX_JITTER_CUSHION_MS = 500;

export interface JitterCushionOptions {
  /** Audio to gather before an item's first frame goes when the provider is not proven ahead of real time, ms (> 0). */
  cushionMs: number;
  /** What recent answers showed of the provider's speed (shared across calls); absent = every item starts held. */
  pace?: DeliveryPace;
}

export type HoldKind = 'start' | 'rebuffer';
export type ReleaseCause = 'ahead' | 'deadline' | 'ended';

export interface JitterCushionStats {
  /** Holds begun at an item's first frame. */
  startHolds: number;
  /** Items started without a hold: the pace said the provider is ahead of real time. */
  unheldStarts: number;
  /** Holds begun mid-item after the far end ran dry. */
  rebuffers: number;
  /** Holds released because the deltas proved the provider ahead of real time. */
  releasedAhead: number;
  /** Holds released at their deadline. */
  releasedAtDeadline: number;
  /** Holds released because the item ended. */
  releasedAtEnd: number;
  /** Total time frames waited in holds that were released (not those a clear dropped), ms. */
  heldMs: number;
}

/** One release, for callers that measure (tests, benchmarks). */
export interface HoldRelease {
  readonly itemId: string;
  readonly kind: HoldKind;
  readonly cause: ReleaseCause;
  /** From the hold's first frame being queued to its release, ms. */
  readonly heldMs: number;
}

/** One item's delivery, judged for the pace: audio received since its first delta against the time since. */
interface Probe {
  readonly startMs: number;
  receivedMs: number;
  deltas: number;
}

interface ItemState {
  hold: Hold | null;
  /** Null once judged, or without a pace. */
  probe: Probe | null;
  /** A rebuffer has been reported for this item (one behind verdict per item at most). */
  rebuffered: boolean;
}

interface Hold {
  readonly kind: HoldKind;
  /** Clock time the hold's first frame was queued. */
  readonly startMs: number;
  /** Audio queued by the delta that began the hold, ms. */
  readonly firstChunkMs: number;
  /** Audio queued since the hold began, first chunk included, ms. */
  receivedMs: number;
}

export class JitterCushion implements PacerGate {
  private readonly cushionMs: number;
  private readonly pace: DeliveryPace | null;
  /** Items that have queued frames and not ended: their hold (null while flowing), and their probe. */
  private readonly items = new Map<string, ItemState>();
  private readonly counters: JitterCushionStats = { startHolds: 0, unheldStarts: 0, rebuffers: 0, releasedAhead: 0, releasedAtDeadline: 0, releasedAtEnd: 0, heldMs: 0 };
  private readonly releases: HoldRelease[] = [];

  constructor(options: JitterCushionOptions) {
    if (!(options.cushionMs > 0 && options.cushionMs <= MAX_JITTER_CUSHION_MS)) throw new RangeError(`cushionMs must be in (0, ${MAX_JITTER_CUSHION_MS}]`);
    this.cushionMs = options.cushionMs;
    this.pace = options.pace ?? null;
  }

  /**
   * A delta of `itemId` queued `framesMs` of whole frames at `nowMs`. `ranDry`: before it, nothing was queued and the
   * far end's playback had already run dry (now > the modelled playback end).
   */
  onQueued(itemId: string, framesMs: number, nowMs: number, ranDry: boolean): void {
    if (framesMs <= 0) return;
    const item = this.items.get(itemId);
    if (item === undefined) {
      const probe = this.pace === null ? null : { startMs: nowMs, receivedMs: framesMs, deltas: 1 };
      const unheld = this.pace?.fast(nowMs) === true;
      if (unheld) this.counters.unheldStarts++;
      this.items.set(itemId, { hold: unheld ? null : this.newHold('start', framesMs, nowMs), probe, rebuffered: false });
      return;
    }
    if (item.hold !== null) {
      item.hold.receivedMs += framesMs;
    } else if (ranDry) {
      item.hold = this.newHold('rebuffer', framesMs, nowMs);
      // The provider fell behind: said once per item, even after an ahead verdict (it slowed down mid-answer).
      if (!item.rebuffered) this.judge(item, false, nowMs);
      item.rebuffered = true;
    }
    const { probe } = item;
    if (probe === null) return;
    // The stock this delta found, had playback started at the item's first delta: at least a cushion = ahead.
    const stockMs = probe.receivedMs - (nowMs - probe.startMs);
    probe.receivedMs += framesMs;
    probe.deltas++;
    if (stockMs >= this.cushionMs) this.judge(item, true, nowMs);
  }

  /** The item will get no more audio: whatever it has queued may go at once. */
  onItemEnded(itemId: string, nowMs: number): void {
    const item = this.items.get(itemId);
    if (item === undefined) return;
    if (item.hold !== null) this.release(itemId, item.hold, 'ended', nowMs);
    // Several deltas and never ahead: a real-time (or slower) provider. A single delta says nothing.
    if (item.probe !== null && item.probe.deltas >= 2) this.judge(item, false, nowMs);
    this.items.delete(itemId);
  }

  /** On interruption: the queue was cleared; held frames are gone and no hold survives (cut items get no verdict). */
  reset(): void {
    this.items.clear();
  }

  /**
   * When the head frame may go: a time ≤ `nowMs` = now; later = hold until then (its deadline; an earlier delta or
   * the item's end kicks the pacer, which asks again).
   */
  releaseAtMs(frame: FrameEntry, nowMs: number): number {
    const item = this.items.get(frame.itemId);
    const hold = item?.hold ?? null;
    if (item === undefined || hold === null) return nowMs;
    const deadlineMs = hold.startMs + this.cushionMs;
    const ahead = hold.receivedMs - hold.firstChunkMs >= nowMs - hold.startMs + this.cushionMs;
    if (!ahead && nowMs < deadlineMs) return deadlineMs;
    this.release(frame.itemId, hold, ahead ? 'ahead' : 'deadline', nowMs);
    item.hold = null;
    return nowMs;
  }

  /** True while some item's frames are held. */
  get holding(): boolean {
    for (const item of this.items.values()) if (item.hold !== null) return true;
    return false;
  }

  stats(): JitterCushionStats {
    return { ...this.counters };
  }

  /** Every release so far, oldest first (the last 256). */
  recentReleases(): readonly HoldRelease[] {
    return this.releases;
  }

  private judge(item: ItemState, ahead: boolean, nowMs: number): void {
    item.probe = null;
    this.pace?.report(ahead, nowMs);
  }

  private newHold(kind: HoldKind, framesMs: number, nowMs: number): Hold {
    if (kind === 'start') this.counters.startHolds++;
    else this.counters.rebuffers++;
    return { kind, startMs: nowMs, firstChunkMs: framesMs, receivedMs: framesMs };
  }

  private release(itemId: string, hold: Hold, cause: ReleaseCause, nowMs: number): void {
    const heldMs = Math.max(0, nowMs - hold.startMs);
    if (cause === 'ahead') this.counters.releasedAhead++;
    else if (cause === 'deadline') this.counters.releasedAtDeadline++;
    else this.counters.releasedAtEnd++;
    this.counters.heldMs += heldMs;
    this.releases.push({ itemId, kind: hold.kind, cause, heldMs });
    if (this.releases.length > 256) this.releases.shift();
  }
}
