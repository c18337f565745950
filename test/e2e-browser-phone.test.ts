/**
 * The browser phone's socket, end to end: the real server between the simulated Realtime server and a scripted
 * browser phone (test/helpers/browser-phone-client.ts) on real sockets. It guards what the phone channel must share
 * with Twilio calls — one Call, paced frames with marks, one clear and one truncate at what was played — and what it
 * adds: wideband PCM both ways with no conversion when the provider speaks 24 kHz, typed lines answered once, and
 * upgrades refused without a live one-time token or from another site.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { base64ToBytes } from '../src/audio/pcm.js';
import { startBridge, waitUntil, type Bridge } from './helpers/e2e.js';
import { BrowserPhoneClient } from './helpers/browser-phone-client.js';

let bridge: Bridge | null = null;
let client: BrowserPhoneClient | null = null;
afterEach(async () => {
  client?.close();
  client = null;
  await bridge?.close();
  bridge = null;
});

function phoneUrl(b: Bridge, token: string, rate = 24_000): string {
  return `ws://127.0.0.1:${b.server.port}/phone/ws?token=${token}&rate=${rate}`;
}

/** The bytes of every output audio delta the simulator sent for `responseIndex`, joined. */
function sentAudio(b: Bridge, responseIndex: number): Uint8Array {
  const session = b.sim.sessions[0]!;
  const responses = session.eventsOut('response.created').map((event) => event.response.id);
  const id = responses[responseIndex];
  const parts = session.eventsOut('response.output_audio.delta').filter((event) => event.response_id === id).map((event) => base64ToBytes(event.delta));
  return Buffer.concat(parts);
}

