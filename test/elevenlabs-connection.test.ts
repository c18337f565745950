/**
 * The ElevenLabs conversation socket against a scripted fake server over real sockets: the exact dial (signed URL
 * with `xi-api-key`, the signed URL used as is, subprotocol `convai`), the initiation first, a pong for every ping
 * even before anyone listens, formats from the metadata, caller audio held until ready and flushed in order, the
 * fault kind for each way a conversation dies, and that the API key never reaches a log line.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { createLogger, type Logger } from '../src/logger.js';
import { openElevenLabsConnection, type ElevenLabsConnection, type ElevenLabsConnectionOptions, type ElevenLabsReady } from '../src/providers/elevenlabs/connection.js';
import { buildInitiation, type ElevenLabsServerMessage } from '../src/providers/elevenlabs/wire.js';
import type { VoiceAgentFault } from '../src/voice/port.js';
import { audio, bytes, FakeElevenLabsServer, ping, SIGNED_URL_SIGNATURE } from './helpers/elevenlabs-fake-server.js';

const API_KEY = 'xi-test-DO-NOT-LOG-93b1f0c4a2';

/** Every log line, at trace, with the logger's own secret filter off. */
class LogCapture {
  readonly lines: string[] = [];
  readonly logger: Logger = createLogger({ level: 'trace', destination: { write: (line: string) => void this.lines.push(line) }, secrets: [] });
}

interface Recorder {
  ready: ElevenLabsReady[];
  messages: ElevenLabsServerMessage[];
  faults: VoiceAgentFault[];
}

function attach(connection: ElevenLabsConnection): Recorder {
  const recorder: Recorder = { ready: [], messages: [], faults: [] };
  connection.setHandlers({
    onReady: (ready) => recorder.ready.push(ready),
    onMessage: (message) => recorder.messages.push(message),
    onFault: (fault) => recorder.faults.push(fault),
  });
  return recorder;
}

let server: FakeElevenLabsServer;
let capture: LogCapture;
let clock: ManualClock;
const connections: ElevenLabsConnection[] = [];

beforeEach(async () => {
  server = await FakeElevenLabsServer.start();
  capture = new LogCapture();
  clock = new ManualClock(0);
});

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.close();
  await server.stop();
});

function open(overrides: Partial<ElevenLabsConnectionOptions> = {}): ElevenLabsConnection {
  const connection = openElevenLabsConnection({
    target: overrides.target ?? { kind: 'private', apiBaseUrl: server.apiBaseUrl, apiKey: API_KEY, agentId: 'agent_1' },
    initiation: buildInitiation({ firstMessage: 'Hello!' }, { caller: '+14155550100' }),
    logger: capture.logger,
    clock,
    connectTimeoutMs: 5_000,
    ...overrides,
  });
  connections.push(connection);
  return connection;
}

async function openReady(input = 'ulaw_8000', output = 'ulaw_8000', overrides: Partial<ElevenLabsConnectionOptions> = {}): Promise<{ connection: ElevenLabsConnection; recorder: Recorder }> {
  const before = server.messages.length;
  const connection = open(overrides);
  const recorder = attach(connection);
  await server.waitForMessages(before + 1);
  server.sendMetadata(input, output);
  await vi.waitFor(() => expect(recorder.ready).toHaveLength(1));
  return { connection, recorder };
}

/** A port nothing listens on (bound, read, released). */
async function unusedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const fault = async (recorder: Recorder): Promise<VoiceAgentFault> => {
  await vi.waitFor(() => expect(recorder.faults.length).toBeGreaterThan(0));
  return recorder.faults[0]!;
};

