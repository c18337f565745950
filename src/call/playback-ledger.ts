/**
 * Marks → milliseconds the caller really heard, per agent audio item.
 *
 * Clock discipline: every time here is on the injected Clock (`nowMs`, `echoedAtMs`, `playStartMs` all come from
 * `clock.now()`). Never use Twilio's inbound media `timestamp`s: they count the caller's audio since the stream
 * started, not the agent's playback, and mixing them in is exactly the bug that yields OpenAI's
 * "Audio content of 9250ms is already shorter than 57340ms" on `conversation.item.truncate`.
 *
 * Mark names are opaque keys (`cb<generation>.<n>`) kept in a map and looked up, never parsed. `clear()` starts a new
 * generation: Twilio echoes every pending mark when it receives a `clear` (PROTOCOLS.md), so an echo of an old
 * generation is not proof of playback and is ignored (openai-agents-js Twilio transport pattern).
 *
 * `heardMs(itemId, nowMs)` invariants: an integer (floor), ≥ 0, ≤ the real audio sent for the item (so a truncate
 * never overshoots). Estimate, best first:
 * 1. last acknowledged mark of the item + time since its echo (playback goes on in real time), capped at the next
 *    mark sent for the item that has not been echoed (a stall at Twilio does not inflate the estimate);
 * 2. otherwise the playback model: when each frame was scheduled to start playing (the pacer's `playStartMs`),
 *    re-anchored to the echo of the previous item's end mark if this item's first frame was already buffered at
 *    Twilio when that echo came (the echo is when this item really started).
 */
import type { FrameEntry, MarkEntry } from './out-queue.js';

/** Items remembered for `heardMs` after their playback is over. */
const MAX_REMEMBERED_ITEMS = 256;

/** A contiguous run of frames of one item in the playback model. */
interface PlaySegment {
  playStartMs: number;
  itemOffsetMs: number;
  playDurationMs: number;
}

interface ItemRecord {
  readonly responseId: string;
  readonly itemId: string;
  /** Real (unpadded) audio sent, ms. */
  sentAudioMs: number;
  sentFrames: number;
  firstSentAtMs: number;
  segments: PlaySegment[];
  /** Added to modelled play times once the previous item's end echo tells when this item really started. */
  modelShiftMs: number;
  lastAck: { itemOffsetMs: number; echoedAtMs: number } | null;
  /** Item offsets of marks sent and not yet echoed, ascending. */
  unackedMarkOffsetsMs: number[];
  endAcknowledged: boolean;
  /** Set by clear(): playback stopped there, so the estimate is fixed. */
  frozenHeardMs: number | null;
}

/** One item's standing, for `interrupt()` results and summaries. */
export interface ItemPlayback {
  readonly responseId: string;
  readonly itemId: string;
  readonly heardMs: number;
  /** Real audio sent, ms (may be fractional: a padded tail carries less than 20 ms). */
  readonly sentMs: number;
  readonly sentFrames: number;
  readonly endAcknowledged: boolean;
}

export interface PlaybackLedgerOptions {
  /** Mark name prefix; names are `${prefix}${generation}.${n}`. Default `cb`. */
  markPrefix?: string;
}

export class PlaybackLedger {
  private readonly markPrefix: string;
  private generationNumber = 1;
  private nextMarkNumber = 1;
  private readonly marks = new Map<string, { entry: MarkEntry; generation: number }>();
  /** Insertion order = send order of first frames. */
  private readonly items = new Map<string, ItemRecord>();

  constructor(options: PlaybackLedgerOptions = {}) {
    this.markPrefix = options.markPrefix ?? 'cb';
  }

  get generation(): number {
    return this.generationNumber;
  }

  /** Marks named in the current generation and not yet echoed. */
  get pendingMarks(): number {
    let count = 0;
    for (const mark of this.marks.values()) if (mark.generation === this.generationNumber) count++;
    return count;
  }

  /** Registers a mark about to be sent and returns its name. */
  nameMark(entry: MarkEntry): string {
    const name = `${this.markPrefix}${this.generationNumber}.${this.nextMarkNumber++}`;
    this.marks.set(name, { entry, generation: this.generationNumber });
    const item = this.items.get(entry.itemId);
    if (item !== undefined && item.frozenHeardMs === null) item.unackedMarkOffsetsMs.push(entry.itemOffsetMs);
    return name;
  }

  /** Records a frame handed to Twilio with its modelled play start (from the pacer), ms on the injected clock. */
  onFrameSent(frame: FrameEntry, sentAtMs: number, playStartMs: number, frameDurationMs = 20): void {
    let item = this.items.get(frame.itemId);
    if (item === undefined) {
      item = {
        responseId: frame.responseId,
        itemId: frame.itemId,
        sentAudioMs: 0,
        sentFrames: 0,
        firstSentAtMs: sentAtMs,
        segments: [],
        modelShiftMs: 0,
        lastAck: null,
        unackedMarkOffsetsMs: [],
        endAcknowledged: false,
        frozenHeardMs: null,
      };
      this.items.set(frame.itemId, item);
      this.pruneFinishedItems();
    }
    item.sentAudioMs += frame.audioMs;
    item.sentFrames++;
    const last = item.segments[item.segments.length - 1];
    if (last !== undefined && last.playStartMs + last.playDurationMs === playStartMs && last.itemOffsetMs + last.playDurationMs === frame.itemOffsetMs) {
      last.playDurationMs += frameDurationMs;
    } else {
      item.segments.push({ playStartMs, itemOffsetMs: frame.itemOffsetMs, playDurationMs: frameDurationMs });
    }
  }

