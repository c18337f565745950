/**
 * Exactly the transcoders between the caller channel's audio and a provider's formats. On the phone (8 kHz mu-law):
 * none for mu-law 8 kHz, a mu-law step for PCM16 8 kHz, stateful band-limited resamplers for PCM16 at 16 or 24 kHz.
 * On the browser phone (PCM16 at 16 or 24 kHz): none when the provider speaks the same, else a resampler and/or the
 * mu-law step. A direction whose two formats are equal gets no converter (audio passes as it is).
 */
import { TWILIO_AUDIO, type ChannelAudio } from '../audio/channel-audio.js';
import { AudioConverter } from '../audio/converter.js';
import { MULAW_SAMPLE_RATE_HZ } from '../audio/frames.js';
import type { AudioFormat, VoiceAgentFormats } from '../voice/port.js';

export interface CallTranscoders {
  /** Caller → provider; null = the caller's audio passes through. */
  readonly inbound: AudioConverter | null;
  /** Provider → caller; null = the provider's audio passes through. */
  readonly outbound: AudioConverter | null;
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

function same(a: AudioFormat, b: AudioFormat): boolean {
  return a.encoding === b.encoding && a.sampleRateHz === b.sampleRateHz;
}

/** Throws UnsupportedAudioFormatError for a format the bridge cannot convert (e.g. mu-law at 16 kHz). */
export function createTranscoders(formats: VoiceAgentFormats, channel: ChannelAudio = TWILIO_AUDIO): CallTranscoders {
  const input = checked(formats.input, 'input');
  const output = checked(formats.output, 'output');
  const caller = channel.format;
  return {
    inbound: same(caller, input) ? null : new AudioConverter(caller, input),
    outbound: same(output, caller) ? null : new AudioConverter(output, caller, true),
  };
}

/** Caller audio kept while the session's formats are unknown: 10 s of 20 ms frames (the provider holds as much). */
const MAX_HELD_CALLER_FRAMES = 500;

/**
 * The call's audio conversion, following its current session's formats: built at once when they are known, or when
 * the session becomes ready and announces them (caller audio is held until then, bounded), and rebuilt when a new
 * session speaks other formats (another provider after a fallback).
 */
export class CallAudioConversion {
  private transcoders: CallTranscoders | null = null;
  private builtFor: VoiceAgentFormats | null = null;
  private readonly heldCallerAudio: Uint8Array[] = [];

  constructor(
    formats: VoiceAgentFormats | null,
    private readonly channel: ChannelAudio = TWILIO_AUDIO,
  ) {
    if (formats !== null) this.adopt(formats);
  }

  get ready(): boolean {
    return this.transcoders !== null;
  }

  /**
   * A new session: its formats now (they are adopted), or null until its `ready` (caller audio is held meanwhile,
   * never converted for the lost session's formats).
   */
  expect(formats: VoiceAgentFormats | null): void {
    if (formats !== null) {
      this.adopt(formats);
      return;
    }
    this.dispose();
    this.transcoders = null;
    this.builtFor = null;
  }

  /** Uses `formats` from now on; throws UnsupportedAudioFormatError (the old transcoders are kept then). */
  adopt(formats: VoiceAgentFormats): void {
    if (this.builtFor === formats) return;
    const transcoders = createTranscoders(formats, this.channel);
    this.dispose();
    this.transcoders = transcoders;
    this.builtFor = formats;
  }

  /** Caller audio (the channel's format) → the session's input format, passed to `append`; held while formats are unknown. */
  caller(payload: Uint8Array, append: (audio: Uint8Array) => void): void {
    if (this.transcoders === null) {
      this.heldCallerAudio.push(payload);
      if (this.heldCallerAudio.length > MAX_HELD_CALLER_FRAMES) this.heldCallerAudio.shift();
      return;
    }
    const { inbound } = this.transcoders;
    append(inbound === null ? payload : inbound.transcode(payload));
  }

  /**
   * A session became ready with `formats`: convert for them from now on and pass on the caller audio held so far.
   * Returns why the session cannot be used (no formats, or formats the bridge cannot convert), or null.
   */
  startSession(formats: VoiceAgentFormats | null, append: (audio: Uint8Array) => void): string | null {
    if (formats === null) return 'the session became ready without audio formats';
    try {
      this.adopt(formats);
    } catch (error) {
      if (error instanceof UnsupportedAudioFormatError) return error.message;
      throw error;
    }
    this.releaseHeld(append);
    return null;
  }

  /** Passes on what was held before the formats were known, in order. */
  releaseHeld(append: (audio: Uint8Array) => void): void {
    for (const payload of this.heldCallerAudio.splice(0)) this.caller(payload, append);
  }

  /** Agent audio → the channel's format; null before the formats are known. */
  agent(audio: Uint8Array): Uint8Array | null {
    if (this.transcoders === null) return null;
    const { outbound } = this.transcoders;
    return outbound === null ? audio : outbound.transcode(audio);
  }

  /** End of an agent item: the resampler's tail (empty without one). */
  drainAgent(): Uint8Array {
    return this.transcoders?.outbound?.drain() ?? new Uint8Array(0);
  }

  /** Interruption: forget the agent audio in the resampler. */
  resetAgent(): void {
    this.transcoders?.outbound?.reset();
  }

  dispose(): void {
    this.transcoders?.inbound?.dispose();
    this.transcoders?.outbound?.dispose();
  }
}
