/**
 * Real-time pacing for the caller's line when there is no microphone: one frame every `frameMs`, frame n due at
 * start + n·frameMs (scheduled against the start, so late timers never make it drift). A timer that fires late sends
 * the frames that fell due meanwhile, up to `maxBurst`; a longer stall (a suspended laptop) skips ahead instead of
 * flooding the server. Pure: time comes from an injected Clock.
 */
import type { Clock, TimerHandle } from '../clock.js';

export interface FrameTickerOptions {
  readonly clock: Clock;
  readonly frameMs: number;
  /** Send `count` frames now. */
  readonly onFrames: (count: number) => void;
  /** Most frames sent at once after a late timer (default 10). */
  readonly maxBurst?: number;
}

export class FrameTicker {
  private readonly clock: Clock;
  private readonly frameMs: number;
  private readonly onFrames: FrameTickerOptions['onFrames'];
  private readonly maxBurst: number;
  private startMs = 0;
  /** Frames sent since the start: the next one is due at start + sent·frameMs (a stall moves the start on). */
  private sent = 0;
  private timer: TimerHandle | null = null;
  private running = false;

  constructor(options: FrameTickerOptions) {
    this.clock = options.clock;
    this.frameMs = options.frameMs;
    this.onFrames = options.onFrames;
    this.maxBurst = options.maxBurst ?? 10;
  }

  /** Frames sent so far. */
  get framesSent(): number {
    return this.sent;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.startMs = this.clock.now();
    this.sent = 0;
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private tick(): void {
    this.timer = null;
    if (!this.running) return;
    const due = Math.floor((this.clock.now() - this.startMs) / this.frameMs + 1e-9) + 1;
    let count = due - this.sent;
    if (count > this.maxBurst) {
      // Stalled: forget the frames missed beyond one burst (the start moves forward with them).
      this.startMs += (count - this.maxBurst) * this.frameMs;
      count = this.maxBurst;
    }
    if (count > 0) {
      this.sent += count;
      this.onFrames(count);
    }
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => this.tick(), this.startMs + this.sent * this.frameMs - this.clock.now());
  }
}
