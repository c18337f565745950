/**
 * Recording retention: WAV files in RECORDINGS_DIR older than the retention (by mtime) are deleted, at start and then
 * every hour. Age is wall-clock time (file mtimes are epoch ms), so this takes an epoch-ms source, not the monotonic
 * Clock. A file still being written has a fresh mtime and is never old enough to go.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export interface SweepOptions {
  dir: string;
  /** Days to keep a recording; 0 = keep forever. */
  retentionDays: number;
  logger: Logger;
  /** Wall clock, epoch ms; defaults to Date.now. */
  nowEpochMs?: () => number;
}

/** Deletes `*.wav` files directly in `dir` whose mtime is older than the retention. Never rejects. */
export async function sweepRecordings(options: SweepOptions): Promise<{ deleted: number }> {
  const { dir, retentionDays, logger } = options;
  if (!(retentionDays > 0)) return { deleted: 0 };
  const cutoffEpochMs = (options.nowEpochMs ?? Date.now)() - retentionDays * DAY_MS;
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith('.wav')).map((entry) => entry.name);
  } catch (error) {
    // No directory yet: no recordings to expire.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err: error, dir }, 'recording retention: cannot list the directory');
    return { deleted: 0 };
  }
  let deleted = 0;
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if ((await stat(file)).mtimeMs >= cutoffEpochMs) continue;
      await unlink(file);
      deleted++;
    } catch (error) {
      // Gone already (another sweep, an operator): nothing to report.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err: error, file }, 'recording retention: cannot delete');
    }
  }
  if (deleted > 0) logger.info({ dir, deleted, retentionDays }, 'recording retention: deleted old recordings');
  return { deleted };
}

export interface RecordingRetentionOptions extends SweepOptions {
  /** Between sweeps, ms; default one hour. */
  intervalMs?: number;
}

/** Runs the sweep at start and every `intervalMs`; the timer does not keep the process alive. */
export class RecordingRetention {
  private readonly options: RecordingRetentionOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<{ deleted: number }> | null = null;

  constructor(options: RecordingRetentionOptions) {
    this.options = options;
  }

  /** Starts the schedule; resolves with the first sweep's result (retentionDays 0: nothing scheduled, 0 deleted). */
  start(): Promise<{ deleted: number }> {
    if (!(this.options.retentionDays > 0) || this.timer !== null) return Promise.resolve({ deleted: 0 });
    this.timer = setInterval(() => void this.sweep(), this.options.intervalMs ?? HOUR_MS);
    this.timer.unref();
    return this.sweep();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sweep; a sweep still running (a huge directory, a slow disk) is joined rather than doubled. */
  sweep(): Promise<{ deleted: number }> {
    this.running ??= sweepRecordings(this.options).finally(() => {
      this.running = null;
    });
    return this.running;
  }
}
