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
import { MULAW_SAMPLE_RATE_HZ, PCM_SAMPLE_RATE_HZ } from './frames.js';
import { decodeMulaw, encodeMulaw } from './mulaw.js';
import { Pcm16Reassembler, pcm16ToBytes } from './pcm.js';
import { StreamingResampler } from './resampler.js';

/** Caller audio: Twilio mu-law frames in, little-endian PCM16 bytes at `pcmRateHz` out. */
export class InboundTranscoder {
  private readonly resampler: StreamingResampler | null;

  constructor(readonly pcmRateHz: number = PCM_SAMPLE_RATE_HZ) {
    this.resampler = pcmRateHz === MULAW_SAMPLE_RATE_HZ ? null : new StreamingResampler(MULAW_SAMPLE_RATE_HZ, pcmRateHz);
  }

  transcode(mulawBytes: Uint8Array): Uint8Array {
    const samples = decodeMulaw(mulawBytes);
    return pcm16ToBytes(this.resampler === null ? samples : this.resampler.process(samples));
  }

  reset(): void {
    this.resampler?.reset();
  }

  dispose(): void {
    this.resampler?.dispose();
  }
}

/**
 * Agent audio: PCM16 bytes at `pcmRateHz` (any length, not frame-aligned, possibly odd) in, mu-law bytes out.
 * A dangling odd byte is carried to the next delta so no sample is split.
 *
 * Invariant: per item, never more output than the input's exact share (input samples × 8000 / pcmRateHz, floored).
 * The resampler's drained tail can round one sample over; capping it keeps the audio the caller is sent within the
 * audio the provider sent, so a truncate at what the caller heard can never overshoot the provider's item.
 */
export class OutboundTranscoder {
  private readonly resampler: StreamingResampler | null;
  private readonly samples = new Pcm16Reassembler();
  private itemInputSamples = 0;
  private itemOutputSamples = 0;

  constructor(readonly pcmRateHz: number = PCM_SAMPLE_RATE_HZ) {
    this.resampler = pcmRateHz === MULAW_SAMPLE_RATE_HZ ? null : new StreamingResampler(pcmRateHz, MULAW_SAMPLE_RATE_HZ);
  }

  transcode(pcmBytes: Uint8Array): Uint8Array {
    const input = this.samples.push(pcmBytes);
    this.itemInputSamples += input.length;
    return this.emit(this.resampler === null ? input : this.resampler.process(input));
  }

  /** End of an agent item: releases what the filter holds back and starts afresh for the next item. */
  drain(): Uint8Array {
    this.samples.reset();
    const tail = this.resampler === null ? new Int16Array(0) : this.resampler.drain();
    const output = this.emit(tail);
    this.itemInputSamples = 0;
    this.itemOutputSamples = 0;
    return output;
  }

  /** Interruption: forget everything, emit nothing. */
  reset(): void {
    this.samples.reset();
    this.resampler?.reset();
    this.itemInputSamples = 0;
    this.itemOutputSamples = 0;
  }

  dispose(): void {
    this.resampler?.dispose();
  }

  private emit(output: Int16Array): Uint8Array {
    const shareSamples = Math.floor((this.itemInputSamples * MULAW_SAMPLE_RATE_HZ) / this.pcmRateHz);
    const allowed = Math.max(0, shareSamples - this.itemOutputSamples);
    const kept = output.length > allowed ? output.subarray(0, allowed) : output;
    this.itemOutputSamples += kept.length;
    return encodeMulaw(kept);
  }
}
