/**
 * The audio a caller's channel carries, both ways: Twilio's 8 kHz mu-law, or the browser phone's wideband PCM16.
 * The call's frame arithmetic (20 ms frames, ms ↔ bytes, silence padding) follows it, so the out-queue, pacing,
 * marks, the apology and the hold sound work the same on either channel.
 */
import type { AudioFormat } from '../voice/port.js';
import { FRAME_DURATION_MS, MULAW_SAMPLE_RATE_HZ, MULAW_SILENCE_BYTE } from './frames.js';
import { encodeMulaw } from './mulaw.js';
import { pcm16ToBytes } from './pcm.js';
import { resampleClip } from './resampler.js';

export interface ChannelAudio {
  readonly format: AudioFormat;
  readonly bytesPerSample: number;
  readonly bytesPerMs: number;
  /** One 20 ms frame. */
  readonly bytesPerFrame: number;
  /** The byte that encodes a zero sample (a PCM16 zero is two zero bytes). */
  readonly silenceByte: number;
}

function channelAudio(format: AudioFormat): ChannelAudio {
  const bytesPerSample = format.encoding === 'pcmu' ? 1 : 2;
  const bytesPerMs = (format.sampleRateHz / 1000) * bytesPerSample;
  if (!Number.isInteger(bytesPerMs)) throw new RangeError(`channel audio at ${format.sampleRateHz} Hz has no whole bytes per ms`);
  return { format, bytesPerSample, bytesPerMs, bytesPerFrame: bytesPerMs * FRAME_DURATION_MS, silenceByte: format.encoding === 'pcmu' ? MULAW_SILENCE_BYTE : 0 };
}

/** Twilio Media Streams: 8 kHz mu-law, 160-byte frames. */
export const TWILIO_AUDIO: ChannelAudio = channelAudio({ encoding: 'pcmu', sampleRateHz: MULAW_SAMPLE_RATE_HZ });

const pcmChannels = new Map<number, ChannelAudio>();

/** Wideband PCM16 little-endian at `sampleRateHz` (the browser phone: 16 or 24 kHz). One object per rate. */
export function pcm16ChannelAudio(sampleRateHz: number): ChannelAudio {
  let audio = pcmChannels.get(sampleRateHz);
  if (audio === undefined) {
    audio = channelAudio({ encoding: 'pcm16', sampleRateHz });
    pcmChannels.set(sampleRateHz, audio);
  }
  return audio;
}

/** A clip (PCM16 samples at `sampleRateHz`) in the channel's encoding and rate: for prompts made once per format. */
export function encodeClipFor(audio: ChannelAudio, samples: Int16Array, sampleRateHz: number): Uint8Array {
  const atRate = sampleRateHz === audio.format.sampleRateHz ? samples : resampleClip(samples, sampleRateHz, audio.format.sampleRateHz);
  return audio.format.encoding === 'pcmu' ? encodeMulaw(atRate) : pcm16ToBytes(atRate.slice());
}
