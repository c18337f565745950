/**
 * Caller audio gathered into bigger `input_audio_buffer.append`s (APPEND_BATCH_MS): the exact appends on the wire,
 * the byte stream unchanged, and nothing held past another client event or the close.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { AudioBatch, batchBytesFor } from '../src/net/audio-batch.js';
import { openRealtimeConnection, type RealtimeConnection, type RealtimeConnectionOptions } from '../src/providers/openai/connection.js';
import { buildSessionUpdate } from '../src/providers/openai/session-config.js';
import { FakeRealtimeServer, sessionUpdatedFor } from './helpers/realtime-fake-server.js';

const PCMU_SESSION_UPDATE = buildSessionUpdate({ ...loadConfig({ NODE_ENV: 'test' }).openai, audioFormat: 'pcmu' });
const PCM_SESSION_UPDATE = buildSessionUpdate({ ...loadConfig({ NODE_ENV: 'test' }).openai, audioFormat: 'pcm' });
const logger = createLogger({ level: 'silent' });

let server: FakeRealtimeServer;
const connections: RealtimeConnection[] = [];

beforeEach(async () => {
  server = await FakeRealtimeServer.start();
});

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.close();
  await server.stop();
});

/** A 20 ms mu-law frame whose bytes say which frame it is. */
function frame(index: number, byteLength = 160): Uint8Array {
  return new Uint8Array(byteLength).map((_, offset) => (index * 7 + offset) & 0xff);
}

function append(bytes: readonly Uint8Array[], eventId: string): Record<string, unknown> {
  return { type: 'input_audio_buffer.append', audio: Buffer.concat(bytes).toString('base64'), event_id: eventId };
}

/** A connection to the fake server (closed after the test), and a promise of its readiness. */
function open(overrides: Partial<RealtimeConnectionOptions>): { connection: RealtimeConnection; ready: Promise<void> } {
  const connection = openRealtimeConnection({
    url: `${server.baseUrl}/v1/realtime`,
    model: 'gpt-realtime',
    apiKey: 'sk-test',
    authMode: 'bearer',
    sessionUpdate: PCMU_SESSION_UPDATE,
    logger,
    ...overrides,
  });
  connections.push(connection);
  const ready = new Promise<void>((resolve) => connection.setHandlers({ onReady: () => resolve(), onEvent() {}, onApiError() {}, onFault() {} }));
  return { connection, ready };
}

async function openReady(overrides: Partial<RealtimeConnectionOptions>): Promise<RealtimeConnection> {
  const { connection, ready } = open(overrides);
  await server.waitForMessages(1);
  server.send(sessionUpdatedFor((overrides.sessionUpdate ?? PCMU_SESSION_UPDATE).session));
  await ready;
  return connection;
}

describe('AudioBatch', () => {
  it('is full once batchBytes are gathered, hands them over once, and starts again empty', () => {
    const batch = new AudioBatch(320);
    expect(batch.add(frame(1))).toBe(false);
    expect(batch.add(frame(2))).toBe(true);
    expect(Buffer.from(batch.take()!)).toStrictEqual(Buffer.concat([frame(1), frame(2)]));
    expect(batch.take()).toBeNull();
    expect(batch.add(frame(3))).toBe(false);
    expect(Buffer.from(batch.take()!)).toStrictEqual(Buffer.from(frame(3)));
  });

  it('grows for a chunk bigger than its room and keeps every byte in order', () => {
    const batch = new AudioBatch(100);
    batch.add(frame(1, 60));
    expect(batch.add(frame(2, 500))).toBe(true);
    expect(Buffer.from(batch.take()!)).toStrictEqual(Buffer.concat([frame(1, 60), frame(2, 500)]));
  });

  it('sizes batches from ms (none at or below one 20 ms frame)', () => {
    expect(batchBytesFor(20, 8_000)).toBeNull();
    expect(batchBytesFor(40, 8_000)).toBe(320);
    expect(batchBytesFor(60, 48_000)).toBe(2_880);
    expect(() => new AudioBatch(0)).toThrow(RangeError);
  });
});

describe('an OpenAI connection with APPEND_BATCH_MS', () => {
  it('40 ms of mu-law (the default): two 20 ms frames per append, the bytes in order and counted once', async () => {
    const connection = await openReady({});
    for (let index = 1; index <= 4; index++) connection.appendAudio(frame(index));
    await server.waitForMessages(3);
    await server.roundTrip();
    expect(server.messages.slice(1)).toStrictEqual([append([frame(1), frame(2)], 'cb_2'), append([frame(3), frame(4)], 'cb_3')]);
    expect(connection.stats()).toMatchObject({ audioBytesAppended: 640, eventsOut: { 'input_audio_buffer.append': 2 } });
  });

  it('60 ms of 24 kHz PCM16: 2 880 bytes per append', async () => {
    const connection = await openReady({ appendBatchMs: 60, sessionUpdate: PCM_SESSION_UPDATE });
    for (let index = 1; index <= 3; index++) connection.appendAudio(frame(index, 960));
    await server.waitForMessages(2);
    expect(server.messages[1]).toStrictEqual(append([frame(1, 960), frame(2, 960), frame(3, 960)], 'cb_2'));
  });

  it('a part-filled batch goes before any other client event (a commit follows the audio it ends)', async () => {
    const connection = await openReady({ appendBatchMs: 60 });
    connection.appendAudio(frame(1));
    connection.appendAudio(frame(2));
    await server.roundTrip();
    expect(server.messages).toHaveLength(1); // only the session.update: the batch is not full
    connection.send({ type: 'input_audio_buffer.commit' });
    await server.waitForMessages(3);
    expect(server.messages.slice(1)).toStrictEqual([append([frame(1), frame(2)], 'cb_2'), { type: 'input_audio_buffer.commit', event_id: 'cb_3' }]);
  });

  it('close() sends the part-filled batch before the close frame', async () => {
    const connection = await openReady({ appendBatchMs: 100 });
    connection.appendAudio(frame(1));
    connection.close();
    await server.waitForMessages(2);
    expect(server.messages[1]).toStrictEqual(append([frame(1)], 'cb_2'));
    expect(connection.stats().audioBytesAppended).toBe(160);
  });

  it('before ready, batches are held in call order like single frames', async () => {
    server.sendSessionCreated = false;
    const { connection, ready } = open({ appendBatchMs: 40 });
    connection.appendAudio(frame(1));
    connection.appendAudio(frame(2)); // full: cb_1, held
    connection.appendAudio(frame(3)); // part-filled until the response.create
    connection.send({ type: 'response.create' }); // cb_2 (the batch) then cb_3
    await server.waitForUpgrade();
    server.send({ type: 'session.created', event_id: 'e1', session: { type: 'realtime' } });
    await server.waitForMessages(1);
    server.send(sessionUpdatedFor(PCMU_SESSION_UPDATE.session));
    await ready;
    await server.waitForMessages(4);
    expect(server.messages).toStrictEqual([
      { ...PCMU_SESSION_UPDATE, event_id: 'cb_4' },
      append([frame(1), frame(2)], 'cb_1'),
      append([frame(3)], 'cb_2'),
      { type: 'response.create', event_id: 'cb_3' },
    ]);
  });

  it('20 ms: every frame is its own append', async () => {
    const connection = await openReady({ appendBatchMs: 20 });
    connection.appendAudio(frame(1));
    connection.appendAudio(frame(2));
    await server.waitForMessages(3);
    expect(server.messages.slice(1)).toStrictEqual([append([frame(1)], 'cb_2'), append([frame(2)], 'cb_3')]);
  });
});
