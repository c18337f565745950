/**
 * How fast outbound calls start: at most `maxConcurrent` in progress and `callsPerSecond` started (Twilio's default
 * CPS for an account is 1; calls beyond it queue at Twilio or fail), with a FIFO queue of `maxQueued` waiting
 * beyond either limit. Pure, on the injected clock: the owner says when a call ends (`release`).
 */
import type { Clock, TimerHandle } from '../clock.js';

export interface RateGateOptions {
  clock: Clock;
  maxConcurrent: number;
  callsPerSecond: number;
  maxQueued: number;
}

export type Admission = 'now' | 'queued' | 'rejected';

export class OutboundRateGate<T> {
  private readonly options: RateGateOptions;
  private readonly queue: Array<{ item: T; start: (item: T) => void }> = [];
  private inFlight = 0;
  /** The clock reading before which the next call may not start (1 / CPS after the last start). */
  private nextStartAtMs = Number.NEGATIVE_INFINITY;
  private timer: TimerHandle | null = null;

  constructor(options: RateGateOptions) {
    this.options = options;
  }

  get active(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Starts `item` now (`start` runs synchronously), queues it, or refuses it when the queue is full. */
  submit(item: T, start: (item: T) => void): Admission {
    if (this.queue.length === 0 && this.canStart()) {
      this.begin(item, start);
      return 'now';
    }
    if (this.queue.length >= this.options.maxQueued) return 'rejected';
    this.queue.push({ item, start });
    this.schedule();
    return 'queued';
  }

  /** A call started through the gate ended (or never got going): its slot is free. */
  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.drain();
  }

  /** Drops every waiting item (shutdown); returns them. */
  clear(): T[] {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    return this.queue.splice(0).map((entry) => entry.item);
  }

  private canStart(): boolean {
    return this.inFlight < this.options.maxConcurrent && this.options.clock.now() >= this.nextStartAtMs;
  }

  private begin(item: T, start: (item: T) => void): void {
    this.inFlight++;
    this.nextStartAtMs = this.options.clock.now() + 1_000 / this.options.callsPerSecond;
    start(item);
  }

  private drain(): void {
    while (this.queue.length > 0 && this.canStart()) {
      const next = this.queue.shift()!;
      this.begin(next.item, next.start);
    }
    this.schedule();
  }

  /** Wakes up when the rate allows the next start (a free concurrency slot wakes `release` instead). */
  private schedule(): void {
    if (this.timer !== null || this.queue.length === 0 || this.inFlight >= this.options.maxConcurrent) return;
    const waitMs = Math.max(0, this.nextStartAtMs - this.options.clock.now());
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = null;
      this.drain();
    }, waitMs);
  }
}
