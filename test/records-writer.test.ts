/**
 * The record writer: off the call's path, batched, in order, retried with backoff on the injected clock, bounded
 * (oldest dropped, counted, logged once), flushable with a deadline, patient with a store still opening. Fake stores
 * for the logic; one real outage through a TCP proxy in front of PostgreSQL (TEST_DATABASE_URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../src/clock.js';
import { openRecordStore } from '../src/records/db.js';
import { RecordRejectedError } from '../src/records/store.js';
import type { CallRecord, RecordStore } from '../src/records/types.js';
import { RecordWriter } from '../src/records/writer.js';
import { captureLogs } from './helpers/twilio-logs.js';
import {
  createPostgresSchema,
  makeRecord,
  POSTGRES_MISSING,
  postgresMode,
  smallRecord,
  TEST_DATABASE_URL,
  warnPostgresSkipped,
  withHostPort,
  type PostgresSchema,
} from './helpers/records-db.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/** Lets promise chains (the write in flight) run to their next real wait. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const rec = (n: number): CallRecord => smallRecord(n, { callSid: `CA${n}` });

/** A store whose answers the test decides: `ok`, `fail` (rejects), or `hold` (never settles until released). */
class FakeStore implements RecordStore {
  readonly kind = 'postgres' as const;
  readonly batches: string[][] = [];
  readonly attemptAtMs: number[] = [];
  readonly written: string[] = [];
  mode: 'ok' | 'fail' | 'hold' = 'ok';
  reject: ((callSid: string) => boolean) | null = null;
  private held: Array<() => void> = [];

  constructor(private readonly clock: ManualClock) {}

  async insertCalls(records: readonly CallRecord[]): Promise<void> {
    this.attemptAtMs.push(this.clock.now());
    this.batches.push(records.map((record) => record.callSid));
    if (this.mode === 'fail') throw new Error('connect ECONNREFUSED postgres://app:hunter22@db:5432/x');
    if (this.mode === 'hold') await new Promise<void>((resolve) => this.held.push(resolve));
    for (const [index, record] of records.entries()) {
      if (this.reject?.(record.callSid)) throw new RecordRejectedError(record.callSid, index, 'invalid input (22P02)');
      if (!this.written.includes(record.callSid)) this.written.push(record.callSid);
    }
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const resolve of held) resolve();
  }

  listCalls(): never {
    throw new Error('unused');
  }
  getCall(): never {
    throw new Error('unused');
  }
  costSince(): never {
    throw new Error('unused');
  }
  async close(): Promise<void> {}
}

function setup(options: { maxBuffered?: number; batchSize?: number; attemptTimeoutMs?: number } = {}) {
  const clock = new ManualClock(1_000);
  const store = new FakeStore(clock);
  const logs = captureLogs('debug');
  const writer = new RecordWriter({ store, clock, logger: logs.logger, retryBaseMs: 500, retryMaxMs: 4_000, ...options });
  const tick = async (ms: number): Promise<void> => {
    clock.advance(ms);
    await settle();
  };
  return { clock, store, logs, writer, tick };
}

