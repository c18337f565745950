/**
 * The RecordStore on Kysely: the same queries on PGlite and PostgreSQL.
 *
 * Writing: one transaction per call; the `calls` row goes first with `ON CONFLICT (call_sid) DO NOTHING`, and when it
 * already existed (a retried batch, or another instance racing) the call's child rows are skipped: they were
 * committed with it. A record the database refuses for its content (SQLSTATE class 22 data exception or 23 integrity,
 * or a value that cannot be serialized) is a `RecordRejectedError`: retrying it would fail forever, so the writer
 * drops it alone instead of blocking the queue. Anything else (connection lost, timeout) is a plain rejection: retry.
 *
 * Values: ms offsets and counts are stored as integers (fractional ms are rounded); wall-clock times at ms precision
 * (timestamptz via Date). pg returns int8 and numeric as strings, PGlite int8 as numbers: reads go through `num()`.
 * NUL characters, which PostgreSQL text and jsonb cannot hold, are removed from strings.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import { decodeCursor, encodeCursor } from './cursor.js';
import { turnLatenciesBetween } from './overview-query.js';
import type { CallsTable, Database } from './schema.js';
import type { CallListItem, CallPage, CallQuery, CallRecord, RecordEvent, RecordStore, TranscriptLine } from './types.js';

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;
/** Rows per multi-row INSERT: far below PostgreSQL's 65535 bind parameters even for the widest table. */
const ROWS_PER_INSERT = 1_000;

/**
 * The database refused one record for its content. `writtenBefore` records of the batch (those before it) are
 * committed; the ones after it were not tried.
 */
export class RecordRejectedError extends Error {
  constructor(
    readonly callSid: string,
    readonly writtenBefore: number,
    readonly reason: string,
  ) {
    super(`record ${callSid} rejected: ${reason}`);
    this.name = 'RecordRejectedError';
  }
}

export class KyselyRecordStore implements RecordStore {
  constructor(
    /** Exposed for migrations and tests; the rest of the app goes through the RecordStore methods. */
    readonly db: Kysely<Database>,
    readonly kind: 'pglite' | 'postgres',
  ) {}

