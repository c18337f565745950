/**
 * Bytes gathered in order into one reused buffer (grown when a chunk does not fit), then read once, synchronously,
 * and started again: what the per-frame paths use to send fewer, bigger messages (AudioBatch upstream, MediaCoalescer
 * to Twilio) without allocating per frame.
 */
export class ByteStaging {
  private buffer: Buffer;
  private used = 0;

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes gathered since the last `reset`. */
  get length(): number {
    return this.used;
  }

  append(bytes: Uint8Array): void {
    const needed = this.used + bytes.byteLength;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.used);
      this.buffer = grown;
    }
    this.buffer.set(bytes, this.used);
    this.used = needed;
  }

  /** The gathered bytes: a view, valid until the next `append` (read it at once, never keep it). */
  view(): Buffer {
    return this.buffer.subarray(0, this.used);
  }

  /** Forgets the gathered bytes; the buffer is kept for the next ones. */
  reset(): void {
    this.used = 0;
  }
}
