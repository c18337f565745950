/**
 * Frame arithmetic for the two audio formats the bridge moves between.
 *
 * Twilio Media Streams: 8 kHz mono mu-law, 1 byte per sample, 20 ms frames of 160 bytes.
 * OpenAI Realtime `audio/pcm`: 24 kHz mono PCM16 little-endian, 2 bytes per sample.
 */

export const MULAW_SAMPLE_RATE_HZ = 8_000;
export const PCM_SAMPLE_RATE_HZ = 24_000;
/** 24 kHz / 8 kHz: the resampling factor is an exact integer. */
export const RATE_RATIO = PCM_SAMPLE_RATE_HZ / MULAW_SAMPLE_RATE_HZ;

export const FRAME_DURATION_MS = 20;
export const MULAW_BYTES_PER_MS = MULAW_SAMPLE_RATE_HZ / 1000; // 8
export const MULAW_BYTES_PER_FRAME = MULAW_BYTES_PER_MS * FRAME_DURATION_MS; // 160
export const PCM_BYTES_PER_SAMPLE = 2;
export const PCM_BYTES_PER_MS = (PCM_SAMPLE_RATE_HZ / 1000) * PCM_BYTES_PER_SAMPLE; // 48
export const PCM_BYTES_PER_FRAME = PCM_BYTES_PER_MS * FRAME_DURATION_MS; // 960
export const PCM_SAMPLES_PER_FRAME = PCM_BYTES_PER_FRAME / PCM_BYTES_PER_SAMPLE; // 480

/** mu-law encoding of a zero sample: what silence looks like on the Twilio side. */
export const MULAW_SILENCE_BYTE = 0xff;

export function mulawBytesToMs(byteCount: number): number {
  return byteCount / MULAW_BYTES_PER_MS;
}

export function msToMulawBytes(durationMs: number): number {
  return Math.round(durationMs * MULAW_BYTES_PER_MS);
}

export function pcmBytesToMs(byteCount: number): number {
  return byteCount / PCM_BYTES_PER_MS;
}

export function mulawSilence(byteCount: number): Uint8Array {
  return new Uint8Array(byteCount).fill(MULAW_SILENCE_BYTE);
}

/**
 * Cuts an arbitrary stream of channel audio bytes into exact 20 ms frames (160 bytes of mu-law on the phone),
 * carrying the remainder to the next push. Agent deltas are not frame-aligned; Twilio plays any size, but whole frames
 * keep pacing, marks and the sequence log in exact 20 ms units.
 */
export class Framer {
  private readonly pending: Uint8Array;
  private pendingByteCount = 0;

  constructor(
    private readonly bytesPerFrame: number = MULAW_BYTES_PER_FRAME,
    private readonly silenceByte: number = MULAW_SILENCE_BYTE,
  ) {
    this.pending = new Uint8Array(bytesPerFrame);
  }

  /** Bytes waiting for the next push to complete a frame (0 .. bytesPerFrame - 1). */
  get pendingBytes(): number {
    return this.pendingByteCount;
  }

  /** Returns the whole frames completed by `bytes`, oldest first; each is a fresh array of one frame. */
  push(bytes: Uint8Array): Uint8Array[] {
    const size = this.bytesPerFrame;
    const frames: Uint8Array[] = [];
    let offset = 0;
    if (this.pendingByteCount > 0) {
      const take = Math.min(size - this.pendingByteCount, bytes.length);
      this.pending.set(bytes.subarray(0, take), this.pendingByteCount);
      this.pendingByteCount += take;
      offset = take;
      if (this.pendingByteCount < size) return frames;
      frames.push(this.pending.slice());
      this.pendingByteCount = 0;
    }
    while (bytes.length - offset >= size) {
      frames.push(bytes.slice(offset, offset + size));
      offset += size;
    }
    if (offset < bytes.length) {
      this.pending.set(bytes.subarray(offset), 0);
      this.pendingByteCount = bytes.length - offset;
    }
    return frames;
  }

  /** Emits the partial tail padded with silence to a whole frame, or null if nothing is pending. */
  flush(): Uint8Array | null {
    if (this.pendingByteCount === 0) return null;
    const frame = new Uint8Array(this.bytesPerFrame).fill(this.silenceByte);
    frame.set(this.pending.subarray(0, this.pendingByteCount), 0);
    this.pendingByteCount = 0;
    return frame;
  }

  /** Drops the partial tail (on interruption). */
  reset(): void {
    this.pendingByteCount = 0;
  }
}

/** Twilio's framer: 160-byte mu-law frames padded with mu-law silence. */
export class MulawFramer extends Framer {
  constructor() {
    super(MULAW_BYTES_PER_FRAME, MULAW_SILENCE_BYTE);
  }
}