  async insertCalls(records: readonly CallRecord[]): Promise<void> {
    for (const [index, record] of records.entries()) {
      // PGlite runs queries on this thread: give timers and sockets (the audio) a turn between calls.
      if (this.kind === 'pglite' && index > 0) await nextMacrotask();
      let rows: CallRows;
      try {
        rows = toRows(record);
      } catch (error) {
        throw new RecordRejectedError(record.callSid, index, error instanceof Error ? error.message : String(error));
      }
      try {
        await this.db.transaction().execute((trx) => insertCall(trx, rows));
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'))) {
          throw new RecordRejectedError(record.callSid, index, `${(error as Error).message} (${code})`);
        }
        throw error;
      }
    }
  }

  async listCalls(query: CallQuery): Promise<CallPage> {
    const limit = pageLimit(query.limit);
    // A bad cursor throws BadCursorError (cursor.ts) before any SQL: the API answers 400 bad_cursor.
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    let select = this.db.selectFrom('calls').selectAll();
    if (query.fromEpochMs !== undefined) select = select.where('started_at', '>=', new Date(query.fromEpochMs));
    if (query.toEpochMs !== undefined) select = select.where('started_at', '<', new Date(query.toEpochMs));
    if (query.agent !== undefined) select = select.where('agent', '=', query.agent);
    if (query.direction !== undefined) select = select.where('direction', '=', query.direction);
    if (query.endReason !== undefined) select = select.where('end_reason', '=', query.endReason);
    const number = query.number;
    if (number !== undefined) select = select.where((eb) => eb.or([eb('from_number', '=', number), eb('to_number', '=', number)]));
    if (after !== null) {
      select = select.where((eb) => eb(eb.refTuple('started_at', 'call_sid'), '<', eb.tuple(new Date(after.startedAtEpochMs), after.callSid)));
    }
    // One row more than asked tells whether another page exists, so the last page says so (nextCursor null).
    const rows = await select.orderBy('started_at', 'desc').orderBy('call_sid', 'desc').limit(limit + 1).execute();
    const page = rows.slice(0, limit).map(toListItem);
    const last = page[page.length - 1];
    return { calls: page, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last) : null };
  }

  async costSince(fromEpochMs: number): Promise<number> {
    const row = await this.db
      .selectFrom('calls')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<string | number>('cost_usd'), eb.lit(0)).as('total'))
      .where('started_at', '>=', new Date(fromEpochMs))
      .executeTakeFirst();
    return Number(row?.total ?? 0);
  }

  turnLatencies(range: { readonly fromEpochMs: number; readonly toEpochMs: number }, limit: number): Promise<number[]> {
    return turnLatenciesBetween(this.db, range.fromEpochMs, range.toEpochMs, limit);
  }

  async getCall(callSid: string): Promise<CallRecord | null> {
    const row = await this.db.selectFrom('calls').selectAll().where('call_sid', '=', callSid).executeTakeFirst();
    if (row === undefined) return null;
    // A call's rows were committed together and never change: no transaction needed for a consistent read.
    const [transcript, turns, responses, events] = await Promise.all([
      this.db.selectFrom('call_transcript').selectAll().where('call_sid', '=', callSid).orderBy('seq').execute(),
      this.db.selectFrom('call_turns').selectAll().where('call_sid', '=', callSid).orderBy('turn').execute(),
      this.db.selectFrom('call_responses').selectAll().where('call_sid', '=', callSid).orderBy('seq').execute(),
      this.db.selectFrom('call_events').selectAll().where('call_sid', '=', callSid).orderBy('seq').execute(),
    ]);
    return {
      ...toListItem(row),
      transcript: transcript.map(
        (line): TranscriptLine => ({
          seq: line.seq,
          atMs: line.at_ms,
          speaker: line.speaker,
          itemId: line.item_id,
          text: line.text,
          interrupted: line.interrupted,
          heardMs: line.heard_ms,
          fullText: line.full_text,
        }),
      ),
      turns: turns.map((turn) => ({ turn: turn.turn, callerStoppedAtMs: turn.caller_stopped_at_ms, firstAudioAtMs: turn.first_audio_at_ms, latencyMs: turn.latency_ms })),
      responses: responses.map((response) => ({
        responseId: response.response_id,
        startedAtMs: response.started_at_ms,
        firstAudioAtMs: response.first_audio_at_ms,
        firstAudioLatencyMs: response.first_audio_latency_ms,
        status: response.status,
      })),
      events: events.map((event) => ({ seq: event.seq, atMs: event.at_ms, type: event.type as RecordEvent['type'], data: jsonObject(event.data) })),
    };
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

interface CallRows {
  readonly call: Insertable<CallsTable>;
  readonly turns: Insertable<Database['call_turns']>[];
  readonly responses: Insertable<Database['call_responses']>[];
  readonly transcript: Insertable<Database['call_transcript']>[];
  readonly events: Insertable<Database['call_events']>[];
}

async function insertCall(trx: Transaction<Database>, rows: CallRows): Promise<void> {
  const inserted = await trx
    .insertInto('calls')
    .values(rows.call)
    .onConflict((conflict) => conflict.column('call_sid').doNothing())
    .returning('call_sid')
    .executeTakeFirst();
  if (inserted === undefined) return; // Already written, children included (same transaction back then).
  for (const chunk of chunks(rows.turns)) await trx.insertInto('call_turns').values(chunk).execute();
  for (const chunk of chunks(rows.responses)) await trx.insertInto('call_responses').values(chunk).execute();
  for (const chunk of chunks(rows.transcript)) await trx.insertInto('call_transcript').values(chunk).execute();
  for (const chunk of chunks(rows.events)) await trx.insertInto('call_events').values(chunk).execute();
}

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) out.push(rows.slice(start, start + ROWS_PER_INSERT));
  return out;
}

