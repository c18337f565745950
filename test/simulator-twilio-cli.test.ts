/**
 * The call CLI against the fake bridge: the timeline it prints, the WAV it saves (the caller's earpiece on the call's
 * timeline), and one clear error line with the right exit code for each way a call can fail.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import { runCallCli, type CliIo } from '../src/simulator/call-cli.js';
import { readWav, writeWav } from '../src/audio/wav.js';
import { startFakeBridge, streamTwiml, type FakeBridge } from './helpers/twilio-sim-fake-bridge.js';

let bridge: FakeBridge | null = null;
let dir = '';
let speechPath = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'call-cli-'));
  speechPath = join(dir, 'speech.wav');
  writeFileSync(speechPath, writeWav(new Int16Array(8_000 / 5), 8_000)); // 200 ms of silence
});
afterEach(async () => {
  await bridge?.close();
  bridge = null;
  rmSync(dir, { recursive: true, force: true });
});

function captureIo(env: Record<string, string | undefined> = {}): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (line) => stdout.push(line), err: (line) => stderr.push(line), env };
}

async function deadBaseUrl(): Promise<string> {
  const fake = await startFakeBridge({ twiml: () => '' });
  await fake.close();
  return fake.baseUrl;
}

describe('call CLI', () => {
  it('places a call, prints the timeline and saves the heard audio at its place on the timeline', async () => {
    const tone = Int16Array.from({ length: 800 }, (_, index) => Math.round(8_000 * Math.cos((2 * Math.PI * 440 * index) / 8_000))); // cos: the first sample is not silence
    const toneMulaw = encodeMulaw(tone); // 100 ms
    bridge = await startFakeBridge({ twiml: ({ wsOrigin }) => streamTwiml(`${wsOrigin}/media-stream`, {}) });
    const served = bridge.nextStream().then(async (stream) => {
      await stream.waitForCount(2);
      const streamSid = (stream.messages[1] as { streamSid: string }).streamSid;
      stream.send({ event: 'media', streamSid, media: { payload: Buffer.from(toneMulaw).toString('base64') } });
      stream.send({ event: 'mark', streamSid, mark: { name: 'answer-end' } });
    });
    const outPath = join(dir, 'heard.wav');
    const io = captureIo({ TWILIO_AUTH_TOKEN: 'from-env-token' });
    const code = await runCallCli(['--audio', speechPath, '--out', outPath, '--base-url', bridge.baseUrl, '--trailing-silence-ms', '300'], io);
    await served;
    expect(io.stderr).toEqual([]);
    expect(code).toBe(0);
    expect(bridge.webhooks[0]!.headers['x-twilio-signature']).toEqual(expect.any(String));
    expect(io.stdout[0]).toBe(`calling ${bridge.baseUrl} …`);
    expect(io.stdout[1]).toMatch(/^ {3}0\.000 s {2}stream started \(callSid CA[0-9a-f]{32}, streamSid MZ[0-9a-f]{32}\)$/);
    expect(io.stdout.slice(2, -1).map((line) => line.replace(/^ *\d+\.\d{3} s {2}/, ''))).toEqual([
      'first audio heard',
      'mark answer-end echoed (played, 100 ms heard so far)',
      'hung up (code 1000)',
      'heard 0.10 s of agent audio; 0 underrun(s), 0 ms of mid-answer silence; 0 clear(s)',
    ]);
    expect(io.stdout.at(-1)).toMatch(new RegExp(`^saved +0\\.5\\d\\d s of what the caller heard to ${outPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));

    const heard = readWav(readFileSync(outPath));
    expect(heard.sampleRateHz).toBe(8_000);
    const toneStart = heard.samples.findIndex((sample) => sample !== 0);
    expect(toneStart).toBeGreaterThanOrEqual(0);
    expect(toneStart).toBeLessThan(8 * 100); // played as soon as it arrived, well before hang-up at 500 ms
    expect(encodeMulaw(heard.samples.subarray(toneStart, toneStart + 800))).toEqual(encodeMulaw(decodeMulaw(toneMulaw)));
    expect(heard.samples.subarray(toneStart + 800).every((sample) => sample === 0)).toBe(true);
    expect(heard.samples.length).toBeGreaterThanOrEqual(8 * 500);
  });

  it('prints one error line and exits 1 when the server is unreachable', async () => {
    const baseUrl = await deadBaseUrl();
    const io = captureIo();
    expect(await runCallCli(['--audio', speechPath, '--out', join(dir, 'o.wav'), '--base-url', baseUrl], io)).toBe(1);
    expect(io.stderr).toEqual([`error: cannot reach ${baseUrl}/incoming-call: ECONNREFUSED (is the server running? check --base-url)`]);
  });

  it('exits 2 with the spoken text when the server is busy', async () => {
    bridge = await startFakeBridge({ twiml: () => '<Response><Say>Sorry, all lines are busy.</Say><Hangup/></Response>' });
    const io = captureIo();
    expect(await runCallCli(['--audio', speechPath, '--out', join(dir, 'o.wav'), '--base-url', bridge.baseUrl], io)).toBe(2);
    expect(io.stderr).toEqual(['busy: the server answered without a media stream and said "Sorry, all lines are busy."']);
  });

  it('explains a refused upgrade', async () => {
    bridge = await startFakeBridge({
      twiml: ({ wsOrigin }) => streamTwiml(`${wsOrigin}/media-stream`, {}),
      refuseUpgrade: () => 403,
    });
    const io = captureIo();
    expect(await runCallCli(['--audio', speechPath, '--out', join(dir, 'o.wav'), '--base-url', bridge.baseUrl, '--auth-token', 'wrong'], io)).toBe(1);
    expect(io.stderr).toEqual([
      `error: WebSocket upgrade to ws://127.0.0.1:${bridge.port}/media-stream refused with HTTP 403 (signature rejected? check --auth-token and --public-base-url)`,
    ]);
  });

  it('rejects a missing file and bad flags with one line, before dialling', async () => {
    const missing = captureIo();
    expect(await runCallCli(['--audio', join(dir, 'nope.wav'), '--out', join(dir, 'o.wav'), '--base-url', 'http://127.0.0.1:1'], missing)).toBe(1);
    expect(missing.stderr).toEqual([`error: cannot read ${join(dir, 'nope.wav')}: ENOENT: no such file or directory, open '${join(dir, 'nope.wav')}'`]);
    const usage = captureIo();
    expect(await runCallCli(['--audio', speechPath, '--out', 'o.wav', '--dtmf', '5 at 3s'], usage)).toBe(64);
    expect(usage.stderr[0]).toBe('error: --dtmf entries look like 5@3000 (digit@ms), got "5 at 3s"');
  });

  it('runs as a script: no arguments prints usage and exits 64', async () => {
    const tsx = join(import.meta.dirname, '..', 'node_modules', '.bin', 'tsx');
    const run = promisify(execFile)(tsx, [join(import.meta.dirname, '..', 'src', 'simulator', 'call-cli.ts')]);
    await expect(run).rejects.toMatchObject({ code: 64, stderr: expect.stringMatching(/^error: --audio is required\nusage: call --audio/) });
  });
});
