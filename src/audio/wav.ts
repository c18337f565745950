/**
 * Minimal RIFF/WAVE reader and writer for the simulators, fixtures, demo and CLI: mono or multi-channel PCM16
 * (format 1) and G.711 mu-law (format 7). Multi-channel input is mixed down to mono.
 */
import { decodeMulaw } from './mulaw.js';

export interface WavAudio {
  sampleRateHz: number;
  /** Mono PCM16 samples. */
  samples: Int16Array;
}

export class WavFormatError extends Error {
  override name = 'WavFormatError';
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_MULAW = 7;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

export function readWav(file: Uint8Array): WavAudio {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const text = (offset: number) => String.fromCharCode(...file.subarray(offset, offset + 4));
  if (file.length < 12 || text(0) !== 'RIFF' || text(8) !== 'WAVE') throw new WavFormatError('not a RIFF/WAVE file');
  let format: { tag: number; channels: number; sampleRateHz: number; bitsPerSample: number } | null = null;
  let offset = 12;
  while (offset + 8 <= file.length) {
    const id = text(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      let tag = view.getUint16(body, true);
      if (tag === WAVE_FORMAT_EXTENSIBLE && size >= 26) tag = view.getUint16(body + 24, true);
      format = { tag, channels: view.getUint16(body + 2, true), sampleRateHz: view.getUint32(body + 4, true), bitsPerSample: view.getUint16(body + 14, true) };
    } else if (id === 'data') {
      if (format === null) throw new WavFormatError('data chunk before fmt chunk');
      // Streams written by tools that do not know the final length put 0 or 0xFFFFFFFF here.
      const end = size === 0 || size === 0xffffffff ? file.length : Math.min(file.length, body + size);
      return { sampleRateHz: format.sampleRateHz, samples: decodeData(file.subarray(body, end), format) };
    }
    offset = body + size + (size & 1);
  }
  throw new WavFormatError('no data chunk');
}

function decodeData(data: Uint8Array, format: { tag: number; channels: number; bitsPerSample: number }): Int16Array {
  const { channels } = format;
  if (channels < 1) throw new WavFormatError('zero channels');
  let interleaved: Int16Array;
  if (format.tag === WAVE_FORMAT_PCM && format.bitsPerSample === 16) {
    const copy = new Uint8Array(data.length & ~1);
    copy.set(data.subarray(0, copy.length));
    interleaved = new Int16Array(copy.buffer);
  } else if (format.tag === WAVE_FORMAT_MULAW && format.bitsPerSample === 8) {
    interleaved = decodeMulaw(data);
  } else {
    throw new WavFormatError(`unsupported WAV encoding (format ${format.tag}, ${format.bitsPerSample} bits): use PCM16 or mu-law`);
  }
  if (channels === 1) return interleaved;
  const frames = Math.floor(interleaved.length / channels);
  const mono = new Int16Array(frames);
  for (let frame = 0; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++) sum += interleaved[frame * channels + channel]!;
    mono[frame] = Math.round(sum / channels);
  }
  return mono;
}

/** Writes mono PCM16 samples as a canonical 44-byte-header WAV file. */
export function writeWav(samples: Int16Array, sampleRateHz: number): Buffer {
  const dataBytes = samples.length * 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRateHz, 24);
  header.writeUInt32LE(sampleRateHz * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([header, Buffer.from(samples.buffer, samples.byteOffset, dataBytes)]);
}
