/**
 * Takes finished call records off the call's path and into the RecordStore: `enqueue` only pushes onto an in-memory
 * queue and arms a timer; the writing happens later, in batches, one at a time.
 *
 * When the database is down (or still opening) records wait in the queue and the write is retried with exponential
 * backoff on the injected clock, in order, none skipped. The queue is bounded (`maxBuffered`): when full, the oldest
 * waiting record is dropped, counted and logged (once per outage, at error). A record the database refuses for its
 * content (RecordRejectedError) is dropped alone, logged, and the queue goes on: retrying it would block everything
 * behind it forever.
 *
 * The store: a RecordStore, a promise of one (opening; a rejected promise makes every attempt fail with its error),
 * or a factory `() => Promise<RecordStore>` that is called again after each failed open — the form to use in
 * production, so an instance that starts while the database is unreachable begins writing when it comes back.
 * The writer never closes the store; `openStore()` hands out the one a factory opened.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { errorMessage, redactDatabaseUrl } from './db.js';
import { RecordRejectedError } from './store.js';
import type { CallRecord, RecordStore } from './types.js';

export type RecordStoreSource = RecordStore | Promise<RecordStore> | (() => Promise<RecordStore>);

export interface RecordWriterOptions {
  readonly store: RecordStoreSource;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Records held in memory at most (waiting or in flight). Default 10_000. */
  readonly maxBuffered?: number;
  /** Records per `insertCalls`. Default 50. */
  readonly batchSize?: number;
  /** First retry delay, ms; doubles per consecutive failure. Default 500. */
  readonly retryBaseMs?: number;
  /** Retry delay cap, ms. Default 30_000. */
  readonly retryMaxMs?: number;
  /** A write that has not settled after this long counts as failed (a connection hanging without an error). Default 60_000. */
  readonly attemptTimeoutMs?: number;
}

export interface RecordWriterStats {
  /** Records the store confirmed. */
  readonly written: number;
  /** Records waiting or being written. */
  readonly pending: number;
  /** Records lost: buffer overflow, refused by the database, or enqueued after close. */
  readonly dropped: number;
  /** Failed write or open attempts (each retry counts). */
  readonly failedAttempts: number;
  /** The last failure, redacted; null until one happens. */
  readonly lastError: string | null;
}

interface FlushWaiter {
  readonly resolve: (drained: boolean) => void;
  readonly timer: TimerHandle;
}

class AttemptTimeoutError extends Error {}

export class RecordWriter {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxBuffered: number;
  private readonly batchSize: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly factory: (() => Promise<RecordStore>) | null;
  private storePromise: Promise<RecordStore> | null = null;
  private store: RecordStore | null = null;

  /** Oldest first; the first `inFlight` are being written. */
  private readonly queue: CallRecord[] = [];
  private inFlight = 0;
  private writing = false;
  private closed = false;
  /** The next write (soon) or retry (backoff); null when none is armed. */
  private timer: TimerHandle | null = null;
  /** The background open's next attempt, while the store is not open. */
  private openTimer: TimerHandle | null = null;
  private consecutiveFailures = 0;
  private outage: { readonly failedAttemptsAtStart: number; readonly writtenAtStart: number } | null = null;
  /** Drops are reported per backlog: since the queue was last empty (an overflow can start before any failure). */
  private droppedAtLastDrain = 0;
  private overflowLogged = false;
  private closedDropLogged = false;
  private waiters: FlushWaiter[] = [];

  private written = 0;
  private dropped = 0;
  private failedAttempts = 0;
  private lastError: string | null = null;

