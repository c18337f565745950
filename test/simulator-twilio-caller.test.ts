/**
 * The simulated Twilio caller against a fake bridge on 127.0.0.1:0: the signed webhook, the TwiML reading, the signed
 * upgrade, the exact message sequence and pacing (ManualClock), mark echoes sent back, clear, busy and refusals.
 */
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { buildFixture } from '../src/simulator/fixtures.js';
import { parseTwiml, placeCall, TwilioCallerError } from '../src/simulator/twilio-caller.js';
import { writeWav } from '../src/audio/wav.js';
import { startFakeBridge, streamTwiml, type FakeBridge } from './helpers/twilio-sim-fake-bridge.js';

const AUTH_TOKEN = 'test-auth-token-0123456789';
const CALL_SID = 'CA11111111111111111111111111111111';
const ACCOUNT_SID = 'AC22222222222222222222222222222222';
const SILENCE_B64 = Buffer.alloc(160, 0xff).toString('base64');

/** Twilio's scheme, computed by hand rather than with the twilio package the caller itself uses. */
function twilioSignature(url: string, params: Record<string, string>): string {
  const data = url + Object.keys(params).sort().map((key) => key + params[key]).join('');
  return createHmac('sha1', AUTH_TOKEN).update(data).digest('base64');
}

function ramp(count: number, first = 0): Uint8Array {
  return Uint8Array.from({ length: count }, (_, index) => (first + index) & 0xff);
}
function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

let bridge: FakeBridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

async function startStreamBridge(refuseUnsigned = false): Promise<FakeBridge> {
  bridge = await startFakeBridge({
    twiml: ({ body, wsOrigin }) =>
      streamTwiml(`${wsOrigin}/media-stream`, { callSid: body['CallSid'] ?? '', from: body['From'] ?? '', streamToken: 'tok-1&2' }),
    refuseUpgrade: (upgrade) => (refuseUnsigned && upgrade.headers['x-twilio-signature'] === undefined ? 403 : null),
  });
  return bridge;
}

