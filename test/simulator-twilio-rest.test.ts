/**
 * The simulated Twilio REST API driven by the REAL `twilio` client (pointed at it with `client.api.baseUrl`), against
 * a tiny express app playing callbridge: it answers TwiML, accepts the media stream and checks every signature with
 * `twilio.validateRequest`. Real sockets on 127.0.0.1:0; ringing, Say, Pause and Dial run at TIME_SCALE.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import twilio from 'twilio';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { mulawSilence } from '../src/audio/frames.js';
import { ManualClock } from '../src/clock.js';
import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import { concatBytes } from '../src/audio/pcm.js';
import { rebaseUrls, startSimulatedTwilioRest, type CalleeBehaviour, type SimulatedTwilioRest } from '../src/simulator/twilio-rest/server.js';
import { sineInt16, toneAmplitude } from './helpers/signal.js';

const ACCOUNT_SID = `AC${'a1'.repeat(16)}`;
const AUTH_TOKEN = 'sim-auth-token-0123456789abcdef';
const API_KEY = { sid: `SK${'b2'.repeat(16)}`, secret: 'sim-api-key-secret' };
const FROM = '+15005550006';
const TIME_SCALE = 0.01;

/** `durationMs` of a sine (mu-law 8 kHz), or silence when `hz` is 0. */
function tone(hz: number, durationMs: number): Uint8Array {
  return hz === 0 ? mulawSilence(durationMs * 8) : encodeMulaw(sineInt16(hz, 8_000, durationMs * 8, 8_000));
}

interface Arrival {
  path: string;
  params: Record<string, string>;
  signatureValid: boolean;
}

interface TestStream {
  socket: WebSocket;
  signatureValid: boolean;
  messages: Array<Record<string, any>>;
}

interface App {
  baseUrl: string;
  arrivals: Arrival[];
  streams: TestStream[];
  /** TwiML by path; a path without one answers 204 (callbacks), '500' answers HTTP 500. */
  twiml: Record<string, string>;
  close(): Promise<void>;
}

