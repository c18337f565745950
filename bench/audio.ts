/**
 * Audio-core benchmark: µs per 20 ms frame in each direction (mu-law step included), resampler quality figures,
 * and the per-call memory of resampler state. Prints figures; asserts nothing (machines here are shared and noisy).
 *
 *   npm run bench:audio
 */
import { performance } from 'node:perf_hooks';
import { MULAW_BYTES_PER_FRAME, PCM_BYTES_PER_FRAME } from '../src/audio/frames.js';
import { encodeMulaw } from '../src/audio/mulaw.js';
import { pcm16ToBytes } from '../src/audio/pcm.js';
import { StreamingResampler, resamplerHeapMarkBytes } from '../src/audio/resampler.js';
import { InboundTranscoder, OutboundTranscoder } from '../src/audio/transcoder.js';
import { decibels, sineInt16, toneAmplitude } from '../test/helpers/signal.js';

const FRAMES = 50_000; // 1000 s of audio per direction
const ROUNDS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timePerFrameUs(run: () => void): number {
  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    run();
    rounds.push(((performance.now() - start) * 1000) / FRAMES);
  }
  return median(rounds);
}

// Inputs: one second of speech-band tone, cycled frame by frame.
const mulawSecond = encodeMulaw(sineInt16(440, 8_000, 8_000, 12_000));
const pcmSecond = pcm16ToBytes(sineInt16(440, 24_000, 24_000, 12_000));
const framesPerSecond = 50;

const inbound = new InboundTranscoder();
const outbound = new OutboundTranscoder();
// Warm up the JIT.
for (let frame = 0; frame < 5_000; frame++) {
  const slot = frame % framesPerSecond;
  inbound.transcode(mulawSecond.subarray(slot * MULAW_BYTES_PER_FRAME, (slot + 1) * MULAW_BYTES_PER_FRAME));
  outbound.transcode(pcmSecond.subarray(slot * PCM_BYTES_PER_FRAME, (slot + 1) * PCM_BYTES_PER_FRAME));
}

const inboundUs = timePerFrameUs(() => {
  for (let frame = 0; frame < FRAMES; frame++) {
    const slot = frame % framesPerSecond;
    inbound.transcode(mulawSecond.subarray(slot * MULAW_BYTES_PER_FRAME, (slot + 1) * MULAW_BYTES_PER_FRAME));
  }
});
const outboundUs = timePerFrameUs(() => {
  for (let frame = 0; frame < FRAMES; frame++) {
    const slot = frame % framesPerSecond;
    outbound.transcode(pcmSecond.subarray(slot * PCM_BYTES_PER_FRAME, (slot + 1) * PCM_BYTES_PER_FRAME));
  }
});
inbound.dispose();
outbound.dispose();

function stopBandDb(quality: number): { aliasDb: number; passbandDeviationDb: number } {
  const down = (frequencyHz: number): Int16Array => {
    const resampler = new StreamingResampler(24_000, 8_000, quality);
    const out = resampler.process(sineInt16(frequencyHz, 24_000, 24_000, 30_000)).subarray(400);
    resampler.dispose();
    return out;
  };
  const reference = toneAmplitude(down(1_000), 1_000, 8_000);
  // Below one LSB the alias rounds to exact zero; report the floor of what 16 bits can show.
  const alias = Math.max(toneAmplitude(down(6_000), 2_000, 8_000), 0.5);
  const edge = toneAmplitude(down(3_400), 3_400, 8_000);
  return { aliasDb: decibels(reference / alias), passbandDeviationDb: decibels(edge / 30_000) };
}

// Per-call memory: the WebAssembly heap growth for 1000 calls' worth of resampler pairs.
const CALLS = 1_000;
const heapBefore = resamplerHeapMarkBytes();
const pairs = Array.from({ length: CALLS }, () => [new InboundTranscoder(), new OutboundTranscoder()] as const);
const heapAfter = resamplerHeapMarkBytes();
for (const [a, b] of pairs) {
  a.dispose();
  b.dispose();
}

const q5 = stopBandDb(5);
const q6 = stopBandDb(6);
console.log('callbridge audio benchmark (Speex WASM SIMD resampler, quality 6)');
console.log(`  caller → agent  (mu-law 8k → PCM16 24k): ${inboundUs.toFixed(2)} µs per 20 ms frame`);
console.log(`  agent → caller  (PCM16 24k → mu-law 8k): ${outboundUs.toFixed(2)} µs per 20 ms frame`);
console.log(`  6 kHz alias suppression 24k→8k: quality 5 ${q5.aliasDb.toFixed(1)} dB, quality 6 ${q6.aliasDb.toFixed(1)} dB (≥ 95.6 means below one LSB)`);
console.log(
  `  3.4 kHz passband deviation 24k→8k: quality 5 ${q5.passbandDeviationDb.toFixed(2)} dB, quality 6 ${q6.passbandDeviationDb.toFixed(2)} dB`,
);
console.log(`  resampler state per call (both directions): ${((heapAfter - heapBefore) / CALLS / 1024).toFixed(1)} KiB of WASM heap`);
