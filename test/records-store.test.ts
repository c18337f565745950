/**
 * The record store, the same suite on both targets: PGlite in a temp DATA_DIR, and a real PostgreSQL
 * (TEST_DATABASE_URL; see helpers/records-db.ts for the skip/fail rule). Exact round trips, idempotent writes, every
 * list filter, keyset pages, bad cursors, refused records, migrations (repeat = no-op, concurrent starts, the lock).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeRecordTarget, MIGRATION_LOCK_KEY, MIGRATION_TABLE, openRecordStore, redactDatabaseUrl, runMigrations } from '../src/records/db.js';
import { BadCursorError, encodeCursor, isBadCursorError } from '../src/records/cursor.js';
import { KyselyRecordStore, RecordRejectedError } from '../src/records/store.js';
import type { CallListItem, CallRecord, RecordStore } from '../src/records/types.js';
import { silentLogger } from '../src/logger.js';
import { captureLogs } from './helpers/twilio-logs.js';
import {
  createPostgresSchema,
  makeRecord,
  POSTGRES_MISSING,
  postgresMode,
  smallRecord,
  T0_EPOCH_MS,
  TEST_DATABASE_URL,
  warnPostgresSkipped,
  type PostgresSchema,
} from './helpers/records-db.js';

function listItem(record: CallRecord): CallListItem {
  const { transcript: _transcript, turns: _turns, responses: _responses, events: _events, ...item } = record;
  return item;
}

const sids = (calls: readonly { callSid: string }[]): string[] => calls.map((call) => call.callSid);

interface Target {
  /** A fresh store on an empty database. */
  open(): Promise<KyselyRecordStore>;
  /** A new store on the same database (a restart), once the first is closed. */
  reopen(): Promise<{ store: KyselyRecordStore; applied: unknown }>;
  cleanup(): Promise<void>;
}

