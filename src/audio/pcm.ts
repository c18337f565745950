/**
 * PCM16 little-endian byte buffers ↔ Int16Array views. OpenAI sends and expects little-endian PCM16; every machine
 * Node targets here is little-endian, so an aligned buffer can be viewed without copying.
 */

/** Views (or, when unaligned, copies) little-endian PCM16 bytes as samples. A trailing odd byte is ignored. */
export function bytesToPcm16(bytes: Uint8Array): Int16Array {
  const sampleCount = bytes.length >> 1;
  if ((bytes.byteOffset & 1) === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, sampleCount);
  const copy = new Uint8Array(sampleCount * 2);
  copy.set(bytes.subarray(0, sampleCount * 2));
  return new Int16Array(copy.buffer);
}

/** Views samples as little-endian PCM16 bytes without copying. */
export function pcm16ToBytes(samples: Int16Array): Uint8Array {
  return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
}

export function base64ToBytes(base64: string): Uint8Array {
  const buffer = Buffer.from(base64, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Joins PCM16 byte chunks whose boundaries may split a sample (OpenAI deltas and appends are arbitrary byte runs):
 * a dangling odd byte is carried to the front of the next chunk, so every sample is read whole.
 */
export class Pcm16Reassembler {
  private carryByte: number | null = null;

  /** The whole samples available after `bytes`, as samples. */
  push(bytes: Uint8Array): Int16Array {
    let whole = bytes;
    if (this.carryByte !== null) {
      whole = new Uint8Array(bytes.length + 1);
      whole[0] = this.carryByte;
      whole.set(bytes, 1);
      this.carryByte = null;
    }
    if (whole.length % 2 === 1) {
      this.carryByte = whole[whole.length - 1]!;
      whole = whole.subarray(0, whole.length - 1);
    }
    return bytesToPcm16(whole);
  }

  /** Drops a carried byte (end of an item, or an interruption). */
  reset(): void {
    this.carryByte = null;
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