describe('dialling', () => {
  it('fetches a signed URL with xi-api-key, opens it as is with subprotocol convai, and sends the initiation first', async () => {
    const { connection } = await openReady();
    expect(server.signedUrlRequests).toHaveLength(1);
    expect(server.signedUrlRequests[0]!.url).toBe('/v1/convai/conversation/get-signed-url?agent_id=agent_1');
    expect(server.signedUrlRequests[0]!.headers['xi-api-key']).toBe(API_KEY);
    expect(server.upgrades[0]!.url).toBe(`/v1/convai/conversation?agent_id=agent_1&conversation_signature=${SIGNED_URL_SIGNATURE}`);
    expect(server.upgrades[0]!.headers['sec-websocket-protocol']).toBe('convai');
    expect(server.upgrades[0]!.headers['xi-api-key']).toBeUndefined();
    expect(server.messages[0]).toEqual({
      type: 'conversation_initiation_client_data',
      conversation_config_override: { agent: { first_message: 'Hello!' } },
      dynamic_variables: { caller: '+14155550100' },
    });
    expect(connection.conversationId).toBe('conv_fake');
    const logs = capture.lines.join('\n');
    expect(logs).not.toContain(API_KEY);
    expect(logs).not.toContain(SIGNED_URL_SIGNATURE);
  });

  it('dials a public agent directly, without the signed-URL request', async () => {
    const connection = open({ target: { kind: 'public', wsBaseUrl: server.wsBaseUrl, agentId: 'pub_7' } });
    const recorder = attach(connection);
    await server.waitForMessages(1);
    expect(server.signedUrlRequests).toHaveLength(0);
    expect(server.upgrades[0]!.url).toBe('/v1/convai/conversation?agent_id=pub_7');
    server.sendMetadata();
    await vi.waitFor(() => expect(recorder.ready).toHaveLength(1));
  });
});

describe('pings', () => {
  it('answers every ping with its event id at once, before ready and before anyone listens', async () => {
    const connection = open();
    await server.waitForMessages(1);
    server.send(ping(1));
    server.send(ping(2, 10));
    await server.waitForMessages(3);
    server.sendMetadata();
    server.send(ping(3));
    await server.waitForMessages(4);
    expect(server.messages.slice(1)).toEqual([
      { type: 'pong', event_id: 1 },
      { type: 'pong', event_id: 2 },
      { type: 'pong', event_id: 3 },
    ]);
    expect(connection.stats().messagesIn).toMatchObject({ ping: 3, conversation_initiation_metadata: 1 });
  });
});

describe('formats from the metadata', () => {
  it('ulaw_8000 is mu-law at 8 kHz', async () => {
    const { connection, recorder } = await openReady('ulaw_8000', 'ulaw_8000');
    const expected = { input: { encoding: 'pcmu', sampleRateHz: 8_000 }, output: { encoding: 'pcmu', sampleRateHz: 8_000 } };
    expect(connection.formats).toEqual(expected);
    expect(recorder.ready[0]!.formats).toBe(connection.formats);
  });

  it('pcm_16000 is PCM16 at 16 kHz, per direction', async () => {
    const { connection } = await openReady('pcm_16000', 'pcm_24000');
    expect(connection.formats).toEqual({ input: { encoding: 'pcm16', sampleRateHz: 16_000 }, output: { encoding: 'pcm16', sampleRateHz: 24_000 } });
  });

  it('mp3_44100 is a protocol fault naming the format', async () => {
    const connection = open();
    const recorder = attach(connection);
    await server.waitForMessages(1);
    server.sendMetadata('pcm_16000', 'mp3_44100');
    const received = await fault(recorder);
    expect(received.kind).toBe('protocol');
    expect(received.message).toContain('agent_output_audio_format "mp3_44100"');
    expect(recorder.ready).toHaveLength(0);
    expect(connection.formats).toBeNull();
    expect(connection.state).toBe('closed');
  });
});

