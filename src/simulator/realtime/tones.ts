/**
 * Synthetic agent audio whose content can be checked from what the caller heard.
 *
 * A tone-coded reply is a timeline of 100 ms segments. Each segment is the sum of two sines: one from group A names
 * the response (its index modulo 8), one from group B names the segment (its index modulo 22). All frequencies lie
 * in 400–3300 Hz, inside the telephone band, so they survive 24 kHz → 8 kHz resampling and mu-law; all are multiples
 * of 25 Hz, so over a 40 ms analysis window (exactly 25 Hz bins at 8 kHz) the tones are orthogonal and a Goertzel
 * filter on one reads zero from the others. Decoding tells a test whether audio was skipped, repeated or reordered on
 * its way to the caller.
 */
import { MULAW_SAMPLE_RATE_HZ, PCM_SAMPLE_RATE_HZ } from '../../audio/frames.js';

/** Length of one tone-coded segment. */
export const TONE_SEGMENT_MS = 100;
/** Amplitude of each of the two tones in a segment (PCM16); their sum peaks at 12 000, far from clipping. */
export const TONE_AMPLITUDE = 6_000;
/** Response index is carried modulo this many group-A frequencies. */
export const TONE_RESPONSE_SYMBOLS = 8;
/** Segment index is carried modulo this many group-B frequencies. */
export const TONE_SEGMENT_SYMBOLS = 22;

const GROUP_A_BASE_HZ = 400;
const GROUP_B_BASE_HZ = 1_200;
const TONE_SPACING_HZ = 100;

/** Frequency of the group-A tone that marks `responseIndex`. */
export function responseToneHz(responseIndex: number): number {
  return GROUP_A_BASE_HZ + TONE_SPACING_HZ * mod(responseIndex, TONE_RESPONSE_SYMBOLS);
}

/** Frequency of the group-B tone that marks `segmentIndex`. */
export function segmentToneHz(segmentIndex: number): number {
  return GROUP_B_BASE_HZ + TONE_SPACING_HZ * mod(segmentIndex, TONE_SEGMENT_SYMBOLS);
}

/** A plain sine at 24 kHz (`reply: { kind: 'tone' }`). */
export function generateTone(frequencyHz: number, durationMs: number, amplitude = TONE_AMPLITUDE, sampleRateHz = PCM_SAMPLE_RATE_HZ): Int16Array {
  const sampleCount = Math.round((durationMs * sampleRateHz) / 1000);
  const out = new Int16Array(sampleCount);
  const step = (2 * Math.PI * frequencyHz) / sampleRateHz;
  for (let n = 0; n < sampleCount; n++) out[n] = Math.round(amplitude * Math.sin(step * n));
  return out;
}

/**
 * The tone-coded timeline for one response: ceil(durationMs / 100) segments of exactly 100 ms (the last one is not
 * shortened, so every segment is decodable). Phase runs continuously through the response, as a real voice would.
 */
export function generateToneTimeline(responseIndex: number, durationMs: number, sampleRateHz = PCM_SAMPLE_RATE_HZ): Int16Array {
  const segmentCount = Math.max(1, Math.ceil(durationMs / TONE_SEGMENT_MS));
  const samplesPerSegment = (TONE_SEGMENT_MS * sampleRateHz) / 1000;
  const out = new Int16Array(segmentCount * samplesPerSegment);
  const stepA = (2 * Math.PI * responseToneHz(responseIndex)) / sampleRateHz;
  for (let segment = 0; segment < segmentCount; segment++) {
    const stepB = (2 * Math.PI * segmentToneHz(segment)) / sampleRateHz;
    const offset = segment * samplesPerSegment;
    for (let n = 0; n < samplesPerSegment; n++) {
      const t = offset + n;
      out[t] = Math.round(TONE_AMPLITUDE * (Math.sin(stepA * t) + Math.sin(stepB * t)));
    }
  }
  return out;
}