  constructor(options: RecordWriterOptions) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.maxBuffered = Math.max(1, options.maxBuffered ?? 10_000);
    this.batchSize = Math.min(this.maxBuffered, Math.max(1, options.batchSize ?? 50));
    this.retryBaseMs = Math.max(1, options.retryBaseMs ?? 500);
    this.retryMaxMs = Math.max(this.retryBaseMs, options.retryMaxMs ?? 30_000);
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 60_000;
    const source = options.store;
    if (typeof source === 'function') {
      this.factory = source;
      // Open now, not at the first write: readers (the records API) need the store, and migrations run at start.
      this.openSoon(0, this.retryBaseMs);
    } else if (source instanceof Promise) {
      this.factory = null;
      this.storePromise = source;
      this.watchOpening(source);
    } else {
      this.factory = null;
      this.store = source;
    }
  }

  /** Queues a finished call for writing. Synchronous; never throws, never waits. */
  enqueue(record: CallRecord): void {
    try {
      if (this.closed) {
        this.dropped += 1;
        if (!this.closedDropLogged) this.logger.error({ callSid: record.callSid, dropped: this.dropped }, 'records writer closed: record dropped');
        this.closedDropLogged = true;
        return;
      }
      if (this.queue.length >= this.maxBuffered) this.dropOldest(record);
      else this.queue.push(record);
      if (this.timer === null && !this.writing) this.arm(0);
    } catch {
      // A logger or clock that throws must not reach the call; the record stays counted where it got to.
    }
  }

  /** Waits until every queued record is written (true) or `deadlineMs` passes (false). A retry in backoff runs now. */
  flush(deadlineMs: number): Promise<boolean> {
    if (this.queue.length === 0) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    if (!this.writing) this.arm(0); // Shutting down: do not sit out the backoff.
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.timer !== timer);
        resolve(false);
      }, deadlineMs);
      this.waiters.push({ resolve, timer });
    });
  }

  stats(): RecordWriterStats {
    return { written: this.written, pending: this.queue.length, dropped: this.dropped, failedAttempts: this.failedAttempts, lastError: this.lastError };
  }

  /** The store once open (for readers that share it), null before. */
  openStore(): RecordStore | null {
    return this.store;
  }

  /** Stops timers; later records are dropped (counted). A write already running completes on its own. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.openTimer !== null) this.clock.clearTimeout(this.openTimer);
    this.openTimer = null;
    this.settleWaiters(false);
  }

  /** Opens the store in the background, retrying with backoff until it is open (or the writer is closed). */
  private openSoon(delayMs: number, nextDelayMs: number): void {
    this.openTimer = this.clock.setTimeout(() => {
      this.openTimer = null;
      if (this.closed || this.store !== null) return;
      this.currentStore().then(
        () => {
          if (this.queue.length > 0 && this.timer === null && !this.writing) this.arm(0);
        },
        (error: unknown) => {
          if (this.closed || this.store !== null) return;
          this.lastError = redactDatabaseUrl(errorMessage(error));
          this.openSoon(nextDelayMs, Math.min(this.retryMaxMs, nextDelayMs * 2));
        },
      );
    }, delayMs);
  }

  private arm(delayMs: number): void {
    if (this.closed) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      void this.writeQueued();
    }, delayMs);
  }

  private dropOldest(incoming: CallRecord): void {
    // Records in flight may be written at this moment: drop the oldest one still waiting, or the newcomer when all are.
    if (this.inFlight < this.queue.length) {
      this.queue.splice(this.inFlight, 1);
      this.queue.push(incoming);
    }
    this.dropped += 1;
    if (!this.overflowLogged) {
      this.overflowLogged = true;
      this.logger.error({ dropped: this.dropped, pending: this.queue.length, maxBuffered: this.maxBuffered }, 'records buffer full: dropping the oldest call records');
    }
  }

  private watchOpening(opening: Promise<RecordStore>): void {
    opening.then(
      (store) => {
        this.store = store;
        if (this.queue.length > 0 && this.timer === null && !this.writing) this.arm(0);
      },
      () => undefined, // Reported by the write attempt that awaits it.
    );
  }

  private async currentStore(): Promise<RecordStore> {
    if (this.store !== null) return this.store;
    if (this.storePromise === null && this.factory !== null) {
      const opening = this.factory();
      this.storePromise = opening;
      // A failed open is forgotten so the next attempt calls the factory again.
      opening.then(
        (store) => (this.store = store),
        () => {
          if (this.storePromise === opening) this.storePromise = null;
        },
      );
    }
    if (this.storePromise === null) throw new Error('no record store');
    return this.storePromise;
  }

  /** Writes batches until the queue is empty or an attempt fails (then a retry is armed). One runs at a time. */
  private async writeQueued(): Promise<void> {
    if (this.writing || this.closed) return;
    this.writing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const store = await this.currentStore();
        const batch = this.queue.slice(0, this.batchSize);
        this.inFlight = batch.length;
        try {
          await this.withinAttemptTimeout(store.insertCalls(batch));
          this.completed(batch.length);
        } catch (error) {
          if (!(error instanceof RecordRejectedError)) throw error;
          this.rejected(error, batch[error.writtenBefore]);
        }
        this.consecutiveFailures = 0;
      }
      this.drained();
    } catch (error) {
      this.failed(error);
    } finally {
      this.inFlight = 0;
      this.writing = false;
    }
  }

  private withinAttemptTimeout(write: Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => reject(new AttemptTimeoutError(`write did not settle within ${this.attemptTimeoutMs} ms`)), this.attemptTimeoutMs);
      write.then(
        () => {
          this.clock.clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          this.clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  private completed(count: number): void {
    this.queue.splice(0, count);
    this.inFlight = 0;
    this.written += count;
  }

  private rejected(error: RecordRejectedError, record: CallRecord | undefined): void {
    this.completed(error.writtenBefore);
    if (record !== undefined && this.queue[0] === record) this.queue.shift();
    this.dropped += 1;
    this.logger.error({ callSid: error.callSid, error: error.reason, dropped: this.dropped }, 'call record refused by the database: dropped');
  }

  private drained(): void {
    if (this.queue.length > 0) return; // Closed mid-way.
    if (this.outage !== null) {
      const writtenSince = this.written - this.outage.writtenAtStart;
      const failedSince = this.failedAttempts - this.outage.failedAttemptsAtStart;
      this.logger.info(
        { written: writtenSince, failedAttempts: failedSince, dropped: this.dropped - this.droppedAtLastDrain },
        `records caught up: ${writtenSince} written after ${failedSince} failed attempts`,
      );
    }
    this.outage = null;
    this.droppedAtLastDrain = this.dropped;
    this.overflowLogged = false;
    this.settleWaiters(true);
  }

  private failed(error: unknown): void {
    this.failedAttempts += 1;
    this.consecutiveFailures += 1;
    this.lastError = redactDatabaseUrl(errorMessage(error));
    const delayMs = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(30, this.consecutiveFailures - 1));
    const fields = { error: this.lastError, pending: this.queue.length, retryInMs: delayMs, failedAttempts: this.failedAttempts };
    if (this.outage === null) {
      this.outage = { failedAttemptsAtStart: this.failedAttempts - 1, writtenAtStart: this.written };
      this.logger.warn(fields, 'records write failed: retrying (calls go on)');
    } else {
      this.logger.debug(fields, 'records write failed again');
    }
    this.arm(delayMs);
  }

  private settleWaiters(drained: boolean): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      this.clock.clearTimeout(waiter.timer);
      waiter.resolve(drained);
    }
  }
}
