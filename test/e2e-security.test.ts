/**
 * Security, end to end through the real server on 127.0.0.1.
 *
 * The story: the bridge spends money (an OpenAI Realtime session per call) on behalf of whoever reaches its public
 * port. Simple bridges accept any POST as a call and any WebSocket as a media stream, so anyone who finds the URL
 * can talk to the agent on your key, or replay a stream URL seen in a log. They check the signature over the Host
 * header (which a proxy rewrites and an attacker chooses), refuse a bad upgrade only after the WebSocket is open,
 * dial OpenAI before checking anything, and log the request headers and config that carry the key. Here: every
 * refusal happens before anything is spent, stream tokens are one-time, short-lived and bound to their CallSid,
 * capacity is enforced in the TwiML, and a whole call at trace level (with the last-chance log filter OFF) never
 * writes the OpenAI key or the Twilio auth token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseTwiml } from '../src/simulator/twilio-caller.js';
import { BUSY_MESSAGE, busyTwiml } from '../src/twilio/twiml.js';
import {
  AUTH_TOKEN,
  linesWithMsg,
  newCallSid,
  OPENAI_KEY,
  openMediaSocket,
  postWebhook,
  PUBLIC_BASE_URL,
  startBridge,
  startRawStream,
  STREAM_URL,
  sleep,
  withTimeout,
  type Bridge,
} from './helpers/e2e.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

const FROM = '+15005550006';
const TO = '+15005550001';

function streamTwimlFor(callSid: string, token: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="https://callbridge.test/connect-action" method="POST"><Stream url="wss://callbridge.test/media-stream">' +
    `<Parameter name="callSid" value="${callSid}"/><Parameter name="from" value="${FROM}"/><Parameter name="to" value="${TO}"/>` +
    `<Parameter name="streamToken" value="${token}"/></Stream></Connect></Response>`
  );
}

describe('Voice webhook', () => {
  it('answers 403 without TwiML to an unsigned, wrongly signed, Host-signed or tampered request, and 200 with the exact stream TwiML when signed', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: '' } });
    const callSid = newCallSid();
    const refused = [
      await postWebhook(bridge, { callSid, signWith: null }),
      await postWebhook(bridge, { callSid, signWith: 'not-the-auth-token-0123456789abcd' }),
      // Signed over the URL the server sees (its Host), not the public URL Twilio calls.
      await postWebhook(bridge, { callSid, signedUrl: `${bridge.baseUrl}/incoming-call` }),
      // Signed params differ from the posted ones (the From number was changed in transit).
      await postWebhook(bridge, { callSid, signedParams: { CallSid: callSid, From: '+15550000000' } }),
    ];
    for (const response of refused) {
      expect(response.status).toBe(403);
      expect(response.contentType).toMatch(/^text\/plain/);
      expect(response.body).toBe('Forbidden');
    }
    const rejections = linesWithMsg(bridge.logs, 'rejected unsigned or mis-signed Twilio webhook');
    expect(rejections.map((line) => [line['level'], line['url'], line['hasSignature']])).toEqual([
      [40, `${PUBLIC_BASE_URL}/incoming-call`, false],
      [40, `${PUBLIC_BASE_URL}/incoming-call`, true],
      [40, `${PUBLIC_BASE_URL}/incoming-call`, true],
      [40, `${PUBLIC_BASE_URL}/incoming-call`, true],
    ]);
    // Nothing was spent on them: no pre-dial.
    await sleep(100);
    expect(bridge.sim.upgradeAttempts).toHaveLength(0);

    const accepted = await postWebhook(bridge, { callSid });
    expect(accepted.status).toBe(200);
    expect(accepted.contentType).toMatch(/^text\/xml/);
    const twiml = parseTwiml(accepted.body);
    expect(twiml.streamUrl).toBe(STREAM_URL);
    const token = twiml.parameters['streamToken']!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(twiml.parameters).toEqual({ callSid, from: FROM, to: TO, streamToken: token });
    expect(accepted.body).toBe(streamTwimlFor(callSid, token));
    // The accepted call is pre-dialled: one upstream session, opened with the key.
    await withTimeout(bridge.sim.waitForSession(0), 2_000, 'pre-dial');
    expect(bridge.sim.upgradeAttempts.map((attempt) => attempt.status)).toEqual([101]);
  });
});

describe('Media Stream upgrade', () => {
  it('refuses an unsigned or wrongly signed upgrade with HTTP 403 and another path with 404, before any WebSocket handshake', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: '' } });
    expect(await openMediaSocket(bridge, { signWith: null })).toEqual({ kind: 'refused', status: 403, body: 'Missing Twilio signature' });
    expect(await openMediaSocket(bridge, { signWith: 'not-the-auth-token-0123456789abcd' })).toEqual({
      kind: 'refused',
      status: 403,
      body: 'Invalid Twilio signature',
    });
    expect(await openMediaSocket(bridge, { path: '/other-stream' })).toEqual({ kind: 'refused', status: 404, body: 'Not found' });
    expect(await openMediaSocket(bridge, { path: '/media-stream/extra' })).toEqual({ kind: 'refused', status: 404, body: 'Not found' });
    expect(linesWithMsg(bridge.logs, 'WebSocket upgrade refused').map((line) => [line['url'], line['status'], line['reason']])).toEqual([
      ['/media-stream', 403, 'Missing Twilio signature'],
      ['/media-stream', 403, 'Invalid Twilio signature'],
      ['/other-stream', 404, 'Not found'],
      ['/media-stream/extra', 404, 'Not found'],
    ]);
    expect(bridge.server.activeCalls).toBe(0);
    expect(bridge.sim.upgradeAttempts).toHaveLength(0);
  });
});

describe('stream tokens', () => {
  const refusalReasons = (logs: Bridge['logs']) =>
    linesWithMsg(logs, 'media stream refused: not announced by our webhook').map((line) => [line['callSid'], line['reason']]);

  it('a stream with an unknown token, or none, is closed with 1008 and dials nothing', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: '' } });
    const unknownSid = newCallSid();
    const unknown = await startRawStream(bridge, { callSid: unknownSid, customParameters: { callSid: unknownSid, streamToken: 'AAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(await withTimeout(unknown.closed, 2_000, 'close')).toEqual({ code: 1008, reason: 'stream not announced' });
    const noTokenSid = newCallSid();
    const noToken = await startRawStream(bridge, { callSid: noTokenSid, customParameters: {} });
    expect(await withTimeout(noToken.closed, 2_000, 'close')).toEqual({ code: 1008, reason: 'stream not announced' });

    expect(refusalReasons(bridge.logs)).toEqual([
      [unknownSid, 'unknown, expired or reused stream token'],
      [noTokenSid, 'unknown, expired or reused stream token'],
    ]);
    expect(unknown.agentAudio().length + noToken.agentAudio().length).toBe(0);
    await sleep(100);
    expect(bridge.sim.upgradeAttempts).toHaveLength(0);
    expect(bridge.summaries).toEqual([]);
    expect(bridge.server.activeCalls).toBe(0);
  });

  it('a token already used by a live call is refused (1008) and the live call is not disturbed', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: 'Say hello.' }, sim: { reply: { kind: 'tone-coded', durationMs: 600 } } });
    const call = await bridge.call({ audio: { kind: 'silence', durationMs: 1_200 } });
    // The first agent audio proves the server has consumed the token for this call.
    await call.waitForMessage((message) => (message as { event?: string }).event === 'media');
    const replay = await startRawStream(bridge, { callSid: call.callSid, customParameters: call.parsedTwiml.parameters });
    expect(await withTimeout(replay.closed, 2_000, 'close')).toEqual({ code: 1008, reason: 'stream not announced' });
    const result = await call.closed;
    const summaries = await bridge.waitForSummaries(1);

    expect(refusalReasons(bridge.logs)).toEqual([[call.callSid, 'unknown, expired or reused stream token']]);
    expect(result.endedBy).toBe('caller');
    expect(result.heardMsTotal).toBe(600);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ callSid: call.callSid, streamSid: call.streamSid, endReason: 'caller hung up' });
    // Only the live call's own upstream session was ever opened.
    expect(bridge.sim.upgradeAttempts).toHaveLength(1);
    expect(bridge.sim.sessions).toHaveLength(1);
  });

  it('an expired token is refused (1008) and its pre-dialled session is closed', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: '', STREAM_TOKEN_TTL_MS: '1000' } });
    const callSid = newCallSid();
    const webhook = await postWebhook(bridge, { callSid });
    const predialled = await withTimeout(bridge.sim.waitForSession(0), 2_000, 'pre-dial');
    await sleep(1_100);
    const late = await startRawStream(bridge, { callSid, customParameters: parseTwiml(webhook.body).parameters });
    expect(await withTimeout(late.closed, 2_000, 'close')).toEqual({ code: 1008, reason: 'stream not announced' });
    expect(await withTimeout(predialled.closed, 2_000, 'pre-dial close')).toEqual({ code: 1000, reason: 'client closing' });

    expect(refusalReasons(bridge.logs)).toEqual([[callSid, 'unknown, expired or reused stream token']]);
    expect(bridge.sim.upgradeAttempts).toHaveLength(1);
    expect(bridge.summaries).toEqual([]);
    expect(bridge.server.activeCalls).toBe(0);
  });

  it('a start whose callSid is not the one the token was issued for is refused (1008) and its pre-dial closed', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: '' } });
    const callSid = newCallSid();
    const webhook = await postWebhook(bridge, { callSid });
    const otherSid = newCallSid();
    const hijack = await startRawStream(bridge, { callSid: otherSid, customParameters: parseTwiml(webhook.body).parameters });
    expect(await withTimeout(hijack.closed, 2_000, 'close')).toEqual({ code: 1008, reason: 'stream not announced' });
    const predialled = await withTimeout(bridge.sim.waitForSession(0), 2_000, 'pre-dial');
    expect(await withTimeout(predialled.closed, 2_000, 'pre-dial close')).toEqual({ code: 1000, reason: 'client closing' });

    expect(refusalReasons(bridge.logs)).toEqual([[otherSid, 'callSid does not match the token']]);
    expect(bridge.sim.upgradeAttempts).toHaveLength(1);
    expect(bridge.summaries).toEqual([]);
    expect(bridge.server.activeCalls).toBe(0);
  });
});

describe('capacity', () => {
  it('MAX_CONCURRENT_CALLS=1: a second call gets busy TwiML (Say + Hangup, no Stream) while the first is live, and is admitted after', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: 'Say hello.', MAX_CONCURRENT_CALLS: '1' }, sim: { reply: { kind: 'tone-coded', durationMs: 400 } } });
    const first = await bridge.call({ audio: { kind: 'silence', durationMs: 1_000 } });
    await first.waitForMessage((message) => (message as { event?: string }).event === 'media');
    expect(bridge.server.activeCalls).toBe(1);

    const second = await bridge.call({ audio: { kind: 'silence', durationMs: 200 } });
    expect(second.outcome).toBe('busy');
    const busy = await second.closed;
    expect(busy.twiml).toBe(busyTwiml());
    expect(busy.parsedTwiml).toEqual({ streamUrl: null, parameters: {}, says: [BUSY_MESSAGE], hangup: true });
    expect(linesWithMsg(bridge.logs, 'call refused: at capacity').map((line) => [line['callSid'], line['activeCalls'], line['maxConcurrentCalls']])).toEqual([
      [second.callSid, 1, 1],
    ]);
    // No upstream session for the refused call.
    expect(bridge.sim.upgradeAttempts).toHaveLength(1);

    await first.closed;
    await bridge.waitForSummaries(1);
    const third = await bridge.call({ audio: { kind: 'silence', durationMs: 200 } });
    expect(third.outcome).toBe('connected');
    await third.closed;
    await bridge.waitForSummaries(2);
    expect(bridge.summaries.map((summary) => [summary.callSid, summary.endReason])).toEqual([
      [first.callSid, 'caller hung up'],
      [third.callSid, 'caller hung up'],
    ]);
  });
});

describe('secrets', () => {
  it('a whole call at LOG_LEVEL=trace, logged WITHOUT the secret filter, never writes the OpenAI key or the Twilio auth token', async () => {
    bridge = await startBridge({
      filterSecrets: false,
      env: { LOG_LEVEL: 'trace', AGENT_GREETING: 'Say hello.' },
      sim: { reply: { kind: 'tone-coded', durationMs: 500 } },
    });
    // A refused webhook and a refused upgrade too: their warnings carry request details.
    await postWebhook(bridge, { callSid: newCallSid(), signWith: 'not-the-auth-token-0123456789abcd' });
    await openMediaSocket(bridge, { signWith: 'not-the-auth-token-0123456789abcd' });
    const call = await bridge.call({ audio: { kind: 'silence', durationMs: 1_000 } });
    const result = await call.closed;
    await bridge.waitForSummaries(1);
    expect(result.heardMsTotal).toBe(500);

    const raw = bridge.rawLog();
    // The capture really is at trace and covers the whole call, from dial to summary.
    expect(bridge.logs.filter((line) => line['level'] === 10).length).toBeGreaterThan(0);
    expect(linesWithMsg(bridge.logs, 'dialing realtime')).toHaveLength(1);
    expect(linesWithMsg(bridge.logs, 'call ended')).toHaveLength(1);
    expect(raw).not.toContain(OPENAI_KEY);
    expect(raw).not.toContain(AUTH_TOKEN);
    // Nor did the logger's redact paths have to step in: no secret-bearing field was logged at all.
    expect(raw).not.toContain('[REDACTED]');
  });
});

describe('development mode', () => {
  it('without TWILIO_AUTH_TOKEN logs the loud warning once at start, and then checks no signatures', async () => {
    bridge = await startBridge({ env: { TWILIO_AUTH_TOKEN: '', AGENT_GREETING: '' } });
    expect(bridge.config.twilio.authToken).toBeNull();
    const warnings = linesWithMsg(
      bridge.logs,
      'TWILIO_AUTH_TOKEN is not set: webhook and WebSocket signatures are NOT checked. Development only: anyone who can reach this port can place calls on your OpenAI key.',
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!['level']).toBe(40);

    const callSid = newCallSid();
    const webhook = await postWebhook(bridge, { callSid, signWith: null });
    expect(webhook.status).toBe(200);
    expect(parseTwiml(webhook.body).streamUrl).toBe(STREAM_URL);
    const upgrade = await openMediaSocket(bridge, { signWith: null });
    expect(upgrade.kind).toBe('open');
    if (upgrade.kind === 'open') upgrade.socket.close();
  });
});
