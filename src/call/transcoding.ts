/**
 * Exactly the transcoders a provider's formats need (the caller's side is always 8 kHz mu-law): none for mu-law
 * 8 kHz, a mu-law step for PCM16 8 kHz, stateful band-limited resamplers for PCM16 at 16 or 24 kHz.
 */
import { MULAW_SAMPLE_RATE_HZ } from '../audio/frames.js';
import { InboundTranscoder, OutboundTranscoder } from '../audio/transcoder.js';
import type { AudioFormat, VoiceAgentFormats } from '../voice/port.js';

export interface CallTranscoders {
  /** Caller → provider; null = pass Twilio's mu-law through. */
  readonly inbound: InboundTranscoder | null;
  /** Provider → caller; null = pass the provider's mu-law through. */
  readonly outbound: OutboundTranscoder | null;
}

export class UnsupportedAudioFormatError extends Error {
  override name = 'UnsupportedAudioFormatError';
}

function describe(format: AudioFormat): string {
  return `${format.encoding}@${format.sampleRateHz}`;
}

function checked(format: AudioFormat, direction: string): AudioFormat {
  const ok = format.encoding === 'pcmu' ? format.sampleRateHz === MULAW_SAMPLE_RATE_HZ : Number.isInteger(format.sampleRateHz) && format.sampleRateHz >= 8_000 && format.sampleRateHz <= 48_000;
  if (!ok) throw new UnsupportedAudioFormatError(`unsupported ${direction} audio format ${describe(format)}`);
  return format;
}

/** Throws UnsupportedAudioFormatError for a format the bridge cannot convert (e.g. mu-law at 16 kHz). */
export function createTranscoders(formats: VoiceAgentFormats): CallTranscoders {
  const input = checked(formats.input, 'input');
  const output = checked(formats.output, 'output');
  return {
    inbound: input.encoding === 'pcmu' ? null : new InboundTranscoder(input.sampleRateHz),
    outbound: output.encoding === 'pcmu' ? null : new OutboundTranscoder(output.sampleRateHz),
  };
}