/** Maps a record to rows; throws on a value no column can take (the record is rejected, not retried). */
function toRows(record: CallRecord): CallRows {
  const sid = text(record.callSid);
  const call: Insertable<CallsTable> = {
    call_sid: sid,
    stream_sid: textOrNull(record.streamSid),
    direction: record.direction,
    from_number: text(record.from),
    to_number: text(record.to),
    agent: text(record.agent),
    provider: text(record.provider),
    model: textOrNull(record.model),
    started_at: epoch(record.startedAtEpochMs, 'startedAtEpochMs'),
    answered_at: record.answeredAtEpochMs === null ? null : epoch(record.answeredAtEpochMs, 'answeredAtEpochMs'),
    ended_at: epoch(record.endedAtEpochMs, 'endedAtEpochMs'),
    duration_ms: int(record.durationMs, 'durationMs'),
    end_reason: text(record.endReason),
    final_status: textOrNull(record.finalStatus),
    answered_by: textOrNull(record.answeredBy),
    input_tokens: int(record.usage.inputTokens, 'usage.inputTokens'),
    output_tokens: int(record.usage.outputTokens, 'usage.outputTokens'),
    input_audio_tokens: int(record.usage.inputAudioTokens, 'usage.inputAudioTokens'),
    output_audio_tokens: int(record.usage.outputAudioTokens, 'usage.outputAudioTokens'),
    cached_tokens: int(record.usage.cachedTokens, 'usage.cachedTokens'),
    cost_usd: finite(record.cost.totalUsd, 'cost.totalUsd'),
    price_model: textOrNull(record.cost.priceModel),
    recording_file: record.recording === null ? null : text(record.recording.file),
    recording_duration_ms: record.recording === null ? null : int(record.recording.durationMs, 'recording.durationMs'),
    recording_bytes: record.recording === null ? null : int(record.recording.bytes, 'recording.bytes'),
    counters: json(record.counters),
  };
  return {
    call,
    turns: record.turns.map((turn) => ({
      call_sid: sid,
      turn: int(turn.turn, 'turn.turn'),
      caller_stopped_at_ms: int(turn.callerStoppedAtMs, 'turn.callerStoppedAtMs'),
      first_audio_at_ms: intOrNull(turn.firstAudioAtMs),
      latency_ms: intOrNull(turn.latencyMs),
    })),
    responses: record.responses.map((response, seq) => ({
      call_sid: sid,
      seq,
      response_id: text(response.responseId),
      started_at_ms: int(response.startedAtMs, 'response.startedAtMs'),
      first_audio_at_ms: intOrNull(response.firstAudioAtMs),
      first_audio_latency_ms: intOrNull(response.firstAudioLatencyMs),
      status: textOrNull(response.status),
    })),
    transcript: record.transcript.map((line) => ({
      call_sid: sid,
      seq: int(line.seq, 'transcript.seq'),
      at_ms: int(line.atMs, 'transcript.atMs'),
      speaker: line.speaker,
      item_id: text(line.itemId),
      text: text(line.text),
      interrupted: line.interrupted,
      heard_ms: intOrNull(line.heardMs),
      full_text: textOrNull(line.fullText),
    })),
    events: record.events.map((event) => ({
      call_sid: sid,
      seq: int(event.seq, 'event.seq'),
      at_ms: int(event.atMs, 'event.atMs'),
      type: text(event.type),
      data: json(event.data),
    })),
  };
}

function text(value: string): string {
  return value.includes('\u0000') ? value.split('\u0000').join('') : value;
}

function textOrNull(value: string | null): string | null {
  return value === null ? null : text(value);
}

function finite(value: number, field: string): number {
  if (!Number.isFinite(value)) throw new Error(`${field} is not a finite number (${value})`);
  return value;
}

function int(value: number, field: string): number {
  return Math.round(finite(value, field));
}

/** Optional measurements: a NaN there is a lost measurement, not a reason to lose the call. */
function intOrNull(value: number | null): number | null {
  return value === null || !Number.isFinite(value) ? null : Math.round(value);
}

function epoch(value: number, field: string): Date {
  const date = new Date(finite(value, field));
  if (Number.isNaN(date.getTime())) throw new Error(`${field} is out of range (${value})`);
  return date;
}

function json(value: unknown): string {
  const encoded = JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'string' ? text(inner) : inner));
  if (encoded === undefined) throw new Error('value is not JSON');
  return encoded;
}

function toListItem(row: Selectable<CallsTable>): CallListItem {
  return {
    callSid: row.call_sid,
    streamSid: row.stream_sid,
    direction: row.direction,
    from: row.from_number,
    to: row.to_number,
    agent: row.agent,
    provider: row.provider,
    model: row.model,
    startedAtEpochMs: row.started_at.getTime(),
    answeredAtEpochMs: row.answered_at === null ? null : row.answered_at.getTime(),
    endedAtEpochMs: row.ended_at.getTime(),
    durationMs: num(row.duration_ms),
    endReason: row.end_reason,
    finalStatus: row.final_status,
    answeredBy: row.answered_by,
    usage: {
      inputTokens: num(row.input_tokens),
      outputTokens: num(row.output_tokens),
      inputAudioTokens: num(row.input_audio_tokens),
      outputAudioTokens: num(row.output_audio_tokens),
      cachedTokens: num(row.cached_tokens),
    },
    cost: { totalUsd: num(row.cost_usd), priceModel: row.price_model },
    recording:
      row.recording_file === null
        ? null
        : { file: row.recording_file, durationMs: num(row.recording_duration_ms ?? 0), bytes: num(row.recording_bytes ?? 0) },
    counters: jsonObject(row.counters) as Record<string, number>,
  };
}

function num(value: string | number | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

function jsonObject(value: unknown): Record<string, unknown> {
  // Both drivers parse jsonb; a string here means a driver configured without the parser.
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE_LIMIT;
  return Math.min(MAX_PAGE_LIMIT, Math.max(1, Math.floor(limit)));
}
