import { describe, expect, it } from 'vitest';
import {
  isValidUpgradeSignature,
  isValidWebhookSignature,
  mediaStreamUrl,
  signTwilioRequest,
} from '../src/twilio/signature.js';

const AUTH_TOKEN = '12345678901234567890123456789012';
const URL_ = 'https://voice.example.com/incoming-call';
const PARAMS = { CallSid: 'CA1', From: '+15551230000', To: '+15559870000', AccountSid: 'AC1' };

describe('webhook signatures', () => {
  it('matches the algorithm Twilio documents (HMAC-SHA1 over URL + sorted key/value pairs, base64)', async () => {
    const { createHmac } = await import('node:crypto');
    const data = URL_ + 'AccountSidAC1' + 'CallSidCA1' + 'From+15551230000' + 'To+15559870000';
    expect(signTwilioRequest(AUTH_TOKEN, URL_, PARAMS)).toBe(createHmac('sha1', AUTH_TOKEN).update(data).digest('base64'));
  });

  it('accepts a correct signature', () => {
    expect(isValidWebhookSignature(AUTH_TOKEN, signTwilioRequest(AUTH_TOKEN, URL_, PARAMS), URL_, PARAMS)).toBe(true);
  });

  it('rejects a missing, empty or wrong signature', () => {
    expect(isValidWebhookSignature(AUTH_TOKEN, undefined, URL_, PARAMS)).toBe(false);
    expect(isValidWebhookSignature(AUTH_TOKEN, '', URL_, PARAMS)).toBe(false);
    expect(isValidWebhookSignature(AUTH_TOKEN, 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=', URL_, PARAMS)).toBe(false);
  });

  it('rejects a signature made with another token, another URL or other params', () => {
    expect(isValidWebhookSignature(AUTH_TOKEN, signTwilioRequest('other-token-000000000000000000000', URL_, PARAMS), URL_, PARAMS)).toBe(false);
    expect(isValidWebhookSignature(AUTH_TOKEN, signTwilioRequest(AUTH_TOKEN, 'https://evil.example.com/incoming-call', PARAMS), URL_, PARAMS)).toBe(false);
    expect(isValidWebhookSignature(AUTH_TOKEN, signTwilioRequest(AUTH_TOKEN, URL_, { ...PARAMS, To: '+19999999999' }), URL_, PARAMS)).toBe(false);
  });

  it('returns false (does not throw) for a malformed URL', () => {
    expect(isValidWebhookSignature(AUTH_TOKEN, 'x', 'not a url', PARAMS)).toBe(false);
  });
});

describe('upgrade signatures', () => {
  const WSS = 'wss://voice.example.com/media-stream';

  it('accepts the signature over the wss URL with no params', () => {
    expect(isValidUpgradeSignature(AUTH_TOKEN, signTwilioRequest(AUTH_TOKEN, WSS, {}), WSS)).toBe(true);
  });

  it('rejects missing and wrong signatures', () => {
    expect(isValidUpgradeSignature(AUTH_TOKEN, undefined, WSS)).toBe(false);
    expect(isValidUpgradeSignature(AUTH_TOKEN, signTwilioRequest(AUTH_TOKEN, 'wss://other.example.com/media-stream', {}), WSS)).toBe(false);
  });
});

describe('mediaStreamUrl', () => {
  it.each([
    ['https://voice.example.com', 'wss://voice.example.com/media-stream'],
    ['http://localhost:8080', 'ws://localhost:8080/media-stream'],
    ['https://voice.example.com:8443', 'wss://voice.example.com:8443/media-stream'],
    ['https://voice.example.com/', 'wss://voice.example.com/media-stream'],
  ])('%s → %s', (base, expected) => {
    expect(mediaStreamUrl(base)).toBe(expected);
  });

  it('throws for a non-http scheme', () => {
    expect(() => mediaStreamUrl('ftp://voice.example.com')).toThrow(TypeError);
  });
});
