/**
 * Sticky streams by design: the webhook comes through the load balancer (PUBLIC_BASE_URL), and the TwiML sends the
 * stream and every later callback to the answering instance (INSTANCE_PUBLIC_URL, here behind a path prefix). Each
 * request is signed over the URL Twilio used: the load balancer's for the webhook, the instance's for the rest; both
 * are accepted, nothing else is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/config-error.js';
import { signTwilioRequest } from '../src/twilio/signature.js';
import { webhookParams } from '../src/simulator/twilio-caller.js';
import { ACCOUNT_SID, AUTH_TOKEN, newCallSid, postWebhook, PUBLIC_BASE_URL, startBridge, type Bridge } from './helpers/e2e.js';

const INSTANCE_URL = 'https://callbridge.test/i/a';
let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

async function postSigned(b: Bridge, path: string, signedUrl: string, params: Record<string, string>): Promise<number> {
  const response = await fetch(`${b.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signTwilioRequest(AUTH_TOKEN, signedUrl, params) },
    body: new URLSearchParams(params).toString(),
  });
  await response.text();
  return response.status;
}

function upgradeStatus(b: Bridge, signedUrl: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${b.server.port}/media-stream`, { headers: { 'X-Twilio-Signature': signTwilioRequest(AUTH_TOKEN, signedUrl, {}) } });
    socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.on('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.on('error', () => undefined);
  });
}

describe('sticky streams', () => {
  it('the TwiML names the instance (with its path prefix) for the stream and the action; the webhook is signed over the load balancer', async () => {
    bridge = await startBridge({ env: { INSTANCE_PUBLIC_URL: `${INSTANCE_URL}/` } });
    const answer = await postWebhook(bridge, { callSid: newCallSid() });
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('<Stream url="wss://callbridge.test/i/a/media-stream">');
    expect(answer.body).toContain('action="https://callbridge.test/i/a/connect-action"');
  });

  it('callbacks are accepted signed over the instance URL or the load balancer, and refused over anything else', async () => {
    bridge = await startBridge({ env: { INSTANCE_PUBLIC_URL: INSTANCE_URL } });
    const params = webhookParams({ callSid: newCallSid(), accountSid: ACCOUNT_SID, from: '+15005550006', to: '+15005550001' });
    expect(await postSigned(bridge, '/connect-action', `${INSTANCE_URL}/connect-action`, params)).toBe(200);
    expect(await postSigned(bridge, '/connect-action', `${PUBLIC_BASE_URL}/connect-action`, params)).toBe(200);
    expect(await postSigned(bridge, '/connect-action', 'https://callbridge.test/i/b/connect-action', params)).toBe(403);
    expect(await postSigned(bridge, '/connect-action', 'https://elsewhere.test/connect-action', params)).toBe(403);
  });

  it("the stream's upgrade is signed over the instance's stream URL: the load balancer's or another instance's is refused", async () => {
    bridge = await startBridge({ env: { INSTANCE_PUBLIC_URL: INSTANCE_URL } });
    expect(await upgradeStatus(bridge, 'wss://callbridge.test/i/a/media-stream')).toBe(101);
    expect(await upgradeStatus(bridge, 'wss://callbridge.test/i/b/media-stream')).toBe(403);
    expect(await upgradeStatus(bridge, 'wss://callbridge.test/media-stream')).toBe(403);
  });

  it('a whole call with the stream dialled at the instance (as a prefix-stripping proxy delivers it)', async () => {
    bridge = await startBridge({ env: { INSTANCE_PUBLIC_URL: INSTANCE_URL, AGENT_GREETING: 'Greet.' }, sim: { reply: { kind: 'tone-coded', durationMs: 400 } } });
    const call = await bridge.call({ audio: { kind: 'silence', durationMs: 1_000 }, connectUrl: `ws://127.0.0.1:${bridge.server.port}/media-stream` });
    const result = await call.closed;
    expect(result.heardSegments.length).toBeGreaterThan(0);
    const [summary] = await bridge.waitForSummaries(1);
    expect(summary).toMatchObject({ sequenceErrors: 0 });
  });

  it('bad instance settings are one line naming the setting', () => {
    const base = { PUBLIC_BASE_URL, OPENAI_API_KEY: 'sk-x', TWILIO_AUTH_TOKEN: AUTH_TOKEN };
    expect(() => loadConfig({ ...base, INSTANCE_PUBLIC_URL: 'https://a.test/x?y=1' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, INSTANCE_PUBLIC_URL: 'ftp://a.test' })).toThrow(/INSTANCE_PUBLIC_URL/);
    expect(() => loadConfig({ ...base, NODE_ENV: 'production', INSTANCE_PUBLIC_URL: 'http://a.test' })).toThrow(/INSTANCE_PUBLIC_URL must use https/);
    expect(() => loadConfig({ ...base, CLUSTER: 'on' })).toThrow(/CLUSTER=on needs DATABASE_URL/);
    expect(() => loadConfig({ ...base, INSTANCE_ID: 'has space' })).toThrow(/INSTANCE_ID/);
    expect(loadConfig({ ...base, DATABASE_URL: 'postgres://x@y/z' }).cluster.enabled).toBe(true);
    expect(loadConfig({ ...base, DATABASE_URL: 'postgres://x@y/z', CLUSTER: 'off' }).cluster.enabled).toBe(false);
    expect(loadConfig(base).cluster).toMatchObject({ enabled: false, instancePublicUrl: PUBLIC_BASE_URL, heartbeatMs: 5_000 });
  });
});
