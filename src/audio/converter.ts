/**
 * One direction of a call's audio conversion between any two formats the bridge speaks (mu-law 8 kHz, PCM16 at
 * 8–48 kHz), owning its resampler state: decode → (band-limited resample) → encode.
 *
 *   phone ↔ OpenAI `audio/pcm`:       mu-law 8 kHz ↔ PCM16 24 kHz
 *   browser phone ↔ OpenAI `audio/pcm`: PCM16 16 kHz ↔ PCM16 24 kHz (24 kHz ↔ 24 kHz needs no converter at all)
 *   browser phone ↔ a mu-law provider: PCM16 24 kHz ↔ mu-law 8 kHz
 *
 * PCM16 input may arrive in byte runs that split a sample (provider deltas): the odd byte is carried over.
 *
 * With `capToShare` (the agent → caller direction) the output never exceeds the input's exact share per item
 * (input samples × output rate / input rate, floored): the resampler's drained tail can round one sample over, and
 * capping it keeps the audio the caller is sent within the audio the provider sent, so a truncate at what the caller
 * heard can never overshoot the provider's item.
 */
import type { AudioFormat } from '../voice/port.js';
import { decodeMulaw, encodeMulaw } from './mulaw.js';
import { Pcm16Reassembler, pcm16ToBytes } from './pcm.js';
import { StreamingResampler } from './resampler.js';

export class AudioConverter {
  private readonly resampler: StreamingResampler | null;
  private readonly samples: Pcm16Reassembler | null;
  private itemInputSamples = 0;
  private itemOutputSamples = 0;

  constructor(
    readonly from: AudioFormat,
    readonly to: AudioFormat,
    private readonly capToShare = false,
  ) {
    this.resampler = from.sampleRateHz === to.sampleRateHz ? null : new StreamingResampler(from.sampleRateHz, to.sampleRateHz);
    this.samples = from.encoding === 'pcm16' ? new Pcm16Reassembler() : null;
  }

  transcode(bytes: Uint8Array): Uint8Array {
    const input = this.samples === null ? decodeMulaw(bytes) : this.samples.push(bytes);
    this.itemInputSamples += input.length;
    return this.emit(this.resampler === null ? input : this.resampler.process(input));
  }

  /** End of an agent item: releases what the filter holds back and starts afresh for the next item. */
  drain(): Uint8Array {
    this.samples?.reset();
    const tail = this.resampler === null ? new Int16Array(0) : this.resampler.drain();
    const output = this.emit(tail);
    this.itemInputSamples = 0;
    this.itemOutputSamples = 0;
    return output;
  }

  /** Interruption: forget everything, emit nothing. */
  reset(): void {
    this.samples?.reset();
    this.resampler?.reset();
    this.itemInputSamples = 0;
    this.itemOutputSamples = 0;
  }

  dispose(): void {
    this.resampler?.dispose();
  }

  private emit(output: Int16Array): Uint8Array {
    let kept = output;
    if (this.capToShare) {
      const shareSamples = Math.floor((this.itemInputSamples * this.to.sampleRateHz) / this.from.sampleRateHz);
      const allowed = Math.max(0, shareSamples - this.itemOutputSamples);
      if (output.length > allowed) kept = output.subarray(0, allowed);
      this.itemOutputSamples += kept.length;
    }
    return this.to.encoding === 'pcmu' ? encodeMulaw(kept) : pcm16ToBytes(kept);
  }
}
