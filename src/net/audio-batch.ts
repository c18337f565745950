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

export class AudioBatch {
  private buffer: Buffer;
  private length = 0;

  /** `batchBytes`: send once at least this much is gathered (≥ 1). */
  constructor(private readonly batchBytes: number) {
    if (!(Number.isInteger(batchBytes) && batchBytes >= 1)) throw new RangeError('batchBytes must be a positive integer');
    // Room for a full batch plus one chunk of the usual size; grows if a chunk is bigger.
    this.buffer = Buffer.allocUnsafe(batchBytes * 2);
  }

  /** Gathered bytes not yet taken. */
  get pendingBytes(): number {
    return this.length;
  }

  /** Adds a chunk; true when the batch is full (call `take()` now). */
  add(chunk: Uint8Array): boolean {
    const needed = this.length + chunk.byteLength;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.buffer.set(chunk, this.length);
    this.length = needed;
    return this.length >= this.batchBytes;
  }

  /** The gathered bytes (a view, valid until the next `add`), or null when empty; the batch is empty afterwards. */
  take(): Buffer | null {
    if (this.length === 0) return null;
    const view = this.buffer.subarray(0, this.length);
    this.length = 0;
    return view;
  }
}

/** Bytes per batch for `batchMs` of audio at `bytesPerSecond`; null (no batching) at or below one 20 ms frame. */
export function batchBytesFor(batchMs: number, bytesPerSecond: number): number | null {
  if (batchMs <= 20) return null;
  return Math.round((batchMs * bytesPerSecond) / 1000);
}