async function startApp(): Promise<App> {
  const arrivals: Arrival[] = [];
  const streams: TestStream[] = [];
  const twiml: Record<string, string> = {};
  let baseUrl = '';
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use((request, response) => {
    const params = { ...(request.body as Record<string, string> | undefined) };
    const signature = request.header('x-twilio-signature') ?? '';
    arrivals.push({ path: request.path, params, signatureValid: twilio.validateRequest(AUTH_TOKEN, signature, baseUrl + request.originalUrl, params) });
    const answer = twiml[request.path];
    if (answer === undefined) response.status(204).end();
    else if (answer === '500') response.status(500).send('boom');
    else response.type('text/xml').send(answer);
  });
  const server = http.createServer(app);
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (request, socket, head) => {
    const signature = String(request.headers['x-twilio-signature'] ?? '');
    const signatureValid = twilio.validateRequest(AUTH_TOKEN, signature, `ws://127.0.0.1:${port}${request.url}`, {});
    wss.handleUpgrade(request, socket, head, (ws) => {
      const stream: TestStream = { socket: ws, signatureValid, messages: [] };
      ws.on('message', (data) => stream.messages.push(JSON.parse(data.toString()) as Record<string, any>));
      streams.push(stream);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    arrivals,
    streams,
    twiml,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `read` until it returns a value other than undefined. */
async function eventually<T>(read: () => T | undefined, what: string, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let app: App;
let sim: SimulatedTwilioRest;
let callees: Record<string, CalleeBehaviour>;

async function setUp(behaviours: Record<string, CalleeBehaviour>): Promise<void> {
  callees = behaviours;
  app = await startApp();
  sim = await startSimulatedTwilioRest({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    apiKeys: [API_KEY],
    callees: (to) => callees[to] ?? { kind: 'fail' },
    timeScale: TIME_SCALE,
  });
}

afterEach(async () => {
  await sim?.close();
  await app?.close();
});

/** The real client, pointed at the simulator the supported way: `api.baseUrl` is read on every request. */
function client(username = ACCOUNT_SID, password = AUTH_TOKEN): twilio.Twilio {
  const restClient = twilio(username, password, { accountSid: ACCOUNT_SID });
  restClient.api.baseUrl = sim.url;
  return restClient;
}

const HUMAN: CalleeBehaviour = { kind: 'human', audio: { kind: 'mulaw', bytes: tone(440, 1_000) } };

function statusCallbacks(): Arrival[] {
  return app.arrivals.filter((arrival) => arrival.path === '/status');
}

describe('simulated Twilio REST API: calls', () => {
  it('creates a call (201 CallInstance, queued, outbound-api) and fetches it', async () => {
    await setUp({ '+15551230001': HUMAN });
    app.twiml['/voice'] = '<Response><Hangup/></Response>';
    const call = await client().calls.create({ to: '+15551230001', from: FROM, url: `${app.baseUrl}/voice` });
    expect(call.sid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(call.status).toBe('queued');
    expect([call.to, call.from, call.toFormatted, call.direction, call.accountSid]).toEqual(['+15551230001', FROM, '(555) 123-0001', 'outbound-api', ACCOUNT_SID]);
    expect(call.uri).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${call.sid}.json`);
    expect(Number.isNaN(call.dateCreated.getTime())).toBe(false);
    await sim.waitForCall(call.sid);
    const fetched = await client().calls(call.sid).fetch();
    expect([fetched.sid, fetched.status, fetched.endTime instanceof Date]).toEqual([call.sid, 'completed', true]);
  });

  it('sends signed status callbacks in order for a human answered with <Say> and <Hangup/>', async () => {
    await setUp({ '+15551230002': HUMAN });
    app.twiml['/voice'] = '<?xml version="1.0"?><Response><Say voice="alice">Hello &amp; goodbye</Say><Hangup/><Say>never</Say></Response>';
    const { sid } = await client().calls.create({
      to: '+15551230002',
      from: FROM,
      url: `${app.baseUrl}/voice?campaign=7`,
      statusCallback: `${app.baseUrl}/status`,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
    });
    const call = await sim.waitForCall(sid);
    const statuses = statusCallbacks();
    expect(statuses.map((arrival) => [arrival.params['CallStatus'], arrival.params['SequenceNumber'], arrival.signatureValid])).toEqual([
      ['initiated', '0', true],
      ['ringing', '1', true],
      ['in-progress', '2', true],
      ['completed', '3', true],
    ]);
    expect(statuses[3]!.params).toMatchObject({ CallSid: sid, AccountSid: ACCOUNT_SID, Direction: 'outbound-api', CallbackSource: 'call-progress-events', CallDuration: '0', Duration: '1', To: '+15551230002', From: FROM });
    const voice = app.arrivals.find((arrival) => arrival.path === '/voice')!;
    expect(voice.signatureValid).toBe(true);
    expect(voice.params).toMatchObject({ CallSid: sid, CallStatus: 'in-progress', Direction: 'outbound-api', To: '+15551230002' });
    expect(call.verbs.map((verb) => verb.verb)).toEqual(['Say', 'Hangup']);
    expect(call.verbs[0]).toMatchObject({ text: 'Hello & goodbye', voice: 'alice' });
    expect([call.status, call.endReason, call.statusHistory.map((entry) => entry.status)]).toEqual(['completed', 'hangup-verb', ['queued', 'ringing', 'in-progress', 'completed']]);
    // The answered callback and the Url request go out together, in no fixed order (as at Twilio).
    expect(call.requests.map((request) => request.kind).sort()).toEqual(['status-callback', 'status-callback', 'status-callback', 'status-callback', 'voice-url']);
  });

  it('streams the callee over <Connect><Stream> and requests the action after the app closes it', async () => {
    await setUp({ '+15551230003': HUMAN });
    app.twiml['/voice'] = `<Response><Connect action="${app.baseUrl}/connect-action"><Stream url="ws://127.0.0.1:${new URL(app.baseUrl).port}/media"><Parameter name="lead" value="42"/></Stream></Connect><Say>skipped</Say></Response>`;
    app.twiml['/connect-action'] = '<Response><Say>bye</Say></Response>';
    const { sid } = await client().calls.create({ to: '+15551230003', from: FROM, url: `${app.baseUrl}/voice`, statusCallback: `${app.baseUrl}/status` });
    const stream = await eventually(() => app.streams[0], 'the media stream');
    await eventually(() => (stream.messages.length >= 12 ? true : undefined), 'media frames');
    stream.socket.close(1000);
    const call = await sim.waitForCall(sid);
    expect(stream.signatureValid).toBe(true);
    expect(stream.messages[0]).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(stream.messages[1]!['start']).toMatchObject({ callSid: sid, accountSid: ACCOUNT_SID, customParameters: { lead: '42' } });
    const callee = decodeMulaw(concatBytes(stream.messages.slice(2, 12).map((message) => Buffer.from(message['media'].payload, 'base64'))));
    expect(toneAmplitude(callee, 440, 8_000)).toBeGreaterThan(3_000);
    const action = app.arrivals.find((arrival) => arrival.path === '/connect-action')!;
    expect([action.signatureValid, action.params['CallSid'], action.params['CallStatus']]).toEqual([true, sid, 'in-progress']);
    expect(call.verbs.map((verb) => verb.verb)).toEqual(['Connect', 'Say']);
    expect([call.endReason, call.streams[0]!.result!.endedBy, call.notifications.map((entry) => entry.code)]).toEqual(['twiml-ended', 'server', [31921]]);
    expect(statusCallbacks().map((arrival) => arrival.params['CallStatus'])).toEqual(['completed']);
  });

  it.each([
    ['busy', { kind: 'busy' }, ['initiated', 'ringing', 'busy'], '486'],
    ['no-answer', { kind: 'no-answer' }, ['initiated', 'ringing', 'no-answer'], '487'],
    ['failed', { kind: 'fail' }, ['initiated', 'failed'], '404'],
  ] as const)('ends a %s call without requesting its Url', async (status, behaviour, callbacks, sipCode) => {
    await setUp({ '+15551230004': behaviour });
    app.twiml['/voice'] = '<Response><Hangup/></Response>';
    const { sid } = await client().calls.create({
      to: '+15551230004',
      from: FROM,
      url: `${app.baseUrl}/voice`,
      timeout: 5,
      statusCallback: `${app.baseUrl}/status`,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
    });
    await sim.waitForCall(sid);
    expect(statusCallbacks().map((arrival) => arrival.params['CallStatus'])).toEqual(callbacks);
    expect(statusCallbacks().at(-1)!.params).toMatchObject({ CallDuration: '0', SipResponseCode: sipCode });
    expect(app.arrivals.some((arrival) => arrival.path === '/voice')).toBe(false);
    expect((await client().calls(sid).fetch()).status).toBe(status);
  });

  it('rings for exactly Timeout on the injected clock before no-answer', async () => {
    await setUp({});
    await sim.close();
    const clock = new ManualClock();
    sim = await startSimulatedTwilioRest({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, callees: () => ({ kind: 'no-answer' }), clock });
    const { sid } = await client().calls.create({ to: '+15551230014', from: FROM, url: `${app.baseUrl}/voice`, timeout: 30, statusCallback: `${app.baseUrl}/status` });
    expect(sim.call(sid)!.status).toBe('ringing');
    clock.advance(29_999);
    expect(sim.call(sid)!.status).toBe('ringing');
    clock.advance(1);
    const call = await sim.waitForCall(sid);
    expect([call.status, call.statusHistory.at(-1)!.atMs]).toEqual(['no-answer', 30_000]);
    expect(statusCallbacks().map((arrival) => arrival.params['CallStatus'])).toEqual(['no-answer']);
  });

  it('cancels a ringing call on update Status=canceled', async () => {
    await setUp({ '+15551230013': { kind: 'no-answer' } });
    const { sid } = await client().calls.create({ to: '+15551230013', from: FROM, url: `${app.baseUrl}/voice`, statusCallback: `${app.baseUrl}/status` });
    await sim.waitForCall(sid, (call) => call.status === 'ringing');
    expect((await client().calls(sid).update({ status: 'canceled' })).status).toBe('canceled');
    const call = await sim.waitForCall(sid);
    expect([call.endReason, call.statusHistory.map((entry) => entry.status)]).toEqual(['api-canceled', ['queued', 'ringing', 'canceled']]);
    expect(statusCallbacks().map((arrival) => [arrival.params['CallStatus'], arrival.params['SipResponseCode']])).toEqual([['canceled', '487']]);
  });

  it('refuses an invalid To with 21211 (a RestException) and creates no call', async () => {
    await setUp({});
    const error = await client().calls.create({ to: '555-1234', from: FROM, url: `${app.baseUrl}/voice` }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(twilio.RestException);
    expect([(error as twilio.RestException).status, (error as twilio.RestException).code]).toEqual([400, 21211]);
    const badUrl = await client().calls.create({ to: '+15551230005', from: FROM, url: 'not a url' }).catch((caught: unknown) => caught);
    expect((badUrl as twilio.RestException).code).toBe(21205);
    expect(sim.calls()).toEqual([]);
  });

  it('answers bad credentials with 401 20003 and creates no call; an API key works', async () => {
    await setUp({ '+15551230006': HUMAN });
    app.twiml['/voice'] = '<Response><Hangup/></Response>';
    const error = await client(ACCOUNT_SID, 'wrong-token').calls.create({ to: '+15551230006', from: FROM, url: `${app.baseUrl}/voice` }).catch((caught: unknown) => caught);
    expect([(error as twilio.RestException).status, (error as twilio.RestException).code, (error as twilio.RestException).message]).toEqual([401, 20003, 'Authenticate']);
    expect(sim.calls()).toEqual([]);
    const otherAccount = await fetch(`${sim.url}/2010-04-01/Accounts/AC${'0'.repeat(32)}/Calls.json`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}` },
    });
    expect([otherAccount.status, ((await otherAccount.json()) as { code: number }).code]).toEqual([404, 20404]);
    const call = await client(API_KEY.sid, API_KEY.secret).calls.create({ to: '+15551230006', from: FROM, url: `${app.baseUrl}/voice` });
    expect(sim.calls().map((simulated) => simulated.sid)).toEqual([call.sid]);
  });

  it('ends a live call on update Status=completed: the stream gets stop and the action is not requested', async () => {
    // 100 ms of speech: the line then stays open (a phone's silence) until someone hangs up.
    await setUp({ '+15551230007': { kind: 'human', audio: { kind: 'mulaw', bytes: tone(440, 100) } } });
    app.twiml['/voice'] = `<Response><Connect action="${app.baseUrl}/connect-action"><Stream url="ws://127.0.0.1:${new URL(app.baseUrl).port}/media"/></Connect></Response>`;
    const { sid } = await client().calls.create({ to: '+15551230007', from: FROM, url: `${app.baseUrl}/voice`, statusCallback: `${app.baseUrl}/status` });
    const stream = await eventually(() => app.streams[0], 'the media stream');
    await eventually(() => (stream.messages.length >= 22 ? true : undefined), '20 media frames');
    const media = stream.messages.slice(2, 22).map((message) => message['media'] as { chunk: string; timestamp: string; payload: string });
    expect(media.map((frame) => [frame.chunk, frame.timestamp])).toEqual(media.map((_, index) => [String(index + 1), String(20 * (index + 1))]));
    expect(media.slice(6).every((frame) => frame.payload === Buffer.from(mulawSilence(160)).toString('base64'))).toBe(true);
    const updated = await client().calls(sid).update({ status: 'completed' });
    expect(updated.status).toBe('completed');
    const call = await sim.waitForCall(sid);
    expect(stream.messages.at(-1)).toMatchObject({ event: 'stop', stop: { callSid: sid, accountSid: ACCOUNT_SID } });
    expect([call.endReason, call.streams[0]!.result!.endedBy]).toEqual(['api-completed', 'caller']);
    expect(app.arrivals.map((arrival) => arrival.path)).toEqual(['/voice', '/status']);
    expect(statusCallbacks()[0]!.params['CallStatus']).toBe('completed');
  });

  it('replaces the running TwiML on update Twiml, and posts the <Dial> action', async () => {
    await setUp({ '+15551230008': HUMAN });
    app.twiml['/dial-action'] = '<Response><Hangup/></Response>';
    const { sid } = await client().calls.create({ to: '+15551230008', from: FROM, twiml: '<Response><Pause length="600"/></Response>' });
    await sim.waitForCall(sid, (call) => call.verbs.length === 1);
    await client()
      .calls(sid)
      .update({ twiml: `<Response><Dial action="${app.baseUrl}/dial-action" callerId="${FROM}">+15559990000</Dial></Response>` });
    const call = await sim.waitForCall(sid);
    expect(call.verbs.map((verb) => verb.verb)).toEqual(['Pause', 'Dial', 'Hangup']);
    expect(call.verbs[1]).toMatchObject({ number: '+15559990000', callerId: FROM });
    const dial = app.arrivals.find((arrival) => arrival.path === '/dial-action')!;
    expect([dial.signatureValid, dial.params['DialCallStatus'], dial.params['DialCallDuration']]).toEqual([true, 'completed', '1']);
    // The 600 s pause (6 s at this time scale) was cut short.
    expect(call.endedAtMs! - call.answeredAtMs!).toBeLessThan(3_000);
  });

  it('ends the call with error 11200 when the Url answers HTTP 500', async () => {
    await setUp({ '+15551230009': HUMAN });
    app.twiml['/voice'] = '500';
    const { sid } = await client().calls.create({ to: '+15551230009', from: FROM, url: `${app.baseUrl}/voice` });
    const call = await sim.waitForCall(sid);
    expect([call.status, call.endReason, call.notifications.map((entry) => entry.code)]).toEqual(['completed', 'application-error', [11200]]);
  });
});

describe('simulated Twilio REST API: answering machine detection', () => {
  it('async AMD: requests the Url at answer, then posts AnsweredBy=human after the first words and silence', async () => {
    // 300 ms of speech, then silence: human at 300 + the 500 ms speech-end threshold.
    await setUp({ '+15551230010': { kind: 'human', audio: { kind: 'mulaw', bytes: concatBytes([tone(440, 300), tone(0, 700)]) } } });
    app.twiml['/voice'] = '<Response><Pause length="300"/></Response>';
    const { sid } = await client().calls.create({
      to: '+15551230010',
      from: FROM,
      url: `${app.baseUrl}/voice`,
      machineDetection: 'Enable',
      machineDetectionSpeechEndThreshold: 500,
      asyncAmd: 'true',
      asyncAmdStatusCallback: `${app.baseUrl}/amd`,
    });
    const amd = await eventually(() => app.arrivals.find((arrival) => arrival.path === '/amd'), 'the AMD callback');
    expect(amd.params).toEqual({ AccountSid: ACCOUNT_SID, AnsweredBy: 'human', CallSid: sid, MachineDetectionDuration: '800' });
    expect(amd.signatureValid).toBe(true);
    const call = sim.call(sid)!;
    expect(call.requests.map((request) => request.kind)).toEqual(['voice-url', 'amd-callback']);
    expect(call.requests[0]!.params['AnsweredBy']).toBeUndefined();
    expect(call.requests[1]!.atMs - call.answeredAtMs!).toBeGreaterThanOrEqual(800);
    expect(call.answeredBy).toBe('human');
  });

  it('async AMD DetectMessageEnd: machine_end_beep when the beep ends; the app speaks after it and is heard only then', async () => {
    const greeting = tone(440, 600);
    await setUp({ '+15551230011': { kind: 'voicemail', greeting: { kind: 'mulaw', bytes: greeting }, beepMs: 400, recordMs: 1_000 } });
    app.twiml['/voice'] = `<Response><Connect><Stream url="ws://127.0.0.1:${new URL(app.baseUrl).port}/media"/></Connect></Response>`;
    const { sid } = await client().calls.create({
      to: '+15551230011',
      from: FROM,
      url: `${app.baseUrl}/voice`,
      machineDetection: 'DetectMessageEnd',
      asyncAmd: 'true',
      asyncAmdStatusCallback: `${app.baseUrl}/amd`,
      statusCallback: `${app.baseUrl}/status`,
    });
    const stream = await eventually(() => app.streams[0], 'the media stream');
    const amd = await eventually(() => app.arrivals.find((arrival) => arrival.path === '/amd'), 'the AMD callback', 5_000);
    expect([amd.params['AnsweredBy'], amd.params['MachineDetectionDuration'], amd.signatureValid]).toEqual(['machine_end_beep', '1000', true]);
    // The "agent" leaves its message only now.
    const streamSid = stream.messages[1]!['streamSid'] as string;
    stream.socket.send(JSON.stringify({ event: 'media', streamSid, media: { payload: Buffer.from(tone(700, 300)).toString('base64') } }));
    const call = await sim.waitForCall(sid);
    expect([call.greetingEndMs, call.beepEndMs, call.endReason, call.answeredBy]).toEqual([600, 1_000, 'callee-hung-up', 'machine_end_beep']);
    const heard = call.heardSinceAnswer();
    expect(heard.map((segment) => segment.bytes.length)).toEqual([2_400]);
    expect(heard[0]!.startMs).toBeGreaterThanOrEqual(1_000);
    // The app heard the greeting, then the 1 kHz beep, through the stream.
    const inbound = decodeMulaw(concatBytes(stream.messages.filter((message) => message['event'] === 'media').map((message) => Buffer.from(message['media'].payload, 'base64'))));
    const offsetSamples = Math.round(call.streams[0]!.startedAtMs * 8);
    const beep = inbound.subarray(600 * 8 - offsetSamples + 160, 1_000 * 8 - offsetSamples - 160);
    expect(toneAmplitude(beep, 1_000, 8_000)).toBeGreaterThan(3_000);
    expect(stream.messages.at(-1)!['event']).toBe('stop');
    expect(statusCallbacks().map((arrival) => [arrival.params['CallStatus'], arrival.params['CallDuration']])).toEqual([['completed', '2']]);
    expect(statusCallbacks()[0]!.params['Duration']).toBe('1');
  });

  it('synchronous AMD: waits for the verdict and requests the Url with AnsweredBy', async () => {
    await setUp({ '+15551230012': { kind: 'voicemail', greeting: { kind: 'mulaw', bytes: tone(440, 500) }, recordMs: 500 } });
    app.twiml['/voice'] = '<Response><Hangup/></Response>';
    const { sid } = await client().calls.create({ to: '+15551230012', from: FROM, url: `${app.baseUrl}/voice`, machineDetection: 'Enable' });
    const call = await sim.waitForCall(sid);
    const voice = call.requests[0]!;
    expect([voice.kind, voice.params['AnsweredBy'], call.answeredBy, call.endReason]).toEqual(['voice-url', 'machine_start', 'machine_start', 'hangup-verb']);
    expect(voice.atMs - call.answeredAtMs!).toBeGreaterThanOrEqual(500);
  });
});

describe('rebaseUrls', () => {
  it('sends the public origin to the local one, keeping path and query; other hosts pass unchanged', () => {
    const route = rebaseUrls('https://app.example', 'http://127.0.0.1:8080');
    expect(route('https://app.example/voice?lead=1')).toBe('http://127.0.0.1:8080/voice?lead=1');
    expect(route('wss://app.example/media-stream')).toBe('ws://127.0.0.1:8080/media-stream');
    expect(route('https://elsewhere.example/status')).toBe('https://elsewhere.example/status');
  });
});
