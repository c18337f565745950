/**
 * Injected time. Everything that paces audio or measures played time takes a Clock, so tests can drive it by hand
 * (ManualClock) and production uses the monotonic clock (never Date.now(): wall time can jump).
 */
import { performance } from 'node:perf_hooks';

export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Monotonic milliseconds (fractional). Only differences are meaningful. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

class SystemClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return performance.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    const timer = setTimeout(() => {
      this.timers.delete(id);
      callback();
    }, Math.max(0, delayMs));
    this.timers.set(id, timer);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.timers.get(handle.id);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.timers.delete(handle.id);
    }
  }
}

export const systemClock: Clock = new SystemClock();

/** A clock that only moves when told: `advance(ms)` fires due timers in time order, each seeing its own due time. */
export class ManualClock implements Clock {
  private currentMs: number;
  private nextId = 1;
  private readonly pending = new Map<number, { dueMs: number; callback: () => void }>();

  constructor(startMs = 0) {
    this.currentMs = startMs;
  }

  now(): number {
    return this.currentMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.pending.set(id, { dueMs: this.currentMs + Math.max(0, delayMs), callback });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle.id);
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.pending.size;
  }

  advance(durationMs: number): void {
    const targetMs = this.currentMs + durationMs;
    for (;;) {
      let nextId = -1;
      let nextDue = Infinity;
      for (const [id, timer] of this.pending) {
        if (timer.dueMs < nextDue || (timer.dueMs === nextDue && id < nextId)) {
          nextDue = timer.dueMs;
          nextId = id;
        }
      }
      if (nextId === -1 || nextDue > targetMs) break;
      const timer = this.pending.get(nextId)!;
      this.pending.delete(nextId);
      this.currentMs = Math.max(this.currentMs, timer.dueMs);
      timer.callback();
    }
    this.currentMs = targetMs;
  }
}
