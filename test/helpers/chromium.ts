/**
 * A real Chromium (Debian's package, installed by .ci/run) driven by playwright-core, for the console and browser
 * phone tests. Headless, no network beyond loopback (the background-networking flags keep Chromium from dialling
 * Google and being refused many times a second here), a fake microphone that plays a WAV file we write, and the
 * permission prompt answered yes.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { writeWav } from '../../src/audio/wav.js';

export function chromiumPath(): string {
  const candidate = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
  if (!existsSync(candidate)) throw new Error(`Chromium not found at ${candidate}: install Debian's chromium (.ci/run does) or set CHROMIUM_PATH`);
  return candidate;
}

/** Where screenshots go: test-artifacts/ (ignored by git), for a reviewer to look at. */
export const ARTIFACTS_DIR = path.resolve('test-artifacts');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * The fake microphone's sound: `segments` of silence or a loud tone (speech to the simulator's VAD), 48 kHz mono
 * PCM16. Chromium loops the file, so it should end in a long silence.
 */
export async function fakeMicWav(segments: ReadonlyArray<{ silenceMs: number } | { toneMs: number; hz?: number }>): Promise<string> {
  const rateHz = 48_000;
  const total = segments.reduce((sum, segment) => sum + ('silenceMs' in segment ? segment.silenceMs : segment.toneMs), 0);
  const samples = new Int16Array((total * rateHz) / 1000);
  let at = 0;
  for (const segment of segments) {
    const count = (('silenceMs' in segment ? segment.silenceMs : segment.toneMs) * rateHz) / 1000;
    if ('toneMs' in segment) {
      const hz = segment.hz ?? 700;
      for (let index = 0; index < count; index++) samples[at + index] = Math.round(9_000 * Math.sin((2 * Math.PI * hz * index) / rateHz));
    }
    at += count;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'callbridge-mic-'));
  const file = path.join(dir, 'mic.wav');
  await writeFile(file, writeWav(samples, rateHz));
  return file;
}

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(options: { micWav?: string; args?: readonly string[] } = {}): Promise<BrowserSession> {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    ...(options.micWav === undefined ? [] : [`--use-file-for-fake-audio-capture=${options.micWav}`]),
    ...(options.args ?? []),
  ];
  // playwright gives the browser a fresh, empty profile of its own.
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args });
  const context = await browser.newContext({ permissions: ['microphone'] });
  return {
    browser,
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
    },
  };
}
