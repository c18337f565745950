/**
 * Regenerates the committed caller fixtures in fixtures/ from real synthetic speech:
 *   espeak-ng (22.05 kHz PCM16 WAV) → StreamingResampler to 8 kHz → mu-law → buildFixture (20 ms frames).
 * Run: npx tsx scripts/make-fixtures.ts   (needs espeak-ng on PATH; CI uses the committed files instead)
 * fixtures/README.md documents the texts and timings printed here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeMulaw } from '../src/audio/mulaw.js';
import { readWav } from '../src/audio/wav.js';
import { resampleTo8k } from '../src/simulator/twilio-caller.js';
import { buildFixture, concatMulaw, silenceMulaw, writeFixture, type BuildFixtureOptions } from '../src/simulator/fixtures.js';

const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
/** espeak-ng voice and speed (words per minute): a clear, ordinary-paced American English voice. */
const ESPEAK_ARGS = ['-v', 'en-us', '-s', '160'];
const BYTES_PER_MS = 8;

const workDir = mkdtempSync(join(tmpdir(), 'callbridge-fixtures-'));

function speak(text: string): Uint8Array {
  const wavPath = join(workDir, 'speech.wav');
  execFileSync('espeak-ng', [...ESPEAK_ARGS, '-w', wavPath, text]);
  const wav = readWav(readFileSync(wavPath));
  return encodeMulaw(trimSilence(resampleTo8k(wav.samples, wav.sampleRateHz)));
}

/**
 * espeak-ng pads each utterance with a few hundred ms of silence; cut it so the timings below are where speech is
 * audible (the talk-over pause is 2.5 s from the last sound, not from the end of a padded file).
 */
function trimSilence(samples: Int16Array): Int16Array {
  const threshold = 64;
  let first = 0;
  while (first < samples.length && Math.abs(samples[first]!) < threshold) first++;
  let last = samples.length;
  while (last > first && Math.abs(samples[last - 1]!) < threshold) last--;
  return samples.subarray(first, last);
}

function ms(bytes: Uint8Array | number): number {
  return (typeof bytes === 'number' ? bytes : bytes.length) / BYTES_PER_MS;
}

function write(name: string, options: BuildFixtureOptions, notes: string[]): void {
  const path = join(FIXTURES_DIR, name);
  writeFixture(path, buildFixture(options));
  console.log(`${name}: ${ms(options.mulaw)} ms of audio, ${statSync(path).size} bytes`);
  for (const note of notes) console.log(`  ${note}`);
}

try {
  {
    const question = speak('Hi, what time does the pharmacy close today?');
    const mulaw = concatMulaw([silenceMulaw(1_000), question, silenceMulaw(6_000)]);
    write('greeting-question.jsonl', { mulaw }, [`silence 0–1000 ms, question 1000–${1_000 + ms(question)} ms, then 6000 ms silence`]);
  }
  {
    const question = speak('Can you tell me about your return policy for shoes?');
    const interruption = speak('Wait, stop, I have another question.');
    const interruptAtMs = 1_000 + ms(question) + 2_500;
    const mulaw = concatMulaw([silenceMulaw(1_000), question, silenceMulaw(2_500), interruption, silenceMulaw(4_000)]);
    write('talk-over.jsonl', { mulaw }, [
      `question 1000–${1_000 + ms(question)} ms; interruption ${interruptAtMs}–${interruptAtMs + ms(interruption)} ms; then 4000 ms silence`,
    ]);
  }
  {
    const request = speak('I would like to check my order status.');
    const speechEndMs = 500 + ms(request);
    const mulaw = concatMulaw([silenceMulaw(500), request, silenceMulaw(2_500)]);
    const dtmf = [
      { atMs: Math.round(speechEndMs + 800), digit: '1' },
      { atMs: Math.round(speechEndMs + 1_400), digit: '5' },
    ];
    write('dtmf.jsonl', { mulaw, dtmf }, [`speech 500–${speechEndMs} ms; dtmf ${dtmf.map((press) => `${press.digit}@${press.atMs}`).join(', ')}; media continues`]);
  }
  {
    const request = speak('Please send me a copy of my last invoice by email.');
    // The hole sits in the middle of the sentence, on a frame boundary, where losing audio is audible.
    const gapAtMs = 500 + Math.round(ms(request) / 2 / 20) * 20;
    const mulaw = concatMulaw([silenceMulaw(500), request, silenceMulaw(2_000)]);
    write('gap.jsonl', { mulaw, gaps: [{ atMs: gapAtMs, durationMs: 400 }] }, [
      `speech 500–${500 + ms(request)} ms; no media for audio ${gapAtMs}–${gapAtMs + 400} ms (timestamps jump by 420 ms between neighbours)`,
    ]);
  }
  console.log(`espeak-ng: ${execFileSync('espeak-ng', ['--version']).toString().trim()}`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
