/**
 * The tone-coded timeline must survive the bridge's path to the caller (24 kHz → 8 kHz band-limited resampling, then
 * mu-law) and decode back to the exact (response, segment) sequence, so end-to-end tests can tell skipped, repeated
 * and reordered agent audio apart from a correct stream.
 */
import { describe, expect, it } from 'vitest';
import { MULAW_SAMPLE_RATE_HZ, PCM_SAMPLE_RATE_HZ } from '../src/audio/frames.js';
import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import { StreamingResampler } from '../src/audio/resampler.js';
import { decodeToneTimeline, generateToneTimeline, TONE_SEGMENT_MS } from '../src/simulator/realtime/server.js';
import { concatSamples } from './helpers/realtime-sim-client.js';

/** What the caller hears: one streaming resampler for the whole call, fed in 20 ms pieces, then mu-law. */
function throughPhoneLine(samples24k: Int16Array): Int16Array {
  const resampler = new StreamingResampler(PCM_SAMPLE_RATE_HZ, MULAW_SAMPLE_RATE_HZ);
  const pieces: Int16Array[] = [];
  for (let offset = 0; offset < samples24k.length; offset += 480) pieces.push(resampler.process(samples24k.subarray(offset, offset + 480)));
  pieces.push(resampler.drain());
  resampler.dispose();
  return decodeMulaw(encodeMulaw(concatSamples(...pieces)));
}

const silence24k = (durationMs: number): Int16Array => new Int16Array((PCM_SAMPLE_RATE_HZ / 1000) * durationMs);
const segmentSamples24k = (PCM_SAMPLE_RATE_HZ / 1000) * TONE_SEGMENT_MS;

describe('tone-coded timeline', () => {
  it('decodes three whole responses with silences between them exactly, start times within 5 ms', () => {
    const audio = concatSamples(
      silence24k(130),
      generateToneTimeline(0, 1_000),
      silence24k(250),
      generateToneTimeline(1, 500),
      silence24k(77),
      generateToneTimeline(2, 300),
      silence24k(100),
    );
    const decoded = decodeToneTimeline(throughPhoneLine(audio));
    const expected = [
      ...Array.from({ length: 10 }, (_, segment) => ({ responseIndex: 0, segmentIndex: segment, startMs: 130 + segment * 100 })),
      ...Array.from({ length: 5 }, (_, segment) => ({ responseIndex: 1, segmentIndex: segment, startMs: 1_380 + segment * 100 })),
      ...Array.from({ length: 3 }, (_, segment) => ({ responseIndex: 2, segmentIndex: segment, startMs: 1_957 + segment * 100 })),
    ];
    expect(decoded.map(({ responseIndex, segmentIndex }) => ({ responseIndex, segmentIndex }))).toEqual(
      expected.map(({ responseIndex, segmentIndex }) => ({ responseIndex, segmentIndex })),
    );
    decoded.forEach((segment, index) => {
      expect(Math.abs(segment.startMs - expected[index]!.startMs)).toBeLessThanOrEqual(5);
      expect(Math.abs(segment.durationMs - 100)).toBeLessThanOrEqual(6);
    });
  });

  it('shows a skipped, a repeated and a reordered segment, and a segment cut short by an interruption', () => {
    const response = generateToneTimeline(3, 800);
    const segment = (index: number): Int16Array => response.subarray(index * segmentSamples24k, (index + 1) * segmentSamples24k);
    // 0 1 (2 skipped) 3 3 5 4, then 6 cut to 60 ms, then the next response.
    const heard = concatSamples(
      segment(0),
      segment(1),
      segment(3),
      segment(3),
      segment(5),
      segment(4),
      segment(6).subarray(0, (PCM_SAMPLE_RATE_HZ / 1000) * 60),
      silence24k(200),
      generateToneTimeline(4, 200),
    );
    const decoded = decodeToneTimeline(throughPhoneLine(heard));
    expect(decoded.map((entry) => [entry.responseIndex, entry.segmentIndex])).toEqual([
      [3, 0],
      [3, 1],
      [3, 3],
      [3, 3],
      [3, 5],
      [3, 4],
      [3, 6],
      [4, 0],
      [4, 1],
    ]);
    expect(decoded[6]!.durationMs).toBeGreaterThanOrEqual(52);
    expect(decoded[6]!.durationMs).toBeLessThanOrEqual(66);
  });

  it('unwraps indices past the symbol alphabets (responses 6..9, segment 30)', () => {
    const audio = concatSamples(
      generateToneTimeline(6, 200),
      silence24k(100),
      generateToneTimeline(7, 3_200),
      silence24k(100),
      generateToneTimeline(8, 100),
      silence24k(100),
      generateToneTimeline(9, 200),
    );
    const decoded = decodeToneTimeline(throughPhoneLine(audio));
    const expected = [
      [6, 0],
      [6, 1],
      ...Array.from({ length: 32 }, (_, segment) => [7, segment]),
      [8, 0],
      [9, 0],
      [9, 1],
    ];
    expect(decoded.map((entry) => [entry.responseIndex, entry.segmentIndex])).toEqual(expected);
  });

  it('reads nothing in silence or in speech-like noise', () => {
    expect(decodeToneTimeline(new Int16Array(8_000))).toEqual([]);
    let state = 12_345;
    const noise = new Int16Array(8_000).map(() => {
      state = (state * 1_103_515_245 + 12_345) & 0x7fffffff;
      return (state % 16_000) - 8_000;
    });
    expect(decodeToneTimeline(noise)).toEqual([]);
  });
});
