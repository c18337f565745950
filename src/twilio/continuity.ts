/**
 * Keeps the inbound audio a continuous timeline for the far side.
 *
 * Twilio can repeat or reorder a media message, and it skips time when the caller's leg drops packets: the next
 * frame's `timestamp` is then ahead of where the previous payload ended. Forwarding frames back to back would hide
 * that lost time from the agent's VAD (a pause would look shorter, a turn might never end), so the gap is filled with
 * mu-law silence of the same duration. Duplicates and late frames are dropped: playing them out of order is worse
 * than the 20 ms they carry.
 */
import { FRAME_DURATION_MS, MULAW_BYTES_PER_MS } from '../audio/frames.js';

export interface InboundFrame {
  sequenceNumber: number;
  /** Twilio's media-only counter. */
  chunk: number;
  /** Ms since stream start, by Twilio's clock. */
  timestampMs: number;
  /** mu-law payload size in bytes (8 per ms). */
  payloadBytes: number;
}

export interface ContinuityVerdict {
  accept: boolean;
  /** `duplicate`: same sequenceNumber or chunk as the last accepted frame. `reordered`: older than it. */
  reason?: 'duplicate' | 'reordered';
  /** mu-law silence (bytes, 8 per ms) to deliver before this frame; 0 when there is no gap or it is dropped. */
  gapSilenceBytes: number;
}

export interface ContinuityCounters {
  /** Frames accepted. */
  frames: number;
  /** Gaps filled. */
  gaps: number;
  /** Total silence inserted, ms (after capping). */
  gapMs: number;
  /** Gaps longer than the cap, filled only up to it. */
  cappedGaps: number;
  duplicates: number;
  reordered: number;
}

export interface InboundContinuityOptions {
  /** Most silence one gap may insert, ms; guards against a bogus timestamp. Default 2000. */
  maxGapFillMs?: number;
}

export const DEFAULT_MAX_GAP_FILL_MS = 2_000;

export class InboundContinuity {
  private readonly maxGapFillMs: number;
  private lastSequenceNumber = -1;
  private lastChunk = -1;
  /** Where the last accepted payload ended on Twilio's timeline, ms; null before the first frame. */
  private expectedTimestampMs: number | null = null;
  private readonly counters: ContinuityCounters = { frames: 0, gaps: 0, gapMs: 0, cappedGaps: 0, duplicates: 0, reordered: 0 };

  constructor(options: InboundContinuityOptions = {}) {
    this.maxGapFillMs = options.maxGapFillMs ?? DEFAULT_MAX_GAP_FILL_MS;
  }

  observe(frame: InboundFrame): ContinuityVerdict {
    if (frame.sequenceNumber <= this.lastSequenceNumber || frame.chunk <= this.lastChunk) {
      if (frame.sequenceNumber === this.lastSequenceNumber || frame.chunk === this.lastChunk) {
        this.counters.duplicates++;
        return { accept: false, reason: 'duplicate', gapSilenceBytes: 0 };
      }
      this.counters.reordered++;
      return { accept: false, reason: 'reordered', gapSilenceBytes: 0 };
    }
    this.lastSequenceNumber = frame.sequenceNumber;
    this.lastChunk = frame.chunk;
    this.counters.frames++;

    let gapSilenceBytes = 0;
    if (this.expectedTimestampMs !== null) {
      const gapMs = frame.timestampMs - this.expectedTimestampMs;
      // Sub-frame jitter is normal and not worth filling; the timeline re-anchors on every frame anyway.
      if (gapMs >= FRAME_DURATION_MS) {
        const fillMs = Math.min(Math.round(gapMs), this.maxGapFillMs);
        if (fillMs < gapMs) this.counters.cappedGaps++;
        this.counters.gaps++;
        this.counters.gapMs += fillMs;
        gapSilenceBytes = fillMs * MULAW_BYTES_PER_MS;
      }
    }
    this.expectedTimestampMs = frame.timestampMs + frame.payloadBytes / MULAW_BYTES_PER_MS;
    return { accept: true, gapSilenceBytes };
  }

  stats(): Readonly<ContinuityCounters> {
    return { ...this.counters };
  }
}
