/**
 * "Sorry, we lost the connection…" as 8 kHz mu-law, played when the provider session is lost for good.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MULAW_BYTES_PER_MS, MULAW_SAMPLE_RATE_HZ } from '../audio/frames.js';
import { encodeMulaw } from '../audio/mulaw.js';
import { resampleClip } from '../audio/resampler.js';
import { readWav } from '../audio/wav.js';
import type { CallEnding } from './call-ending.js';

let apologyCache: Uint8Array | null = null;

/** Decoded once per process from the bundled WAV. */
export function apologyMulaw(): Uint8Array {
  if (apologyCache !== null) return apologyCache;
  const wav = readWav(readFileSync(fileURLToPath(new URL('../../assets/apology.wav', import.meta.url))));
  apologyCache = encodeMulaw(resampleClip(wav.samples, wav.sampleRateHz, MULAW_SAMPLE_RATE_HZ));
  return apologyCache;
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
): void {
  playout.interrupt();
  const apology = apologyMulaw();
  playout.enqueue('callbridge-apology', 'callbridge-apology', apology);
  playout.endItem('callbridge-apology', 'callbridge-apology');
  // Closed when its end mark comes back, or at the latest this long after it started.
  ending.requestAfterPlayback(ending.pending ?? { kind: 'upstream_lost' }, { deadlineMs: apology.length / MULAW_BYTES_PER_MS + APOLOGY_GRACE_MS, poll: false });
}