describe('caller audio', () => {
  it('is held until ready, then flushed in order before anything later', async () => {
    const connection = open();
    const recorder = attach(connection);
    connection.appendAudio(bytes(1));
    connection.send({ type: 'user_activity' });
    connection.appendAudio(bytes(2));
    await server.waitForMessages(1);
    connection.appendAudio(bytes(3));
    await server.roundTrip();
    expect(server.messages).toHaveLength(1);
    server.sendMetadata();
    await vi.waitFor(() => expect(recorder.ready).toHaveLength(1));
    // From ready on, APPEND_BATCH_MS (default 40 ms) of audio per chunk: 4 and 5 leave as one.
    connection.appendAudio(bytes(4));
    connection.appendAudio(bytes(5));
    await server.waitForMessages(6);
    const chunk = (...fills: number[]): object => ({ user_audio_chunk: Buffer.concat(fills.map((fill) => bytes(fill))).toString('base64') });
    expect(server.messages.slice(1)).toEqual([chunk(1), { type: 'user_activity' }, chunk(2), chunk(3), chunk(4, 5)]);
    expect(connection.stats().audioBytesSent).toBe(800);
  });

  it('once ready, gathers 40 ms per chunk; a part-filled batch goes before any other message and before the close', async () => {
    const { connection } = await openReady('pcm_16000', 'pcm_16000');
    const pcm = (fill: number): Uint8Array => new Uint8Array(640).fill(fill); // 20 ms at 16 kHz
    const chunk = (...fills: number[]): object => ({ user_audio_chunk: Buffer.concat(fills.map((fill) => pcm(fill))).toString('base64') });
    connection.appendAudio(pcm(1));
    connection.appendAudio(pcm(2)); // 1 280 bytes = 40 ms: sent
    connection.appendAudio(pcm(3));
    connection.send({ type: 'user_activity' });
    connection.appendAudio(pcm(4));
    connection.close();
    await server.waitForMessages(5);
    expect(server.messages.slice(1)).toEqual([chunk(1, 2), chunk(3), { type: 'user_activity' }, chunk(4)]);
    expect(connection.stats().audioBytesSent).toBe(4 * 640);
  });

  it('APPEND_BATCH_MS 20: each chunk as it comes', async () => {
    const { connection } = await openReady('ulaw_8000', 'ulaw_8000', { appendBatchMs: 20 });
    connection.appendAudio(bytes(1));
    connection.appendAudio(bytes(2));
    await server.waitForMessages(3);
    expect(server.messages.slice(1)).toEqual([1, 2].map((fill) => ({ user_audio_chunk: Buffer.from(bytes(fill)).toString('base64') })));
  });

  it('is bounded before ready: the oldest chunks are dropped and counted', async () => {
    const connection = open({ maxHeldAudioBytes: 320 });
    const recorder = attach(connection);
    for (const fill of [1, 2, 3]) connection.appendAudio(bytes(fill));
    await server.waitForMessages(1);
    server.sendMetadata();
    await vi.waitFor(() => expect(recorder.ready).toHaveLength(1));
    await server.waitForMessages(3);
    expect(server.messages.slice(1).map((message) => Buffer.from(message['user_audio_chunk'] as string, 'base64')[0])).toEqual([2, 3]);
    expect(connection.stats()).toMatchObject({ heldAudioDroppedChunks: 1, heldAudioDroppedBytes: 160 });
  });
});

describe('server messages', () => {
  it('are held until handlers are set, then delivered in order', async () => {
    const connection = open();
    await server.waitForMessages(1);
    server.sendMetadata();
    server.send(audio(1, bytes(7)));
    server.sendRaw('{"type":"surprise"}');
    server.sendRaw('not json');
    await server.roundTrip();
    const recorder = attach(connection);
    expect(recorder.ready).toHaveLength(1);
    expect(recorder.messages).toEqual([{ type: 'audio', eventId: 1, audioBase64: Buffer.from(bytes(7)).toString('base64') }]);
    expect(connection.stats().skippedIn).toBe(2);
  });
});

