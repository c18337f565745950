/**
 * Groups a caller's key presses into one burst ("1", "5" → "15") so the agent gets one message and answers once,
 * as an IVR reads a multi-digit entry. A burst ends after `interDigitTimeoutMs` without a press, or at once on '#'.
 */
import type { Clock, TimerHandle } from '../clock.js';

/** Long enough for a caller typing a short number, short enough that a single press feels answered. */
export const DEFAULT_INTER_DIGIT_TIMEOUT_MS = 800;

export class DtmfCollector {
  private digits = '';
  private timer: TimerHandle | null = null;

  constructor(
    private readonly options: { clock: Clock; onBurst(digits: string): void; interDigitTimeoutMs?: number },
  ) {}

  /** Adds one digit ('0'–'9', '*', '#', 'A'–'D'). '#' ends the burst and is not part of it. */
  press(digit: string): void {
    if (digit === '#') {
      this.flush();
      return;
    }
    this.digits += digit;
    this.cancelTimer();
    this.timer = this.options.clock.setTimeout(() => this.flush(), this.options.interDigitTimeoutMs ?? DEFAULT_INTER_DIGIT_TIMEOUT_MS);
  }

  /** Emits the pending burst, if any. */
  flush(): void {
    this.cancelTimer();
    if (this.digits === '') return;
    const burst = this.digits;
    this.digits = '';
    this.options.onBurst(burst);
  }

  /** Forgets pending digits (call ended). */
  dispose(): void {
    this.cancelTimer();
    this.digits = '';
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
