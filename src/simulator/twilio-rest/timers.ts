/**
 * A call's timers on the injected clock, all cancellable at once when the call ends, and waits that end early when
 * their run is aborted (a redirect or the end of the call must not wait out a `<Pause>`).
 */
import type { Clock, TimerHandle } from '../../clock.js';

export class CallTimers {
  private readonly timers = new Set<TimerHandle>();

  constructor(private readonly clock: Clock) {}

  after(delayMs: number, callback: () => void): TimerHandle {
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      callback();
    }, delayMs);
    this.timers.add(handle);
    return handle;
  }

  cancel(handle: TimerHandle): void {
    this.clock.clearTimeout(handle);
    this.timers.delete(handle);
  }

  clearAll(): void {
    for (const handle of this.timers) this.clock.clearTimeout(handle);
    this.timers.clear();
  }

  /** Resolves after `delayMs`, or at once when `signal` aborts. */
  sleep(delayMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = (): void => {
        this.cancel(handle);
        resolve();
      };
      const handle = this.after(delayMs, () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
