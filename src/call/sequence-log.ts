/**
 * Per-call outbound frame sequence: every frame sent to Twilio gets a sequence number (1, 2, 3 …) at send time, a
 * trace line, and counts toward one info summary per agent audio item when it finishes playing or is interrupted.
 *
 * Why a guard here: the frame identity (`frameId`, assigned at enqueue) must strictly increase across sends. A frame
 * offered twice or out of order is refused (not sent), logged at error and counted in `sequenceErrors`: sending it
 * would play audio twice or scrambled to the caller, and corrupt every later heard-ms estimate.
 */
import type { Logger } from '../logger.js';
import type { FrameEntry } from './out-queue.js';

export type ItemOutcome = 'played' | 'interrupted' | 'hangup';

/** The info line logged once per item (normally one audio item per response). */
export interface ItemSummary {
  responseId: string;
  itemId: string;
  /** Sequence numbers of the item's first and last sent frame; null when none was sent. */
  firstSeq: number | null;
  lastSeq: number | null;
  /** Frames sent (each 20 ms of playback). */
  frames: number;
  /** Real (unpadded) audio sent, ms. */
  audioMs: number;
  /** Frames dropped from the queue by an interruption. */
  droppedByInterruption: number;
  /** Modelled silence inside the item (late deltas), ms. */
  underrunMs: number;
  outcome: ItemOutcome;
}

/** What is counted while an item plays; the outcome and drops are known only when it finishes. */
type ItemTally = Omit<ItemSummary, 'outcome' | 'droppedByInterruption'>;

export class SequenceLog {
  private readonly logger: Logger;
  private lastSeq = 0;
  private lastFrameId = 0;
  private errors = 0;
  /** Items with frames sent and no summary yet, in first-send order. */
  private readonly open = new Map<string, ItemTally>();

  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** Sequence number of the last frame sent (0 before the first). */
  get lastSequence(): number {
    return this.lastSeq;
  }

  get sequenceErrors(): number {
    return this.errors;
  }

  /**
   * Assigns the next sequence number to `frame` about to be sent, or returns null and refuses it when its identity
   * is not strictly after the last one sent (a duplicate or out-of-order send).
   */
  onFrameSent(frame: FrameEntry, underrunMs = 0): number | null {
    if (!(frame.frameId > this.lastFrameId)) {
      this.errors++;
      this.logger.error(
        { frameId: frame.frameId, lastFrameId: this.lastFrameId, itemId: frame.itemId, itemOffsetMs: frame.itemOffsetMs, sequenceErrors: this.errors },
        frame.frameId === this.lastFrameId ? 'outbound frame sent twice: refused' : 'outbound frame out of order: refused',
      );
      return null;
    }
    this.lastFrameId = frame.frameId;
    const seq = ++this.lastSeq;
    let tally = this.open.get(frame.itemId);
    if (tally === undefined) {
      tally = { responseId: frame.responseId, itemId: frame.itemId, firstSeq: seq, lastSeq: seq, frames: 0, audioMs: 0, underrunMs: 0 };
      this.open.set(frame.itemId, tally);
    }
    tally.lastSeq = seq;
    tally.frames++;
    tally.audioMs += frame.audioMs;
    tally.underrunMs += underrunMs;
    // Checked per frame (a level lookup, no object built when off) so a runtime level change takes effect.
    if (this.logger.isLevelEnabled('trace')) this.logger.trace({ seq, itemId: frame.itemId, itemOffsetMs: frame.itemOffsetMs }, 'frame out');
    return seq;
  }

  /**
   * Logs the item's summary at info and forgets it. `droppedByInterruption` counts frames dropped from the queue.
   * An item that never sent a frame is still summarised when frames of it were dropped.
   */
  finishItem(responseId: string, itemId: string, outcome: ItemOutcome, droppedByInterruption = 0): ItemSummary | null {
    const tally = this.open.get(itemId);
    if (tally === undefined && droppedByInterruption === 0) return null;
    this.open.delete(itemId);
    const summary: ItemSummary = {
      responseId: tally?.responseId ?? responseId,
      itemId,
      firstSeq: tally?.firstSeq ?? null,
      lastSeq: tally?.lastSeq ?? null,
      frames: tally?.frames ?? 0,
      audioMs: tally?.audioMs ?? 0,
      droppedByInterruption,
      underrunMs: tally?.underrunMs ?? 0,
      outcome,
    };
    this.logger.info(summary, outcome === 'played' ? 'agent audio played' : outcome === 'interrupted' ? 'agent audio interrupted' : 'agent audio cut by hang-up');
    return summary;
  }

  /** Items with frames sent and no summary yet, in first-send order. */
  openItems(): Array<{ responseId: string; itemId: string }> {
    return [...this.open.values()].map(({ responseId, itemId }) => ({ responseId, itemId }));
  }
}
