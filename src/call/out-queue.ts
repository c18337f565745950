/**
 * The agent → caller audio queue: agent deltas of any length in, exact 160-byte frames and marks out, FIFO.
 *
 * Why frames and marks share one queue: a Twilio mark is echoed when playback reaches it, so it only means something
 * if it is sent right behind the audio it acknowledges. Keeping both in one FIFO makes that ordering structural
 * (pipecat/livekit pattern: data an interruption cancels lives in the queue; `clear`/truncate bypass it).
 *
 * Invariants:
 * - Every frame payload is exactly one 20 ms frame of the channel's audio (160 bytes of mu-law on the phone); only an
 *   item's last frame may be padded.
 * - Frames of one item are queued in item order with `itemOffsetMs` = 20 × index; items never interleave.
 * - Each frame gets a `frameId` at enqueue, strictly increasing per queue: the identity the sequence log checks.
 * - A mark sits right behind each `markIntervalMs` of item audio (queued once the next frame of the item arrives), and
 *   one (`endOfItem`) behind the item's last frame; no two marks of an item share an offset.
 */
import { TWILIO_AUDIO, type ChannelAudio } from '../audio/channel-audio.js';
import { FRAME_DURATION_MS, Framer } from '../audio/frames.js';

/** One 20 ms frame of agent audio, ready to send to Twilio. */
export interface FrameEntry {
  readonly kind: 'frame';
  readonly responseId: string;
  readonly itemId: string;
  /** Exactly one 20 ms frame of the channel's audio (160 bytes of mu-law on the phone). */
  readonly payload: Uint8Array;
  /** Where this frame starts in the item, ms (a multiple of 20). */
  readonly itemOffsetMs: number;
  /** Real item audio in this frame, ms: 20, or less for an item's padded last frame (the rest is silence). */
  readonly audioMs: number;
  /** Identity assigned at enqueue, strictly increasing per queue (1, 2, 3 …). Never reused, even across clears. */
  readonly frameId: number;
}

/** A Twilio mark placed right behind the audio it acknowledges. */
export interface MarkEntry {
  readonly kind: 'mark';
  readonly responseId: string;
  readonly itemId: string;
  /** Item audio acknowledged when this mark is echoed, ms (real audio: an end mark is not rounded up to the padding). */
  readonly itemOffsetMs: number;
  /** True for the mark behind an item's last frame. */
  readonly endOfItem: boolean;
}

export type OutEntry = FrameEntry | MarkEntry;

/** What `clear()` dropped of one item. */
export interface DroppedItem {
  readonly responseId: string;
  readonly itemId: string;
  /** Whole frames removed from the queue. */
  readonly droppedFrames: number;
  /** Real audio dropped, ms: dropped frames (unpadded) plus the partial tail waiting in the framer. */
  readonly droppedAudioMs: number;
}

/** Result of `push`: `rejected` when the item was already ended or cleared (a late delta); nothing is queued then. */
export type PushResult = { readonly accepted: true; readonly framesQueued: number } | { readonly accepted: false; readonly framesQueued: 0 };

export interface OutQueueOptions {
  /** A mark follows every this many ms of item audio (≥ 20; config `call.markIntervalMs`, default 100). */
  markIntervalMs: number;
  /** The caller channel's audio (default Twilio's 8 kHz mu-law). */
  audio?: ChannelAudio;
}

interface OpenItem {
  readonly responseId: string;
  readonly itemId: string;
  readonly framer: Framer;
  /** Whole frames queued so far for this item (sent or not). */
  frameCount: number;
  /** Item offset of the last interval mark placed, ms. */
  lastMarkOffsetMs: number;
}

export class OutQueue {
  private readonly markIntervalMs: number;
  private readonly audio: ChannelAudio;
  /** FIFO; `head` avoids O(n) shifts on long answers. */
  private entries: OutEntry[] = [];
  private head = 0;
  private nextFrameId = 1;
  private open: OpenItem | null = null;
  /** Items that were ended or cleared: late deltas for them are refused rather than replayed from offset 0. */
  private readonly closedItemIds = new Set<string>();
  private rejectedPushCount = 0;

  constructor(options: OutQueueOptions) {
    if (!(options.markIntervalMs >= FRAME_DURATION_MS)) throw new RangeError(`markIntervalMs must be ≥ ${FRAME_DURATION_MS}`);
    this.markIntervalMs = options.markIntervalMs;
    this.audio = options.audio ?? TWILIO_AUDIO;
  }

  /** Entries waiting to be sent. */
  get length(): number {
    return this.entries.length - this.head;
  }

  /** True when nothing is queued and no partial tail waits in a framer. */
  get isEmpty(): boolean {
    return this.length === 0 && (this.open === null || this.open.framer.pendingBytes === 0);
  }

  /** Deltas refused because their item was already ended or cleared. */
  get rejectedPushes(): number {
    return this.rejectedPushCount;
  }

