/** Signal helpers for audio-quality assertions: synthetic tones and Goertzel level measurement. */

export function sineInt16(frequencyHz: number, sampleRateHz: number, sampleCount: number, amplitude = 10_000): Int16Array {
  const out = new Int16Array(sampleCount);
  for (let n = 0; n < sampleCount; n++) {
    out[n] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * n) / sampleRateHz));
  }
  return out;
}

/**
 * Amplitude of one frequency in a signal (Goertzel), normalised so a pure sine of amplitude A measures A.
 * A Hann window keeps leakage from a strong tone from masking a weak one 60+ dB down.
 */
export function toneAmplitude(samples: ArrayLike<number>, frequencyHz: number, sampleRateHz: number): number {
  const count = samples.length;
  const coefficient = 2 * Math.cos((2 * Math.PI * frequencyHz) / sampleRateHz);
  let previous = 0;
  let beforePrevious = 0;
  let windowSum = 0;
  for (let n = 0; n < count; n++) {
    const window = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / (count - 1));
    windowSum += window;
    const current = samples[n]! * window + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  const power = previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
  return (2 * Math.sqrt(Math.max(power, 0))) / windowSum;
}

export function decibels(ratio: number): number {
  return 20 * Math.log10(ratio);
}

/** Deterministic PRNG so "random" chunkings are reproducible when a test fails. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function concatInt16(chunks: Int16Array[]): Int16Array {
  const out = new Int16Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export { concatBytes } from '../../src/audio/pcm.js';
