/**
 * The call builds exactly the transcoders a provider's formats need, and a 16 kHz provider gets the same
 * band-limited, click-free treatment as a 24 kHz one.
 */
import { describe, expect, it } from 'vitest';
import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import { bytesToPcm16, pcm16ToBytes } from '../src/audio/pcm.js';
import { createTranscoders, UnsupportedAudioFormatError } from '../src/call/transcoding.js';
import { decibels, sineInt16, toneAmplitude } from './helpers/signal.js';

const PCMU = { encoding: 'pcmu', sampleRateHz: 8_000 } as const;
const pcm = (sampleRateHz: number) => ({ encoding: 'pcm16', sampleRateHz }) as const;

describe('createTranscoders', () => {
  it('builds none for mu-law 8 kHz both ways (pass-through)', () => {
    expect(createTranscoders({ input: PCMU, output: PCMU })).toEqual({ inbound: null, outbound: null });
  });

  it('builds one per PCM direction, at the provider rate', () => {
    const transcoders = createTranscoders({ input: pcm(16_000), output: pcm(24_000) });
    expect(transcoders.inbound?.pcmRateHz).toBe(16_000);
    expect(transcoders.outbound?.pcmRateHz).toBe(24_000);
    const mixed = createTranscoders({ input: PCMU, output: pcm(16_000) });
    expect(mixed.inbound).toBeNull();
    expect(mixed.outbound?.pcmRateHz).toBe(16_000);
  });

  it.each([
    [{ input: { encoding: 'pcmu', sampleRateHz: 16_000 } as const, output: PCMU }, 'unsupported input audio format pcmu@16000'],
    [{ input: PCMU, output: pcm(96_000) }, 'unsupported output audio format pcm16@96000'],
  ])('refuses a format it cannot convert: %j', (formats, message) => {
    expect(() => createTranscoders(formats)).toThrow(new UnsupportedAudioFormatError(message));
  });

  it('PCM16 at 8 kHz is only the mu-law step: samples pass unchanged', () => {
    const { inbound, outbound } = createTranscoders({ input: pcm(8_000), output: pcm(8_000) });
    const mulaw = encodeMulaw(sineInt16(1_000, 8_000, 160, 8_000));
    expect(bytesToPcm16(inbound!.transcode(mulaw))).toEqual(decodeMulaw(mulaw));
    expect(outbound!.transcode(pcm16ToBytes(decodeMulaw(mulaw)))).toEqual(mulaw);
  });
});

describe('16 kHz provider', () => {
  it('caller audio: 20 ms of mu-law becomes 20 ms at 16 kHz over a stream, and a 1 kHz tone keeps its level', () => {
    const { inbound } = createTranscoders({ input: pcm(16_000), output: PCMU });
    const mulaw = encodeMulaw(sineInt16(1_000, 8_000, 8_000, 10_000));
    const chunks: Int16Array[] = [];
    for (let offset = 0; offset < mulaw.length; offset += 160) chunks.push(bytesToPcm16(inbound!.transcode(mulaw.subarray(offset, offset + 160))));
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    // One second in, one second out, less the filter's delay (well under one 20 ms frame).
    expect(total).toBeGreaterThan(16_000 - 320);
    expect(total).toBeLessThanOrEqual(16_000);
    const joined = new Int16Array(total);
    let at = 0;
    for (const chunk of chunks) {
      joined.set(chunk, at);
      at += chunk.length;
    }
    const steady = joined.subarray(800);
    expect(Math.abs(decibels(toneAmplitude(steady, 1_000, 16_000) / 10_000))).toBeLessThanOrEqual(1);
  });

  it('agent audio: a 6 kHz tone (above the phone band) is removed, not folded to 2 kHz', () => {
    const { outbound } = createTranscoders({ input: PCMU, output: pcm(16_000) });
    const reference = decodeMulaw(outbound!.transcode(pcm16ToBytes(sineInt16(1_000, 16_000, 16_000, 10_000)))).subarray(400);
    outbound!.reset();
    const aliased = decodeMulaw(outbound!.transcode(pcm16ToBytes(sineInt16(6_000, 16_000, 16_000, 10_000)))).subarray(400);
    expect(decibels(toneAmplitude(reference, 1_000, 8_000) / toneAmplitude(aliased, 2_000, 8_000))).toBeGreaterThanOrEqual(50);
  });

  it('never sends more agent audio for an item than the provider sent: the drained tail is capped at the exact share', () => {
    for (const rateHz of [16_000, 24_000]) {
      const { outbound } = createTranscoders({ input: PCMU, output: pcm(rateHz) });
      // 4,801 samples: not a multiple of the rate ratio, so the tail would round over without the cap.
      const inputSamples = 4_801;
      const out = outbound!.transcode(pcm16ToBytes(sineInt16(440, rateHz, inputSamples, 8_000)));
      const tail = outbound!.drain();
      expect(out.length + tail.length, `at ${rateHz} Hz`).toBe(Math.floor((inputSamples * 8_000) / rateHz));
    }
  });
});
