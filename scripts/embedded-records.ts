/**
 * The record database of `npm run demo` and `npm run dial` (simulated): a fresh PGlite in a temporary DATA_DIR,
 * opened quickly.
 *
 * Creating a PGlite database runs PostgreSQL's initdb in WASM: 5–10 s of CPU on a small machine, with the event loop
 * stalled for hundreds of ms at a time (a call running meanwhile would stutter). Re-opening an existing one takes
 * about a second. So the first run makes one empty database (initdb only, no migrations) under
 * out/cache/pglite-<version>-empty, and every run copies it into its temporary DATA_DIR and opens it there with
 * `openRecordStore`, which applies the migrations as it always does. The cache is never opened in place, holds no
 * schema (an edited migration cannot go stale in it), is keyed by the PGlite version, is published by an atomic
 * rename (two runs at once never see half a copy), and is thrown away and rebuilt if a copy of it fails to open.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../src/logger.js';
import { openRecordStore, pgliteDir } from '../src/records/db.js';
import type { RecordStore } from '../src/records/types.js';

export interface OpenedRecords {
  readonly store: RecordStore;
  /** Wall-clock ms from the call to the store being ready (copy or initdb, open, migrations). */
  readonly openMs: number;
  /** `copied`: from the cached empty database; `created`: initdb ran (first run, or the cache was unusable). */
  readonly how: 'copied' | 'created';
}

function pgliteVersion(root: string): string {
  try {
    const { version } = JSON.parse(readFileSync(path.join(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Builds the empty database once (initdb); false when it cannot be (read-only checkout: every run then creates its own). */
async function ensureTemplate(template: string): Promise<boolean> {
  if (existsSync(template)) return true;
  const building = `${template}.building-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(path.dirname(template), { recursive: true });
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = await PGlite.create(building);
    await pglite.close();
    try {
      renameSync(building, template);
    } catch {
      // Another run published one first: use theirs.
    }
    return existsSync(template);
  } catch {
    return false;
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/** Opens a fresh record store in `dataDir` (which must be empty), from the cached empty database when possible. */
export async function openEmbeddedRecords(options: { root: string; dataDir: string }): Promise<OpenedRecords> {
  const startedMs = performance.now();
  const logger = silentLogger();
  const template = path.join(options.root, 'out/cache', `pglite-${pgliteVersion(options.root)}-empty`);
  const target = pgliteDir(options.dataDir);
  const hadTemplate = existsSync(template);
  if (await ensureTemplate(template)) {
    try {
      cpSync(template, target, { recursive: true });
      const store = await openRecordStore({ databaseUrl: null, dataDir: options.dataDir, logger });
      return { store, openMs: performance.now() - startedMs, how: hadTemplate ? 'copied' : 'created' };
    } catch {
      // A cache from a damaged run or an incompatible build: drop it (the next run rebuilds it) and start clean.
      rmSync(template, { recursive: true, force: true });
      rmSync(target, { recursive: true, force: true });
    }
  }
  const store = await openRecordStore({ databaseUrl: null, dataDir: options.dataDir, logger });
  return { store, openMs: performance.now() - startedMs, how: 'created' };
}
