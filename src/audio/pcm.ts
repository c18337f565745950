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