export interface DecodedToneSegment {
  /** Response ordinal, recovered from its value modulo 8 (see `decodeToneTimeline` for the unwrapping rule). */
  responseIndex: number;
  /** Segment ordinal within the response, recovered from its value modulo 22. */
  segmentIndex: number;
  /** Where the segment begins in the analysed audio, in ms from its first sample (±3 ms, plus any filter delay). */
  startMs: number;
  /** How much of the segment was heard, ms: ~100 for a whole one, less when playback was cut inside it. */
  durationMs: number;
}

/** Analysis window: 320 samples at 8 kHz, so every tone frequency sits exactly on a bin. */
const WINDOW_MS = 40;
const HOP_MS = 2.5;
/** A window is "inside" a segment when both tones read at least this share of the segment's steady level. */
const INSIDE_RATIO = 0.9;
/** Below this the window is treated as silence, whatever the ratio (PCM16 amplitude). */
const MIN_TONE_AMPLITUDE = 1_000;
/** The two strongest tones must hold this share of the window's power, or it is speech, noise or a mixture. */
const MIN_TONE_POWER_SHARE = 0.8;

interface WindowReading {
  startSample: number;
  a: number;
  b: number;
  amplitudeA: number;
  amplitudeB: number;
}

/**
 * Recovers the tone-coded timeline from audio as the caller heard it (8 kHz PCM16, e.g. decoded mu-law).
 *
 * Slides a 40 ms rectangular window in 2.5 ms hops; a window counts when the strongest group-A and group-B tones
 * hold most of its power and both read ≥ 90 % of their steady level, i.e. it lies (almost) wholly inside one segment.
 * Consecutive such windows with the same symbols form one segment; its start is the first window's start, corrected
 * by how far that window's level falls short (a window hanging d ms over the edge reads (1 − d/40) of the level).
 * A few ms of resampler delay shifts `startMs` but never the symbols. Segments cut shorter than ~45 ms are not seen.
 * A run of the same symbols lasting n × 100 ms (±50) is reported as n segments: a segment played twice in a row.
 *
 * Unwrapping: the response index is taken nearest to the previous one (ties forward), starting from its raw value,
 * so runs of up to ±3 responses between neighbours decode exactly; the segment index nearest to previous + 1 within
 * the same response (skips or repeats of up to 10 segments decode exactly), and from its raw value (0..21) when a
 * new response begins.
 */
export function decodeToneTimeline(samples8k: Int16Array): DecodedToneSegment[] {
  const windowSamples = (WINDOW_MS * MULAW_SAMPLE_RATE_HZ) / 1000;
  const hopSamples = (HOP_MS * MULAW_SAMPLE_RATE_HZ) / 1000;
  const readings: Array<WindowReading | null> = [];
  for (let start = 0; start + windowSamples <= samples8k.length; start += hopSamples) {
    readings.push(readWindow(samples8k, start, windowSamples));
  }

  const raw: Array<{ a: number; b: number; first: WindowReading; last: WindowReading; levelA: number; levelB: number }> = [];
  let index = 0;
  while (index < readings.length) {
    const first = readings[index];
    if (first === null || first === undefined) {
      index++;
      continue;
    }
    const run: WindowReading[] = [first];
    let next = index + 1;
    for (; next < readings.length; next++) {
      const reading = readings[next];
      if (reading === null || reading === undefined || reading.a !== first.a || reading.b !== first.b) break;
      run.push(reading);
    }
    index = next;
    const levelA = median(run.map((reading) => reading.amplitudeA));
    const levelB = median(run.map((reading) => reading.amplitudeB));
    const inside = run.filter((reading) => reading.amplitudeA >= INSIDE_RATIO * levelA && reading.amplitudeB >= INSIDE_RATIO * levelB);
    const head = inside[0];
    const tail = inside[inside.length - 1];
    if (head === undefined || tail === undefined) continue;
    raw.push({ a: first.a, b: first.b, first: head, last: tail, levelA, levelB });
  }

  const decoded: DecodedToneSegment[] = [];
  let previous: DecodedToneSegment | null = null;
  for (const segment of raw) {
    const shortfallHead = 1 - Math.min(1, (segment.first.amplitudeA / segment.levelA + segment.first.amplitudeB / segment.levelB) / 2);
    const shortfallTail = 1 - Math.min(1, (segment.last.amplitudeA / segment.levelA + segment.last.amplitudeB / segment.levelB) / 2);
    const startMs = (segment.first.startSample * 1000) / MULAW_SAMPLE_RATE_HZ + shortfallHead * WINDOW_MS;
    const endMs = (segment.last.startSample * 1000) / MULAW_SAMPLE_RATE_HZ + WINDOW_MS - shortfallTail * WINDOW_MS;
    const responseIndex: number = previous === null ? segment.a : unwrapNearest(segment.a, previous.responseIndex, TONE_RESPONSE_SYMBOLS);
    const segmentIndex: number =
      previous !== null && previous.responseIndex === responseIndex
        ? unwrapNearest(segment.b, previous.segmentIndex + 1, TONE_SEGMENT_SYMBOLS)
        : segment.b;
    // The same symbols back to back are one segment played twice (a repeat): split the run by its length.
    const totalMs = endMs - startMs;
    const copies = Math.max(1, Math.round(totalMs / TONE_SEGMENT_MS));
    for (let copy = 0; copy < copies; copy++) {
      const copyStartMs = startMs + copy * TONE_SEGMENT_MS;
      const current: DecodedToneSegment = {
        responseIndex,
        segmentIndex,
        startMs: Math.round(copyStartMs),
        durationMs: Math.round(copy === copies - 1 ? endMs - copyStartMs : TONE_SEGMENT_MS),
      };
      decoded.push(current);
      previous = current;
    }
  }
  return decoded;
}

