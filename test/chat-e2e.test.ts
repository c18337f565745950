/**
 * `npm run chat` through its command line against the real server (simulated Realtime backend, real sockets): a
 * typed line goes in, the agent's answer comes back as a transcript line and a WAV file (no speaker here), the call
 * is a browser call on the server, and the bad cases are one clear line each.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readWav } from '../src/audio/wav.js';
import { startBridge, type Bridge } from './helpers/e2e.js';
import { runChat } from './helpers/chat-fake-callbridge.js';

const KEY = 'chat-e2e-admin-key-0123456789abcdef';
let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

describe('npm run chat against the running server', () => {
  it('a typed line in; the answer as a transcript line and a 24 kHz WAV out; exit 0 after /quit', async () => {
    bridge = await startBridge({ env: { CALLBRIDGE_API_KEY: KEY, AGENT_GREETING: '' }, sim: { speedFactor: 4, reply: { kind: 'tone-coded', durationMs: 800 } } });
    const out = mkdtempSync(path.join(tmpdir(), 'callbridge-chat-e2e-'));
    const chat = runChat(['--base-url', bridge.baseUrl, '--key', KEY, '--no-play', '--out', out]);
    await chat.waitForStdout(/connected to agent "default" \(call WB[0-9a-f]{32}\)/);
    chat.child.stdin.write('What time do you open?\n');
    await chat.waitForStdout(/agent: Tone-coded response 0\./);
    await chat.waitForStdout(/♪ saved (\S+\.wav) \((\d+) ms\)/);
    const saved = /♪ saved (\S+\.wav) \((\d+) ms\)/.exec(chat.output().stdout)!;
    const wav = readWav(readFileSync(saved[1]!));
    expect(wav.sampleRateHz).toBe(24_000);
    // 800 ms answered, 800 ms saved (whole 20 ms frames, the last one padded).
    expect(Number(saved[2])).toBe(800);
    expect(wav.samples.length).toBe(800 * 24);
    chat.child.stdin.write('/quit\n');
    expect(await chat.exited).toBe(0);
    const session = bridge.sim.sessions[0]!;
    expect(session.eventsIn('conversation.item.create').map((event) => event.item)).toEqual([{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What time do you open?' }] }]);
    expect(session.eventsIn('response.create')).toHaveLength(1);
    const [summary] = await bridge.waitForSummaries(1);
    expect(summary).toMatchObject({ sequenceErrors: 0, bargeIns: 0 });
    expect(chat.output().stdout).not.toContain(KEY);
    expect(chat.output().stderr).not.toContain(KEY);
  }, 30_000);

  it('a wrong key and an unknown agent are one line each, exit 2', async () => {
    bridge = await startBridge({ env: { CALLBRIDGE_API_KEY: KEY } });
    const wrong = runChat(['--base-url', bridge.baseUrl, '--key', 'nope', '--no-play']);
    expect(await wrong.exited).toBe(2);
    expect(wrong.output().stderr.trim()).toBe('chat: the admin key was refused (CALLBRIDGE_API_KEY / --key)');
    const unknown = runChat(['--base-url', bridge.baseUrl, '--key', KEY, '--agent', 'ghost', '--no-play']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.output().stderr.trim()).toBe('chat: no agent named "ghost" (agents: default)');
  });

  it('a server without an admin key has no console: exit 78 naming CALLBRIDGE_API_KEY', async () => {
    bridge = await startBridge();
    const off = runChat(['--base-url', bridge.baseUrl, '--key', KEY, '--no-play']);
    expect(await off.exited).toBe(78);
    expect(off.output().stderr.trim()).toMatch(/^chat: the console is off at .*CALLBRIDGE_API_KEY/);
  });
});
