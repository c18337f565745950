/**
 * Regenerates the bundled agent speech used by the simulated OpenAI Realtime server (`reply: { kind: 'speech' }`)
 * and the embedded demo backend: `npx tsx scripts/make-assets.ts`.
 *
 * Needs espeak-ng and sox on the PATH (developer machines only; CI uses the committed files). Each phrase is
 * synthesised by espeak-ng, resampled by sox to the Realtime API's only PCM rate (24 kHz, mono, 16-bit) and stored
 * with a manifest mapping file → transcript, so the simulator can send the matching transcript deltas.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readWav, writeWav } from '../src/audio/wav.js';

const OUTPUT_DIR = resolve(import.meta.dirname, '..', 'assets', 'speech');
const SAMPLE_RATE_HZ = 24_000;
/** espeak-ng words per minute: a little slower than its default 175 so the phone-band version stays intelligible. */
const WORDS_PER_MINUTE = 160;
/** The whole bundle must stay small enough to commit (< 1 MB). */
const MAX_TOTAL_BYTES = 1_000_000;

interface Phrase {
  file: string;
  role: 'greeting' | 'answer';
  text: string;
}

const PHRASES: Phrase[] = [
  { file: 'greeting.wav', role: 'greeting', text: 'Hello, thanks for calling. How can I help you today?' },
  { file: 'answer-1.wav', role: 'answer', text: 'Sure, I can help with that.' },
  { file: 'answer-2.wav', role: 'answer', text: 'Let me check that for you. One moment.' },
  { file: 'answer-3.wav', role: 'answer', text: 'Your appointment is confirmed for Tuesday at ten.' },
  { file: 'answer-4.wav', role: 'answer', text: 'Is there anything else I can help you with?' },
];

function main(): void {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'callbridge-assets-'));
  let totalBytes = 0;
  try {
    for (const phrase of PHRASES) {
      const raw = join(scratch, `raw-${phrase.file}`);
      const converted = join(scratch, phrase.file);
      execFileSync('espeak-ng', ['-v', 'en-us', '-s', String(WORDS_PER_MINUTE), '-w', raw, phrase.text]);
      // `silence 1 0.02 0.5%` trims espeak's leading silence so a reply starts with speech, as the model's does.
      execFileSync('sox', [raw, '-r', String(SAMPLE_RATE_HZ), '-c', '1', '-b', '16', '-e', 'signed-integer', converted, 'silence', '1', '0.02', '0.5%']);
      // Re-write through our own writer: a canonical 44-byte header that src/audio/wav.ts reads back exactly.
      const audio = readWav(readFileSync(converted));
      if (audio.sampleRateHz !== SAMPLE_RATE_HZ) throw new Error(`${phrase.file}: sox produced ${audio.sampleRateHz} Hz`);
      const target = join(OUTPUT_DIR, phrase.file);
      writeFileSync(target, writeWav(audio.samples, SAMPLE_RATE_HZ));
      totalBytes += statSync(target).size;
      process.stdout.write(`${phrase.file}: ${((audio.samples.length / SAMPLE_RATE_HZ) * 1000).toFixed(0)} ms\n`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  writeFileSync(join(OUTPUT_DIR, 'manifest.json'), `${JSON.stringify({ sampleRateHz: SAMPLE_RATE_HZ, phrases: PHRASES }, null, 2)}\n`);
  if (totalBytes > MAX_TOTAL_BYTES) throw new Error(`speech assets total ${totalBytes} bytes, over the ${MAX_TOTAL_BYTES}-byte budget`);
  process.stdout.write(`total ${totalBytes} bytes in ${OUTPUT_DIR}\n`);
}

main();