function storeSuite(kind: 'pglite' | 'postgres', makeTarget: () => Promise<Target>): void {
  let target: Target;
  let store: KyselyRecordStore;

  beforeAll(async () => {
    target = await makeTarget();
    store = await target.open();
    expect(store.kind).toBe(kind);
  });
  afterAll(async () => {
    await store?.close();
    await target?.cleanup();
  });
  beforeEach(async () => {
    await store.db.deleteFrom('calls').execute(); // Children go with it (on delete cascade).
  });

  it('writes a full record and reads it back exactly', async () => {
    const record = makeRecord();
    await store.insertCalls([record]);
    expect(await store.getCall(record.callSid)).toStrictEqual(record);
    expect(await store.listCalls({})).toStrictEqual({ calls: [listItem(record)], nextCursor: null });
    expect(await store.getCall('CA-unknown')).toBeNull();
  });

  it('keeps nulls, an outbound call and an unpriced model as they are', async () => {
    const record = makeRecord({
      callSid: 'CAoutbound',
      direction: 'outbound',
      streamSid: null,
      model: null,
      answeredAtEpochMs: null,
      finalStatus: 'no-answer',
      answeredBy: 'machine_end_beep',
      endReason: 'no_answer',
      cost: { totalUsd: 0, priceModel: null },
      recording: null,
      counters: {},
      usage: { inputTokens: 0, outputTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 },
    });
    await store.insertCalls([record]);
    expect(await store.getCall('CAoutbound')).toStrictEqual(record);
  });

  it('is idempotent per callSid: a retried batch writes nothing twice', async () => {
    const first = makeRecord();
    await store.insertCalls([first]);
    const second = smallRecord(2);
    await store.insertCalls([first, second, first]);
    const counts = await store.db
      .selectFrom('calls')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(counts.n)).toBe(2);
    const lines = await store.db.selectFrom('call_transcript').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(Number(lines.n)).toBe(4);
    expect(await store.getCall(first.callSid)).toStrictEqual(first);
  });

  it('applies every filter of the list', async () => {
    const records = [
      smallRecord(1, { agent: 'sales', direction: 'outbound', from: '+100', to: '+201', endReason: 'completed' }),
      smallRecord(2, { agent: 'support', direction: 'inbound', from: '+202', to: '+100', endReason: 'caller_hung_up' }),
      smallRecord(3, { agent: 'sales', direction: 'inbound', from: '+203', to: '+300', endReason: 'caller_hung_up' }),
      smallRecord(4, { agent: 'support', direction: 'outbound', from: '+300', to: '+204', endReason: 'transferred' }),
      smallRecord(5, { agent: 'sales', direction: 'inbound', from: '+100', to: '+300', endReason: 'agent_hung_up' }),
    ];
    await store.insertCalls(records);
    const at = (n: number): number => T0_EPOCH_MS + n * 1_000;
    const list = async (query: Parameters<RecordStore['listCalls']>[0]): Promise<string[]> => sids((await store.listCalls(query)).calls);
    const sid = (n: number): string => `CA${String(n).padStart(32, '0')}`;

    expect(await list({})).toEqual([sid(5), sid(4), sid(3), sid(2), sid(1)]);
    expect(await list({ fromEpochMs: at(2) })).toEqual([sid(5), sid(4), sid(3), sid(2)]);
    expect(await list({ toEpochMs: at(4) })).toEqual([sid(3), sid(2), sid(1)]); // `to` is exclusive
    expect(await list({ fromEpochMs: at(2), toEpochMs: at(4) })).toEqual([sid(3), sid(2)]);
    expect(await list({ agent: 'sales' })).toEqual([sid(5), sid(3), sid(1)]);
    expect(await list({ agent: 'nobody' })).toEqual([]);
    expect(await list({ number: '+100' })).toEqual([sid(5), sid(2), sid(1)]); // from or to
    expect(await list({ number: '+300' })).toEqual([sid(5), sid(4), sid(3)]);
    expect(await list({ direction: 'outbound' })).toEqual([sid(4), sid(1)]);
    expect(await list({ endReason: 'caller_hung_up' })).toEqual([sid(3), sid(2)]);
    expect(await list({ agent: 'sales', direction: 'inbound', number: '+300', fromEpochMs: at(4) })).toEqual([sid(5)]);
    expect((await store.listCalls({ agent: 'support' })).calls).toStrictEqual([listItem(records[3]!), listItem(records[1]!)]);
  });

  it('pages newest first with an opaque cursor, ties broken by callSid', async () => {
    // Seven calls; CAb..CAd start in the same millisecond, so only the callSid orders them.
    const starts: Array<[string, number]> = [
      ['CAa', 1],
      ['CAb', 2],
      ['CAc', 2],
      ['CAd', 2],
      ['CAe', 3],
      ['CAf', 4],
      ['CAg', 5],
    ];
    await store.insertCalls(starts.map(([callSid, n]) => smallRecord(n, { callSid })));
    const page1 = await store.listCalls({ limit: 3 });
    expect(sids(page1.calls)).toEqual(['CAg', 'CAf', 'CAe']);
    expect(page1.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const page2 = await store.listCalls({ limit: 3, cursor: page1.nextCursor! });
    expect(sids(page2.calls)).toEqual(['CAd', 'CAc', 'CAb']);
    const page3 = await store.listCalls({ limit: 3, cursor: page2.nextCursor! });
    expect(sids(page3.calls)).toEqual(['CAa']);
    expect(page3.nextCursor).toBeNull();
    // A page that ends exactly at the last call says so (no empty page after it).
    const exact = await store.listCalls({ limit: 2, cursor: page1.nextCursor!, agent: 'front-desk', toEpochMs: T0_EPOCH_MS + 2_001 });
    expect(sids(exact.calls)).toEqual(['CAd', 'CAc']);
    const exactNext = await store.listCalls({ limit: 2, cursor: exact.nextCursor!, toEpochMs: T0_EPOCH_MS + 2_001 });
    expect(sids(exactNext.calls)).toEqual(['CAb', 'CAa']);
    expect(exactNext.nextCursor).toBeNull();
    // Limits are clamped to 1..200; the default is 50.
    expect(sids((await store.listCalls({ limit: 0 })).calls)).toEqual(['CAg']);
    expect((await store.listCalls({ limit: 500 })).calls).toHaveLength(7);
  });

  it('refuses a bad cursor with a typed error', async () => {
    const b64 = (text: string): string => Buffer.from(text).toString('base64url');
    const bad = ['not base64!', '', b64('{"a":1}'), b64('[1741944600125,"CA1"]'), b64('v1:x:CA1'), b64('v1:1.5:CA1'), b64('v1:1:'), b64('v2:1:CA1'), 'x'.repeat(2_000)];
    for (const cursor of bad) {
      const error = await store.listCalls({ cursor }).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error, cursor).toBeInstanceOf(BadCursorError);
      expect(isBadCursorError(error)).toBe(true);
    }
    expect((await store.listCalls({ cursor: encodeCursor({ startedAtEpochMs: T0_EPOCH_MS, callSid: 'CAz' }) })).calls).toEqual([]);
  });

  it('rejects a record the database refuses, alone and whole, after writing the ones before it', async () => {
    const bad = makeRecord({
      callSid: 'CAbad',
      transcript: [makeRecord().transcript[0]!, makeRecord().transcript[0]!], // duplicate seq
    });
    const error = await store.insertCalls([smallRecord(1), bad, smallRecord(3)]).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RecordRejectedError);
    expect((error as RecordRejectedError).callSid).toBe('CAbad');
    expect((error as RecordRejectedError).writtenBefore).toBe(1);
    expect(sids((await store.listCalls({})).calls)).toEqual([smallRecord(1).callSid]);
    expect(await store.db.selectFrom('call_transcript').selectAll().where('call_sid', '=', 'CAbad').execute()).toEqual([]);
    const notFinite = await store.insertCalls([smallRecord(4, { durationMs: Number.NaN })]).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(notFinite).toBeInstanceOf(RecordRejectedError);
  });

  it('removes NUL characters and rounds fractional milliseconds instead of losing the call', async () => {
    const record = smallRecord(1, {
      durationMs: 5_000.4,
      transcript: [{ seq: 0, atMs: 10.6, speaker: 'caller', itemId: 'i\u0000d', text: 'a\u0000b', interrupted: false, heardMs: null, fullText: null }],
      events: [{ seq: 0, atMs: 1, type: 'fault', data: { message: 'x\u0000y', latency: Number.NaN } }],
      turns: [{ turn: 1, callerStoppedAtMs: 5, firstAudioAtMs: Number.NaN, latencyMs: 7.5 }],
    });
    await store.insertCalls([record]);
    const back = await store.getCall(record.callSid);
    expect(back?.durationMs).toBe(5_000);
    expect(back?.transcript).toEqual([{ seq: 0, atMs: 11, speaker: 'caller', itemId: 'id', text: 'ab', interrupted: false, heardMs: null, fullText: null }]);
    expect(back?.events).toEqual([{ seq: 0, atMs: 1, type: 'fault', data: { message: 'xy', latency: null } }]);
    expect(back?.turns).toEqual([{ turn: 1, callerStoppedAtMs: 5, firstAudioAtMs: null, latencyMs: 8 }]);
  });

  it('runs the migrations once: a second start on the same database is a no-op and keeps the data', async () => {
    await store.insertCalls([makeRecord()]);
    expect(await runMigrations(store.db, kind)).toEqual([]);
    // PGlite allows one instance per directory: close before starting "again" (the restart case).
    await store.close();
    const again = await target.reopen();
    store = again.store;
    expect(again.applied).toEqual([]);
    expect(await store.getCall(makeRecord().callSid)).toStrictEqual(makeRecord());
    const migrations = await store.db.selectFrom(MIGRATION_TABLE as never).select(['name' as never]).execute();
    expect(migrations).toEqual([{ name: '0001_call_records' }, { name: '0002_browser_direction' }, { name: '0003_cluster' }]);
  });
}

