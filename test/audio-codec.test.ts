import { describe, expect, it } from 'vitest';
import {
  MULAW_BYTES_PER_FRAME,
  MULAW_SILENCE_BYTE,
  MulawFramer,
  PCM_BYTES_PER_FRAME,
  mulawBytesToMs,
  msToMulawBytes,
  pcmBytesToMs,
} from '../src/audio/frames.js';
import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import { Pcm16Reassembler, bytesToPcm16, pcm16ToBytes } from '../src/audio/pcm.js';
import { InboundTranscoder, OutboundTranscoder } from '../src/audio/transcoder.js';
import { concatBytes, decibels, seededRandom, sineInt16, toneAmplitude } from './helpers/signal.js';

describe('frame arithmetic', () => {
  it('knows the sizes of a 20 ms frame in both formats', () => {
    expect(MULAW_BYTES_PER_FRAME).toBe(160);
    expect(PCM_BYTES_PER_FRAME).toBe(960);
    expect(mulawBytesToMs(160)).toBe(20);
    expect(pcmBytesToMs(960)).toBe(20);
    expect(msToMulawBytes(100)).toBe(800);
  });
});

describe('MulawFramer', () => {
  it('cuts an arbitrary byte stream into exact 160-byte frames in order, carrying the remainder', () => {
    const stream = Uint8Array.from({ length: 1_000 }, (_, index) => index % 251);
    const framer = new MulawFramer();
    const random = seededRandom(7);
    const frames: Uint8Array[] = [];
    for (let offset = 0; offset < stream.length; ) {
      const size = Math.floor(random() * 400);
      frames.push(...framer.push(stream.subarray(offset, offset + size)));
      offset += size;
    }
    expect(frames).toHaveLength(6);
    expect(frames.every((frame) => frame.length === 160)).toBe(true);
    expect(framer.pendingBytes).toBe(40);
    expect(Array.from(concatBytes(frames))).toEqual(Array.from(stream.subarray(0, 960)));
    const tail = framer.flush()!;
    expect(tail).toHaveLength(160);
    expect(Array.from(tail.subarray(0, 40))).toEqual(Array.from(stream.subarray(960)));
    expect(tail.subarray(40).every((byte) => byte === MULAW_SILENCE_BYTE)).toBe(true);
    expect(framer.flush()).toBeNull();
  });

  it('does not alias its internal buffer in returned frames', () => {
    const framer = new MulawFramer();
    framer.push(new Uint8Array(100).fill(1));
    const [first] = framer.push(new Uint8Array(100).fill(2));
    framer.push(new Uint8Array(200).fill(3));
    expect(first![0]).toBe(1);
    expect(first![159]).toBe(2);
  });

  it('reset() drops the partial tail', () => {
    const framer = new MulawFramer();
    framer.push(new Uint8Array(50));
    framer.reset();
    expect(framer.pendingBytes).toBe(0);
    expect(framer.flush()).toBeNull();
  });
});

describe('mu-law', () => {
  it('keeps an SNR of at least 35 dB on a full-scale sine round trip', () => {
    const input = sineInt16(1_000, 8_000, 8_000, 32_000);
    const output = decodeMulaw(encodeMulaw(input));
    let signal = 0;
    let noise = 0;
    for (let index = 0; index < input.length; index++) {
      signal += input[index]! ** 2;
      noise += (input[index]! - output[index]!) ** 2;
    }
    expect(10 * Math.log10(signal / noise)).toBeGreaterThanOrEqual(35);
  });

  it('encodes silence as 0xFF and matches G.711 reference points', () => {
    expect(Array.from(encodeMulaw(Int16Array.from([0, 32_767, -32_768])))).toEqual([0xff, 0x80, 0x00]);
    expect(Array.from(decodeMulaw(Uint8Array.from([0xff, 0x7f, 0x80, 0x00])))).toEqual([0, 0, 32_124, -32_124]);
  });
});

describe('pcm bytes', () => {
  it('round-trips samples through little-endian bytes, copying only when unaligned', () => {
    const samples = Int16Array.from([1, -2, 300, -32_768]);
    const bytes = pcm16ToBytes(samples);
    expect(Array.from(bytes.subarray(0, 2))).toEqual([1, 0]);
    expect(Array.from(bytesToPcm16(bytes))).toEqual([1, -2, 300, -32_768]);
    const unaligned = new Uint8Array(9);
    unaligned.set(bytes, 1);
    expect(Array.from(bytesToPcm16(unaligned.subarray(1)))).toEqual([1, -2, 300, -32_768]);
  });
});

describe('Pcm16Reassembler', () => {
  it('reads samples split across chunks whole, and forgets a carried byte on reset', () => {
    const bytes = pcm16ToBytes(Int16Array.from([1, -2, 300, -32_768, 7]));
    const reassembler = new Pcm16Reassembler();
    const out = [bytes.subarray(0, 3), bytes.subarray(3, 4), bytes.subarray(4, 9)].flatMap((chunk) => Array.from(reassembler.push(chunk)));
    expect(out).toEqual([1, -2, 300, -32_768]);
    reassembler.reset();
    expect(Array.from(reassembler.push(pcm16ToBytes(Int16Array.from([42]))))).toEqual([42]);
  });
});

describe('transcoders', () => {
  it('caller direction: each 160-byte frame becomes 960 PCM bytes at 24 kHz (after the first), tone preserved', () => {
    const transcoder = new InboundTranscoder();
    const tone = encodeMulaw(sineInt16(1_000, 8_000, 8_000, 16_000));
    const out: Uint8Array[] = [];
    for (let offset = 0; offset < tone.length; offset += 160) out.push(transcoder.transcode(tone.subarray(offset, offset + 160)));
    transcoder.dispose();
    // The first frame is shorter by the filter's look-ahead (aligned output, no warm-up zeros); then exactly 3×.
    expect(out[0]!.length).toBeGreaterThan(960 - 8 * 48); // look-ahead under 8 ms
    expect(out[0]!.length % 2).toBe(0);
    expect(out.slice(1).every((chunk) => chunk.length === 960)).toBe(true);
    const pcm = bytesToPcm16(concatBytes(out)).subarray(2_400);
    expect(Math.abs(decibels(toneAmplitude(pcm, 1_000, 24_000) / 16_000))).toBeLessThan(1);
  });

  it('agent direction: odd-length deltas lose no sample and match one-piece transcoding', () => {
    const pcm = pcm16ToBytes(sineInt16(440, 24_000, 24_000, 12_000));
    const whole = new OutboundTranscoder();
    const expected = concatBytes([whole.transcode(pcm), whole.drain()]);
    const chunked = new OutboundTranscoder();
    const random = seededRandom(3);
    const pieces: Uint8Array[] = [];
    for (let offset = 0; offset < pcm.length; ) {
      const size = 1 + Math.floor(random() * 3_001);
      pieces.push(chunked.transcode(pcm.subarray(offset, offset + size)));
      offset += size;
    }
    pieces.push(chunked.drain());
    whole.dispose();
    chunked.dispose();
    expect(expected.length).toBe(8_000);
    expect(Array.from(concatBytes(pieces))).toEqual(Array.from(expected));
  });
});
