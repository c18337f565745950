/**
 * The call builds exactly the transcoders a provider's formats need, and a 16 kHz provider gets the same
 * band-limited, click-free treatment as a 24 kHz one.
 */
import { describe, expect, it } from 'vitest';
import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import { bytesToPcm16, pcm16ToBytes } from '../src/audio/pcm.js';
import { pcm16ChannelAudio } from '../src/audio/channel-audio.js';
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
    expect(transcoders.inbound?.to).toEqual(pcm(16_000));
    expect(transcoders.outbound?.from).toEqual(pcm(24_000));
    expect(transcoders.outbound?.to).toEqual(PCMU);
    const mixed = createTranscoders({ input: PCMU, output: pcm(16_000) });
    expect(mixed.inbound).toBeNull();
    expect(mixed.outbound?.from).toEqual(pcm(16_000));
  });

  it('a wideband channel (the browser phone at 24 kHz) builds none for a 24 kHz provider, and converts for others', () => {
    const browser = pcm16ChannelAudio(24_000);
    expect(createTranscoders({ input: pcm(24_000), output: pcm(24_000) }, browser)).toEqual({ inbound: null, outbound: null });
    const toPhone = createTranscoders({ input: PCMU, output: PCMU }, browser);
    expect([toPhone.inbound?.from, toPhone.inbound?.to]).toEqual([pcm(24_000), PCMU]);
    expect([toPhone.outbound?.from, toPhone.outbound?.to]).toEqual([PCMU, pcm(24_000)]);
    const at16 = createTranscoders({ input: pcm(24_000), output: pcm(24_000) }, pcm16ChannelAudio(16_000));
    expect([at16.inbound?.from, at16.inbound?.to]).toEqual([pcm(16_000), pcm(24_000)]);
  });

  it('a 16 kHz browser channel hears a 24 kHz agent band-limited to 8 kHz, at its level, and never more than its share', () => {
    const { outbound } = createTranscoders({ input: pcm(24_000), output: pcm(24_000) }, pcm16ChannelAudio(16_000));
    const agent = pcm16ToBytes(sineInt16(3_000, 24_000, 24_000, 10_000));
    const out: Int16Array[] = [];
    // Odd-sized deltas: a sample split across two deltas is carried over, never lost or doubled.
    for (let offset = 0; offset < agent.length; offset += 4_801) out.push(bytesToPcm16(outbound!.transcode(agent.subarray(offset, offset + 4_801)).slice()));
    out.push(bytesToPcm16(outbound!.drain().slice()));
    const total = out.reduce((sum, chunk) => sum + chunk.length, 0);
    expect(total).toBe(16_000);
    const joined = new Int16Array(total);
    let at = 0;
    for (const chunk of out) {
      joined.set(chunk, at);
      at += chunk.length;
    }
    expect(Math.abs(decibels(toneAmplitude(joined.subarray(800, 15_000), 3_000, 16_000) / 10_000))).toBeLessThanOrEqual(1);
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
