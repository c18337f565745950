/**
 * The two per-call transcoding directions, each owning its resampler state.
 *
 *   caller → agent: mu-law 8 kHz → PCM16 8 kHz → (×3, band-limited) PCM16 24 kHz
 *   agent → caller: PCM16 24 kHz → (low-pass at 4 kHz, ÷3) PCM16 8 kHz → mu-law 8 kHz
 */
import { MULAW_SAMPLE_RATE_HZ, PCM_SAMPLE_RATE_HZ } from './frames.js';
import { decodeMulaw, encodeMulaw } from './mulaw.js';
import { Pcm16Reassembler, pcm16ToBytes } from './pcm.js';
import { StreamingResampler } from './resampler.js';

/** Caller audio: Twilio mu-law frames in, little-endian PCM16 24 kHz bytes out. */
export class InboundTranscoder {
  private readonly resampler = new StreamingResampler(MULAW_SAMPLE_RATE_HZ, PCM_SAMPLE_RATE_HZ);

  transcode(mulawBytes: Uint8Array): Uint8Array {
    return pcm16ToBytes(this.resampler.process(decodeMulaw(mulawBytes)));
  }

  reset(): void {
    this.resampler.reset();
  }

  dispose(): void {
    this.resampler.dispose();
  }
}

/**
 * Agent audio: PCM16 24 kHz bytes (any length, not frame-aligned, possibly odd) in, mu-law bytes out.
 * A dangling odd byte is carried to the next delta so no sample is split.
 */
export class OutboundTranscoder {
  private readonly resampler = new StreamingResampler(PCM_SAMPLE_RATE_HZ, MULAW_SAMPLE_RATE_HZ);
  private readonly samples = new Pcm16Reassembler();

  transcode(pcmBytes: Uint8Array): Uint8Array {
    return encodeMulaw(this.resampler.process(this.samples.push(pcmBytes)));
  }

  /** End of an agent item: releases what the filter holds back and starts afresh for the next item. */
  drain(): Uint8Array {
    this.samples.reset();
    return encodeMulaw(this.resampler.drain());
  }

  /** Interruption: forget everything, emit nothing. */
  reset(): void {
    this.samples.reset();
    this.resampler.reset();
  }

  dispose(): void {
    this.resampler.dispose();
  }
}
