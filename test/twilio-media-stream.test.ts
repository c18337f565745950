import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/logger.js';
import {
  acceptMediaStream,
  MediaStreamHandshakeError,
  type AcceptMediaStreamOptions,
  type MediaInfo,
  type MediaStreamHandlers,
  type MediaStreamSession,
} from '../src/twilio/media-stream.js';
import { CallRecorder, type MediaStreamRecorder } from '../src/twilio/recorder.js';
import { captureLogs } from './helpers/twilio-logs.js';
import { CALL_SID, connectedWire, dtmfWire, frame, markWire, mediaWire, startWire, STREAM_SID, stopWire } from './helpers/twilio-wire.js';

interface Connection {
  client: WebSocket;
  server: WebSocket;
  session: Promise<MediaStreamSession>;
  /** Text messages the client received from the bridge. */
  received: string[];
  send(message: unknown): void;
}

const servers: WebSocketServer[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  await Promise.all(servers.splice(0).map((wss) => new Promise<void>((resolve) => wss.close(() => resolve()))));
});

async function startServer(options: Partial<AcceptMediaStreamOptions> = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  await once(wss, 'listening');
  const { port } = wss.address() as AddressInfo;

  async function connect(overrides: Partial<AcceptMediaStreamOptions> = {}): Promise<Connection> {
    const serverSide = new Promise<Pick<Connection, 'server' | 'session'>>((resolve) => {
      wss.once('connection', (server) => {
        const session = acceptMediaStream(server, { handshakeTimeoutMs: 5_000, logger: silentLogger(), ...options, ...overrides });
        session.catch(() => undefined);
        resolve({ server, session });
      });
    });
    const client = new WebSocket(`ws://127.0.0.1:${port}/media-stream`);
    clients.push(client);
    const received: string[] = [];
    client.on('message', (data) => received.push(String(data)));
    await once(client, 'open');
    const { server, session } = await serverSide;
    return { client, server, session, received, send: (message) => client.send(typeof message === 'string' ? message : JSON.stringify(message)) };
  }

  return { connect };
}

type Event =
  | { type: 'media'; bytes: number[]; info: MediaInfo }
  | { type: 'mark'; name: string }
  | { type: 'dtmf'; digit: string }
  | { type: 'stop' }
  | { type: 'close'; code: number; reason: string };

/** Handlers that log every call, and resolve `until(predicate)` as soon as the log satisfies it. */
function collector(overrides: Partial<MediaStreamHandlers> = {}) {
  const events: Event[] = [];
  const waiters: Array<{ predicate: () => boolean; resolve: () => void }> = [];
  const push = (event: Event): void => {
    events.push(event);
    for (const waiter of waiters.splice(0)) {
      if (waiter.predicate()) waiter.resolve();
      else waiters.push(waiter);
    }
  };
  const handlers: MediaStreamHandlers = {
    onMedia: (payload, info) => {
      push({ type: 'media', bytes: Array.from(payload), info });
      overrides.onMedia?.(payload, info);
    },
    onMark: (name) => {
      push({ type: 'mark', name });
      overrides.onMark?.(name);
    },
    onDtmf: (digit) => push({ type: 'dtmf', digit }),
    onStop: () => push({ type: 'stop' }),
    onClose: (event) => push({ type: 'close', ...event }),
  };
  const until = (predicate: () => boolean): Promise<void> =>
    predicate() ? Promise.resolve() : new Promise((resolve) => waiters.push({ predicate, resolve }));
  const untilMark = (name: string): Promise<void> => until(() => events.some((event) => event.type === 'mark' && event.name === name));
  const untilClose = (): Promise<void> => until(() => events.some((event) => event.type === 'close'));
  return { handlers, events, until, untilMark, untilClose };
}

/** A media event as the collector records it. */
function media(bytes: Uint8Array, timestampMs: number, sequenceNumber: number, gapFill = false): Event {
  return { type: 'media', bytes: Array.from(bytes), info: { timestampMs, sequenceNumber, gapFill } };
}

async function started(connection: Connection, customParameters: Record<string, string> = {}): Promise<MediaStreamSession> {
  connection.send(connectedWire());
  connection.send(startWire({ customParameters }));
  return connection.session;
}

