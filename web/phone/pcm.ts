/**
 * PCM helpers for the browser phone's capture side. Pure (no DOM): the capture worklet owns a batcher.
 */

/** A float sample in [-1, 1] → PCM16 (clipped; -1 → -32768, 1 → 32767). */
export function floatToInt16(sample: number): number {
  const s = sample >= 1 ? 1 : sample <= -1 ? -1 : Number.isNaN(sample) ? 0 : sample;
  return s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff);
}

/**
 * Collects float blocks of any size (AudioWorklet renders 128 samples) into PCM16 batches of `batchSamples`
 * (480 = 20 ms at 24 kHz). `push` returns the batches completed by that block, each its own buffer (transferable).
 */
export class CaptureBatcher {
  private current: Int16Array<ArrayBuffer>;
  private filled = 0;

  constructor(readonly batchSamples: number) {
    if (!Number.isInteger(batchSamples) || batchSamples <= 0) throw new RangeError(`batchSamples: ${batchSamples}`);
    this.current = new Int16Array(batchSamples);
  }

  /** `samples` null or empty-handed (no input connected, muted): `length` samples of silence. */
  push(samples: Float32Array | null, length = samples?.length ?? 0): Int16Array<ArrayBuffer>[] {
    const done: Int16Array<ArrayBuffer>[] = [];
    for (let i = 0; i < length; i++) {
      this.current[this.filled++] = samples === null ? 0 : floatToInt16(samples[i] ?? 0);
      if (this.filled === this.batchSamples) {
        done.push(this.current);
        this.current = new Int16Array(this.batchSamples);
        this.filled = 0;
      }
    }
    return done;
  }
}
