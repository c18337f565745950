/**
 * "Sorry, we lost the connection…" in the channel's audio (8 kHz mu-law on the phone), played when the provider session is lost for good.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeClipFor, TWILIO_AUDIO, type ChannelAudio } from '../audio/channel-audio.js';
import { readWav } from '../audio/wav.js';
import type { CallEnding } from './call-ending.js';

const apologyCache = new Map<ChannelAudio, Uint8Array>();

/** Decoded once per process and channel format from the bundled WAV. */
export function apologyAudio(audio: ChannelAudio = TWILIO_AUDIO): Uint8Array {
  let clip = apologyCache.get(audio);
  if (clip === undefined) {
    const wav = readWav(readFileSync(fileURLToPath(new URL('../../assets/apology.wav', import.meta.url))));
    clip = encodeClipFor(audio, wav.samples, wav.sampleRateHz);
    apologyCache.set(audio, clip);
  }
  return clip;
}

/** The apology as 8 kHz mu-law (Twilio's channel). */
export function apologyMulaw(): Uint8Array {
  return apologyAudio(TWILIO_AUDIO);
}

/** How long after the apology started the stream closes even if the far end never acknowledges its end. */
const APOLOGY_GRACE_MS = 2_000;

/**
 * Drops what was queued (one `clear`), plays the apology, and ends the stream once it has played: with the transfer
 * the agent had asked for, if any, else as `upstream_lost` (Twilio's `<Connect action>` then says a last word).
 */
export function playApology(
  playout: { interrupt(): unknown; enqueue(responseId: string, itemId: string, mulaw: Uint8Array): boolean; endItem(responseId: string, itemId: string): void },
  ending: CallEnding,
  audio: ChannelAudio = TWILIO_AUDIO,
): void {
  playout.interrupt();
  const apology = apologyAudio(audio);
  playout.enqueue('callbridge-apology', 'callbridge-apology', apology);
  playout.endItem('callbridge-apology', 'callbridge-apology');
  // Closed when its end mark comes back, or at the latest this long after it started.
  ending.requestAfterPlayback(ending.pending ?? { kind: 'upstream_lost' }, { deadlineMs: apology.length / audio.bytesPerMs + APOLOGY_GRACE_MS, poll: false });
}