describe('placeCall', () => {
  it('posts the signed webhook and upgrades with a signature over the exact TwiML stream URL', async () => {
    const publicBaseUrl = 'https://voice.example.com';
    bridge = await startFakeBridge({
      twiml: () => streamTwiml('wss://voice.example.com/media-stream', { streamToken: 'abc' }),
    });
    const call = await placeCall({
      baseUrl: bridge.baseUrl,
      publicBaseUrl,
      authToken: AUTH_TOKEN,
      callSid: CALL_SID,
      accountSid: ACCOUNT_SID,
      from: '+15551230001',
      to: '+15551230002',
      audio: { kind: 'silence', durationMs: 0 },
      clock: new ManualClock(),
    });
    const expectedParams = {
      AccountSid: ACCOUNT_SID,
      ApiVersion: '2010-04-01',
      CallSid: CALL_SID,
      CallStatus: 'ringing',
      Called: '+15551230002',
      Caller: '+15551230001',
      Direction: 'inbound',
      From: '+15551230001',
      To: '+15551230002',
    };
    expect(bridge.webhooks).toHaveLength(1);
    expect(bridge.webhooks[0]!.body).toEqual(expectedParams);
    expect(bridge.webhooks[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded; charset=utf-8');
    expect(bridge.webhooks[0]!.headers['x-twilio-signature']).toBe(twilioSignature(`${publicBaseUrl}/incoming-call`, expectedParams));
    // Dialled through baseUrl (the "tunnel"), signed over the public URL Twilio was told to dial.
    expect(bridge.upgrades).toEqual([
      expect.objectContaining({ path: '/media-stream', headers: expect.objectContaining({ 'x-twilio-signature': twilioSignature('wss://voice.example.com/media-stream', {}) }) }),
    ]);
    expect(call.streamUrl).toBe('wss://voice.example.com/media-stream');
    const result = await call.hangUp();
    expect(result.endedBy).toBe('caller');
  });

  it('sends connected, start, paced media with dtmf, trailing silence and stop with exact fields and times', async () => {
    const fake = await startStreamBridge();
    const clock = new ManualClock(500);
    const call = await placeCall({
      baseUrl: fake.baseUrl,
      authToken: AUTH_TOKEN,
      callSid: CALL_SID,
      accountSid: ACCOUNT_SID,
      from: '+15551230001',
      audio: { kind: 'mulaw', bytes: ramp(400) }, // 2.5 frames: the last is padded with silence
      dtmf: [{ atMs: 30, digit: '7' }],
      trailingSilenceMs: 40,
      clock,
    });
    const stream = await fake.nextStream();
    await stream.waitForCount(2);
    const streamSid = call.streamSid!;
    expect(streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    expect(stream.messages).toEqual([
      { event: 'connected', protocol: 'Call', version: '1.0.0' },
      {
        event: 'start',
        sequenceNumber: '1',
        streamSid,
        start: {
          accountSid: ACCOUNT_SID,
          streamSid,
          callSid: CALL_SID,
          tracks: ['inbound'],
          customParameters: { callSid: CALL_SID, from: '+15551230001', streamToken: 'tok-1&2' },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      },
    ]);

    clock.advance(19);
    expect(call.sent).toHaveLength(2);
    clock.advance(1);
    expect(call.sent).toHaveLength(3);
    clock.advance(80);
    await stream.waitForCount(9);
    const lastFrame = new Uint8Array(160).fill(0xff);
    lastFrame.set(ramp(80, 320 & 0xff));
    const media = (sequenceNumber: string, chunk: string, timestamp: string, payload: string) => ({
      event: 'media',
      sequenceNumber,
      streamSid,
      media: { track: 'inbound', chunk, timestamp, payload },
    });
    expect(stream.messages.slice(2)).toEqual([
      media('2', '1', '20', b64(ramp(160))),
      { event: 'dtmf', sequenceNumber: '3', streamSid, dtmf: { track: 'inbound_track', digit: '7' } },
      media('4', '2', '40', b64(ramp(160, 160))),
      media('5', '3', '60', b64(lastFrame)),
      media('6', '4', '80', SILENCE_B64),
      media('7', '5', '100', SILENCE_B64),
      { event: 'stop', sequenceNumber: '8', streamSid, stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID } },
    ]);
    expect(call.sent.map((sent) => sent.atMs)).toEqual([0, 0, 20, 30, 40, 60, 80, 100, 100]);
    const closedByUs = await stream.closed;
    expect(closedByUs.code).toBe(1000);
    const result = await call.closed;
    expect(result).toMatchObject({ outcome: 'completed', endedBy: 'caller', serverClosedFirst: false, closeCode: 1000, durationMs: 100 });
  });

  it('plays what the server sends and echoes marks back when playback reaches them, or at once on clear', async () => {
    const fake = await startStreamBridge();
    const clock = new ManualClock();
    const call = await placeCall({ baseUrl: fake.baseUrl, authToken: AUTH_TOKEN, audio: { kind: 'silence', durationMs: 1_000 }, clock });
    const stream = await fake.nextStream();
    const streamSid = call.streamSid!;
    stream.send({ event: 'media', streamSid, media: { payload: b64(ramp(160)) } });
    stream.send({ event: 'mark', streamSid, mark: { name: 'm1' } });
    stream.send({ event: 'media', streamSid, media: { payload: b64(ramp(800, 7)) } });
    stream.send({ event: 'mark', streamSid, mark: { name: 'm2' } });
    await call.waitForMessage((message) => (message as { mark?: { name?: string } }).mark?.name === 'm2');

    clock.advance(20); // media chunk 1 is due at 20 too; its timer was set first, so it goes first
    await stream.waitForCount(4);
    expect(stream.messages.slice(2)).toEqual([
      expect.objectContaining({ event: 'media', sequenceNumber: '2' }),
      { event: 'mark', sequenceNumber: '3', streamSid, mark: { name: 'm1' } },
    ]);
    clock.advance(30); // 30 ms (240 bytes) of the 100 ms chunk heard
    stream.send({ event: 'clear', streamSid });
    await call.waitForMessage((message) => (message as { event?: string }).event === 'clear');
    await stream.waitForCount(6);
    expect(stream.messages.slice(4)).toEqual([
      expect.objectContaining({ event: 'media', sequenceNumber: '4', media: expect.objectContaining({ timestamp: '40' }) }),
      { event: 'mark', sequenceNumber: '5', streamSid, mark: { name: 'm2' } },
    ]);
    const playback = call.playback!;
    expect(playback.marks.map((echo) => [echo.name, echo.cause, echo.reachedAtMs, echo.playedBytesBefore])).toEqual([
      ['m1', 'played', 20, 160],
      ['m2', 'cleared', 50, 400],
    ]);
    const heard = new Uint8Array(400);
    heard.set(ramp(160));
    heard.set(ramp(240, 7), 160);
    const result = await call.hangUp();
    expect(result.heardAudio).toEqual(heard);
    expect(result.clears).toEqual([{ atMs: 50, droppedBytes: 560, marksEchoed: ['m2'] }]);
    expect(result.underrunCount).toBe(0);
    expect(result.received.map((received) => [received.atMs, (received.message as { event: string }).event])).toEqual([
      [0, 'media'],
      [0, 'mark'],
      [0, 'media'],
      [0, 'mark'],
      [50, 'clear'],
    ]);
  });

  it('counts protocol oddities and does not play them', async () => {
    const fake = await startStreamBridge();
    const call = await placeCall({ baseUrl: fake.baseUrl, authToken: AUTH_TOKEN, audio: { kind: 'silence', durationMs: 1_000 }, clock: new ManualClock() });
    const stream = await fake.nextStream();
    const streamSid = call.streamSid!;
    stream.send({ event: 'media', streamSid: 'MZwrong', media: { payload: b64(ramp(160)) } });
    stream.send({ event: 'media', streamSid, media: { payload: '%%%' } });
    stream.send({ event: 'dance', streamSid });
    stream.socket.send('not json');
    stream.send({ event: 'mark', streamSid, mark: { name: 'last' } });
    await call.waitForMessage((message) => (message as { mark?: { name?: string } }).mark?.name === 'last');
    expect(call.protocolErrors).toEqual({ invalidJson: 1, binaryMessages: 0, wrongStreamSid: 1, invalidPayloads: 1, invalidMarks: 0, unknownEvents: 1, afterStop: 0 });
    expect(call.playback!.playedBytesTotal).toBe(0);
    await call.hangUp();
  });

  it('reports the server closing the stream first', async () => {
    const fake = await startStreamBridge();
    const call = await placeCall({ baseUrl: fake.baseUrl, authToken: AUTH_TOKEN, audio: { kind: 'silence', durationMs: 60_000 }, clock: new ManualClock() });
    const stream = await fake.nextStream();
    await stream.waitForCount(2);
    stream.socket.close(4001, 'bye');
    const result = await call.closed;
    expect(result).toMatchObject({ endedBy: 'server', serverClosedFirst: true, closeCode: 4001, closeReason: 'bye' });
    expect(result.sent.map((sent) => sent.message.event)).toEqual(['connected', 'start']);
  });

  it('gets a busy result and opens no stream when the TwiML has no <Stream>', async () => {
    bridge = await startFakeBridge({
      twiml: () => '<?xml version="1.0" encoding="UTF-8"?><Response><Say>All agents are busy &amp; away.</Say><Hangup/></Response>',
    });
    const call = await placeCall({ baseUrl: bridge.baseUrl, authToken: AUTH_TOKEN, audio: { kind: 'silence', durationMs: 100 } });
    expect(call.outcome).toBe('busy');
    const result = await call.closed;
    expect(result).toMatchObject({ outcome: 'busy', streamSid: null, parsedTwiml: { streamUrl: null, says: ['All agents are busy & away.'], hangup: true } });
    expect(bridge.upgrades).toEqual([]);
  });

  it('rejects with upgrade_refused when the server refuses the unsigned upgrade, and sends no signature then', async () => {
    const fake = await startStreamBridge(true);
    const attempt = placeCall({ baseUrl: fake.baseUrl, authToken: AUTH_TOKEN, audio: { kind: 'silence', durationMs: 100 }, signUpgrade: false });
    await expect(attempt).rejects.toMatchObject({ name: 'TwilioCallerError', code: 'upgrade_refused', httpStatus: 403 });
    await expect(attempt).rejects.toThrow(/^WebSocket upgrade to ws:\/\/127\.0\.0\.1:\d+\/media-stream refused with HTTP 403$/);
    expect(fake.upgrades[0]!.headers['x-twilio-signature']).toBeUndefined();
  });

  it('sends no signature headers at all without an auth token', async () => {
    const fake = await startStreamBridge();
    const call = await placeCall({ baseUrl: fake.baseUrl, authToken: null, audio: { kind: 'silence', durationMs: 0 }, clock: new ManualClock() });
    expect(fake.webhooks[0]!.headers['x-twilio-signature']).toBeUndefined();
    expect(fake.upgrades[0]!.headers['x-twilio-signature']).toBeUndefined();
    await call.hangUp();
  });

  it('rejects with unreachable when nothing listens, and with webhook_http_error on a non-200 answer', async () => {
    const fake = await startStreamBridge();
    const deadUrl = fake.baseUrl;
    await fake.close();
    bridge = null;
    await expect(placeCall({ baseUrl: deadUrl, authToken: null, audio: { kind: 'silence', durationMs: 0 } })).rejects.toMatchObject({
      code: 'unreachable',
      message: `cannot reach ${deadUrl}/incoming-call: ECONNREFUSED`,
    });
    bridge = await startFakeBridge({ twiml: () => '' });
    await expect(placeCall({ baseUrl: bridge.baseUrl, authToken: null, audio: { kind: 'silence', durationMs: 0 }, webhookPath: '/nope' })).rejects.toMatchObject({
      code: 'webhook_http_error',
      httpStatus: 404,
    });
  });

  it('replays a fixture at its recorded times with this call’s ids, keeping its chunk numbers and timestamp jumps', async () => {
    const fake = await startStreamBridge();
    const fixture = buildFixture({ mulaw: ramp(160 * 6), gaps: [{ atMs: 40, durationMs: 40 }], dtmf: [{ atMs: 50, digit: '5' }], streamSid: 'MZold', callSid: 'CAold' });
    const clock = new ManualClock();
    const call = await placeCall({ baseUrl: fake.baseUrl, authToken: AUTH_TOKEN, callSid: CALL_SID, audio: { kind: 'fixture', messages: fixture }, clock });
    const stream = await fake.nextStream();
    clock.advance(120);
    await stream.waitForCount(8);
    const streamSid = call.streamSid!;
    expect((stream.messages[1] as { start: { callSid: string } }).start.callSid).toBe(CALL_SID);
    expect(stream.messages.slice(2).map((message) => [message['event'], message['sequenceNumber'], message['streamSid'], (message['media'] as { chunk?: string; timestamp?: string } | undefined)?.timestamp])).toEqual([
      ['media', '2', streamSid, '20'],
      ['media', '3', streamSid, '40'],
      ['dtmf', '4', streamSid, undefined],
      ['media', '5', streamSid, '100'],
      ['media', '6', streamSid, '120'],
      ['stop', '7', streamSid, undefined],
    ]);
    expect(call.sent.map((sent) => sent.atMs)).toEqual([0, 0, 20, 40, 50, 100, 120, 120]);
  });

  it('resamples a 16 kHz WAV to 8 kHz mu-law frames', async () => {
    const fake = await startStreamBridge();
    const samples = new Int16Array(16_000 / 5); // 200 ms of silence at 16 kHz
    const clock = new ManualClock();
    const call = await placeCall({ baseUrl: fake.baseUrl, authToken: null, audio: { kind: 'wav', data: writeWav(samples, 16_000) }, clock });
    clock.advance(200);
    const result = await call.closed;
    const media = result.sent.filter((sent) => sent.message.event === 'media');
    expect(media).toHaveLength(10);
    expect(media.every((sent) => sent.message.event === 'media' && sent.message.media.payload === SILENCE_B64)).toBe(true);
  });

  it('paces 20 ms frames on the real clock without drift', async () => {
    const fake = await startStreamBridge();
    const call = await placeCall({ baseUrl: fake.baseUrl, authToken: null, audio: { kind: 'silence', durationMs: 1_000 } });
    const stream = await fake.nextStream();
    const arrivalsMs: number[] = [];
    stream.socket.on('message', () => arrivalsMs.push(performance.now()));
    const result = await call.closed;
    const media = result.sent.filter((sent) => sent.message.event === 'media');
    expect(media).toHaveLength(50);
    // Each frame leaves within a few ms of its slot, and the 50th is not late by the sum of 50 timer delays.
    for (const [index, sent] of media.entries()) expect(Math.abs(sent.atMs - 20 * (index + 1))).toBeLessThan(15);
    expect(arrivalsMs.length).toBeGreaterThanOrEqual(50);
  });
});

describe('parseTwiml', () => {
  it('reads the stream URL and parameters with entities decoded', () => {
    expect(
      parseTwiml(
        `<Response><Connect><Stream url="wss://h.example/media-stream"><Parameter name="a" value="x&amp;y"/><Parameter name='b' value='&#60;'/></Stream></Connect></Response>`,
      ),
    ).toEqual({ streamUrl: 'wss://h.example/media-stream', parameters: { a: 'x&y', b: '<' }, says: [], hangup: false });
  });

  it('refuses a one-way <Start><Stream> and a stream URL with a query string', () => {
    expect(() => parseTwiml('<Response><Start><Stream url="wss://h/x"/></Start></Response>')).toThrow(TwilioCallerError);
    expect(() => parseTwiml('<Response><Connect><Stream url="wss://h/x?token=1"/></Connect></Response>')).toThrow(/query string/);
  });
});