describe('faults', () => {
  it('401 on the signed URL is unauthorized, and the key is nowhere in the logs or the fault', async () => {
    server.signedUrl = { kind: 'status', status: 401 };
    const recorder = attach(open());
    const received = await fault(recorder);
    expect(received).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect(server.signedUrlRequests[0]!.headers['xi-api-key']).toBe(API_KEY);
    expect(JSON.stringify(received)).not.toContain(API_KEY);
    expect(capture.lines.length).toBeGreaterThan(0);
    expect(capture.lines.join('\n')).not.toContain(API_KEY);
    expect(server.upgrades).toHaveLength(0);
  });

  it('another status on the signed URL is handshake_failed with the status', async () => {
    server.signedUrl = { kind: 'status', status: 500 };
    expect(await fault(attach(open()))).toMatchObject({ kind: 'handshake_failed', status: 500 });
  });

  it('a signed-URL answer without a ws URL is handshake_failed', async () => {
    server.signedUrl = { kind: 'body', body: { signed_url: 'https://elsewhere.example/x' } };
    expect(await fault(attach(open()))).toMatchObject({ kind: 'handshake_failed', code: 'bad_signed_url' });
  });

  it('a refused connection is connect_failed', async () => {
    const closedPort = await unusedPort();
    const recorder = attach(open({ target: { kind: 'private', apiBaseUrl: `http://127.0.0.1:${closedPort}`, apiKey: API_KEY, agentId: 'agent_1' } }));
    expect(await fault(recorder)).toMatchObject({ kind: 'connect_failed', code: 'ECONNREFUSED' });
    expect(capture.lines.join('\n')).not.toContain(API_KEY);
  });

  it('no signed URL in time is connect_timeout (and the request is abandoned)', async () => {
    server.signedUrl = { kind: 'hang' };
    const recorder = attach(open());
    await server.waitForSignedUrlRequest();
    clock.advance(5_000);
    expect(recorder.faults).toEqual([{ kind: 'connect_timeout', message: 'no signed URL within 5000 ms' }]);
  });

  it('no metadata in time is connect_timeout', async () => {
    const recorder = attach(open());
    await server.waitForMessages(1);
    clock.advance(4_999);
    expect(recorder.faults).toHaveLength(0);
    clock.advance(1);
    expect(recorder.faults).toMatchObject([{ kind: 'connect_timeout', message: 'no conversation_initiation_metadata within 5000 ms' }]);
    await server.waitForClientClose();
  });

  it('a refused upgrade is unauthorized for 403', async () => {
    server.rejectUpgradeWith = 403;
    expect(await fault(attach(open()))).toMatchObject({ kind: 'unauthorized', status: 403 });
  });

  it('close 1011 is closed with the code', async () => {
    const { recorder } = await openReady();
    server.closeClient(1011, 'internal error');
    expect(await fault(recorder)).toMatchObject({ kind: 'closed', closeCode: 1011 });
  });

  it('close 1008 while connecting with an auth reason is unauthorized; after ready it is protocol', async () => {
    const connecting = attach(open());
    await server.waitForMessages(1);
    server.closeClient(1008, 'Invalid signature');
    expect(await fault(connecting)).toMatchObject({ kind: 'unauthorized', closeCode: 1008 });
    const { recorder: ready } = await openReady();
    server.closeClient(1008, 'Invalid signature');
    expect(await fault(ready)).toMatchObject({ kind: 'protocol', closeCode: 1008 });
  });

  it('close 1000 after the maximum duration is session_expired', async () => {
    const { recorder } = await openReady('ulaw_8000', 'ulaw_8000', { maxDurationMs: 60_000 });
    clock.advance(60_000);
    server.closeClient(1000, '');
    expect(await fault(recorder)).toMatchObject({ kind: 'session_expired', closeCode: 1000 });
  });

  it('a fatal error message ends the conversation; another one is only logged', async () => {
    const { recorder } = await openReady();
    server.send({ type: 'error', error_event: { code: 'rate_hint', message: 'slow down a little', error_type: 'warning' } });
    server.send({ type: 'error', message: 'no body at all' });
    await server.roundTrip();
    expect(recorder.faults).toHaveLength(0);
    server.send({ type: 'error', error_event: { code: 1000, message: 'Maximum conversation duration reached', error_type: 'max_duration_exceeded' } });
    expect(await fault(recorder)).toMatchObject({ kind: 'session_expired', code: 'max_duration_exceeded' });
  });
});

describe('close()', () => {
  it('is idempotent, reports nothing, and drops what comes after', async () => {
    const { connection, recorder } = await openReady();
    connection.close();
    connection.close();
    await server.waitForClientClose();
    await connection.closed;
    connection.appendAudio(bytes(1));
    expect(recorder.faults).toHaveLength(0);
    expect(connection.state).toBe('closed');
    expect(server.closesFromClient[0]!.code).toBe(1000);
    expect(connection.stats().droppedAfterClose).toBe(1);
  });

  it('a part-filled batch left when the server closed the socket is counted as dropped at close(), never held', async () => {
    const { connection, recorder } = await openReady();
    connection.appendAudio(bytes(1)); // 20 ms of mu-law: half a 40 ms batch
    server.closeClient(1011, 'internal error');
    await fault(recorder);
    connection.close();
    expect(connection.stats()).toMatchObject({ audioBytesSent: 0, droppedAfterClose: 1 });
  });

  it('during the signed-URL request aborts it and reports nothing', async () => {
    server.signedUrl = { kind: 'hang' };
    const connection = open();
    const recorder = attach(connection);
    await server.waitForSignedUrlRequest();
    connection.close();
    await connection.closed;
    clock.advance(10_000);
    expect(recorder.faults).toHaveLength(0);
  });
});
