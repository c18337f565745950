/**
 * Groups the agent audio that played into answers, for the WAV sink: an answer is the frames from the first one after
 * a pause to the last one before the next pause of `gapMs` (1 s) or more, a clear, or the end of the call. Pure: time
 * comes from an injected Clock (the idle timer that ends an answer once the pause is long enough).
 */
import type { Clock, TimerHandle } from '../clock.js';
import { concatBytes } from '../audio/pcm.js';

export const ANSWER_GAP_MS = 1_000;

export interface AnswerCollectorOptions {
  readonly clock: Clock;
  readonly sampleRateHz: number;
  readonly gapMs?: number;
  /** One whole answer: its PCM16 LE mono bytes and duration (ms, rounded). */
  readonly onAnswer: (pcm: Uint8Array, durationMs: number) => void;
}

export class AnswerCollector {
  private readonly clock: Clock;
  private readonly sampleRateHz: number;
  private readonly gapMs: number;
  private readonly onAnswer: AnswerCollectorOptions['onAnswer'];
  private parts: Uint8Array[] = [];
  /** Timeline end of the current answer's last frame. */
  private lastEndMs = -Infinity;
  private timer: TimerHandle | null = null;

  constructor(options: AnswerCollectorOptions) {
    this.clock = options.clock;
    this.sampleRateHz = options.sampleRateHz;
    this.gapMs = options.gapMs ?? ANSWER_GAP_MS;
    this.onAnswer = options.onAnswer;
  }

  /** A frame that plays over [startMs, endMs] on the playout timeline. */
  add(bytes: Uint8Array, startMs: number, endMs: number): void {
    if (this.parts.length > 0 && startMs - this.lastEndMs >= this.gapMs) this.cut();
    this.parts.push(bytes.slice());
    this.lastEndMs = endMs;
    this.cancelTimer();
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.cut();
    }, endMs + this.gapMs - this.clock.now());
  }

  /** Ends the current answer now (a clear, the end of the call); nothing when there is none. */
  cut(): void {
    this.cancelTimer();
    if (this.parts.length === 0) return;
    const pcm = concatBytes(this.parts);
    this.parts = [];
    this.lastEndMs = -Infinity;
    this.onAnswer(pcm, Math.round(((pcm.length >> 1) * 1000) / this.sampleRateHz));
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
