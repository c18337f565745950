/**
 * Opens the record database: PGlite (embedded PostgreSQL in WASM, files under `<DATA_DIR>/records`) when no
 * DATABASE_URL is set, a small `pg` pool otherwise. Either way the migrations run before the store is returned.
 *
 * Several instances may share one PostgreSQL and start at once: the migrator runs on one pooled connection that
 * first takes a session-level `pg_advisory_lock(MIGRATION_LOCK_KEY)`, so one instance migrates while the others wait,
 * then find nothing left to do. (Kysely's migrator takes its own advisory lock too, but only after creating its
 * bookkeeping tables; ours covers that step as well.) A session lock dies with its connection, so a crashed migrator
 * never leaves the database locked.
 *
 * A password in DATABASE_URL never reaches a log line or an error message: everything said about the target goes
 * through `describeRecordTarget` / `redactDatabaseUrl`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Logger } from '../logger.js';
import { migrationProvider, type Database } from './schema.js';
import { KyselyRecordStore } from './store.js';
import type { RecordStore } from './types.js';

export interface PostgresPoolOptions {
  /** Pool size; records need few connections (one writer, the API's reads). Default 4. */
  readonly maxConnections?: number;
  /** TCP connect + startup, ms. Default 5_000. */
  readonly connectTimeoutMs?: number;
  /** Server-side cap per statement, ms. Default 15_000. */
  readonly statementTimeoutMs?: number;
  /** How long a starting instance waits for another one's migrations, ms. Default 300_000. */
  readonly migrationTimeoutMs?: number;
}

export interface OpenRecordStoreOptions {
  /** postgres://… to use PostgreSQL; null for the embedded PGlite under `dataDir`. */
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly postgres?: PostgresPoolOptions;
}

/** Key of the advisory lock held while migrating ('cbrecmig' as 8 bytes). */
export const MIGRATION_LOCK_KEY = 7161412137257888103n;

/** Where the applied migrations are listed. */
export const MIGRATION_TABLE = 'records_migration';

const DEFAULT_MAX_CONNECTIONS = 4;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;
const DEFAULT_MIGRATION_TIMEOUT_MS = 300_000;

/** Where the PGlite files live for a DATA_DIR. */
export function pgliteDir(dataDir: string): string {
  return join(dataDir, 'records');
}

/**
 * Replaces credentials in any text that may contain a database URL: `scheme://user:secret@` → `scheme://user:***@`,
 * `password=secret` query parameters, and, when `databaseUrl` is given, its literal password wherever it appears
 * (a driver message may echo it in another form).
 */
export function redactDatabaseUrl(text: string, databaseUrl?: string | null): string {
  let clean = text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@')
    .replace(/([?&](?:ssl)?password=)[^&\s]*/gi, '$1***');
  for (const secret of passwordsOf(databaseUrl)) clean = clean.split(secret).join('***');
  return clean;
}

