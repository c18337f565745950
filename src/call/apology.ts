/**
 * "Sorry, we lost the connection…" as 8 kHz mu-law, played when the provider session is lost for good.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MULAW_SAMPLE_RATE_HZ } from '../audio/frames.js';
import { encodeMulaw } from '../audio/mulaw.js';
import { resampleClip } from '../audio/resampler.js';
import { readWav } from '../audio/wav.js';

let apologyCache: Uint8Array | null = null;

/** Decoded once per process from the bundled WAV. */
export function apologyMulaw(): Uint8Array {
  if (apologyCache !== null) return apologyCache;
  const wav = readWav(readFileSync(fileURLToPath(new URL('../../assets/apology.wav', import.meta.url))));
  apologyCache = encodeMulaw(resampleClip(wav.samples, wav.sampleRateHz, MULAW_SAMPLE_RATE_HZ));
  return apologyCache;
}
