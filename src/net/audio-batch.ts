/**
 * Caller audio gathered into fewer, bigger appends to the provider.
 *
 * Why: Twilio delivers 50 frames a second per call, and appending each one costs a JSON event, a masked WebSocket
 * frame and a `writev` system call — the largest share of the bridge's CPU at scale (README, Benchmarks). Gathering
 * `batchBytes` (e.g. 40 ms) first divides that by the number of frames per batch; the provider receives the very same
 * byte stream, so `audio_end_ms` and everything derived from it are unchanged. The price is latency: a frame waits
 * for the frames that complete its batch (at most batch − one frame).
 *
 * The batch never holds audio past anything else the connection sends: the owner calls `take()` before every other
 * client event and before closing, so order on the wire is call order. Audio is bytes only (PCM16 chunks are whole
 * samples, so a batch boundary never splits one). The buffer is reused: `take()` returns a view that is valid until
 * the next `add`, so the owner encodes it at once (base64), never keeps it.
 */
import { ByteStaging } from './byte-staging.js';

/**
 * Default caller audio per append, ms (APPEND_BATCH_MS), for every provider: two 20 ms frames. Halves the appends
 * (the bridge's largest CPU cost at scale); one frame in two waits 20 ms more. See README, Benchmarks.
 */
export const DEFAULT_APPEND_BATCH_MS = 40;

export class AudioBatch {
  private readonly staging: ByteStaging;

  /** `batchBytes`: send once at least this much is gathered (≥ 1). */
  constructor(private readonly batchBytes: number) {
    if (!(Number.isInteger(batchBytes) && batchBytes >= 1)) throw new RangeError('batchBytes must be a positive integer');
    // Room for a full batch plus one chunk of the usual size; grows if a chunk is bigger.
    this.staging = new ByteStaging(batchBytes * 2);
  }

  /** Adds a chunk; true when the batch is full (call `take()` now). */
  add(chunk: Uint8Array): boolean {
    this.staging.append(chunk);
    return this.staging.length >= this.batchBytes;
  }

  /** The gathered bytes (a view, valid until the next `add`), or null when empty; the batch is empty afterwards. */
  take(): Buffer | null {
    if (this.staging.length === 0) return null;
    const view = this.staging.view();
    this.staging.reset();
    return view;
  }
}

/** Bytes per batch for `batchMs` of audio at `bytesPerSecond`; null (no batching) at or below one 20 ms frame. */
export function batchBytesFor(batchMs: number, bytesPerSecond: number): number | null {
  if (batchMs <= 20) return null;
  return Math.round((batchMs * bytesPerSecond) / 1000);
}
