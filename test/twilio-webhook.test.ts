import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import { signTwilioRequest } from '../src/twilio/signature.js';
import { StreamTokenRegistry } from '../src/twilio/stream-tokens.js';
import { createTwilioWebhookRouter, type AcceptedCall } from '../src/twilio/webhook.js';
import { listen, type TestServer } from './helpers/twilio-http.js';

const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
const PUBLIC_BASE_URL = 'https://voice.example.com';
const PARAMS = {
  CallSid: 'CA0123',
  AccountSid: 'AC0123',
  From: '+15551230000',
  To: '+15559870000',
  CallStatus: 'ringing',
  Direction: 'inbound',
};
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>';

interface Harness {
  server: TestServer;
  tokens: StreamTokenRegistry;
  admitted: string[];
  accepted: AcceptedCall[];
}

let running: TestServer | null = null;
afterEach(async () => {
  await running?.close();
  running = null;
});

async function start(env: Record<string, string>, admit = true, onAcceptedThrows = false): Promise<Harness> {
  const config = loadConfig({ NODE_ENV: 'test', PUBLIC_BASE_URL, ...env });
  const tokens = new StreamTokenRegistry({ clock: new ManualClock(), ttlMs: 30_000 });
  const admitted: string[] = [];
  const accepted: AcceptedCall[] = [];
  const app = express();
  app.use(
    createTwilioWebhookRouter({
      config,
      tokens,
      logger: silentLogger(),
      admitCall: (callSid) => {
        admitted.push(callSid);
        return admit;
      },
      onCallAccepted: (info) => {
        accepted.push(info);
        if (onAcceptedThrows) throw new Error('boom');
      },
    }),
  );
  running = await listen(app);
  return { server: running, tokens, admitted, accepted };
}

async function post(harness: Harness, params: Record<string, string>, signature?: string, pathAndQuery = '/incoming-call') {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (signature !== undefined) headers['x-twilio-signature'] = signature;
  const response = await fetch(harness.server.baseUrl + pathAndQuery, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.text() };
}

function expectedStreamTwiml(token: string, prelude = ''): string {
  return (
    XML_HEAD +
    // The <Connect action> is where Twilio asks what to do when the stream ends (hang up, transfer, …).
    `<Response>${prelude}<Connect action="https://voice.example.com/connect-action" method="POST"><Stream url="wss://voice.example.com/media-stream">` +
    '<Parameter name="callSid" value="CA0123"/>' +
    '<Parameter name="from" value="+15551230000"/>' +
    '<Parameter name="to" value="+15559870000"/>' +
    `<Parameter name="streamToken" value="${token}"/>` +
    '</Stream></Connect></Response>'
  );
}

describe('POST /incoming-call with an auth token', () => {
  const env = { TWILIO_AUTH_TOKEN: AUTH_TOKEN };

  it('signed over the public URL → 200 stream TwiML with the exact stream URL and parameters, one live token', async () => {
    const harness = await start(env);
    const signature = signTwilioRequest(AUTH_TOKEN, `${PUBLIC_BASE_URL}/incoming-call`, PARAMS);
    const response = await post(harness, PARAMS, signature);

    expect(response.status).toBe(200);
    expect(response.contentType).toBe('text/xml; charset=utf-8');
    expect(harness.accepted).toHaveLength(1);
    const { token } = harness.accepted[0]!;
    expect(harness.accepted[0]).toEqual({ token, callSid: 'CA0123', from: '+15551230000', to: '+15559870000' });
    expect(response.body).toBe(expectedStreamTwiml(token));
    expect(harness.admitted).toEqual(['CA0123']);
    expect(harness.tokens.size).toBe(1);
    expect(harness.tokens.consume(token)).toEqual({ callSid: 'CA0123', from: '+15551230000', to: '+15559870000' });
  });

  it('validates over publicBaseUrl + originalUrl, including the query string', async () => {
    const harness = await start(env);
    const signature = signTwilioRequest(AUTH_TOKEN, `${PUBLIC_BASE_URL}/incoming-call?tenant=a`, PARAMS);
    expect((await post(harness, PARAMS, signature, '/incoming-call?tenant=a')).status).toBe(200);
  });

  it('a signature over the Host the request came in on (not the public URL) → 403', async () => {
    const harness = await start(env);
    const signature = signTwilioRequest(AUTH_TOKEN, `${harness.server.baseUrl}/incoming-call`, PARAMS);
    const response = await post(harness, PARAMS, signature);
    expect(response.status).toBe(403);
  });

  it.each([
    ['missing', undefined],
    ['garbage', 'not-a-signature'],
    ['made with another token', signTwilioRequest('another-token-000000000000000000', `${PUBLIC_BASE_URL}/incoming-call`, PARAMS)],
    ['over other params', signTwilioRequest(AUTH_TOKEN, `${PUBLIC_BASE_URL}/incoming-call`, { ...PARAMS, From: '+10000000000' })],
  ])('%s signature → 403 text/plain, nothing admitted, no token issued', async (_name, signature) => {
    const harness = await start(env);
    const response = await post(harness, PARAMS, signature);
    expect(response).toEqual({ status: 403, contentType: 'text/plain; charset=utf-8', body: 'Forbidden' });
    expect(harness.admitted).toEqual([]);
    expect(harness.accepted).toEqual([]);
    expect(harness.tokens.size).toBe(0);
  });

  it('at capacity → 200 busy TwiML, no token issued', async () => {
    const harness = await start(env, false);
    const signature = signTwilioRequest(AUTH_TOKEN, `${PUBLIC_BASE_URL}/incoming-call`, PARAMS);
    const response = await post(harness, PARAMS, signature);
    expect(response.status).toBe(200);
    expect(response.contentType).toBe('text/xml; charset=utf-8');
    expect(response.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Say>[^<]+<\/Say><Hangup\/><\/Response>$/);
    expect(harness.admitted).toEqual(['CA0123']);
    expect(harness.accepted).toEqual([]);
    expect(harness.tokens.size).toBe(0);
  });

  it('signed but without CallSid → 400, nothing admitted', async () => {
    const harness = await start(env);
    const { CallSid: _omit, ...withoutCallSid } = PARAMS;
    const signature = signTwilioRequest(AUTH_TOKEN, `${PUBLIC_BASE_URL}/incoming-call`, withoutCallSid);
    const response = await post(harness, withoutCallSid, signature);
    expect(response.status).toBe(400);
    expect(harness.admitted).toEqual([]);
    expect(harness.tokens.size).toBe(0);
  });

  it('a throwing onCallAccepted does not spoil the answer', async () => {
    const harness = await start(env, true, true);
    const signature = signTwilioRequest(AUTH_TOKEN, `${PUBLIC_BASE_URL}/incoming-call`, PARAMS);
    const response = await post(harness, PARAMS, signature);
    expect(response.status).toBe(200);
    expect(response.body).toBe(expectedStreamTwiml(harness.accepted[0]!.token));
  });
});

describe('POST /incoming-call without an auth token (development)', () => {
  it('accepts unsigned requests and speaks the prelude first', async () => {
    const harness = await start({ TWIML_PRELUDE_SAY: 'Connecting you now.' });
    const response = await post(harness, PARAMS);
    expect(response.status).toBe(200);
    expect(response.body).toBe(expectedStreamTwiml(harness.accepted[0]!.token, '<Say>Connecting you now.</Say>'));
  });

  it('missing CallSid → 400 text/plain', async () => {
    const harness = await start({});
    const response = await post(harness, { From: '+1' });
    expect(response).toEqual({ status: 400, contentType: 'text/plain; charset=utf-8', body: 'Missing CallSid' });
  });
});
