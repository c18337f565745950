/**
 * The call-record tables and their versioned migrations. One schema for both targets: PGlite (embedded) runs the
 * same PostgreSQL as a real server, so every statement here and in store.ts runs unchanged on both.
 *
 * Migrations live in code (not files) so the build needs no copy step and a bundled `dist/` carries them. They are
 * append-only: a released migration is never edited; a change is a new `000N_…` entry. Kysely records what ran in
 * `records_migration` (see db.ts) and runs only what is missing, in name order.
 *
 * Column types: ms offsets inside a call are `integer` (a call is far shorter than 24 days), durations, byte and
 * token counts are `bigint` (SUMs over months of calls), money is `numeric(14,6)` (costs are rounded to 1e-6, and a
 * float would not add up exactly), wall-clock times are `timestamptz`.
 */
import { sql, type ColumnType, type Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';

/** pg returns int8 as a string, PGlite as a number: readers convert with `Number()`. */
type BigIntColumn = ColumnType<string | number, number, number>;
type NullableBigIntColumn = ColumnType<string | number | null, number | null, number | null>;
/** numeric comes back as a string from both drivers. */
type NumericColumn = ColumnType<string | number, number, number>;
/** Written as JSON text (both drivers parse it back into a value). */
type JsonColumn = ColumnType<unknown, string, string>;
type TimestampColumn = ColumnType<Date, Date, Date>;
type NullableTimestampColumn = ColumnType<Date | null, Date | null, Date | null>;

export interface CallsTable {
  call_sid: string;
  stream_sid: string | null;
  direction: 'inbound' | 'outbound' | 'browser';
  from_number: string;
  to_number: string;
  agent: string;
  provider: string;
  model: string | null;
  started_at: TimestampColumn;
  answered_at: NullableTimestampColumn;
  ended_at: TimestampColumn;
  duration_ms: BigIntColumn;
  end_reason: string;
  final_status: string | null;
  answered_by: string | null;
  input_tokens: BigIntColumn;
  output_tokens: BigIntColumn;
  input_audio_tokens: BigIntColumn;
  output_audio_tokens: BigIntColumn;
  cached_tokens: BigIntColumn;
  cost_usd: NumericColumn;
  price_model: string | null;
  recording_file: string | null;
  recording_duration_ms: NullableBigIntColumn;
  recording_bytes: NullableBigIntColumn;
  counters: JsonColumn;
  /** When this row was written (not part of CallRecord: for operators chasing a late record). */
  written_at: ColumnType<Date, never, never>;
}

export interface CallTurnsTable {
  call_sid: string;
  turn: number;
  caller_stopped_at_ms: number;
  first_audio_at_ms: number | null;
  latency_ms: number | null;
}

export interface CallResponsesTable {
  call_sid: string;
  /** Position in the record's `responses` (responses have no order of their own). */
  seq: number;
  response_id: string;
  started_at_ms: number;
  first_audio_at_ms: number | null;
  first_audio_latency_ms: number | null;
  status: string | null;
}

export interface CallTranscriptTable {
  call_sid: string;
  seq: number;
  at_ms: number;
  speaker: 'caller' | 'agent';
  item_id: string;
  text: string;
  interrupted: boolean;
  heard_ms: number | null;
  full_text: string | null;
}

export interface CallEventsTable {
  call_sid: string;
  seq: number;
  at_ms: number;
  type: string;
  data: JsonColumn;
}

export interface Database {
  calls: CallsTable;
  call_turns: CallTurnsTable;
  call_responses: CallResponsesTable;
  call_transcript: CallTranscriptTable;
  call_events: CallEventsTable;
}

/** Child rows go with their call: a retention job deletes `calls` rows only. */
function childOf(table: string): string {
  return `${table}_call_sid_fk`;
}

const m0001CallRecords: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('calls')
      .addColumn('call_sid', 'text', (col) => col.primaryKey())
      .addColumn('stream_sid', 'text')
      .addColumn('direction', 'text', (col) => col.notNull().check(sql`direction in ('inbound', 'outbound')`))
      .addColumn('from_number', 'text', (col) => col.notNull())
      .addColumn('to_number', 'text', (col) => col.notNull())
      .addColumn('agent', 'text', (col) => col.notNull())
      .addColumn('provider', 'text', (col) => col.notNull())
      .addColumn('model', 'text')
      .addColumn('started_at', 'timestamptz', (col) => col.notNull())
      .addColumn('answered_at', 'timestamptz')
      .addColumn('ended_at', 'timestamptz', (col) => col.notNull())
      .addColumn('duration_ms', 'bigint', (col) => col.notNull())
      .addColumn('end_reason', 'text', (col) => col.notNull())
      .addColumn('final_status', 'text')
      .addColumn('answered_by', 'text')
      .addColumn('input_tokens', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('output_tokens', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('input_audio_tokens', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('output_audio_tokens', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('cached_tokens', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('cost_usd', 'numeric(14, 6)', (col) => col.notNull().defaultTo(0))
      .addColumn('price_model', 'text')
      .addColumn('recording_file', 'text')
      .addColumn('recording_duration_ms', 'bigint')
      .addColumn('recording_bytes', 'bigint')
      .addColumn('counters', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
      .addColumn('written_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      // A recording is all three columns or none (RecordingInfo | null).
      .addCheckConstraint(
        'calls_recording_complete',
        sql`(recording_file is null) = (recording_duration_ms is null) and (recording_file is null) = (recording_bytes is null)`,
      )
      .execute();

    // The list is newest first, keyset-paginated on (started_at, call_sid); each filter gets the same suffix so a
    // filtered page is an index range scan too.
    await db.schema.createIndex('calls_started_at_idx').on('calls').columns(['started_at desc', 'call_sid desc']).execute();
    for (const column of ['agent', 'from_number', 'to_number', 'direction', 'end_reason']) {
      await db.schema
        .createIndex(`calls_${column}_started_at_idx`)
        .on('calls')
        .columns([column, 'started_at desc', 'call_sid desc'])
        .execute();
    }

    await db.schema
      .createTable('call_turns')
      .addColumn('call_sid', 'text', (col) => col.notNull())
      .addColumn('turn', 'integer', (col) => col.notNull())
      .addColumn('caller_stopped_at_ms', 'integer', (col) => col.notNull())
      .addColumn('first_audio_at_ms', 'integer')
      .addColumn('latency_ms', 'integer')
      .addPrimaryKeyConstraint('call_turns_pk', ['call_sid', 'turn'])
      .addForeignKeyConstraint(childOf('call_turns'), ['call_sid'], 'calls', ['call_sid'], (fk) => fk.onDelete('cascade'))
      .execute();

    await db.schema
      .createTable('call_responses')
      .addColumn('call_sid', 'text', (col) => col.notNull())
      .addColumn('seq', 'integer', (col) => col.notNull())
      .addColumn('response_id', 'text', (col) => col.notNull())
      .addColumn('started_at_ms', 'integer', (col) => col.notNull())
      .addColumn('first_audio_at_ms', 'integer')
      .addColumn('first_audio_latency_ms', 'integer')
      .addColumn('status', 'text')
      .addPrimaryKeyConstraint('call_responses_pk', ['call_sid', 'seq'])
      .addForeignKeyConstraint(childOf('call_responses'), ['call_sid'], 'calls', ['call_sid'], (fk) => fk.onDelete('cascade'))
      .execute();

    await db.schema
      .createTable('call_transcript')
      .addColumn('call_sid', 'text', (col) => col.notNull())
      .addColumn('seq', 'integer', (col) => col.notNull())
      .addColumn('at_ms', 'integer', (col) => col.notNull())
      .addColumn('speaker', 'text', (col) => col.notNull().check(sql`speaker in ('caller', 'agent')`))
      .addColumn('item_id', 'text', (col) => col.notNull())
      .addColumn('text', 'text', (col) => col.notNull())
      .addColumn('interrupted', 'boolean', (col) => col.notNull().defaultTo(false))
      .addColumn('heard_ms', 'integer')
      .addColumn('full_text', 'text')
      .addPrimaryKeyConstraint('call_transcript_pk', ['call_sid', 'seq'])
      .addForeignKeyConstraint(childOf('call_transcript'), ['call_sid'], 'calls', ['call_sid'], (fk) => fk.onDelete('cascade'))
      .execute();

    await db.schema
      .createTable('call_events')
      .addColumn('call_sid', 'text', (col) => col.notNull())
      .addColumn('seq', 'integer', (col) => col.notNull())
      .addColumn('at_ms', 'integer', (col) => col.notNull())
      .addColumn('type', 'text', (col) => col.notNull())
      .addColumn('data', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
      .addPrimaryKeyConstraint('call_events_pk', ['call_sid', 'seq'])
      .addForeignKeyConstraint(childOf('call_events'), ['call_sid'], 'calls', ['call_sid'], (fk) => fk.onDelete('cascade'))
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['call_events', 'call_transcript', 'call_responses', 'call_turns', 'calls']) await db.schema.dropTable(table).ifExists().execute();
  },
};

/** Browser-phone calls (the console, the terminal client) are recorded like phone calls, with their own direction. */
const m0002BrowserDirection: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    // `calls_direction_check` is the name PostgreSQL gave 0001's column check.
    await sql`alter table calls drop constraint calls_direction_check`.execute(db);
    await sql`alter table calls add constraint calls_direction_check check (direction in ('inbound', 'outbound', 'browser'))`.execute(db);
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await sql`alter table calls drop constraint calls_direction_check`.execute(db);
    await sql`alter table calls add constraint calls_direction_check check (direction in ('inbound', 'outbound'))`.execute(db);
  },
};

/**
 * Several instances on one database (src/cluster/): each instance's heartbeat and figures, and every live call with the
 * instance that serves it, so a survivor can tell which calls a dead instance took with it.
 */
const m0003Cluster: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('cluster_instances')
      .addColumn('instance_id', 'text', (col) => col.primaryKey())
      .addColumn('public_url', 'text', (col) => col.notNull())
      .addColumn('started_at', 'timestamptz', (col) => col.notNull())
      .addColumn('heartbeat_at', 'timestamptz', (col) => col.notNull())
      .addColumn('active_calls', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('max_calls', 'integer', (col) => col.notNull())
      .addColumn('draining', 'boolean', (col) => col.notNull().defaultTo(false))
      .execute();
    await db.schema
      .createTable('cluster_live_calls')
      .addColumn('call_sid', 'text', (col) => col.primaryKey())
      .addColumn('instance_id', 'text', (col) => col.notNull())
      .addColumn('info', 'jsonb', (col) => col.notNull())
      .addColumn('started_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema.createIndex('cluster_live_calls_instance_idx').on('cluster_live_calls').column('instance_id').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['cluster_live_calls', 'cluster_instances']) await db.schema.dropTable(table).ifExists().execute();
  },
};

/** Every migration, by name. Names sort in the order they must run. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_call_records': m0001CallRecords,
  '0002_browser_direction': m0002BrowserDirection,
  '0003_cluster': m0003Cluster,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve({ ...MIGRATIONS }),
};
