import { describe, expect, it } from 'vitest';
import { encodeMulaw } from '../src/audio/mulaw.js';
import { WavFormatError, readWav, writeWav } from '../src/audio/wav.js';

describe('wav', () => {
  it('round-trips mono PCM16', () => {
    const samples = Int16Array.from([0, 1, -1, 32_767, -32_768]);
    const audio = readWav(writeWav(samples, 24_000));
    expect(audio.sampleRateHz).toBe(24_000);
    expect(Array.from(audio.samples)).toEqual([0, 1, -1, 32_767, -32_768]);
  });

  it('reads mu-law WAVs and mixes stereo down', () => {
    const mulaw = encodeMulaw(Int16Array.from([0, 8_000, -8_000]));
    const header = Buffer.alloc(44);
    header.write('RIFF', 0, 'ascii');
    header.writeUInt32LE(36 + mulaw.length, 4);
    header.write('WAVEfmt ', 8, 'ascii');
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(7, 20);
    header.writeUInt16LE(1, 22);
    header.writeUInt32LE(8_000, 24);
    header.writeUInt32LE(8_000, 28);
    header.writeUInt16LE(1, 32);
    header.writeUInt16LE(8, 34);
    header.write('data', 36, 'ascii');
    header.writeUInt32LE(mulaw.length, 40);
    const audio = readWav(Buffer.concat([header, mulaw]));
    expect(audio.sampleRateHz).toBe(8_000);
    expect(audio.samples[0]).toBe(0);
    expect(Math.abs(audio.samples[1]! - 8_000)).toBeLessThan(300);

    const stereo = writeWav(Int16Array.from([100, 300, -100, -300]), 16_000);
    stereo.writeUInt16LE(2, 22);
    expect(Array.from(readWav(stereo).samples)).toEqual([200, -200]);
  });

  it('rejects what it cannot read with a clear error', () => {
    expect(() => readWav(Buffer.from('hello world, not a wav'))).toThrow(WavFormatError);
    const float = writeWav(new Int16Array(4), 8_000);
    float.writeUInt16LE(3, 20);
    expect(() => readWav(float)).toThrow(/unsupported WAV encoding \(format 3/);
  });
});