function passwordsOf(databaseUrl: string | null | undefined): string[] {
  if (!databaseUrl) return [];
  try {
    const url = new URL(databaseUrl);
    const raw = url.password;
    const values = [raw, safeDecode(raw), url.searchParams.get('password') ?? ''];
    // Short values would blank out unrelated text ("a" everywhere); the regexes above already cover the URL form.
    return [...new Set(values)].filter((value) => value.length >= 4);
  } catch {
    return [];
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The target for log lines, without credentials: `postgres://db.example:5432/callbridge` or `pglite data/records`. */
export function describeRecordTarget(options: { readonly databaseUrl: string | null; readonly dataDir: string }): string {
  if (options.databaseUrl === null) return `pglite ${pgliteDir(options.dataDir)}`;
  try {
    const url = new URL(options.databaseUrl);
    return `${url.protocol}//${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
  } catch {
    return 'postgres (unparseable DATABASE_URL)';
  }
}

/** Opens the database, runs the migrations, returns the store. Rejects (with a redacted message) when it cannot. */
export async function openRecordStore(options: OpenRecordStoreOptions): Promise<RecordStore> {
  const target = describeRecordTarget(options);
  const startedMs = performance.now();
  const { db, kind } = options.databaseUrl === null ? await openPglite(options.dataDir) : await openPostgres(options.databaseUrl, options);
  try {
    const applied = await runMigrations(db, kind, options.postgres?.migrationTimeoutMs ?? DEFAULT_MIGRATION_TIMEOUT_MS);
    options.logger.info({ target, kind, openMs: Math.round(performance.now() - startedMs), migrationsApplied: applied }, 'records database ready');
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw new Error(`records database ${target}: ${redactDatabaseUrl(errorMessage(error), options.databaseUrl)}`);
  }
  return new KyselyRecordStore(db, kind);
}

async function openPglite(dataDir: string): Promise<{ db: Kysely<Database>; kind: 'pglite' }> {
  const dir = pgliteDir(dataDir);
  await mkdir(dir, { recursive: true });
  // Loaded only when used: a PostgreSQL deployment never pays for the WASM module.
  const { PGlite } = await import('@electric-sql/pglite');
  const pglite = await PGlite.create(dir);
  return { db: new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) }), kind: 'pglite' };
}

async function openPostgres(databaseUrl: string, options: OpenRecordStoreOptions): Promise<{ db: Kysely<Database>; kind: 'postgres' }> {
  const { default: pg } = await import('pg');
  const tuning = options.postgres ?? {};
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: tuning.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    connectionTimeoutMillis: tuning.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    statement_timeout: tuning.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    // A peer that vanished without a FIN/RST is found by keepalive instead of hanging a checked-out client forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'callbridge-records',
  });
  const logger = options.logger;
  // Without these listeners a dropped connection is an unhandled 'error' event and kills the process. A checked-out
  // client has no pool listener (pg-pool removes it), hence one on every client; the pool's own event repeats it.
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.warn({ error: redactDatabaseUrl(errorMessage(error), databaseUrl) }, 'records database connection lost'));
  });
  pool.on('error', (error) => logger.debug({ error: redactDatabaseUrl(errorMessage(error), databaseUrl) }, 'records database idle client error'));
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), kind: 'postgres' };
}

/**
 * Runs the pending migrations; returns their names (empty when up to date). On PostgreSQL the whole migrator runs on
 * one connection holding the advisory lock (see the file comment); PGlite has one connection and one process.
 */
export async function runMigrations(db: Kysely<Database>, kind: 'pglite' | 'postgres', migrationTimeoutMs = DEFAULT_MIGRATION_TIMEOUT_MS): Promise<string[]> {
  return db.connection().execute(async (connection) => {
    if (kind === 'pglite') return migrateOn(connection);
    // The lock wait counts against statement_timeout: lift it for this session while migrating, then restore it.
    await sql`select set_config('statement_timeout', ${String(migrationTimeoutMs)}, false)`.execute(connection);
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`.execute(connection);
    try {
      return await migrateOn(connection);
    } finally {
      // A dead connection releases the lock with the session; the pool drops such a client on release.
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.toString()}::bigint)`.execute(connection).catch(() => undefined);
      await sql`reset statement_timeout`.execute(connection).catch(() => undefined);
    }
  });
}

async function migrateOn(connection: Kysely<Database>): Promise<string[]> {
  // Kysely looks for its bookkeeping table in any schema unless told which: pin it to the search_path's first
  // schema, so two deployments in two schemas of one database never see each other's migrations.
  const current = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(connection);
  const schema = current.rows[0]?.schema ?? null;
  if (schema === null) throw new Error('no schema: the first schema in search_path does not exist');
  const migrator = new Migrator({
    db: connection,
    provider: migrationProvider,
    migrationTableSchema: schema,
    // Our own bookkeeping names: a shared database may hold another app's Kysely migrations.
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    throw new Error(`migration ${failed ?? '(setup)'} failed: ${errorMessage(error)}`);
  }
  return (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName);
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    // AggregateError (pg connecting to every address of a host) has an empty message of its own.
    if (error.message === '' && error instanceof AggregateError) return error.errors.map(errorMessage).join('; ');
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
