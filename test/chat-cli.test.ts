/**
 * `npm run chat` end to end: the real CLI (scripts/chat.ts) as a child process against a fake callbridge that speaks
 * docs/console.md. A typed line reaches the agent; the agent's audio "plays" in real time, each mark comes back only
 * once the audio before it has played (and at once on a clear), the transcript is printed, each answer is saved as
 * an exact WAV file, and /quit hangs up with exit 0. Refusals are one exact line on stderr with their exit status.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readWav } from '../src/audio/wav.js';
import { USAGE_LINE } from '../src/chat/args.js';
import { startFakeCallbridge, runChat, type FakeCallbridge, type FakePhoneCall } from './helpers/chat-fake-callbridge.js';

const KEY = 'test-admin-key-4f1c';
const AGENTS = ['front-desk', 'sales'];
/** 20 ms at 24 kHz, every sample `tag`. */
const frame = (tag: number, samples = 480): Buffer => Buffer.from(new Int16Array(samples).fill(tag).buffer);

let fake: FakeCallbridge | null = null;
const dirs: string[] = [];
afterEach(async () => {
  await fake?.close();
  fake = null;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chat-test-'));
  dirs.push(dir);
  return dir;
}

/** Resolves with the next phone call the fake callbridge gets. */
function nextCall(): { onCall: (call: FakePhoneCall) => void; call: Promise<FakePhoneCall> } {
  let resolve!: (call: FakePhoneCall) => void;
  const call = new Promise<FakePhoneCall>((done) => (resolve = done));
  return { onCall: (accepted) => resolve(accepted), call };
}

describe('npm run chat against a fake callbridge', () => {
  it('signs in, talks, echoes marks once played, prints the transcript, saves the answer as a WAV and hangs up', async () => {
    const calls = nextCall();
    fake = await startFakeCallbridge({ key: KEY, agents: AGENTS, onCall: calls.onCall });
    const out = tempDir();
    const chat = runChat(['--base-url', fake.baseUrl, '--key', KEY, '--no-play', '--out', out]);

    const call = await calls.call;
    expect(call.agent).toBe('front-desk'); // the first agent listed
    call.json({ type: 'start', callSid: 'WBtest1', agent: call.agent, format: { encoding: 'pcm16', sampleRateHz: 24000 }, frameMs: 20 });
    await chat.waitForStdout(/connected to agent "front-desk" \(call WBtest1\)/);
    chat.child.stdin.write('hello there\n');
    await call.waitForText('text');

    call.json({ type: 'transcript', speaker: 'caller', itemId: 'c1', text: 'hello there', final: true });
    // The answer: 5 frames, mark m1, 2 frames and a short last one (10 ms), mark m2: 100 ms, then 150 ms of audio.
    const sentAt = call.json({ type: 'transcript', speaker: 'agent', itemId: 'a1', text: 'Hi!', final: false });
    for (let tag = 1; tag <= 5; tag++) call.frame(frame(tag));
    call.json({ type: 'mark', name: 'm1' });
    call.frame(frame(6));
    call.frame(frame(7));
    call.frame(frame(8, 240));
    call.json({ type: 'mark', name: 'm2' });
    call.json({ type: 'transcript', speaker: 'agent', itemId: 'a1', text: 'Hi! How can I help?', final: true });

    const m1 = await call.waitForText('mark', 'm1');
    const m2 = await call.waitForText('mark', 'm2');
    // Echoed when played: not before 100 ms and 150 ms of audio (a few ms of slack for the two clocks), not much after.
    expect(m1.atMs - sentAt).toBeGreaterThanOrEqual(97);
    expect(m2.atMs - sentAt).toBeGreaterThanOrEqual(147);
    expect(m2.atMs - sentAt).toBeLessThan(1500);
    await chat.waitForStdout(/agent: Hi! How can I help\?/);

    chat.child.stdin.write('/quit\n');
    await call.waitForText('hangup');
    call.json({ type: 'end', reason: 'caller_hangup' });
    call.ws.close(1000);
    expect(await chat.exited).toBe(0);

    // The client said exactly this, in this order, with its line kept open by 20 ms frames of silence.
    expect(call.texts()).toEqual(['{"type":"text","text":"hello there"}', '{"type":"mark","name":"m1"}', '{"type":"mark","name":"m2"}', '{"type":"hangup"}']);
    const silence = call.binaries();
    expect(silence.length).toBeGreaterThanOrEqual(5);
    expect(silence.every((bytes) => bytes.length === 960 && bytes.every((byte) => byte === 0))).toBe(true);

    const file = path.join(out, 'WBtest1-01.wav');
    const { stdout, stderr } = chat.output();
    expect(stderr).toBe('');
    // The answer is saved 1 s after its last frame or at the end of the call, whichever comes first.
    const saved = `♪ saved ${file} (150 ms)`;
    expect(stdout.split('\n').filter((line) => line === saved)).toHaveLength(1);
    expect(stdout.split('\n').filter((line) => line !== saved)).toEqual([
      `answers are saved as WAV files in ${out}`,
      'connected to agent "front-desk" (call WBtest1); type a line and press Enter, /quit hangs up',
      'you: hello there',
      'agent: Hi! How can I help?',
      'call ended: caller_hangup',
      '',
    ]);
    expect(readdirSync(out)).toEqual(['WBtest1-01.wav']);
    const wav = readFileSync(file);
    expect(wav.length).toBe(44 + 7200);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.readUInt16LE(20)).toBe(1); // PCM
    expect(wav.readUInt16LE(22)).toBe(1); // mono
    expect(wav.readUInt32LE(24)).toBe(24000);
    expect(wav.readUInt16LE(34)).toBe(16);
    expect(wav.readUInt32LE(40)).toBe(7200);
    const { samples } = readWav(wav);
    const expected = [...[1, 2, 3, 4, 5, 6, 7].flatMap((tag) => new Array<number>(480).fill(tag)), ...new Array<number>(240).fill(8)];
    expect([...samples]).toEqual(expected);

    // The contract's headers: Origin on every request and on the upgrade, the session and CSRF token where due.
    expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['POST /console/api/session', 'GET /console/api/agents', 'POST /console/api/phone-token']);
    expect(fake.requests.every((request) => request.origin === fake!.baseUrl)).toBe(true);
    expect(fake.requests[2]!.cookie).toMatch(/^cb_session=/);
    expect(fake.requests[2]!.csrf).toMatch(/^[\w-]+$/);
    expect(fake.upgrades).toEqual([{ origin: fake.baseUrl, rate: '24000' }]);
    expect(stdout + stderr).not.toContain(KEY);
  });

  it('on a clear drops the rest of the answer and echoes the pending mark at once; the server may end the call', async () => {
    const calls = nextCall();
    fake = await startFakeCallbridge({ key: KEY, agents: AGENTS, onCall: calls.onCall });
    const out = tempDir();
    const chat = runChat(['--base-url', fake.baseUrl, '--agent', 'sales', '--no-play', '--out', out], { CALLBRIDGE_API_KEY: KEY });
    const call = await calls.call;
    expect(call.agent).toBe('sales');
    call.json({ type: 'start', callSid: 'WBtest2', agent: 'sales', format: { encoding: 'pcm16', sampleRateHz: 24000 }, frameMs: 20 });
    await chat.waitForStdout(/connected to agent "sales"/);

    // Two seconds of audio sent at once, a mark behind it, then a clear 300 ms later (the caller barged in).
    for (let index = 0; index < 100; index++) call.frame(frame(3));
    call.json({ type: 'mark', name: 'long' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const clearedAt = call.json({ type: 'clear' });
    const long = await call.waitForText('mark', 'long');
    expect(long.atMs - clearedAt).toBeLessThan(500);

    // The next answer starts right away: 60 ms, its mark 60 ms later.
    const nextAt = performance.now();
    for (let index = 0; index < 3; index++) call.frame(frame(9));
    call.json({ type: 'mark', name: 'after' });
    const after = await call.waitForText('mark', 'after');
    expect(after.atMs - nextAt).toBeGreaterThanOrEqual(57);
    expect(after.atMs - nextAt).toBeLessThan(1000);

    call.json({ type: 'end', reason: 'agent_hangup' });
    call.ws.close(1000);
    expect(await chat.exited).toBe(0);
    expect(call.texts()).toEqual(['{"type":"mark","name":"long"}', '{"type":"mark","name":"after"}']);

    const { stdout, stderr } = chat.output();
    expect(stderr).toBe('');
    // The interrupted answer holds only what played before the clear (whole frames, about 300 ms of the 2 s; the
    // upper bound leaves room for a slow machine, while staying clear of the 2 s that were sent).
    const first = readWav(readFileSync(path.join(out, 'WBtest2-01.wav'))).samples;
    expect(first.length % 480).toBe(0);
    expect(first.length / 24).toBeGreaterThanOrEqual(200);
    expect(first.length / 24).toBeLessThanOrEqual(1800);
    expect(first.every((sample) => sample === 3)).toBe(true);
    const second = readWav(readFileSync(path.join(out, 'WBtest2-02.wav'))).samples;
    expect([...second]).toEqual(new Array<number>(1440).fill(9));
    expect(stdout).toContain(`♪ saved ${path.join(out, 'WBtest2-01.wav')} (${first.length / 24} ms)\n`);
    expect(stdout).toContain(`♪ saved ${path.join(out, 'WBtest2-02.wav')} (60 ms)\n`);
    expect(stdout).toContain('call ended: agent_hangup\n');
    expect(stdout + stderr).not.toContain(KEY);
  });
});

describe('npm run chat: leaving', () => {
  const startedCall = async (args: string[] = []) => {
    const calls = nextCall();
    fake = await startFakeCallbridge({ key: KEY, agents: AGENTS, onCall: calls.onCall });
    const chat = runChat(['--base-url', fake.baseUrl, '--key', KEY, '--no-play', '--out', tempDir(), ...args]);
    const call = await calls.call;
    call.json({ type: 'start', callSid: 'WBleave', agent: call.agent, format: { encoding: 'pcm16', sampleRateHz: 24000 }, frameMs: 20 });
    await chat.waitForStdout(/connected to agent/);
    return { chat, call };
  };

  it('Ctrl-C hangs up politely; a second one leaves at once with 130 when the server never ends the call', async () => {
    const { chat, call } = await startedCall();
    chat.child.kill('SIGINT');
    await call.waitForText('hangup');
    chat.child.kill('SIGINT');
    expect(await chat.exited).toBe(130);
    expect(chat.output().stderr).toBe('');
  });

  it('end of input hangs up too', async () => {
    const { chat, call } = await startedCall();
    chat.child.stdin.end();
    await call.waitForText('hangup');
    call.json({ type: 'end', reason: 'caller_hangup' });
    call.ws.close(1000);
    expect(await chat.exited).toBe(0);
  });

  it('a socket that closes without an end is a lost call: exit 1 and one line', async () => {
    const { chat, call } = await startedCall();
    call.ws.close(1011, 'boom');
    expect(await chat.exited).toBe(1);
    expect(chat.output().stderr).toBe("chat: the call's socket closed without an end (code 1011)\n");
  });
});

describe('npm run chat: refusals, one line each', () => {
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const chat = runChat(args, env);
    chat.child.stdin.end();
    const code = await chat.exited;
    return { code, ...chat.output() };
  };

  it('callbridge is not running: exit 2', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const result = await run(['--base-url', `http://127.0.0.1:${port}`, '--key', KEY]);
    expect(result).toEqual({ code: 2, stdout: '', stderr: `chat: cannot reach callbridge at http://127.0.0.1:${port}: ECONNREFUSED\n` });
  });

  it('a wrong admin key: exit 2, the key never printed', async () => {
    fake = await startFakeCallbridge({ key: KEY, agents: AGENTS });
    const result = await run(['--base-url', fake.baseUrl], { CALLBRIDGE_API_KEY: 'wrong-key-77' });
    expect(result).toEqual({ code: 2, stdout: '', stderr: 'chat: the admin key was refused (CALLBRIDGE_API_KEY / --key)\n' });
  });

  it('no such agent: exit 2, naming the agents there are', async () => {
    fake = await startFakeCallbridge({ key: KEY, agents: AGENTS });
    const result = await run(['--base-url', fake.baseUrl, '--key', KEY, '--agent', 'nobody']);
    expect(result).toEqual({ code: 2, stdout: '', stderr: 'chat: no agent named "nobody" (agents: front-desk, sales)\n' });
  });

  it('the console is off: exit 78, naming CALLBRIDGE_API_KEY', async () => {
    fake = await startFakeCallbridge({ key: KEY, agents: AGENTS, consoleOff: true });
    const result = await run(['--base-url', fake.baseUrl, '--key', KEY]);
    expect(result).toEqual({ code: 78, stdout: '', stderr: `chat: the console is off at ${fake.baseUrl}: start callbridge with CALLBRIDGE_API_KEY set to turn it on\n` });
  });

  it('the phone socket refused: exit 2', async () => {
    fake = await startFakeCallbridge({ key: KEY, agents: AGENTS, refuseUpgrades: true });
    const out = tempDir();
    const result = await run(['--base-url', fake.baseUrl, '--key', KEY, '--no-play', '--out', out]);
    expect(result).toEqual({ code: 2, stdout: `answers are saved as WAV files in ${out}\n`, stderr: 'chat: the phone socket was refused (HTTP 401)\n' });
  });

  it('bad arguments: exit 2 with the usage', async () => {
    const result = await run(['--bogus']);
    expect(result).toEqual({ code: 2, stdout: '', stderr: `chat: unknown option --bogus\n${USAGE_LINE}\n` });
  });
});