  /**
   * Looks up an echoed mark. Returns its entry, or null when the name is unknown or of an old generation (echoed
   * because of a `clear`, so proving nothing).
   */
  onMarkEchoed(name: string, nowMs: number): MarkEntry | null {
    const mark = this.marks.get(name);
    if (mark === undefined) return null;
    this.marks.delete(name);
    if (mark.generation !== this.generationNumber) return null;
    const { entry } = mark;
    const item = this.items.get(entry.itemId);
    if (item === undefined || item.frozenHeardMs !== null) return entry;
    if (item.lastAck === null || entry.itemOffsetMs >= item.lastAck.itemOffsetMs) {
      item.lastAck = { itemOffsetMs: entry.itemOffsetMs, echoedAtMs: nowMs };
    }
    item.unackedMarkOffsetsMs = item.unackedMarkOffsetsMs.filter((offsetMs) => offsetMs > entry.itemOffsetMs);
    if (entry.endOfItem) {
      item.endAcknowledged = true;
      this.anchorNextItem(item, nowMs);
    }
    return entry;
  }

  /** What the caller really heard of `itemId` at `nowMs`: integer ms, 0 for an unknown item. See the file header. */
  heardMs(itemId: string, nowMs: number): number {
    const item = this.items.get(itemId);
    if (item === undefined) return 0;
    if (item.frozenHeardMs !== null) return item.frozenHeardMs;
    return this.estimate(item, nowMs);
  }

  /** Real audio sent for `itemId`, ms. */
  sentMs(itemId: string): number {
    return this.items.get(itemId)?.sentAudioMs ?? 0;
  }

  /** Items with audio sent whose playback is not over (end mark not echoed, not cleared), in send order. */
  inPlay(nowMs: number): ItemPlayback[] {
    const result: ItemPlayback[] = [];
    for (const item of this.items.values()) {
      if (item.frozenHeardMs !== null || item.endAcknowledged) continue;
      result.push(this.describe(item, nowMs));
    }
    return result;
  }

  /** True when some sent item has not had its end mark echoed (and was not cleared). */
  get hasUnfinishedItems(): boolean {
    for (const item of this.items.values()) if (item.frozenHeardMs === null && !item.endAcknowledged) return true;
    return false;
  }

  describeItem(itemId: string, nowMs: number): ItemPlayback | null {
    const item = this.items.get(itemId);
    return item === undefined ? null : this.describe(item, nowMs);
  }

  /**
   * After a `clear` was sent: freezes every unfinished item's heard ms at `nowMs` (playback stopped there) and starts
   * a new mark generation, so marks Twilio echoes because of the clear are ignored. Old-generation names are kept
   * for one generation so their echoes are recognised (and counted) rather than unknown.
   */
  clear(nowMs: number): void {
    for (const item of this.items.values()) {
      if (item.frozenHeardMs !== null || item.endAcknowledged) continue;
      item.frozenHeardMs = this.estimate(item, nowMs);
      item.unackedMarkOffsetsMs = [];
    }
    this.generationNumber++;
    this.nextMarkNumber = 1;
    for (const [name, mark] of this.marks) if (mark.generation < this.generationNumber - 1) this.marks.delete(name);
  }

  /** Bounds memory on long calls: forgets the oldest items whose playback is over. */
  private pruneFinishedItems(): void {
    if (this.items.size <= MAX_REMEMBERED_ITEMS) return;
    for (const [itemId, item] of this.items) {
      if (this.items.size <= MAX_REMEMBERED_ITEMS) return;
      if (item.endAcknowledged || item.frozenHeardMs !== null) this.items.delete(itemId);
    }
  }

  private describe(item: ItemRecord, nowMs: number): ItemPlayback {
    return {
      responseId: item.responseId,
      itemId: item.itemId,
      heardMs: item.frozenHeardMs ?? this.estimate(item, nowMs),
      sentMs: item.sentAudioMs,
      sentFrames: item.sentFrames,
      endAcknowledged: item.endAcknowledged,
    };
  }

  private estimate(item: ItemRecord, nowMs: number): number {
    let heard: number;
    if (item.lastAck !== null) {
      heard = item.lastAck.itemOffsetMs + (nowMs - item.lastAck.echoedAtMs);
      const nextMarkMs = item.unackedMarkOffsetsMs[0];
      if (nextMarkMs !== undefined) heard = Math.min(heard, nextMarkMs);
    } else {
      heard = 0;
      for (const segment of item.segments) {
        const startMs = segment.playStartMs + item.modelShiftMs;
        if (startMs > nowMs) break;
        heard = segment.itemOffsetMs + Math.min(nowMs - startMs, segment.playDurationMs);
      }
    }
    return Math.max(0, Math.floor(Math.min(heard, item.sentAudioMs)));
  }

  /** The item sent right after `ended` started playing when `ended`'s end mark came back, if it was already buffered. */
  private anchorNextItem(ended: ItemRecord, echoedAtMs: number): void {
    let passed = false;
    for (const item of this.items.values()) {
      if (passed) {
        const first = item.segments[0];
        if (first !== undefined && item.lastAck === null && item.frozenHeardMs === null && item.firstSentAtMs <= echoedAtMs) {
          item.modelShiftMs = echoedAtMs - first.playStartMs;
        }
        return;
      }
      if (item === ended) passed = true;
    }
  }
}