describe('record store on PGlite', () => {
  let dir = '';
  storeSuite('pglite', async () => {
    dir = mkdtempSync(join(tmpdir(), 'callbridge-records-'));
    return {
      open: async () => (await openRecordStore({ databaseUrl: null, dataDir: dir, logger: silentLogger() })) as KyselyRecordStore,
      reopen: () => reopenWithLogs({ databaseUrl: null, dataDir: dir }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  });
});

async function reopenWithLogs(options: { databaseUrl: string | null; dataDir: string }): Promise<{ store: KyselyRecordStore; applied: unknown }> {
  const logs = captureLogs('info');
  const store = (await openRecordStore({ ...options, logger: logs.logger })) as KyselyRecordStore;
  return { store, applied: logs.matching('records database ready')[0]?.['migrationsApplied'] };
}

const mode = postgresMode();
if (mode === 'skip') warnPostgresSkipped('records-store.test.ts');

describe.skipIf(mode === 'skip')('record store on PostgreSQL', () => {
  if (mode === 'fail') {
    it('needs TEST_DATABASE_URL on CI', () => {
      throw new Error(POSTGRES_MISSING);
    });
    return;
  }
  const base = TEST_DATABASE_URL!;
  let schema: PostgresSchema;
  storeSuite('postgres', async () => {
    schema = await createPostgresSchema(base);
    return {
      open: async () => (await openRecordStore({ databaseUrl: schema.url, dataDir: '/nonexistent', logger: silentLogger() })) as KyselyRecordStore,
      reopen: () => reopenWithLogs({ databaseUrl: schema.url, dataDir: '/nonexistent' }),
      cleanup: () => schema.drop(),
    };
  });

  describe('migrations across instances', () => {
    let fresh: PostgresSchema;
    const created: PostgresSchema[] = [];
    beforeEach(async () => {
      fresh = await createPostgresSchema(base);
      created.push(fresh);
    });
    afterAll(async () => {
      // Also those a failed test left behind.
      await Promise.all(created.map((schema) => schema.drop().catch(() => undefined)));
    });

    it('two instances starting at once both succeed; one migrates, the other finds nothing to do', async () => {
      const [first, second] = await Promise.all([reopenWithLogs({ databaseUrl: fresh.url, dataDir: '/x' }), reopenWithLogs({ databaseUrl: fresh.url, dataDir: '/x' })]);
      try {
        expect([first.applied, second.applied].map((applied) => JSON.stringify(applied)).sort()).toEqual(['["0001_call_records","0002_browser_direction","0003_cluster"]', '[]']);
        await first.store.insertCalls([makeRecord()]);
        expect(await second.store.getCall(makeRecord().callSid)).toStrictEqual(makeRecord());
      } finally {
        await Promise.all([first.store.close(), second.store.close()]);
        await fresh.drop();
      }
    });

    it('waits for the migration lock another instance holds', async () => {
      const holder = new pg.Client({ connectionString: fresh.url });
      await holder.connect();
      await holder.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
      let opened = false;
      const opening = openRecordStore({ databaseUrl: fresh.url, dataDir: '/x', logger: silentLogger() }).then((store) => {
        opened = true;
        return store;
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(opened).toBe(false);
      const tables = await fresh.query<{ n: string }>("select count(*) as n from information_schema.tables where table_schema = $1", [fresh.schema]);
      expect(tables[0]?.n).toBe('0'); // Not even Kysely's bookkeeping tables: the whole migrator waits.
      await holder.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
      await holder.end();
      const store = await opening;
      await store.close();
      await fresh.drop();
    });

    it('fails to open with a redacted message when the server refuses the password', async () => {
      const url = new URL(fresh.url);
      url.password = 'wrong-Secret-9f3';
      const logs = captureLogs('debug');
      const error = await openRecordStore({ databaseUrl: url.toString(), dataDir: '/x', logger: logs.logger }).then(
        () => null,
        (caught: unknown) => caught as Error,
      );
      await fresh.drop();
      if (error === null) return; // A trust-auth server lets any password in: nothing to check.
      expect(error.message).toContain(describeRecordTarget({ databaseUrl: url.toString(), dataDir: '/x' }));
      expect(error.message).not.toContain('wrong-Secret-9f3');
      expect(JSON.stringify(logs.lines)).not.toContain('wrong-Secret-9f3');
    });
  });
});

describe('record target descriptions', () => {
  it('never show the password', () => {
    const url = 'postgres://app:s3cr%40t-pass@db.example:5432/callbridge?sslmode=require&password=other-secret';
    expect(describeRecordTarget({ databaseUrl: url, dataDir: './data' })).toBe('postgres://db.example:5432/callbridge');
    expect(describeRecordTarget({ databaseUrl: null, dataDir: './data' })).toBe('pglite data/records');
    const redacted = redactDatabaseUrl(`connect ${url} failed: password s3cr@t-pass rejected`, url);
    expect(redacted).toBe('connect postgres://app:***@db.example:5432/callbridge?sslmode=require&password=*** failed: password *** rejected');
  });
});
