/**
 * G.711 mu-law codec. The encoding itself comes from alawmulaw; we expand it once into lookup tables because the
 * per-frame path runs 160 samples every 20 ms per call and a table read beats a function call per sample.
 *
 * alawmulaw is imported by default: its named ESM export fails at run time under Node (the package's `module`
 * entry is not valid Node ESM), the CommonJS default works.
 */
import alawmulaw from 'alawmulaw';

const { mulaw } = alawmulaw;

/** mu-law byte → linear PCM16 sample. */
const DECODE_TABLE: Int16Array = mulaw.decode(Uint8Array.from({ length: 256 }, (_, byte) => byte));

/** PCM16 sample (as an unsigned 16-bit index) → mu-law byte. 64 KiB, shared by every call. */
const ENCODE_TABLE: Uint8Array = (() => {
  const samples = new Int16Array(65_536);
  for (let index = 0; index < 65_536; index++) samples[index] = (index << 16) >> 16;
  return mulaw.encode(samples);
})();

/** Decodes mu-law bytes to PCM16 samples. */
export function decodeMulaw(bytes: Uint8Array, out: Int16Array = new Int16Array(bytes.length)): Int16Array {
  for (let index = 0; index < bytes.length; index++) out[index] = DECODE_TABLE[bytes[index]!]!;
  return out;
}

/** Encodes PCM16 samples to mu-law bytes. */
export function encodeMulaw(samples: Int16Array, out: Uint8Array = new Uint8Array(samples.length)): Uint8Array {
  for (let index = 0; index < samples.length; index++) out[index] = ENCODE_TABLE[samples[index]! & 0xffff]!;
  return out;
}
