/**
 * Shared by the record tests: a realistic CallRecord, and the PostgreSQL test target.
 *
 * PostgreSQL comes from TEST_DATABASE_URL. Unset: on CI (CI set) the PostgreSQL tests fail, so a misconfigured
 * pipeline cannot pass by skipping them; locally they are skipped with a loud warning. Each run works in a fresh
 * schema (search_path set through the URL's `options`), dropped at the end, so reruns and parallel runs never meet.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { CallRecord } from '../../src/records/types.js';

export const TEST_DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? null;

export const POSTGRES_MISSING =
  'TEST_DATABASE_URL is not set, so the PostgreSQL record tests cannot run. Start a PostgreSQL and set e.g. ' +
  'TEST_DATABASE_URL=postgres://cb:cb@127.0.0.1:5432/callbridge_test (see .ci/run).';

/** 'run': URL set; 'fail': CI without a URL (tests must fail); 'skip': local run without a URL. */
export function postgresMode(): 'run' | 'fail' | 'skip' {
  if (TEST_DATABASE_URL !== null && TEST_DATABASE_URL !== '') return 'run';
  return process.env['CI'] ? 'fail' : 'skip';
}

export function warnPostgresSkipped(file: string): void {
  console.warn(`\n!!! ${file}: PostgreSQL tests SKIPPED. ${POSTGRES_MISSING}\n`);
}

export interface PostgresSchema {
  /** TEST_DATABASE_URL with `search_path` pointed at the fresh schema. */
  readonly url: string;
  readonly schema: string;
  /** A query on the same schema, outside the code under test. */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** Drops the schema and everything in it; later calls do nothing. */
  drop(): Promise<void>;
}

/** Creates `cb_test_<random>` and returns a URL whose connections use it. */
export async function createPostgresSchema(baseUrl: string): Promise<PostgresSchema> {
  const schema = `cb_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = withSearchPath(baseUrl, schema);
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  let dropped = false;
  return {
    url,
    schema,
    query: async <T extends pg.QueryResultRow>(text: string, values?: unknown[]) => (await pool.query<T>(text, values)).rows,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await pool.query(`drop schema if exists ${schema} cascade`);
      await pool.end();
    },
  };
}

export function withSearchPath(baseUrl: string, schema: string): string {
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** The same URL through another host:port (the TCP proxy). */
export function withHostPort(baseUrl: string, host: string, port: number): string {
  const url = new URL(baseUrl);
  url.hostname = host;
  url.port = String(port);
  return url.toString();
}

export const T0_EPOCH_MS = Date.UTC(2025, 2, 14, 9, 30, 0, 125);

/** A finished inbound call with everything a record can hold: an interrupted answer, nested event data, a recording. */
export function makeRecord(overrides: Partial<CallRecord> = {}): CallRecord {
  const startedAtEpochMs = overrides.startedAtEpochMs ?? T0_EPOCH_MS;
  return {
    callSid: 'CA00000000000000000000000000000001',
    streamSid: 'MZ00000000000000000000000000000001',
    direction: 'inbound',
    from: '+14155550100',
    to: '+14155550199',
    agent: 'front-desk',
    provider: 'openai',
    model: 'gpt-realtime',
    startedAtEpochMs,
    answeredAtEpochMs: startedAtEpochMs + 40,
    endedAtEpochMs: startedAtEpochMs + 61_337,
    durationMs: 61_337,
    endReason: 'caller_hung_up',
    finalStatus: null,
    answeredBy: null,
    transcript: [
      { seq: 0, atMs: 820, speaker: 'agent', itemId: 's1:item_greeting', text: 'Hello, front desk, how can I help?', interrupted: false, heardMs: 2_140, fullText: null },
      { seq: 1, atMs: 5_410, speaker: 'caller', itemId: 's1:item_c1', text: "I'd like to move my appointment — it's on Friday.", interrupted: false, heardMs: null, fullText: null },
      {
        seq: 2,
        atMs: 6_230,
        speaker: 'agent',
        itemId: 's1:item_a2',
        text: 'Sure. Which day would',
        interrupted: true,
        heardMs: 1_180,
        fullText: 'Sure. Which day would suit you better? I have Monday at 10 and Tuesday at 3.',
      },
      { seq: 3, atMs: 7_900, speaker: 'caller', itemId: 's1:item_c2', text: 'Monday, please. Ünïcödé ✓ "quotes" \\ back', interrupted: false, heardMs: null, fullText: null },
    ],
    turns: [
      { turn: 1, callerStoppedAtMs: 5_410, firstAudioAtMs: 6_230, latencyMs: 820 },
      { turn: 2, callerStoppedAtMs: 7_900, firstAudioAtMs: null, latencyMs: null },
    ],
    responses: [
      { responseId: 's1:resp_1', startedAtMs: 300, firstAudioAtMs: 820, firstAudioLatencyMs: 520, status: 'completed' },
      { responseId: 's1:resp_2', startedAtMs: 5_600, firstAudioAtMs: 6_230, firstAudioLatencyMs: 630, status: 'cancelled' },
      { responseId: 's1:resp_3', startedAtMs: 8_100, firstAudioAtMs: null, firstAudioLatencyMs: null, status: null },
    ],
    events: [
      { seq: 0, atMs: 3_001, type: 'dtmf', data: { digit: '5' } },
      { seq: 1, atMs: 7_412, type: 'barge_in', data: { itemId: 's1:item_a2', heardMs: 1_180 } },
      {
        seq: 2,
        atMs: 9_050,
        type: 'tool_call',
        data: { name: 'move_appointment', arguments: { day: 'monday', slots: [10, 15.5], confirm: true, note: null }, result: { ok: true } },
      },
      { seq: 3, atMs: 61_300, type: 'hang_up', data: {} },
    ],
    usage: { inputTokens: 4_210, outputTokens: 1_337, inputAudioTokens: 3_900, outputAudioTokens: 1_200, cachedTokens: 2_048 },
    cost: { totalUsd: 0.123457, priceModel: 'gpt-realtime' },
    recording: { file: '2025/03/14/CA00000000000000000000000000000001.wav', durationMs: 61_300, bytes: 981_644 },
    counters: { framesIn: 3_066, framesSent: 2_950, underruns: 2, underrunMs: 40, gaps: 0, gapMs: 0, bargeIns: 1 },
    ...overrides,
  };
}

/** A short record for bulk tests: `callSid` `CA<n padded>`, started `n` seconds after T0 unless told. */
export function smallRecord(n: number, overrides: Partial<CallRecord> = {}): CallRecord {
  return makeRecord({
    callSid: `CA${String(n).padStart(32, '0')}`,
    startedAtEpochMs: T0_EPOCH_MS + n * 1_000,
    endedAtEpochMs: T0_EPOCH_MS + n * 1_000 + 5_000,
    answeredAtEpochMs: null,
    durationMs: 5_000,
    transcript: [],
    turns: [],
    responses: [],
    events: [],
    recording: null,
    ...overrides,
  });
}
