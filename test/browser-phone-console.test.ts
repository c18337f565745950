/**
 * The console and the browser phone in a real Chromium (Debian's, driven by playwright-core), against the real
 * server, the simulated Realtime server and a real records database (PGlite in a temp DATA_DIR):
 *   - the phone page places a call; the greeting arrives and plays (frames counted in the page); the fake microphone
 *     (a WAV: silence, then a loud tone, then silence) talks over it; the page gets one clear, and the truncate the
 *     provider got matches what the page reported as played;
 *   - a second page (the console) shows the call live with its transcript and hangs it up;
 *   - the call is then in history, and its page shows the transcript, the recording and the timeline.
 * Screenshots of each console page go to test-artifacts/ (ignored by git) for a reviewer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { systemClock } from '../src/clock.js';
import { CallRecords } from '../src/records/service.js';
import { startBridge, type Bridge } from './helpers/e2e.js';
import { fakeMicWav, launchChromium, screenshot, type BrowserSession } from './helpers/chromium.js';

const ADMIN_KEY = 'console-admin-key-for-tests-0123456789';
const GREETING_MS = 6_000;

let bridge: Bridge;
let browser: BrowserSession;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'callbridge-browser-'));
  bridge = await startBridge({
    env: {
      CALLBRIDGE_API_KEY: ADMIN_KEY,
      AGENT_GREETING: 'Greet the caller.',
      DATA_DIR: dataDir,
      RECORDINGS_DIR: path.join(dataDir, 'recordings'),
      RECORD_CALLS: 'true',
    },
    sim: {
      speedFactor: 4,
      script: [
        { kind: 'audio', reply: { kind: 'tone-coded', durationMs: GREETING_MS } },
        { kind: 'audio', reply: { kind: 'tone-coded', durationMs: 1_500 } },
      ],
      callerTranscripts: ['Sorry, can I ask something?'],
    },
    records: (config, logger) => new CallRecords({ config, logger, clock: systemClock, secrets: [ADMIN_KEY] }),
  });
  const mic = await fakeMicWav([{ silenceMs: 2_500 }, { toneMs: 900 }, { silenceMs: 60_000 }]);
  browser = await launchChromium({ micWav: mic });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${bridge.baseUrl}/console/sign-in`);
  await page.getByTestId('sign-in-key').fill(ADMIN_KEY);
  await page.getByTestId('sign-in-button').click();
  await page.waitForURL((url) => !url.pathname.endsWith('/sign-in'));
}

interface PhoneCounters {
  state: string;
  framesReceived: number;
  framesPlayed: number;
  marksEchoed: string[];
  clears: number;
  playedMsAtClears: number[];
  transcript: Array<{ speaker: string; text: string; final: boolean }>;
  callSid: string | null;
}

const counters = (page: Page) => page.evaluate(() => (globalThis as unknown as { __phone: PhoneCounters }).__phone);

describe('console and browser phone in Chromium', () => {
  it('a phone call plays, is interrupted at what the page played, shows live, is hung up from the console, and lands in history', async () => {
    const consolePage = await browser.context.newPage();
    await signIn(consolePage);
    await consolePage.goto(`${bridge.baseUrl}/console`);
    await consolePage.getByTestId('live-connection').waitFor();

    const phone = await browser.context.newPage();
    await phone.goto(`${bridge.baseUrl}/console/phone`);
    await phone.getByTestId('phone-agent-select').waitFor();
    await expect.poll(() => phone.getByTestId('phone-call-button').isEnabled(), { timeout: 5_000 }).toBe(true);
    await phone.getByTestId('phone-call-button').click();
    await phone.waitForFunction(() => (globalThis as unknown as { __phone?: { state: string } }).__phone?.state === 'in-call', undefined, { timeout: 10_000 });

    // The greeting arrives and plays.
    await phone.waitForFunction(() => ((globalThis as unknown as { __phone: { framesPlayed: number } }).__phone.framesPlayed ?? 0) >= 25, undefined, { timeout: 10_000 });
    // The fake microphone's tone (2.5 s in) talks over it: one clear, and the truncate is at what the page played.
    await phone.waitForFunction(() => (globalThis as unknown as { __phone: { clears: number } }).__phone.clears >= 1, undefined, { timeout: 15_000 });
    const atClear = await counters(phone);
    expect(atClear.callSid).toMatch(/^WB[0-9a-f]{32}$/);
    const session = bridge.sim.sessions[0]!;
    await expect.poll(() => session.truncates().length, { timeout: 5_000 }).toBe(1);
    const [truncate] = session.truncates();
    expect(truncate).toMatchObject({ accepted: true });
    expect(atClear.playedMsAtClears).toHaveLength(1);
    // The page's worklet reports what it played; the server's ledger knows it from the marks echoed (every 100 ms)
    // and its own clock: they agree within one mark interval.
    expect(Math.abs(truncate!.audioEndMs - atClear.playedMsAtClears[0]!)).toBeLessThanOrEqual(100);
    expect(truncate!.audioEndMs).toBeLessThan(GREETING_MS);
    expect(atClear.marksEchoed.length).toBeGreaterThan(5);
    // One response per turn: the greeting, then the answer to the caller's turn.
    await expect.poll(() => session.eventsOut('response.done').length, { timeout: 10_000 }).toBe(2);
    expect(session.eventsIn('response.create')).toHaveLength(1);
    await phone.waitForFunction(() => (globalThis as unknown as { __phone: { transcript: unknown[] } }).__phone.transcript.length >= 2, undefined, { timeout: 10_000 });
    const callSid = atClear.callSid!;

    // The console shows the call live, with its transcript.
    const card = consolePage.locator(`[data-testid="live-call"][data-call-sid="${callSid}"]`);
    await card.waitFor({ timeout: 5_000 });
    await expect.poll(() => card.getByTestId('live-transcript-line').count(), { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => card.getByTestId('live-barge-ins').textContent(), { timeout: 5_000 }).toBe('1');
    await screenshot(consolePage, 'console-live');
    await screenshot(phone, 'console-phone');

    // Hung up from the console: the phone hears the end.
    await card.getByTestId('hangup-button').click();
    await phone.waitForFunction(() => (globalThis as unknown as { __phone: { state: string } }).__phone.state === 'ended', undefined, { timeout: 10_000 });
    await card.waitFor({ state: 'detached', timeout: 5_000 });
    const [summary] = await bridge.waitForSummaries(1);
    expect(summary).toMatchObject({ bargeIns: 1, truncates: 1, sequenceErrors: 0 });

    // History: the call's row, then its page with the transcript, the recording and the timeline.
    await consolePage.goto(`${bridge.baseUrl}/console/history`);
    const row = consolePage.locator(`[data-testid="history-row"][data-call-sid="${callSid}"]`);
    await expect.poll(async () => {
      await consolePage.reload();
      return row.count();
    }, { timeout: 30_000, interval: 500 }).toBe(1);
    await screenshot(consolePage, 'console-history');
    await consolePage.goto(`${bridge.baseUrl}/console/calls/${callSid}`);
    await consolePage.getByTestId('timeline-svg').waitFor({ timeout: 5_000 });
    const lines = consolePage.getByTestId('call-transcript-line');
    await expect.poll(() => lines.count()).toBeGreaterThanOrEqual(2);
    const transcript = await lines.allTextContents();
    expect(transcript.join('\n')).toContain('Sorry, can I ask something?');
    expect(await consolePage.locator('[data-testid="call-transcript-line"].interrupted, [data-testid="call-transcript-line"][data-interrupted="true"]').count()).toBeGreaterThanOrEqual(1);
    const player = consolePage.getByTestId('recording-player');
    expect(await player.getAttribute('src')).toBe(`/api/calls/${callSid}/recording.wav`);
    const recording = await consolePage.evaluate(async (url) => {
      const response = await fetch(url);
      const body = await response.arrayBuffer();
      return { status: response.status, type: response.headers.get('content-type'), bytes: body.byteLength, rateHz: new DataView(body).getUint32(24, true), channels: new DataView(body).getUint16(22, true) };
    }, `/api/calls/${callSid}/recording.wav`);
    // Recorded wideband, as the browser heard it: stereo 24 kHz, as long as the call (± a second).
    expect(recording).toMatchObject({ status: 200, type: 'audio/wav', rateHz: 24_000, channels: 2 });
    const recordedMs = (recording.bytes - 44) / 4 / 24;
    expect(Math.abs(recordedMs - summary!.durationMs)).toBeLessThan(1_000);
    expect(await consolePage.getByTestId('timeline-svg').locator('rect, line, circle, path').count()).toBeGreaterThan(5);
    await screenshot(consolePage, 'console-call');
    for (const [name, route] of [['console-overview', '/console/overview'], ['console-agents', '/console/agents']] as const) {
      await consolePage.goto(`${bridge.baseUrl}${route}`);
      await consolePage.waitForLoadState('networkidle');
      await screenshot(consolePage, name);
    }
  }, 90_000);
});
