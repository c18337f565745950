/**
 * The upstream Realtime connection against a scripted fake server over real sockets. What these tests pin down:
 * the exact upgrade request (URL, auth header), that nothing but our session.update reaches the server before
 * `session.updated` confirmed the formats (audio in the wrong format is noise to the model), the exact fault kind for
 * each way a connection dies, and that the API key never reaches a log line.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { createLogger, type Logger } from '../src/logger.js';
import { loadConfig } from '../src/config.js';
import {
  openRealtimeConnection,
  type RealtimeApiError,
  type RealtimeConnection,
  type RealtimeConnectionOptions,
  type RealtimeFault,
} from '../src/providers/openai/connection.js';
import type { RealtimeServerEvent, RealtimeSessionCreateRequest } from '../src/providers/openai/events.js';
import { buildSessionUpdate } from '../src/providers/openai/session-config.js';
import { FakeRealtimeServer, sessionUpdatedFor } from './helpers/realtime-fake-server.js';

const API_KEY = 'sk-test-DO-NOT-LOG-4f9a8c2e71b3';
const SESSION_UPDATE = buildSessionUpdate(loadConfig({ NODE_ENV: 'test' }).openai);
const PCMU_SESSION_UPDATE = buildSessionUpdate({ ...loadConfig({ NODE_ENV: 'test' }).openai, audioFormat: 'pcmu' });

/** Every log line the client writes, at trace, with the logger's own secret filter off. */
class LogCapture {
  readonly lines: string[] = [];
  readonly logger: Logger = createLogger({ level: 'trace', destination: { write: (line: string) => void this.lines.push(line) }, secrets: [] });

  entries(): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  withMessage(message: string): Array<Record<string, unknown>> {
    return this.entries().filter((entry) => entry['msg'] === message);
  }
}

interface Recorder {
  calls: Array<{ kind: 'ready'; session: RealtimeSessionCreateRequest } | { kind: 'event'; event: RealtimeServerEvent } | { kind: 'apiError'; error: RealtimeApiError } | { kind: 'fault'; fault: RealtimeFault }>;
  faults: RealtimeFault[];
  ready: Promise<RealtimeSessionCreateRequest>;
  fault: Promise<RealtimeFault>;
  nextEvent(type: string): Promise<RealtimeServerEvent>;
}

function attach(connection: RealtimeConnection): Recorder {
  const calls: Recorder['calls'] = [];
  const faults: RealtimeFault[] = [];
  const eventWaiters: Array<{ type: string; resolve: (event: RealtimeServerEvent) => void }> = [];
  let resolveReady!: (session: RealtimeSessionCreateRequest) => void;
  let resolveFault!: (fault: RealtimeFault) => void;
  const ready = new Promise<RealtimeSessionCreateRequest>((resolve) => (resolveReady = resolve));
  const fault = new Promise<RealtimeFault>((resolve) => (resolveFault = resolve));
  connection.setHandlers({
    onReady(session) {
      calls.push({ kind: 'ready', session });
      resolveReady(session);
    },
    onEvent(event) {
      calls.push({ kind: 'event', event });
      for (const waiter of eventWaiters.splice(0)) {
        if (waiter.type === event.type) waiter.resolve(event);
        else eventWaiters.push(waiter);
      }
    },
    onApiError(error) {
      calls.push({ kind: 'apiError', error });
    },
    onFault(received) {
      calls.push({ kind: 'fault', fault: received });
      faults.push(received);
      resolveFault(received);
    },
  });
  return {
    calls,
    faults,
    ready,
    fault,
    nextEvent: (type) => new Promise((resolve) => eventWaiters.push({ type, resolve })),
  };
}

let server: FakeRealtimeServer;
let capture: LogCapture;
const connections: RealtimeConnection[] = [];

function open(overrides: Partial<RealtimeConnectionOptions> = {}): RealtimeConnection {
  const connection = openRealtimeConnection({
    url: `${server.baseUrl}/v1/realtime`,
    model: 'gpt-realtime',
    apiKey: API_KEY,
    authMode: 'bearer',
    sessionUpdate: SESSION_UPDATE,
    logger: capture.logger,
    // One append per chunk: these tests pin down holding and order per chunk (batching: realtime-append-batch.test.ts).
    appendBatchMs: 20,
    ...overrides,
  });
  connections.push(connection);
  return connection;
}