describe('acceptMediaStream: handshake', () => {
  it('resolves on connected + start with the parsed start', async () => {
    const { connect } = await startServer();
    const session = await started(await connect(), { streamToken: 'tok', from: '+1555' });
    expect(session.start).toEqual({
      streamSid: STREAM_SID,
      callSid: CALL_SID,
      accountSid: 'AC00000000000000000000000000000001',
      tracks: ['inbound'],
      customParameters: { streamToken: 'tok', from: '+1555' },
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    });
  });

  it('tolerates a missing connected, with one log line', async () => {
    const logs = captureLogs();
    const { connect } = await startServer({ logger: logs.logger });
    const connection = await connect();
    connection.send(startWire());
    const session = await connection.session;
    expect(session.start.streamSid).toBe(STREAM_SID);
    const lines = logs.matching('without a connected message');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ callSid: CALL_SID, streamSid: STREAM_SID });
  });

  it('times out by the injected clock: rejects HANDSHAKE_TIMEOUT and closes the socket with 1008', async () => {
    const clock = new ManualClock();
    const { connect } = await startServer({ clock, handshakeTimeoutMs: 3_000 });
    const connection = await connect();
    connection.send(connectedWire());
    const closed = once(connection.client, 'close');
    clock.advance(2_999);
    clock.advance(1);
    const error = await connection.session.then(
      () => null,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(MediaStreamHandshakeError);
    expect((error as MediaStreamHandshakeError).code).toBe('HANDSHAKE_TIMEOUT');
    const [code, reason] = (await closed) as [number, Buffer];
    expect(code).toBe(1008);
    expect(reason.toString()).toBe('handshake timeout');
  });

  it('does not time out before the deadline', async () => {
    const clock = new ManualClock();
    const { connect } = await startServer({ clock, handshakeTimeoutMs: 3_000 });
    const connection = await connect();
    clock.advance(2_999);
    connection.send(startWire());
    await expect(connection.session).resolves.toBeDefined();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    expect(connection.server.readyState).toBe(WebSocket.OPEN);
  });

  it('rejects CLOSED_BEFORE_START when the peer leaves first, and clears its timer', async () => {
    const clock = new ManualClock();
    const { connect } = await startServer({ clock });
    const connection = await connect();
    connection.send(connectedWire());
    connection.client.close(1000);
    await expect(connection.session).rejects.toMatchObject({ name: 'MediaStreamHandshakeError', code: 'CLOSED_BEFORE_START' });
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('MediaStreamSession: delivery', () => {
  it('delivers media, marks, dtmf, stop in order, then onClose once', async () => {
    const { connect } = await startServer();
    const connection = await connect();
    const session = await started(connection);
    const sink = collector();
    session.setHandlers(sink.handlers);
    connection.send(mediaWire(2, 1, 0, frame(1)));
    connection.send(markWire(3, 'm1'));
    connection.send(dtmfWire(4, '5'));
    connection.send(mediaWire(5, 2, 20, frame(2)));
    connection.send(stopWire(6));
    connection.client.close(1000, 'bye');
    await sink.untilClose();
    expect(sink.events).toEqual([
      media(frame(1), 0, 2),
      { type: 'mark', name: 'm1' },
      { type: 'dtmf', digit: '5' },
      media(frame(2), 20, 5),
      { type: 'stop' },
      { type: 'close', code: 1000, reason: 'bye' },
    ]);
  });

  it('buffers what arrives before setHandlers, including the close, and delivers it on setHandlers', async () => {
    const { connect } = await startServer();
    const connection = await connect();
    connection.send(startWire());
    connection.send(mediaWire(2, 1, 0, frame(1)));
    connection.send(markWire(3, 'm1'));
    connection.send(stopWire(4));
    const serverClosed = once(connection.server, 'close');
    connection.client.close(1000);
    const session = await connection.session;
    await serverClosed;
    const sink = collector();
    session.setHandlers(sink.handlers);
    expect(sink.events).toEqual([media(frame(1), 0, 2), { type: 'mark', name: 'm1' }, { type: 'stop' }, { type: 'close', code: 1000, reason: '' }]);
  });

  it('bounds the pre-handler buffer and counts what it drops', async () => {
    const { connect } = await startServer({ maxBufferedMessages: 2 });
    const connection = await connect();
    const session = await started(connection);
    for (let i = 0; i < 4; i++) connection.send(mediaWire(2 + i, 1 + i, i * 20, frame(i)));
    const serverClosed = once(connection.server, 'close');
    connection.client.close(1000);
    await serverClosed;
    const sink = collector();
    session.setHandlers(sink.handlers);
    expect(sink.events).toEqual([media(frame(0), 0, 2), media(frame(1), 20, 3), { type: 'close', code: 1000, reason: '' }]);
    expect(session.stats().droppedBeforeHandlers).toBe(2);
  });

  it('fills a gap with silence delivered before the frame that revealed it, drops duplicates and reordered frames', async () => {
    const { connect } = await startServer();
    const connection = await connect();
    const session = await started(connection);
    const sink = collector();
    session.setHandlers(sink.handlers);
    connection.send(mediaWire(2, 1, 0, frame(1)));
    connection.send(mediaWire(3, 2, 20, frame(2)));
    connection.send(mediaWire(3, 2, 20, frame(2))); // duplicate
    // chunks 3..5 (40..99 ms) lost
    connection.send(mediaWire(7, 6, 100, frame(6)));
    connection.send(mediaWire(6, 5, 80, frame(5))); // late
    connection.send(mediaWire(8, 7, 120, frame(7)));
    connection.send(markWire(9, 'sync'));
    await sink.untilMark('sync');
    expect(sink.events).toEqual([
      media(frame(1), 0, 2),
      media(frame(2), 20, 3),
      media(new Uint8Array(480).fill(0xff), 40, 7, true),
      media(frame(6), 100, 7),
      media(frame(7), 120, 8),
      { type: 'mark', name: 'sync' },
    ]);
    expect(session.stats()).toMatchObject({ mediaFramesIn: 4, mediaBytesIn: 640, gaps: 1, gapMs: 60, duplicates: 1, reordered: 1 });
  });

  it('caps a bogus jump to maxGapFillMs of silence', async () => {
    const { connect } = await startServer({ maxGapFillMs: 100 });
    const connection = await connect();
    const session = await started(connection);
    const sink = collector();
    session.setHandlers(sink.handlers);
    connection.send(mediaWire(2, 1, 0, frame(1)));
    connection.send(mediaWire(3, 2, 999_999, frame(2)));
    connection.send(markWire(4, 'sync'));
    await sink.untilMark('sync');
    expect(sink.events[1]).toEqual(media(new Uint8Array(800).fill(0xff), 999_899, 3, true));
    expect(session.stats()).toMatchObject({ gaps: 1, gapMs: 100, cappedGaps: 1 });
  });

  it('a throwing handler is caught and logged once; delivery goes on', async () => {
    const logs = captureLogs();
    const { connect } = await startServer({ logger: logs.logger });
    const connection = await connect();
    const session = await started(connection);
    const sink = collector({
      onMedia: () => {
        throw new Error('handler bug');
      },
    });
    session.setHandlers(sink.handlers);
    for (let i = 0; i < 3; i++) connection.send(mediaWire(2 + i, 1 + i, i * 20, frame(i)));
    connection.send(markWire(5, 'sync'));
    await sink.untilMark('sync');
    expect(sink.events.filter((event) => event.type === 'media')).toHaveLength(3);
    expect(session.stats().handlerErrors).toBe(3);
    expect(logs.lines.filter((line) => line['level'] === 50 && line['handler'] === 'onMedia')).toHaveLength(1);
    expect(connection.server.readyState).toBe(WebSocket.OPEN);
  });
});

describe('MediaStreamSession: malformed input', () => {
  it('survives every malformed class, counts each, logs each code once with the call ids, and a parallel stream is unaffected', async () => {
    const logs = captureLogs();
    const { connect } = await startServer({ logger: logs.logger });
    const bad = await connect();
    const healthy = await connect();

    bad.send(connectedWire());
    bad.send(mediaWire(1, 1, 0, frame(9))); // before start
    bad.send(startWire());
    healthy.send(connectedWire());
    healthy.send(startWire({ streamSid: 'MZhealthy', callSid: 'CAhealthy' }));
    const [badSession, healthySession] = await Promise.all([bad.session, healthy.session]);
    const badSink = collector();
    const healthySink = collector();
    badSession.setHandlers(badSink.handlers);
    healthySession.setHandlers(healthySink.handlers);

    const garbage: Array<string | Buffer> = [
      Buffer.from(JSON.stringify(mediaWire(2, 1, 0, frame(1)))), // binary frame
      '{"event":"media",', // INVALID_JSON
      'not json at all', // INVALID_JSON again: logged once
      '[]', // NOT_AN_OBJECT
      JSON.stringify({ event: 'transcription', streamSid: STREAM_SID }), // UNKNOWN_EVENT
      JSON.stringify({ event: 'media', sequenceNumber: '2', streamSid: STREAM_SID }), // MISSING_FIELD
      JSON.stringify({ ...mediaWire(2, 1, 0, frame(1)), sequenceNumber: '2.5' }), // INVALID_FIELD
      JSON.stringify({ ...mediaWire(2, 1, 0, frame(1)), media: { track: 'inbound', chunk: '1', timestamp: '0', payload: '%%%%' } }), // INVALID_BASE64
      JSON.stringify(mediaWire(2, 1, 0, frame(1), 'MZsomeoneelse')), // STREAM_SID_MISMATCH
      JSON.stringify(startWire()), // UNEXPECTED_EVENT
    ];
    for (let i = 0; i < 20; i++) {
      healthy.send(mediaWire(2 + i, 1 + i, i * 20, frame(i), 'MZhealthy'));
      const item = garbage[i % garbage.length]!;
      if (typeof item === 'string') bad.client.send(item);
      else bad.client.send(item, { binary: true });
    }
    bad.send(mediaWire(30, 1, 0, frame(42)));
    bad.send(markWire(31, 'sync'));
    healthy.send(markWire(22, 'sync', 'MZhealthy'));
    await Promise.all([badSink.untilMark('sync'), healthySink.untilMark('sync')]);

    expect(healthySink.events).toEqual([
      ...Array.from({ length: 20 }, (_, i) => media(frame(i), i * 20, 2 + i)),
      { type: 'mark', name: 'sync' },
    ]);
    expect(Object.values(healthySession.stats().malformed).every((count) => count === 0)).toBe(true);

    expect(badSink.events).toEqual([media(frame(42), 0, 30), { type: 'mark', name: 'sync' }]);
    expect(badSession.stats().malformed).toEqual({
      BINARY_FRAME: 2,
      INVALID_JSON: 4,
      NOT_AN_OBJECT: 2,
      UNKNOWN_EVENT: 2,
      MISSING_FIELD: 2,
      INVALID_FIELD: 2,
      INVALID_BASE64: 2,
      EVENT_BEFORE_START: 1,
      UNEXPECTED_EVENT: 2,
      STREAM_SID_MISMATCH: 2,
    });
    expect(badSession.stats().messagesIn).toBe(1 + 1 + 1 + 20 + 2);

    const ignored = logs.matching('ignored Twilio message');
    expect(ignored.map((line) => line['code']).sort()).toEqual(
      [
        'BINARY_FRAME',
        'EVENT_BEFORE_START',
        'INVALID_BASE64',
        'INVALID_FIELD',
        'INVALID_JSON',
        'MISSING_FIELD',
        'NOT_AN_OBJECT',
        'STREAM_SID_MISMATCH',
        'UNEXPECTED_EVENT',
        'UNKNOWN_EVENT',
      ].sort(),
    );
    for (const line of ignored.filter((entry) => entry['code'] !== 'EVENT_BEFORE_START')) {
      expect(line).toMatchObject({ callSid: CALL_SID, streamSid: STREAM_SID });
    }
    expect(bad.server.readyState).toBe(WebSocket.OPEN);
  });
});

describe('MediaStreamSession: sends and close', () => {
  it('sends exact JSON for media, mark and clear, and counts bytes', async () => {
    const { connect } = await startServer();
    const connection = await connect();
    const session = await started(connection);
    const sink = collector();
    session.setHandlers(sink.handlers);
    expect(session.sendMedia(new Uint8Array([0xff, 0x7f, 0x00]))).toBe(true);
    expect(session.sendMark('item_1:1')).toBe(true);
    expect(session.sendClear()).toBe(true);
    const expected = [
      `{"event":"media","streamSid":"${STREAM_SID}","media":{"payload":"/38A"}}`,
      `{"event":"mark","streamSid":"${STREAM_SID}","mark":{"name":"item_1:1"}}`,
      `{"event":"clear","streamSid":"${STREAM_SID}"}`,
    ];
    while (connection.received.length < 3) await once(connection.client, 'message');
    expect(connection.received).toEqual(expected);
    expect(session.stats()).toMatchObject({
      mediaMessagesOut: 1,
      mediaBytesOut: 3,
      marksOut: 1,
      clearsOut: 1,
      bytesOut: expected.reduce((sum, text) => sum + text.length, 0),
    });
  });

  it('close is idempotent, onClose fires exactly once, and sends after close return false', async () => {
    const { connect } = await startServer();
    const connection = await connect();
    const session = await started(connection);
    const sink = collector();
    session.setHandlers(sink.handlers);
    const clientClosed = once(connection.client, 'close');
    session.close(1000, 'call over');
    session.close(4000, 'again');
    expect(session.sendMedia(frame(1))).toBe(false);
    expect(session.sendMark('x')).toBe(false);
    expect(session.sendClear()).toBe(false);
    const [code, reason] = (await clientClosed) as [number, Buffer];
    expect([code, reason.toString()]).toEqual([1000, 'call over']);
    await sink.untilClose();
    session.close();
    expect(sink.events.filter((event) => event.type === 'close')).toEqual([{ type: 'close', code: 1000, reason: 'call over' }]);
    expect(session.stats().mediaMessagesOut).toBe(0);
  });

  it('truncates a close reason over 123 bytes instead of throwing', async () => {
    const { connect } = await startServer();
    const connection = await connect();
    const session = await started(connection);
    session.setHandlers(collector().handlers);
    const clientClosed = once(connection.client, 'close');
    session.close(1000, 'é'.repeat(100));
    const [, reason] = (await clientClosed) as [number, Buffer];
    expect(reason.toString()).toBe('é'.repeat(61));
  });

  it('onClose fires once when the peer drops the TCP connection', async () => {
    const { connect } = await startServer();
    const connection = await connect();
    const session = await started(connection);
    const sink = collector();
    session.setHandlers(sink.handlers);
    connection.client.terminate();
    await sink.untilClose();
    expect(sink.events).toEqual([{ type: 'close', code: 1006, reason: '' }]);
  });
});

describe('MediaStreamSession: recorder', () => {
  it('records every inbound message with its JSON-ness, names the recording on start, closes it with the socket', async () => {
    const records: Array<[string, boolean]> = [];
    const identities: Array<{ streamSid: string; callSid: string }> = [];
    let closes = 0;
    const recorder: MediaStreamRecorder = {
      record: (text, isJson) => void records.push([text, isJson]),
      identify: (ids) => void identities.push(ids),
      close: () => {
        closes++;
        return Promise.resolve();
      },
    };
    const { connect } = await startServer({ recorder });
    const connection = await connect();
    const session = await started(connection);
    const sink = collector();
    session.setHandlers(sink.handlers);
    connection.client.send('{oops');
    connection.client.send(Buffer.from('bin'), { binary: true });
    connection.send({ event: 'nope' });
    connection.send(markWire(2, 'sync'));
    await sink.untilMark('sync');
    connection.client.close(1000);
    await sink.untilClose();

    expect(records).toEqual([
      [JSON.stringify(connectedWire()), true],
      [JSON.stringify(startWire()), true],
      ['{oops', false],
      ['bin', false],
      ['{"event":"nope"}', true],
      [JSON.stringify(markWire(2, 'sync')), true],
    ]);
    expect(identities).toEqual([{ streamSid: STREAM_SID, callSid: CALL_SID }]);
    expect(closes).toBe(1);
  });

  it('with a real CallRecorder, the file replays as the exact messages sent, in fixture format', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'callbridge-ms-rec-'));
    try {
      const clock = new ManualClock();
      const recorder = new CallRecorder({ dir, clock });
      const { connect } = await startServer({ recorder, clock });
      const connection = await connect();
      const session = await started(connection);
      const sink = collector();
      session.setHandlers(sink.handlers);
      const sent = [mediaWire(2, 1, 0, frame(1)), mediaWire(3, 2, 60, frame(2)), dtmfWire(4, '9'), stopWire(5)];
      for (const message of sent) connection.send(message);
      connection.client.close(1000);
      await sink.untilClose();
      await recorder.close();

      const lines = (await readFile(path.join(dir, `${CALL_SID}_${STREAM_SID}.jsonl`), 'utf8')).trimEnd().split('\n');
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(
        [connectedWire(), startWire(), ...sent].map((message) => ({ atMs: 0, message })),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
