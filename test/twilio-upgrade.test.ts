import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { loadConfig, type Config } from '../src/config.js';
import { signTwilioRequest } from '../src/twilio/signature.js';
import { checkMediaStreamUpgrade } from '../src/twilio/upgrade.js';
import { listen, type TestServer } from './helpers/twilio-http.js';

const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
const WSS_URL = 'wss://voice.example.com/media-stream';

function request(url: string, headers: Record<string, string> = {}): http.IncomingMessage {
  return { url, headers } as unknown as http.IncomingMessage;
}

const signed = loadConfig({ NODE_ENV: 'test', PUBLIC_BASE_URL: 'https://voice.example.com', TWILIO_AUTH_TOKEN: AUTH_TOKEN });
const unsigned = loadConfig({ NODE_ENV: 'test', PUBLIC_BASE_URL: 'https://voice.example.com' });
const goodSignature = signTwilioRequest(AUTH_TOKEN, WSS_URL, {});

describe('checkMediaStreamUpgrade', () => {
  it.each([
    ['/media-stream', { 'x-twilio-signature': goodSignature }, signed, { ok: true }],
    ['/media-stream', {}, unsigned, { ok: true }],
    ['/other', {}, unsigned, { ok: false, status: 404, reason: 'Not found' }],
    ['/media-stream/', {}, unsigned, { ok: false, status: 404, reason: 'Not found' }],
    ['//evil.example.com/media-stream', {}, unsigned, { ok: false, status: 404, reason: 'Not found' }],
    ['/other', { 'x-twilio-signature': goodSignature }, signed, { ok: false, status: 404, reason: 'Not found' }],
    ['/media-stream', {}, signed, { ok: false, status: 403, reason: 'Missing Twilio signature' }],
    ['/media-stream', { 'x-twilio-signature': 'bogus' }, signed, { ok: false, status: 403, reason: 'Invalid Twilio signature' }],
    [
      '/media-stream',
      { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, 'wss://voice.example.com/incoming-call', {}) },
      signed,
      { ok: false, status: 403, reason: 'Invalid Twilio signature' },
    ],
  ] as Array<[string, Record<string, string>, Readonly<Config>, unknown]>)('%s %j', (url, headers, config, expected) => {
    expect(checkMediaStreamUpgrade(request(url, headers), config)).toEqual(expected);
  });
});

describe('checkMediaStreamUpgrade in ws verifyClient', () => {
  let server: TestServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  async function startWss(): Promise<TestServer> {
    const httpServer = http.createServer();
    const wss = new WebSocketServer({
      server: httpServer,
      verifyClient: (info, done) => {
        const verdict = checkMediaStreamUpgrade(info.req, signed);
        if (verdict.ok) done(true);
        else done(false, verdict.status, verdict.reason);
      },
    });
    wss.on('connection', (socket) => socket.close(1000, 'ok'));
    server = await listen(() => undefined, httpServer);
    return server;
  }

  function connect(url: string, headers: Record<string, string>): Promise<{ status: number }> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.on('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode ?? 0 });
        res.resume();
        socket.terminate();
      });
      socket.on('open', () => {
        resolve({ status: 101 });
        socket.close();
      });
      socket.on('error', (error) => reject(error));
    });
  }

  it('refuses with an HTTP status before any WebSocket handshake', async () => {
    const { port } = await startWss();
    expect(await connect(`ws://127.0.0.1:${port}/media-stream`, {})).toEqual({ status: 403 });
    expect(await connect(`ws://127.0.0.1:${port}/elsewhere`, { 'x-twilio-signature': goodSignature })).toEqual({ status: 404 });
    expect(await connect(`ws://127.0.0.1:${port}/media-stream`, { 'x-twilio-signature': goodSignature })).toEqual({ status: 101 });
  });
});