/** Drives a connection to `ready` with the server echoing our session. */
async function openReady(overrides: Partial<RealtimeConnectionOptions> = {}): Promise<{ connection: RealtimeConnection; recorder: Recorder }> {
  const connection = open(overrides);
  const recorder = attach(connection);
  await server.waitForMessages(1);
  server.send(sessionUpdatedFor((overrides.sessionUpdate ?? SESSION_UPDATE).session));
  await recorder.ready;
  return { connection, recorder };
}

function appendMessage(audio: Uint8Array, eventId: string): Record<string, unknown> {
  return { type: 'input_audio_buffer.append', audio: Buffer.from(audio).toString('base64'), event_id: eventId };
}

function chunk(fill: number, byteLength: number): Uint8Array {
  return new Uint8Array(byteLength).fill(fill);
}

async function unusedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

beforeEach(async () => {
  server = await FakeRealtimeServer.start();
  capture = new LogCapture();
});

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.close();
  await server.stop();
  // The client's own log lines never carry the key (the logger's filter is off in this capture).
  expect(capture.lines.filter((line) => line.includes(API_KEY))).toStrictEqual([]);
  expect(capture.lines.filter((line) => line.includes('DO-NOT-LOG'))).toStrictEqual([]);
});

describe('dialling', () => {
  it('OpenAI: model in the query, Authorization: Bearer, no beta header, then the exact session.update', async () => {
    const { connection } = await openReady();
    expect(server.upgrades).toHaveLength(1);
    const upgrade = server.upgrades[0]!;
    expect(upgrade.url).toBe('/v1/realtime?model=gpt-realtime');
    expect(upgrade.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    expect(upgrade.headers['api-key']).toBeUndefined();
    expect(upgrade.headers['openai-beta']).toBeUndefined();
    expect(upgrade.headers['sec-websocket-extensions']).toBeUndefined();
    expect(server.messages).toStrictEqual([{ ...SESSION_UPDATE, event_id: 'cb_1' }]);
    expect(connection.state).toBe('ready');
    expect(connection.session).toStrictEqual(sessionUpdatedFor(SESSION_UPDATE.session)['session']);
  });

  it('Azure: keeps the existing query, adds the deployment as model, api-key header only', async () => {
    const { connection } = await openReady({
      url: `${server.baseUrl}/openai/realtime?api-version=2025-04-01-preview`,
      model: 'my-realtime-deployment',
      authMode: 'api-key',
    });
    const upgrade = server.upgrades[0]!;
    expect(upgrade.url).toBe('/openai/realtime?api-version=2025-04-01-preview&model=my-realtime-deployment');
    expect(upgrade.headers['api-key']).toBe(API_KEY);
    expect(upgrade.headers['authorization']).toBeUndefined();
    expect(connection.state).toBe('ready');
  });

  it('logs the dial URL without secrets', async () => {
    await openReady({ url: `${server.baseUrl}/v1/realtime?api-version=1&sig=${API_KEY}` });
    const [dial] = capture.withMessage('dialing realtime');
    expect(dial).toMatchObject({ url: `${server.baseUrl}/v1/realtime?api-version=1&sig=REDACTED&model=gpt-realtime`, authMode: 'bearer', component: 'realtime' });
  });

  it('moves connecting → configuring → ready', async () => {
    server.sendSessionCreated = false;
    const connection = open();
    const recorder = attach(connection);
    expect(connection.state).toBe('connecting');
    await server.waitForUpgrade();
    await server.roundTrip();
    expect(connection.state).toBe('configuring');
    expect(connection.session).toBeNull();
    server.send({ type: 'session.created', event_id: 'e1', session: { type: 'realtime' } });
    await server.waitForMessages(1);
    expect(connection.state).toBe('configuring');
    server.send(sessionUpdatedFor(SESSION_UPDATE.session));
    await recorder.ready;
    expect(connection.state).toBe('ready');
  });
});

describe('before ready', () => {
  it('holds audio and events in call order and sends nothing but session.update until session.updated', async () => {
    server.sendSessionCreated = false;
    const connection = open();
    const recorder = attach(connection);
    const first = chunk(1, 960);
    const second = chunk(2, 960);
    const third = chunk(3, 480);
    connection.appendAudio(first); // cb_1, while connecting
    const commitId = connection.send({ type: 'input_audio_buffer.commit' }); // cb_2
    connection.appendAudio(Buffer.from(second).toString('base64')); // cb_3, already base64
    const createId = connection.send({ type: 'response.create', event_id: 'mine_1' });
    expect([commitId, createId]).toStrictEqual(['cb_2', 'mine_1']);

    await server.waitForUpgrade();
    server.send({ type: 'session.created', event_id: 'e1', session: { type: 'realtime' } });
    await server.waitForMessages(1);
    connection.appendAudio(third); // cb_5, while configuring (cb_4 is the session.update)
    // Anything the client had written by now would arrive before the pong.
    await server.roundTrip();
    expect(server.messages).toStrictEqual([{ ...SESSION_UPDATE, event_id: 'cb_4' }]);
    expect(recorder.calls.map((call) => call.kind)).toStrictEqual(['event']);

    server.send(sessionUpdatedFor(SESSION_UPDATE.session));
    await server.waitForMessages(6);
    await server.roundTrip();
    expect(server.messages).toStrictEqual([
      { ...SESSION_UPDATE, event_id: 'cb_4' },
      appendMessage(first, 'cb_1'),
      { type: 'input_audio_buffer.commit', event_id: 'cb_2' },
      appendMessage(second, 'cb_3'),
      { type: 'response.create', event_id: 'mine_1' },
      appendMessage(third, 'cb_5'),
    ]);
    expect(connection.stats()).toMatchObject({
      audioBytesAppended: 960 + 960 + 480,
      eventsOut: { 'session.update': 1, 'input_audio_buffer.append': 3, 'input_audio_buffer.commit': 1, 'response.create': 1 },
      heldAudioDroppedChunks: 0,
    });
  });

  it('after ready, appends go straight out', async () => {
    const { connection } = await openReady();
    connection.appendAudio(chunk(9, 960));
    await server.waitForMessages(2);
    expect(server.messages[1]).toStrictEqual(appendMessage(chunk(9, 960), 'cb_2'));
  });

  it('bounds held audio: the oldest chunks are dropped, counted and logged once; events are kept', async () => {
    server.sendSessionCreated = false;
    const connection = open({ maxHeldAudioBytes: 2000 });
    const recorder = attach(connection);
    connection.appendAudio(chunk(1, 960)); // cb_1: dropped
    connection.appendAudio(chunk(2, 960)); // cb_2: dropped
    connection.send({ type: 'input_audio_buffer.clear' }); // cb_3: kept
    connection.appendAudio(chunk(3, 960)); // cb_4: dropped
    connection.appendAudio(chunk(4, 960)); // cb_5
    connection.appendAudio(chunk(5, 960)); // cb_6
    expect(connection.stats()).toMatchObject({ heldAudioDroppedChunks: 3, heldAudioDroppedBytes: 2880 });

    await server.waitForUpgrade();
    server.send({ type: 'session.created', event_id: 'e1', session: { type: 'realtime' } });
    await server.waitForMessages(1);
    server.send(sessionUpdatedFor(SESSION_UPDATE.session));
    await recorder.ready;
    await server.waitForMessages(4);
    await server.roundTrip();
    expect(server.messages).toStrictEqual([
      { ...SESSION_UPDATE, event_id: 'cb_7' },
      { type: 'input_audio_buffer.clear', event_id: 'cb_3' },
      appendMessage(chunk(4, 960), 'cb_5'),
      appendMessage(chunk(5, 960), 'cb_6'),
    ]);
    expect(capture.withMessage('upstream not ready: dropping the oldest held caller audio (logged once; see stats)')).toHaveLength(1);
  });

  it('defaults the hold to 10 s of the input format (480 000 bytes of 24 kHz PCM16, 80 000 of mu-law)', async () => {
    const pcm = open();
    for (let index = 0; index < 501; index++) pcm.appendAudio(chunk(0, 960));
    expect(pcm.stats().heldAudioDroppedBytes).toBe(960);
    const pcmu = open({ sessionUpdate: PCMU_SESSION_UPDATE });
    for (let index = 0; index < 501; index++) pcmu.appendAudio(chunk(0, 160));
    expect(pcmu.stats().heldAudioDroppedBytes).toBe(160);
  });

  it('buffers events, readiness and order until handlers are set (pre-dial)', async () => {
    const connection = open();
    await server.waitForMessages(1);
    server.send(sessionUpdatedFor(SESSION_UPDATE.session));
    server.send({ type: 'rate_limits.updated', event_id: 'e_rl', rate_limits: [] });
    await server.roundTrip();
    expect(connection.state).toBe('ready');
    const recorder = attach(connection);
    expect(recorder.calls.map((call) => (call.kind === 'event' ? call.event.type : call.kind))).toStrictEqual([
      'session.created',
      'session.updated',
      'ready',
      'rate_limits.updated',
    ]);
  });
});

describe('API errors that leave the session open', () => {
  it.each(['conversation_already_has_active_response', 'response_cancel_not_active', null])('%s → onEvent + onApiError with the event id, no fault, still open', async (code) => {
    const { connection, recorder } = await openReady();
    const cancelId = connection.send({ type: 'response.cancel' });
    await server.waitForMessages(2);
    const error = { type: 'error', event_id: 'e_err', error: { type: 'invalid_request_error', code, message: 'nope', param: null, event_id: cancelId } };
    server.send(error);
    await recorder.nextEvent('error');
    expect(recorder.calls.slice(-2)).toStrictEqual([
      { kind: 'event', event: error },
      { kind: 'apiError', error: { type: 'invalid_request_error', code, message: 'nope', param: null, eventId: 'cb_2' } },
    ]);
    expect(capture.withMessage('realtime API error (session continues)')).toMatchObject([
      { level: 40, eventId: 'cb_2', clientEventType: 'response.cancel', code, apiMessage: 'nope' },
    ]);
    connection.send({ type: 'input_audio_buffer.commit' });
    await server.waitForMessages(3);
    expect(server.messages[2]).toStrictEqual({ type: 'input_audio_buffer.commit', event_id: 'cb_3' });
    expect(connection.state).toBe('ready');
    expect(recorder.faults).toStrictEqual([]);
  });

  it('a rejected truncate is not a fault', async () => {
    const { connection, recorder } = await openReady();
    const truncateId = connection.send({ type: 'conversation.item.truncate', item_id: 'item_1', content_index: 0, audio_end_ms: 57340 });
    server.send({
      type: 'error',
      event_id: 'e_err',
      error: { type: 'invalid_request_error', code: null, message: 'Audio content of 9250ms is already shorter than 57340ms', param: null, event_id: truncateId },
    });
    await recorder.nextEvent('error');
    await server.roundTrip();
    expect(connection.state).toBe('ready');
    expect(recorder.faults).toStrictEqual([]);
  });
});

describe('faults', () => {
  it.each([
    [401, 'unauthorized'],
    [403, 'unauthorized'],
    [500, 'handshake_failed'],
    [404, 'handshake_failed'],
  ] as const)('HTTP %i at the upgrade → %s', async (status, kind) => {
    server.behaviour = { kind: 'reject', status };
    const connection = open();
    const recorder = attach(connection);
    expect(await recorder.fault).toStrictEqual({ kind, status, message: `upgrade answered HTTP ${status} Nope` });
    await connection.closed;
    expect(connection.state).toBe('closed');
    expect(recorder.faults).toHaveLength(1);
  });

  it('nothing listening → connect_failed with ECONNREFUSED', async () => {
    const port = await unusedPort();
    const connection = open({ url: `ws://127.0.0.1:${port}/v1/realtime` });
    const recorder = attach(connection);
    const fault = await recorder.fault;
    expect(fault).toStrictEqual({ kind: 'connect_failed', code: 'ECONNREFUSED', message: `connect ECONNREFUSED 127.0.0.1:${port}` });
    await connection.closed;
    expect(recorder.faults).toHaveLength(1);
  });

  it('no answer to the upgrade → connect_timeout at exactly connectTimeoutMs, and the socket is dropped', async () => {
    server.behaviour = { kind: 'hang' };
    const clock = new ManualClock();
    const connection = open({ clock, connectTimeoutMs: 5000 });
    const recorder = attach(connection);
    await server.waitForUpgrade();
    clock.advance(4999);
    expect(recorder.faults).toStrictEqual([]);
    clock.advance(1);
    expect(recorder.faults).toStrictEqual([{ kind: 'connect_timeout', message: 'no WebSocket handshake within 5000 ms' }]);
    await server.waitForHeldUpgradeClosed();
    await connection.closed;
  });

  it('no session.updated → connect_timeout naming it, then the client closes', async () => {
    const clock = new ManualClock();
    const connection = open({ clock, connectTimeoutMs: 3000 });
    const recorder = attach(connection);
    await server.waitForMessages(1);
    clock.advance(3000);
    expect(recorder.faults).toStrictEqual([{ kind: 'connect_timeout', message: 'no session.updated within 3000 ms' }]);
    await server.waitForClientClose();
    expect(server.closesFromClient).toStrictEqual([{ code: 1000, reason: 'client closing' }]);
  });

  it('server closes mid-session → closed with code and reason; later sends are dropped and counted', async () => {
    const { connection, recorder } = await openReady();
    server.closeClient(1011, 'internal');
    expect(await recorder.fault).toStrictEqual({
      kind: 'closed',
      message: 'server closed the socket (1011 internal) while ready',
      closeCode: 1011,
      closeReason: 'internal',
    });
    expect(connection.state).toBe('closed');
    connection.appendAudio(chunk(1, 960));
    expect(connection.send({ type: 'response.create' })).toBe('cb_3');
    expect(connection.stats().droppedAfterClose).toBe(2);
    await connection.closed;
  });

  it('error session_expired → session_expired, after the error reached the handlers', async () => {
    const { connection, recorder } = await openReady();
    server.send({ type: 'error', event_id: 'e_x', error: { type: 'invalid_request_error', code: 'session_expired', message: 'Your session hit the maximum duration of 60 minutes.', param: null, event_id: null } });
    expect(await recorder.fault).toStrictEqual({ kind: 'session_expired', code: 'session_expired', message: 'Your session hit the maximum duration of 60 minutes.' });
    expect(recorder.calls.slice(-3).map((call) => call.kind)).toStrictEqual(['event', 'apiError', 'fault']);
    await server.waitForClientClose();
    await connection.closed;
    expect(recorder.faults).toHaveLength(1);
  });

  it('close 1001 saying the session expired → session_expired', async () => {
    const { recorder } = await openReady();
    server.closeClient(1001, 'session_expired');
    expect(await recorder.fault).toMatchObject({ kind: 'session_expired', closeCode: 1001, closeReason: 'session_expired' });
  });

  it('session.updated with other formats → protocol; held audio is never sent', async () => {
    const connection = open();
    const recorder = attach(connection);
    connection.appendAudio(chunk(7, 960));
    await server.waitForMessages(1);
    server.send(sessionUpdatedFor({ ...SESSION_UPDATE.session, audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcm', rate: 24000 } } } }));
    expect(await recorder.fault).toStrictEqual({
      kind: 'protocol',
      code: 'format_mismatch',
      message: 'session.updated reports input format audio/pcmu, expected audio/pcm@24000',
    });
    await server.waitForClientClose();
    expect(server.messages).toStrictEqual([{ ...SESSION_UPDATE, event_id: 'cb_2' }]);
    expect(recorder.calls.some((call) => call.kind === 'ready')).toBe(false);
  });

  it('a beta-shaped answer (no audio block) is a format mismatch too', async () => {
    const connection = open();
    const recorder = attach(connection);
    await server.waitForMessages(1);
    server.send({ type: 'session.updated', event_id: 'e', session: { type: 'realtime', input_audio_format: 'pcm16' } });
    expect(await recorder.fault).toStrictEqual({
      kind: 'protocol',
      code: 'format_mismatch',
      message: 'session.updated reports input format undefined, expected audio/pcm@24000',
    });
    await connection.closed;
  });

  it('beta_api_shape_disabled → protocol', async () => {
    const connection = open();
    const recorder = attach(connection);
    await server.waitForMessages(1);
    server.send({ type: 'error', event_id: 'e', error: { type: 'invalid_request_error', code: 'beta_api_shape_disabled', message: 'The beta API shape is disabled.', param: null, event_id: null } });
    expect(await recorder.fault).toStrictEqual({ kind: 'protocol', code: 'beta_api_shape_disabled', message: 'The beta API shape is disabled.' });
    await connection.closed;
  });

  it('an error answering our session.update → protocol (it would otherwise wait for a session.updated that never comes)', async () => {
    const connection = open();
    const recorder = attach(connection);
    await server.waitForMessages(1);
    server.send({ type: 'error', event_id: 'e', error: { type: 'invalid_request_error', code: 'invalid_value', message: "Invalid value: 'nova'.", param: 'session.audio.output.voice', event_id: 'cb_1' } });
    expect(await recorder.fault).toStrictEqual({ kind: 'protocol', code: 'invalid_value', message: "session.update rejected: Invalid value: 'nova'." });
    await connection.closed;
  });
});

describe('tolerance', () => {
  it('skips malformed, unknown and binary frames without throwing; later events still arrive; unknown types logged once', async () => {
    const { connection, recorder } = await openReady();
    server.sendRaw('{"type":');
    server.sendRaw('[]');
    server.sendRaw('{"no":"type"}');
    server.sendRaw('{"type":"response.audio.delta","delta":"AAAA"}');
    server.sendRaw('{"type":"response.audio.delta","delta":"BBBB"}');
    server.sendRaw(Buffer.from([1, 2, 3]), true);
    const later = { type: 'input_audio_buffer.speech_started', event_id: 'e_s', audio_start_ms: 1200, item_id: 'item_9' };
    server.send(later);
    await recorder.nextEvent('input_audio_buffer.speech_started');
    expect(recorder.calls.at(-1)).toStrictEqual({ kind: 'event', event: later });
    expect(connection.stats().skippedIn).toBe(6);
    const skipped = capture.withMessage('skipped realtime server frame');
    expect(skipped.filter((entry) => entry['level'] === 40).map((entry) => [entry['code'], entry['detail']])).toStrictEqual([
      ['INVALID_JSON', expect.stringContaining('{"type":')],
      ['NOT_AN_OBJECT', 'got array'],
      ['MISSING_TYPE', 'type is undefined'],
      ['UNKNOWN_EVENT', 'response.audio.delta'],
      ['BINARY_FRAME', 'binary frame'],
    ]);
    expect(skipped.filter((entry) => entry['level'] === 20).map((entry) => entry['detail'])).toStrictEqual(['response.audio.delta']);
    expect(connection.state).toBe('ready');
    expect(recorder.faults).toStrictEqual([]);
  });

  it('a throwing handler is logged and does not break the connection', async () => {
    const { connection } = await openReady();
    let seen = 0;
    connection.setHandlers({
      onEvent() {
        seen++;
        throw new Error('handler bug');
      },
      onFault() {},
    });
    server.send({ type: 'rate_limits.updated', event_id: 'a', rate_limits: [] });
    server.send({ type: 'rate_limits.updated', event_id: 'b', rate_limits: [] });
    await server.roundTrip();
    expect(seen).toBe(2);
    expect(capture.withMessage('realtime handler threw')).toHaveLength(2);
    expect(connection.state).toBe('ready');
  });
});

describe('close()', () => {
  it('during connecting: the server sees the TCP connection go, closed resolves, no fault', async () => {
    server.behaviour = { kind: 'hang' };
    const clock = new ManualClock();
    const connection = open({ clock });
    const recorder = attach(connection);
    await server.waitForUpgrade();
    connection.close();
    expect(connection.state).toBe('closed');
    await server.waitForHeldUpgradeClosed();
    await connection.closed;
    clock.advance(60_000);
    expect(recorder.calls).toStrictEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('before the TCP connection is even accepted: no fault, closed resolves', async () => {
    const connection = open();
    const recorder = attach(connection);
    connection.close();
    connection.close();
    await connection.closed;
    expect(recorder.calls).toStrictEqual([]);
  });

  it('when ready: a normal close frame, idempotent, no fault', async () => {
    const { connection, recorder } = await openReady();
    const callsBefore = recorder.calls.length;
    connection.close();
    connection.close();
    await server.waitForClientClose();
    await connection.closed;
    expect(server.closesFromClient).toStrictEqual([{ code: 1000, reason: 'client closing' }]);
    expect(recorder.calls.length).toBe(callsBefore);
  });
});

describe('secrets', () => {
  it('the key appears in no log line across a full session, an API error and a 401', async () => {
    const { connection } = await openReady();
    server.send({ type: 'error', event_id: 'e', error: { type: 'invalid_request_error', code: 'x', message: 'm', param: null, event_id: 'cb_1' } });
    await server.roundTrip();
    connection.close();
    await connection.closed;
    server.behaviour = { kind: 'reject', status: 401 };
    const rejected = open();
    await attach(rejected).fault;
    await rejected.closed;
    expect(capture.lines.length).toBeGreaterThan(5);
    expect(capture.lines.join('\n')).not.toContain(API_KEY);
  });
});