function readWindow(samples: Int16Array, start: number, length: number): WindowReading | null {
  let power = 0;
  for (let n = start; n < start + length; n++) power += samples[n]! * samples[n]!;
  const meanPower = power / length;
  if (meanPower < (MIN_TONE_AMPLITUDE * MIN_TONE_AMPLITUDE) / 2) return null;
  const bestA = strongest(samples, start, length, TONE_RESPONSE_SYMBOLS, responseToneHz);
  const bestB = strongest(samples, start, length, TONE_SEGMENT_SYMBOLS, segmentToneHz);
  if (bestA.amplitude < MIN_TONE_AMPLITUDE || bestB.amplitude < MIN_TONE_AMPLITUDE) return null;
  // A sine of amplitude x carries x²/2 of mean power.
  const tonePower = (bestA.amplitude * bestA.amplitude + bestB.amplitude * bestB.amplitude) / 2;
  if (tonePower < MIN_TONE_POWER_SHARE * meanPower) return null;
  return { startSample: start, a: bestA.symbol, b: bestB.symbol, amplitudeA: bestA.amplitude, amplitudeB: bestB.amplitude };
}

function strongest(
  samples: Int16Array,
  start: number,
  length: number,
  symbolCount: number,
  frequencyOf: (symbol: number) => number,
): { symbol: number; amplitude: number } {
  let best = { symbol: 0, amplitude: -1 };
  for (let symbol = 0; symbol < symbolCount; symbol++) {
    const amplitude = goertzelAmplitude(samples, start, length, frequencyOf(symbol));
    if (amplitude > best.amplitude) best = { symbol, amplitude };
  }
  return best;
}

/** Rectangular-window Goertzel, normalised so a sine of amplitude x filling the window reads x. */
function goertzelAmplitude(samples: Int16Array, start: number, length: number, frequencyHz: number): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequencyHz) / MULAW_SAMPLE_RATE_HZ);
  let previous = 0;
  let beforePrevious = 0;
  for (let n = start; n < start + length; n++) {
    const current = samples[n]! + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  const power = previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
  return (2 * Math.sqrt(Math.max(power, 0))) / length;
}

function unwrapNearest(symbol: number, expected: number, modulus: number): number {
  const offset = mod(symbol - expected, modulus);
  // Nearest representative; an exact half-way tie goes forward.
  return offset <= modulus / 2 ? expected + offset : expected + offset - modulus;
}

function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function mod(value: number, modulus: number): number {
  return ((value % modulus) + modulus) % modulus;
}
