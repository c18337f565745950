/**
 * The ElevenLabs Agents audio formats: `ulaw_8000` and `pcm_<rate>` (mono PCM16 little-endian) for the rates the
 * platform offers. The agent's configuration fixes both directions (no per-conversation override); the server
 * announces them in `conversation_initiation_metadata`.
 *
 * Agent audio is generated at 24 kHz by the shared reply renderer and converted here to the output format; caller
 * audio is decoded here to PCM16 samples for the VAD.
 */
import { PCM_SAMPLE_RATE_HZ } from '../../audio/frames.js';
import { decodeMulaw, encodeMulaw } from '../../audio/mulaw.js';
import { Pcm16Reassembler, pcm16ToBytes } from '../../audio/pcm.js';
import { resampleClip } from '../../audio/resampler.js';

export const ELEVENLABS_AUDIO_FORMATS = ['ulaw_8000', 'pcm_8000', 'pcm_16000', 'pcm_22050', 'pcm_24000', 'pcm_44100', 'pcm_48000'] as const;
export type ElevenLabsAudioFormat = (typeof ELEVENLABS_AUDIO_FORMATS)[number];

export interface AudioFormatInfo {
  name: ElevenLabsAudioFormat;
  encoding: 'ulaw' | 'pcm';
  sampleRateHz: number;
  bytesPerSample: 1 | 2;
  /** May be fractional (pcm_22050: 44.1 bytes per ms). */
  bytesPerMs: number;
}

export function isAudioFormat(value: unknown): value is ElevenLabsAudioFormat {
  return typeof value === 'string' && (ELEVENLABS_AUDIO_FORMATS as readonly string[]).includes(value);
}

export function formatInfo(name: ElevenLabsAudioFormat): AudioFormatInfo {
  if (!isAudioFormat(name)) throw new RangeError(`unknown ElevenLabs audio format ${JSON.stringify(name)}`);
  const encoding = name === 'ulaw_8000' ? 'ulaw' : 'pcm';
  const sampleRateHz = Number(name.slice(name.indexOf('_') + 1));
  const bytesPerSample = encoding === 'ulaw' ? 1 : 2;
  return { name, encoding, sampleRateHz, bytesPerSample, bytesPerMs: (sampleRateHz * bytesPerSample) / 1000 };
}

/**
 * 24 kHz PCM16 → the output format, exactly round(duration × rate) samples long: the band-limited resampler's
 * tail is kept up to that length (and padded with zeros if short), so a 1 000 ms reply is exactly 1 000 ms in any
 * format.
 */
export function encodeAgentAudio(samples24k: Int16Array, format: AudioFormatInfo): Uint8Array {
  const resampled = resampleClip(samples24k, PCM_SAMPLE_RATE_HZ, format.sampleRateHz);
  const wanted = Math.round((samples24k.length * format.sampleRateHz) / PCM_SAMPLE_RATE_HZ);
  const exact = new Int16Array(wanted);
  exact.set(resampled.subarray(0, Math.min(wanted, resampled.length)));
  return format.encoding === 'ulaw' ? encodeMulaw(exact) : new Uint8Array(pcm16ToBytes(exact));
}

/**
 * Byte offset where chunk `index` of `chunkMs` chunks starts: chunk k covers samples [round(k·c), round((k+1)·c))
 * with c = chunkMs × rate / 1000, so chunks are whole samples and n chunks are always n × chunkMs long (±½ sample),
 * even at 22 050 Hz.
 */
export function chunkOffset(format: AudioFormatInfo, chunkMs: number, index: number): number {
  return Math.round((index * chunkMs * format.sampleRateHz) / 1000) * format.bytesPerSample;
}

/** Duration of `byteCount` bytes of this format, ms. */
export function bytesToMs(format: AudioFormatInfo, byteCount: number): number {
  return byteCount / format.bytesPerMs;
}

/** Caller audio (`user_audio_chunk` payloads) → PCM16 samples at the input rate; a PCM sample split across chunks is joined. */
export class CallerAudioDecoder {
  private readonly reassembler = new Pcm16Reassembler();

  constructor(readonly format: AudioFormatInfo) {}

  push(bytes: Uint8Array): Int16Array {
    return this.format.encoding === 'ulaw' ? decodeMulaw(bytes) : this.reassembler.push(bytes);
  }
}
