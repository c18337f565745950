/**
 * A provider streaming in real time, as the jitter tests drive it: the size of its deltas once in mu-law, and a
 * seeded jitter source.
 */

/** What a 100 ms (4 801-byte, 24 kHz PCM16) provider delta becomes in mu-law: the first one 95 ms (the resampler's delay). */
export const FIRST_DELTA_BYTES = 760;
export const DELTA_BYTES = 800;

/** Seeded PRNG (mulberry32): the same jitter on every run. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}