describe('RecordWriter', () => {
  it('returns from enqueue at once and writes what is queued in one batch, in order', async () => {
    const { store, writer, tick } = setup();
    for (const n of [1, 2, 3]) writer.enqueue(rec(n));
    expect(store.batches).toEqual([]);
    expect(writer.stats()).toEqual({ written: 0, pending: 3, dropped: 0, failedAttempts: 0, lastError: null });
    await tick(0);
    expect(store.batches).toEqual([['CA1', 'CA2', 'CA3']]);
    expect(writer.stats()).toEqual({ written: 3, pending: 0, dropped: 0, failedAttempts: 0, lastError: null });
  });

  it('splits into batches of batchSize and queues newcomers behind the write in flight', async () => {
    const { store, writer, tick } = setup({ batchSize: 2 });
    store.mode = 'hold';
    for (const n of [1, 2, 3]) writer.enqueue(rec(n));
    await tick(0);
    expect(store.batches).toEqual([['CA1', 'CA2']]);
    writer.enqueue(rec(4));
    writer.enqueue(rec(5));
    store.mode = 'ok';
    store.release();
    await settle();
    expect(store.batches).toEqual([['CA1', 'CA2'], ['CA3', 'CA4'], ['CA5']]);
    expect(store.written).toEqual(['CA1', 'CA2', 'CA3', 'CA4', 'CA5']);
  });

  it('retries with exponential backoff, capped, in order, and logs the outage once and the catch-up once', async () => {
    const { store, writer, tick, logs } = setup();
    store.mode = 'fail';
    writer.enqueue(rec(1));
    writer.enqueue(rec(2));
    await tick(0); // attempt 1 at 1000
    await tick(499);
    expect(store.attemptAtMs).toEqual([1_000]);
    await tick(1); // attempt 2 at +500
    await tick(1_000); // attempt 3 at +1000
    writer.enqueue(rec(3));
    await tick(2_000); // attempt 4 at +2000
    await tick(4_000); // attempt 5 at +4000 (cap)
    await tick(4_000); // attempt 6 at +4000 (still capped)
    expect(store.attemptAtMs).toEqual([1_000, 1_500, 2_500, 4_500, 8_500, 12_500]);
    expect(writer.stats()).toEqual({ written: 0, pending: 3, dropped: 0, failedAttempts: 6, lastError: 'connect ECONNREFUSED postgres://app:***@db:5432/x' });
    store.mode = 'ok';
    await tick(4_000);
    expect(store.batches.at(-1)).toEqual(['CA1', 'CA2', 'CA3']);
    expect(writer.stats()).toMatchObject({ written: 3, pending: 0, failedAttempts: 6 });
    expect(logs.matching('records write failed: retrying')).toHaveLength(1);
    expect(logs.matching('records write failed again')).toHaveLength(5);
    const caughtUp = logs.matching('records caught up');
    expect(caughtUp.map((line) => line['msg'])).toEqual(['records caught up: 3 written after 6 failed attempts']);
    expect(caughtUp[0]).toMatchObject({ level: 30, written: 3, failedAttempts: 6, dropped: 0 });
    expect(JSON.stringify(logs.lines)).not.toContain('hunter22');
    // The backoff starts over after a success.
    store.mode = 'fail';
    writer.enqueue(rec(4));
    await tick(0);
    await tick(500);
    expect(store.attemptAtMs.slice(-2)).toEqual([16_500, 17_000]);
  });

  it('drops the oldest waiting record when the buffer is full, counts every drop, logs once per outage', async () => {
    const { store, writer, tick, logs } = setup({ maxBuffered: 3 });
    store.mode = 'fail';
    for (const n of [1, 2, 3, 4, 5]) writer.enqueue(rec(n));
    expect(writer.stats()).toMatchObject({ pending: 3, dropped: 2 });
    await tick(0);
    writer.enqueue(rec(6));
    expect(writer.stats()).toMatchObject({ pending: 3, dropped: 3 });
    const full = logs.matching('records buffer full');
    expect(full).toHaveLength(1);
    expect(full[0]).toMatchObject({ level: 50, dropped: 1, maxBuffered: 3 });
    store.mode = 'ok';
    await tick(500);
    expect(store.written).toEqual(['CA4', 'CA5', 'CA6']);
    expect(logs.matching('records caught up')[0]).toMatchObject({ written: 3, failedAttempts: 1, dropped: 3 });
    // A new outage logs the overflow again, with the running count.
    store.mode = 'fail';
    for (const n of [7, 8, 9, 10]) writer.enqueue(rec(n));
    await tick(0);
    expect(logs.matching('records buffer full').map((line) => line['dropped'])).toEqual([1, 4]);
    expect(writer.stats()).toMatchObject({ written: 3, pending: 3, dropped: 4 });
  });

  it('never drops a record that is being written', async () => {
    const { store, writer, tick } = setup({ maxBuffered: 3, batchSize: 2 });
    store.mode = 'hold';
    for (const n of [1, 2, 3]) writer.enqueue(rec(n));
    await tick(0); // CA1, CA2 in flight
    writer.enqueue(rec(4)); // drops CA3, the oldest waiting one
    expect(writer.stats()).toMatchObject({ pending: 3, dropped: 1 });
    store.mode = 'ok';
    store.release();
    await settle();
    expect(store.written).toEqual(['CA1', 'CA2', 'CA4']);
  });

  it('flush resolves when the queue is empty, cuts a backoff short, and gives up at its deadline', async () => {
    const { store, writer, tick, clock } = setup();
    expect(await writer.flush(1_000)).toBe(true);
    store.mode = 'fail';
    writer.enqueue(rec(1));
    await tick(0);
    await tick(500); // second failure: next retry in 1000 ms
    store.mode = 'ok';
    const flushed = writer.flush(5_000);
    await tick(0); // no waiting for the backoff
    expect(await flushed).toBe(true);
    expect(store.attemptAtMs).toEqual([1_000, 1_500, 1_500]);

    store.mode = 'fail';
    writer.enqueue(rec(2));
    let result: boolean | null = null;
    void writer.flush(3_000).then((drained) => (result = drained));
    await tick(2_999);
    expect(result).toBeNull();
    await tick(1);
    expect(result).toBe(false);
    expect(writer.stats().pending).toBe(1);
    writer.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('waits for a store that is still opening, then writes everything queued', async () => {
    const clock = new ManualClock();
    const store = new FakeStore(clock);
    let open!: (store: RecordStore) => void;
    const writer = new RecordWriter({ store: new Promise<RecordStore>((resolve) => (open = resolve)), clock, logger: captureLogs().logger });
    writer.enqueue(rec(1));
    clock.advance(10_000);
    await settle();
    writer.enqueue(rec(2));
    expect(writer.openStore()).toBeNull();
    expect(writer.stats()).toMatchObject({ pending: 2, failedAttempts: 0 });
    open(store);
    await settle();
    clock.advance(0);
    await settle();
    expect(store.batches).toEqual([['CA1', 'CA2']]);
    expect(writer.openStore()).toBe(store);
  });

  it('opens a store factory at once (before any write: readers need it), again after a failed open, with backoff', async () => {
    const clock = new ManualClock();
    const store = new FakeStore(clock);
    let calls = 0;
    const factory = async (): Promise<RecordStore> => {
      calls += 1;
      if (calls < 3) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      return store;
    };
    const writer = new RecordWriter({ store: factory, clock, logger: captureLogs().logger, retryBaseMs: 100 });
    expect(calls).toBe(0);
    clock.advance(0);
    await settle();
    expect(calls).toBe(1); // no record yet: the store opens anyway
    expect(writer.openStore()).toBeNull();
    expect(writer.stats()).toMatchObject({ lastError: 'connect ECONNREFUSED 127.0.0.1:5432' });
    clock.advance(99);
    await settle();
    expect(calls).toBe(1);
    clock.advance(1);
    await settle();
    expect(calls).toBe(2); // 100 ms later
    clock.advance(199);
    await settle();
    expect(calls).toBe(2);
    clock.advance(1);
    await settle();
    expect(calls).toBe(3); // 200 ms after that: open
    expect(writer.openStore()).toBe(store);
    writer.enqueue(rec(1));
    clock.advance(0);
    await settle();
    expect(store.written).toEqual(['CA1']);
    expect(calls).toBe(3);
    expect(writer.stats()).toMatchObject({ written: 1, failedAttempts: 0 });
    writer.close();
  });

  it('drops a record the database refuses and goes on with the rest, without backoff', async () => {
    const { store, writer, tick, logs } = setup();
    store.reject = (callSid) => callSid === 'CA2';
    for (const n of [1, 2, 3]) writer.enqueue(rec(n));
    await tick(0);
    expect(store.written).toEqual(['CA1', 'CA3']);
    expect(writer.stats()).toEqual({ written: 2, pending: 0, dropped: 1, failedAttempts: 0, lastError: null });
    expect(logs.matching('refused by the database')[0]).toMatchObject({ level: 50, callSid: 'CA2' });
  });

  it('counts a write that never settles as failed and retries it', async () => {
    const { store, writer, tick } = setup({ attemptTimeoutMs: 2_000 });
    store.mode = 'hold';
    writer.enqueue(rec(1));
    await tick(0);
    await tick(2_000);
    expect(writer.stats()).toMatchObject({ failedAttempts: 1, lastError: 'write did not settle within 2000 ms' });
    store.mode = 'ok';
    await tick(500);
    expect(writer.stats()).toMatchObject({ written: 1, pending: 0 });
    store.release(); // the stale attempt ends late: no double count
    await settle();
    expect(writer.stats()).toMatchObject({ written: 1, pending: 0 });
  });

  it('after close: no timers, records dropped and counted', async () => {
    const { store, writer, tick, clock } = setup();
    store.mode = 'fail';
    writer.enqueue(rec(1));
    await tick(0);
    writer.close();
    expect(clock.pendingTimers).toBe(0);
    writer.enqueue(rec(2));
    expect(writer.stats()).toMatchObject({ pending: 1, dropped: 1 });
    expect(await writer.flush(1_000)).toBe(false);
  });
});

const mode = postgresMode();
if (mode === 'skip') warnPostgresSkipped('records-writer.test.ts');

describe.skipIf(mode === 'skip')('RecordWriter through a real outage (PostgreSQL behind a TCP proxy)', () => {
  if (mode === 'fail') {
    it('needs TEST_DATABASE_URL on CI', () => {
      throw new Error(POSTGRES_MISSING);
    });
    return;
  }
  let schema: PostgresSchema;
  let proxy: TcpProxy;
  beforeAll(async () => {
    schema = await createPostgresSchema(TEST_DATABASE_URL!);
    const target = new URL(TEST_DATABASE_URL!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  });
  afterAll(async () => {
    await proxy?.close();
    await schema?.drop();
  });

  for (const cutMode of ['refuse', 'hold'] as const) {
    it(`keeps records while the database is cut (${cutMode}) and writes each exactly once after`, async () => {
      const logs = captureLogs('info');
      const url = withHostPort(schema.url, '127.0.0.1', proxy.port);
      const store = await openRecordStore({ databaseUrl: url, dataDir: '/x', logger: logs.logger, postgres: { connectTimeoutMs: 300 } });
      const writer = new RecordWriter({ store, clock: systemClock, logger: logs.logger, retryBaseMs: 50, retryMaxMs: 200, attemptTimeoutMs: 2_000 });
      const sid = (n: number): string => `CA${cutMode}${n}`;
      try {
        writer.enqueue(makeRecord({ callSid: sid(0) }));
        expect(await writer.flush(5_000)).toBe(true);

        proxy.cut(cutMode);
        const enqueueStartedMs = performance.now();
        for (let n = 1; n <= 20; n++) writer.enqueue(makeRecord({ callSid: sid(n), startedAtEpochMs: Date.UTC(2025, 0, 1) + n }));
        expect(performance.now() - enqueueStartedMs).toBeLessThan(20);
        await waitFor(() => writer.stats().failedAttempts >= 3, 10_000);
        expect(writer.stats()).toMatchObject({ pending: 20, written: 1, dropped: 0 });

        proxy.restore();
        expect(await writer.flush(15_000)).toBe(true);
        expect(writer.stats()).toMatchObject({ pending: 0, written: 21, dropped: 0 });
        const rows = await schema.query<{ call_sid: string; n: string }>(
          'select call_sid, (select count(*) from call_transcript t where t.call_sid = c.call_sid) as n from calls c where call_sid like $1 order by call_sid',
          [`CA${cutMode}%`],
        );
        expect(rows.map((row) => row.call_sid)).toEqual(Array.from({ length: 21 }, (_, n) => sid(n)).sort());
        expect(rows.every((row) => row.n === '4')).toBe(true);
        expect(await store.getCall(sid(7))).toStrictEqual(makeRecord({ callSid: sid(7), startedAtEpochMs: Date.UTC(2025, 0, 1) + 7 }));
        expect(logs.matching('records caught up')).toHaveLength(1);
        expect(logs.matching('records write failed: retrying')).toHaveLength(1);
      } finally {
        writer.close();
        await store.close();
      }
    });
  }
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
