/**
 * The caller's earpiece: every byte the playback emulator played, grouped into runs of back-to-back playback with
 * their start times. Kept apart from the emulator because reading what was heard (segments, totals, the timeline)
 * is a different job from deciding when it plays.
 */
import { MULAW_BYTES_PER_MS, msToMulawBytes, mulawSilence } from '../audio/frames.js';
import { concatBytes } from '../audio/pcm.js';

/** Float slack so that a clock reading of exactly the due time counts as reached. */
export const EPSILON_MS = 1e-6;

export interface HeardSegment {
  /** When the first byte of this run was played, ms since origin. */
  startMs: number;
  /** mu-law 8 kHz bytes played back to back from `startMs`. */
  bytes: Uint8Array;
}

interface SegmentBuilder {
  startMs: number;
  chunks: Uint8Array[];
  byteLength: number;
}

/** Whole mu-law bytes that fit in `durationMs`, with float slack so an exact boundary counts. */
export function wholeMulawBytesIn(durationMs: number): number {
  return Math.floor(durationMs * MULAW_BYTES_PER_MS + EPSILON_MS);
}

export class HeardAudioLog {
  private readonly segments: SegmentBuilder[] = [];
  private lastSegmentEndMs = Number.NaN;
  private totalBytes = 0;

  get playedBytes(): number {
    return this.totalBytes;
  }

  /** Appends bytes played from `startMs` (ms since origin); a run that starts where the last ended extends it. */
  record(bytes: Uint8Array, startMs: number): void {
    if (bytes.length === 0) return;
    const last = this.segments.at(-1);
    if (last !== undefined && Math.abs(this.lastSegmentEndMs - startMs) < EPSILON_MS) {
      last.chunks.push(bytes);
      last.byteLength += bytes.length;
    } else {
      this.segments.push({ startMs, chunks: [bytes], byteLength: bytes.length });
    }
    this.lastSegmentEndMs = startMs + bytes.length / MULAW_BYTES_PER_MS;
    this.totalBytes += bytes.length;
  }

  heardSegments(): HeardSegment[] {
    return this.segments.map((segment) => ({ startMs: segment.startMs, bytes: concatBytes(segment.chunks) }));
  }

  heardAudio(): Uint8Array {
    return concatBytes(this.segments.flatMap((segment) => segment.chunks));
  }

  /** Bytes heard by `timeMs` (ms since origin). */
  playedBytesAt(timeMs: number): number {
    let total = 0;
    for (const segment of this.segments) {
      total += Math.min(Math.max(wholeMulawBytesIn(timeMs - segment.startMs), 0), segment.byteLength);
    }
    return total;
  }
}

/**
 * The heard audio laid on a timeline from 0 to `durationMs`: segments at their start times, mu-law silence between
 * them. What a recording of the caller's earpiece would contain; segments are clipped to the duration.
 */
export function renderHeardTimeline(segments: readonly HeardSegment[], durationMs: number): Uint8Array {
  const out = mulawSilence(Math.max(0, msToMulawBytes(durationMs)));
  for (const segment of segments) {
    const offset = msToMulawBytes(segment.startMs);
    if (offset >= out.length) continue;
    out.set(segment.bytes.subarray(0, out.length - offset), offset);
  }
  return out;
}