describe('browser phone socket', () => {
  it('wideband both ways with no conversion, marks echoed as played, and a barge-in truncates at what the page played', async () => {
    bridge = await startBridge({
      env: { AGENT_GREETING: 'Say hello.', OPENAI_AUDIO_FORMAT: 'pcmu' },
      sim: { speedFactor: 4, script: [{ kind: 'audio', reply: { kind: 'tone-coded', durationMs: 6_000 } }, { kind: 'audio', reply: { kind: 'tone-coded', durationMs: 600 } }] },
    });
    const token = bridge.server.phoneTokens.issue({ agentName: 'default', issuedTo: 'test' });
    client = new BrowserPhoneClient(phoneUrl(bridge, token));
    const c = client;
    await waitUntil(() => c.playedMs() >= 1_500, 10_000, '1.5 s of the greeting played');
    expect(c.result.start).toEqual({ type: 'start', callSid: expect.stringMatching(/^WB[0-9a-f]{32}$/), agent: 'default', format: { encoding: 'pcm16', sampleRateHz: 24_000 }, frameMs: 20 });
    // The phone setting is mu-law, but a wideband caller gets the model's own 24 kHz PCM.
    const session = bridge.sim.sessions[0]!;
    const update = session.eventsIn('session.update')[0]! as unknown as { session: { audio: { input: { format: unknown }; output: { format: unknown } } } };
    expect(update.session.audio.input.format).toEqual({ type: 'audio/pcm', rate: 24_000 });
    expect(update.session.audio.output.format).toEqual({ type: 'audio/pcm', rate: 24_000 });
    c.speak(700);
    await waitUntil(() => c.result.clears.length === 1, 5_000, 'the clear');
    const playedAtClearMs = c.playedMs(c.result.clears[0]!);
    await waitUntil(() => session.truncates().length === 1, 5_000, 'the truncate');
    const [truncate] = session.truncates();
    expect(truncate).toMatchObject({ accepted: true });
    expect(Math.abs(truncate!.audioEndMs - playedAtClearMs)).toBeLessThanOrEqual(40);
    // Every frame is exactly 20 ms of 24 kHz PCM16 and the bytes are the provider's own, in order, none twice.
    const greetingFrames = c.result.frames.filter((frame) => frame.startsAtMs <= c.result.clears[0]!);
    expect(greetingFrames.every((frame) => frame.bytes.length === 960)).toBe(true);
    const heard = Buffer.concat(greetingFrames.map((frame) => frame.bytes));
    expect(heard.equals(Buffer.from(sentAudio(bridge, 0).subarray(0, heard.length)))).toBe(true);
    // Marks went out behind the audio and came back, the pending ones at the clear.
    expect(c.result.marksEchoed.length).toBeGreaterThan(5);
    // The second answer plays whole after the caller's turn.
    await waitUntil(() => session.eventsOut('response.done').length >= 2, 10_000, 'the answer to the caller');
    await waitUntil(() => c.result.frames.length >= greetingFrames.length + 30, 5_000, 'the answer played');
    c.send({ type: 'hangup' });
    const [summary] = await bridge.waitForSummaries(1);
    expect(summary).toMatchObject({ bargeIns: 1, truncates: 1, sequenceErrors: 0 });
    expect(session.eventsIn('response.create').length).toBe(1);
  });

  it("a typed line is answered once, shows as the caller's words, and the call is a browser call in the logs", async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: '' }, sim: { speedFactor: 8, reply: { kind: 'tone-coded', durationMs: 400 } } });
    const token = bridge.server.phoneTokens.issue({ agentName: 'default', issuedTo: 'test' });
    client = new BrowserPhoneClient(phoneUrl(bridge, token, 16_000), 16_000);
    const c = client;
    await waitUntil(() => c.result.start !== null, 5_000, 'start');
    c.send({ type: 'text', text: 'What are your opening hours?' });
    const session = await bridge.sim.waitForSession();
    await waitUntil(() => session.eventsOut('response.done').length === 1, 5_000, 'the answer');
    const items = session.eventsIn('conversation.item.create').map((event) => event.item);
    expect(items).toEqual([{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What are your opening hours?' }] }]);
    expect(session.eventsIn('response.create')).toHaveLength(1);
    // 400 ms at 24 kHz becomes 400 ms at 16 kHz: 20 frames of 640 bytes.
    await waitUntil(() => c.result.frames.length >= 20, 5_000, 'the answer played');
    expect(c.result.frames.slice(0, 20).every((frame) => frame.bytes.length === 640)).toBe(true);
    expect(c.result.transcripts.filter((line) => line.speaker === 'caller')).toEqual([{ type: 'transcript', speaker: 'caller', itemId: expect.stringMatching(/typed-1$/), text: 'What are your opening hours?', final: true }]);
    c.send({ type: 'hangup' });
    await bridge.waitForSummaries(1);
    expect(bridge.logs.some((line) => line['msg'] === 'browser phone call started' && line['channel'] === 'browser')).toBe(true);
  });

  it('refuses an upgrade without a live token (401), a used one (401), another site (403) and a bad rate (400)', async () => {
    bridge = await startBridge();
    const b = bridge;
    const statusOf = (url: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(url, { headers });
        socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        socket.on('open', () => {
          socket.close();
          resolve(101);
        });
        socket.on('error', () => undefined);
      });
    expect(await statusOf(`ws://127.0.0.1:${b.server.port}/phone/ws`)).toBe(401);
    expect(await statusOf(phoneUrl(b, 'not-a-token'))).toBe(401);
    const token = b.server.phoneTokens.issue({ agentName: 'default', issuedTo: 'test' });
    expect(await statusOf(phoneUrl(b, token), { Origin: 'https://evil.example' })).toBe(403);
    expect(await statusOf(phoneUrl(b, token, 44_100))).toBe(400);
    expect(await statusOf(phoneUrl(b, token), { Origin: `http://127.0.0.1:${b.server.port}` })).toBe(101);
    expect(await statusOf(phoneUrl(b, token))).toBe(401);
    // The refusals are logged by path: the 403 and the 400 came while the token was still live.
    expect(b.logs.filter((line) => line['msg'] === 'WebSocket upgrade refused').map((line) => [line['url'], line['status']])).toEqual([
      ['/phone/ws', 401],
      ['/phone/ws', 401],
      ['/phone/ws', 403],
      ['/phone/ws', 400],
      ['/phone/ws', 401],
    ]);
    expect(JSON.stringify(b.logs)).not.toContain(token);
  });

  it('malformed messages are ignored and logged once; the call goes on', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: '' } });
    const token = bridge.server.phoneTokens.issue({ agentName: 'default', issuedTo: 'test' });
    client = new BrowserPhoneClient(phoneUrl(bridge, token));
    const c = client;
    await waitUntil(() => c.result.start !== null, 5_000, 'start');
    for (const bad of ['nope', '[]', '{"type":"dtmf","digit":"x"}', '{"type":"warp"}', '{"type":"text","text":""}', '{"type":"dtmf","digit":"x"}']) c.socket.send(bad);
    c.socket.send(Buffer.from([1, 2, 3]));
    c.send({ type: 'dtmf', digit: '5' });
    const session = await bridge.sim.waitForSession();
    await waitUntil(() => session.eventsIn('conversation.item.create').length === 1, 5_000, 'the key reached the agent');
    const warnings = bridge.logs.filter((line) => line['msg'] === 'browser phone sent a message it should not have (ignored)' && line['level'] === 40);
    expect(warnings.map((line) => line['code'])).toEqual(['INVALID_JSON', 'NOT_AN_OBJECT', 'BAD_DTMF', 'UNKNOWN_TYPE', 'BAD_TEXT', 'ODD_AUDIO']);
    c.send({ type: 'hangup' });
    await bridge.waitForSummaries(1);
  });
});
