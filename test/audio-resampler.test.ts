import { afterEach, describe, expect, it } from 'vitest';
import { StreamingResampler } from '../src/audio/resampler.js';
import { concatInt16, decibels, seededRandom, sineInt16, toneAmplitude } from './helpers/signal.js';

const live: StreamingResampler[] = [];
function resampler(inputRateHz: number, outputRateHz: number): StreamingResampler {
  const instance = new StreamingResampler(inputRateHz, outputRateHz);
  live.push(instance);
  return instance;
}
afterEach(() => {
  for (const instance of live.splice(0)) instance.dispose();
});

/** Skips the filter's start-up transient so levels are measured on the steady state. */
function steady(samples: Int16Array, sampleRateHz: number): Int16Array {
  return samples.subarray(Math.round(sampleRateHz * 0.05));
}

const ONE_SECOND_24K = 24_000;
const ONE_SECOND_8K = 8_000;

describe('24 kHz → 8 kHz', () => {
  it('removes a 6 kHz tone at least 60 dB below a 1 kHz tone of the same input level', () => {
    const reference = steady(resampler(24_000, 8_000).process(sineInt16(1_000, 24_000, ONE_SECOND_24K)), 8_000);
    const aliased = steady(resampler(24_000, 8_000).process(sineInt16(6_000, 24_000, ONE_SECOND_24K)), 8_000);
    const referenceLevel = toneAmplitude(reference, 1_000, 8_000);
    // 6 kHz folds to 2 kHz at 8 kHz; measure both there and as broadband energy.
    const aliasLevel = toneAmplitude(aliased, 2_000, 8_000);
    const aliasRms = Math.sqrt(aliased.reduce((sum, value) => sum + value * value, 0) / aliased.length) * Math.SQRT2;
    expect(decibels(referenceLevel / aliasLevel)).toBeGreaterThanOrEqual(60);
    expect(decibels(referenceLevel / Math.max(aliasRms, 1e-9))).toBeGreaterThanOrEqual(60);
  });

  it.each([300, 500, 1_000, 2_000, 3_000, 3_400])('keeps a %i Hz tone within 1 dB', (frequencyHz) => {
    const amplitude = 10_000;
    const out = steady(resampler(24_000, 8_000).process(sineInt16(frequencyHz, 24_000, ONE_SECOND_24K, amplitude)), 8_000);
    expect(Math.abs(decibels(toneAmplitude(out, frequencyHz, 8_000) / amplitude))).toBeLessThanOrEqual(1);
  });

  it('produces one output sample per three input samples over a stream', () => {
    const instance = resampler(24_000, 8_000);
    const out = instance.process(sineInt16(1_000, 24_000, 4_800));
    const tail = instance.drain();
    expect(out.length + tail.length).toBe(1_600);
  });
});

describe('8 kHz → 24 kHz', () => {
  it('keeps images of a 1 kHz tone at least 60 dB down', () => {
    const out = steady(resampler(8_000, 24_000).process(sineInt16(1_000, 8_000, ONE_SECOND_8K)), 24_000);
    const level = toneAmplitude(out, 1_000, 24_000);
    for (const imageHz of [7_000, 9_000, 15_000, 17_000]) {
      expect(decibels(level / toneAmplitude(out, imageHz, 24_000)), `image at ${imageHz} Hz`).toBeGreaterThanOrEqual(60);
    }
  });

  it.each([300, 1_000, 2_000, 3_400])('keeps a %i Hz tone within 1 dB', (frequencyHz) => {
    const amplitude = 10_000;
    const out = steady(resampler(8_000, 24_000).process(sineInt16(frequencyHz, 8_000, ONE_SECOND_8K, amplitude)), 24_000);
    expect(Math.abs(decibels(toneAmplitude(out, frequencyHz, 24_000) / amplitude))).toBeLessThanOrEqual(1);
  });
});

describe('streaming', () => {
  it.each([
    [24_000, 8_000],
    [8_000, 24_000],
  ])('%i → %i: random chunk sizes give the same output as one piece', (inputRateHz, outputRateHz) => {
    const input = sineInt16(1_234, inputRateHz, inputRateHz / 2);
    const whole = resampler(inputRateHz, outputRateHz).process(input);
    const random = seededRandom(42);
    const chunked = resampler(inputRateHz, outputRateHz);
    const pieces: Int16Array[] = [];
    for (let offset = 0; offset < input.length; ) {
      const size = 1 + Math.floor(random() * 700);
      pieces.push(chunked.process(input.subarray(offset, offset + size)));
      offset += size;
    }
    expect(Array.from(concatInt16(pieces))).toEqual(Array.from(whole));
  });

  it('reset() forgets history: a stream after reset equals the same stream on a new instance', () => {
    const used = resampler(24_000, 8_000);
    used.process(sineInt16(3_000, 24_000, 1_000, 30_000));
    used.reset();
    const input = sineInt16(500, 24_000, 2_400);
    expect(Array.from(used.process(input))).toEqual(Array.from(resampler(24_000, 8_000).process(input)));
  });

  it('throws after dispose and disposes twice safely', () => {
    const instance = new StreamingResampler(8_000, 24_000);
    instance.dispose();
    instance.dispose();
    expect(instance.disposed).toBe(true);
    expect(() => instance.process(new Int16Array(10))).toThrow(/after dispose/);
  });

  it('rejects nonsense rates', () => {
    expect(() => new StreamingResampler(0, 8_000)).toThrow(RangeError);
    expect(() => new StreamingResampler(8_000.5, 24_000)).toThrow(RangeError);
  });
});