  /** The item currently receiving audio, or null. */
  get openItemId(): string | null {
    return this.open?.itemId ?? null;
  }

  peek(): OutEntry | undefined {
    return this.entries[this.head];
  }

  shift(): OutEntry | undefined {
    const entry = this.entries[this.head];
    if (entry === undefined) return undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  /** Queued entries, oldest first (a copy, for inspection). */
  snapshot(): OutEntry[] {
    return this.entries.slice(this.head);
  }

  /**
   * Appends agent audio for `itemId`. A partial tail waits for the next delta of the same item.
   * Audio is one stream: the first delta of a new item ends the open one (its padded tail and end mark go first),
   * so FIFO order across items holds even if `response.output_audio.done` is late or missing.
   */
  push(responseId: string, itemId: string, audio: Uint8Array): PushResult {
    if (this.closedItemIds.has(itemId)) {
      this.rejectedPushCount++;
      return { accepted: false, framesQueued: 0 };
    }
    if (this.open !== null && this.open.itemId !== itemId) this.endItem(this.open.responseId, this.open.itemId);
    if (this.open === null) {
      this.open = { responseId, itemId, framer: new Framer(this.audio.bytesPerFrame, this.audio.silenceByte), frameCount: 0, lastMarkOffsetMs: 0 };
    }
    const item = this.open;
    const frames = item.framer.push(audio);
    for (const payload of frames) this.appendFrame(item, payload, FRAME_DURATION_MS);
    return { accepted: true, framesQueued: frames.length };
  }

  /**
   * Ends `itemId`: its partial tail is flushed padded with silence and an end-of-item mark is queued.
   * Returns false if the item is not the open one (already ended, cleared, or never received audio).
   */
  endItem(responseId: string, itemId: string): boolean {
    const item = this.open;
    if (item === null || item.itemId !== itemId) {
      this.closedItemIds.add(itemId);
      return false;
    }
    const tailBytes = item.framer.pendingBytes;
    const tail = item.framer.flush();
    if (tail !== null) this.appendFrame(item, tail, tailBytes / this.audio.bytesPerMs);
    const endOffsetMs = (item.frameCount - (tail === null ? 0 : 1)) * FRAME_DURATION_MS + (tail === null ? 0 : tailBytes / this.audio.bytesPerMs);
    if (item.frameCount > 0) this.entries.push({ kind: 'mark', responseId: item.responseId, itemId, itemOffsetMs: endOffsetMs, endOfItem: true });
    this.closedItemIds.add(itemId);
    this.open = null;
    return true;
  }

  /**
   * Drops every queued frame and mark and any partial tail (on interruption). The open item is closed: later deltas
   * for it are refused. Returns what was dropped per item, in queue order.
   */
  clear(): DroppedItem[] {
    const byItem = new Map<string, { responseId: string; itemId: string; droppedFrames: number; droppedAudioMs: number }>();
    const itemOf = (responseId: string, itemId: string) => {
      let record = byItem.get(itemId);
      if (record === undefined) {
        record = { responseId, itemId, droppedFrames: 0, droppedAudioMs: 0 };
        byItem.set(itemId, record);
      }
      return record;
    };
    for (let index = this.head; index < this.entries.length; index++) {
      const entry = this.entries[index]!;
      if (entry.kind !== 'frame') continue;
      const record = itemOf(entry.responseId, entry.itemId);
      record.droppedFrames++;
      record.droppedAudioMs += entry.audioMs;
    }
    if (this.open !== null) {
      const pendingBytes = this.open.framer.pendingBytes;
      if (pendingBytes > 0) itemOf(this.open.responseId, this.open.itemId).droppedAudioMs += pendingBytes / this.audio.bytesPerMs;
      this.open.framer.reset();
      this.closedItemIds.add(this.open.itemId);
      this.open = null;
    }
    this.entries = [];
    this.head = 0;
    return [...byItem.values()];
  }

  private appendFrame(item: OpenItem, payload: Uint8Array, audioMs: number): void {
    if (payload.length !== this.audio.bytesPerFrame) throw new Error(`frame of ${payload.length} bytes`);
    const itemOffsetMs = item.frameCount * FRAME_DURATION_MS;
    // The interval mark for the audio before this frame is placed when the next frame arrives, not when the
    // interval completes: an item that ends on an interval boundary then gets only its end mark there, never two
    // marks at one offset, whatever the pacer has already sent. It still sits right behind the audio it acknowledges.
    if (itemOffsetMs > 0 && itemOffsetMs - item.lastMarkOffsetMs >= this.markIntervalMs) {
      item.lastMarkOffsetMs = itemOffsetMs;
      this.entries.push({ kind: 'mark', responseId: item.responseId, itemId: item.itemId, itemOffsetMs, endOfItem: false });
    }
    item.frameCount++;
    this.entries.push({ kind: 'frame', responseId: item.responseId, itemId: item.itemId, payload, itemOffsetMs, audioMs, frameId: this.nextFrameId++ });
  }
}
