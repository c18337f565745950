/**
 * The two per-call transcoding directions between the phone (8 kHz mu-law) and a provider that speaks PCM16 at
 * `pcmRateHz` (24 kHz for OpenAI `audio/pcm`, 16 kHz for others), each owning its resampler state.
 *
 *   caller → agent: mu-law 8 kHz → PCM16 8 kHz → (band-limited up) PCM16 at pcmRateHz
 *   agent → caller: PCM16 at pcmRateHz → (low-pass below 4 kHz, down) PCM16 8 kHz → mu-law 8 kHz
 *
 * At 8 kHz PCM no resampler is built: only the mu-law step remains. A provider that speaks mu-law needs no
 * transcoder at all (the call builds none).
 */
import { AudioConverter } from './converter.js';
import { MULAW_SAMPLE_RATE_HZ, PCM_SAMPLE_RATE_HZ } from './frames.js';

const PHONE = { encoding: 'pcmu', sampleRateHz: MULAW_SAMPLE_RATE_HZ } as const;

/** Caller audio: Twilio mu-law frames in, little-endian PCM16 bytes at `pcmRateHz` out. */
export class InboundTranscoder extends AudioConverter {
  constructor(readonly pcmRateHz: number = PCM_SAMPLE_RATE_HZ) {
    super(PHONE, { encoding: 'pcm16', sampleRateHz: pcmRateHz });
  }
}

/**
 * Agent audio: PCM16 bytes at `pcmRateHz` (any length, not frame-aligned, possibly odd) in, mu-law bytes out, never
 * more per item than the input's exact share (see AudioConverter).
 */
export class OutboundTranscoder extends AudioConverter {
  constructor(readonly pcmRateHz: number = PCM_SAMPLE_RATE_HZ) {
    super({ encoding: 'pcm16', sampleRateHz: pcmRateHz }, PHONE, true);
  }
}
