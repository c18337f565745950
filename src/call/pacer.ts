/**
 * Sends queued frames and marks to Twilio in FIFO order, keeping at most `leadMs` of audio buffered at Twilio.
 *
 * Why pace at all: Twilio plays whatever it is sent, so dumping a whole answer at once would leave seconds of audio
 * buffered there that only a `clear` can stop, and would make "what did the caller hear" unknowable. A bounded lead
 * keeps barge-in crisp while still absorbing network jitter.
 *
 * The pacer models Twilio's playback clock: `playbackEndMs` is the clock time at which Twilio will have played
 * everything sent. A frame sent at `now` starts playing at `max(playbackEndMs, now)` and ends 20 ms later. A frame is
 * sent when `bufferedAheadMs + 20 <= leadMs`, so the first `leadMs` of an answer go at once and then one frame per
 * 20 ms. The wake-up time is derived from the model (`playbackEndMs + 20 - leadMs`), which advances by exactly 20 ms
 * per frame: it is advanced, not re-sampled from `now`, so late timers do not accumulate drift (pipecat pattern).
 * An optional gate (the jitter cushion) may hold the head frame a little longer; the pacer asks it only once the lead
 * allows the frame, and wakes at the time it names (or earlier, on a kick). Everything runs on the injected Clock.
 *
 * The send quantum (`quantumMs`, config `call.pacerQuantumMs`): rather than one frame per 20 ms wake, a batch starts
 * once the audio buffered at Twilio has fallen to `leadMs - quantumMs` and then tops it up to the lead, so the pacer
 * wakes once per quantum and every frame of a batch leaves in the same tick (the Twilio transport joins them into one
 * `media` message). Wake-ups are `playbackEndMs + quantumMs - leadMs`, advanced like the per-frame ones. Quantum 20 is
 * one frame per wake. Marks still go right behind the audio they acknowledge, and the lead is never exceeded; the
 * price is less audio in hand at a wake (`leadMs - quantumMs`, hence `leadMs ≥ quantumMs + 20`).
 */
import type { Clock, TimerHandle } from '../clock.js';
import { FRAME_DURATION_MS } from '../audio/frames.js';
import type { FrameEntry, MarkEntry, OutEntry } from './out-queue.js';

/** Where the pacer takes entries from (an OutQueue). */
export interface PacerSource {
  peek(): OutEntry | undefined;
  shift(): OutEntry | undefined;
}

/** Modelled timing of one sent frame, all on the injected clock, ms. */
export interface FrameTiming {
  /** Clock time the frame was handed to the sink. */
  readonly sentAtMs: number;
  /** Clock time Twilio is modelled to start playing it: `max(playbackEndMs, sentAtMs)`. */
  readonly playStartMs: number;
  /** Silence the caller heard just before this frame, in the middle of an item (0 when none). */
  readonly underrunMs: number;
}

export interface PacerSink {
  /** Returns false if the frame was refused (sequence error): it is then dropped and the playback model not advanced. */
  sendFrame(frame: FrameEntry, timing: FrameTiming): boolean;
  sendMark(mark: MarkEntry): void;
}

/**
 * May hold the head frame after the lead allows it (jitter-cushion.ts). Asked once per pump for the head frame only;
 * must name a finite time, and must answer `nowMs` (or earlier) for a frame it does not hold.
 */
export interface PacerGate {
  /** When `frame` may go: ≤ `nowMs` = now, later = not before then (the pacer wakes then and asks again). */
  releaseAtMs(frame: FrameEntry, nowMs: number): number;
}

export interface PacerOptions {
  clock: Clock;
  /** Max audio buffered at Twilio ahead of real-time playback, ms (≥ 20; config `call.playbackLeadMs`). */
  leadMs: number;
  /** Audio per batch once the lead is reached, ms (≥ 20, ≤ leadMs - 20; default 20 = one frame per wake). */
  quantumMs?: number;
  source: PacerSource;
  sink: PacerSink;
  /** Holds frames the lead would allow (the jitter cushion); absent = none. */
  gate?: PacerGate;
}

export interface PacerStats {
  framesSent: number;
  marksSent: number;
  /** Frames of an already-started item sent after the modelled playback ran dry. */
  underruns: number;
  /** Total modelled silence inside items, ms. */
  underrunMs: number;
}

export class Pacer {
  private readonly clock: Clock;
  private readonly leadMs: number;
  private readonly quantumMs: number;
  private readonly source: PacerSource;
  private readonly sink: PacerSink;
  private readonly gate: PacerGate | null;
  private playbackEnd = -Infinity;
  private timer: TimerHandle | null = null;
  private wakeAtMs: number | null = null;
  private pumping = false;
  private stopped = false;
  /** Bumped by reset(): a sink that interrupts from inside a send must not have its reset overwritten. */
  private epoch = 0;
  private readonly counters: PacerStats = { framesSent: 0, marksSent: 0, underruns: 0, underrunMs: 0 };

  constructor(options: PacerOptions) {
    if (!(options.leadMs >= FRAME_DURATION_MS)) throw new RangeError(`leadMs must be ≥ ${FRAME_DURATION_MS}`);
    const quantumMs = options.quantumMs ?? FRAME_DURATION_MS;
    if (!(quantumMs >= FRAME_DURATION_MS) || (quantumMs > FRAME_DURATION_MS && !(options.leadMs >= quantumMs + FRAME_DURATION_MS))) {
      throw new RangeError(`quantumMs must be ≥ ${FRAME_DURATION_MS} and ≤ leadMs - ${FRAME_DURATION_MS} (got ${quantumMs}, leadMs ${options.leadMs})`);
    }
    this.clock = options.clock;
    this.leadMs = options.leadMs;
    this.quantumMs = quantumMs;
    this.source = options.source;
    this.sink = options.sink;
    this.gate = options.gate ?? null;
  }

  /** Clock time at which Twilio will have played everything sent, ms; -Infinity before the first frame / after reset. */
  get playbackEndMs(): number {
    return this.playbackEnd;
  }

  /** Audio sent but not yet played according to the model, ms (≥ 0). */
  bufferedAheadMs(nowMs: number = this.clock.now()): number {
    return Math.max(0, this.playbackEnd - nowMs);
  }

  /** Clock time of the pending wake-up, or null when none is scheduled. */
  get nextWakeAtMs(): number | null {
    return this.wakeAtMs;
  }

  stats(): PacerStats {
    return { ...this.counters };
  }

  /** Sends whatever the lead allows now; call after enqueueing. Idempotent and re-entrancy safe. */
  kick(): void {
    if (this.stopped || this.pumping) return;
    this.pumping = true;
    try {
      this.pump();
    } finally {
      this.pumping = false;
    }
  }

  /** On interruption (after the queue is cleared and `clear` sent): no wake-up pending, playback model empty from now. */
  reset(): void {
    this.cancelTimer();
    this.playbackEnd = -Infinity;
    this.epoch++;
  }

  /** On hang-up: cancels the wake-up; later kicks do nothing. */
  stop(): void {
    this.stopped = true;
    this.cancelTimer();
  }

  private pump(): void {
    const nowMs = this.clock.now();
    const epoch = this.epoch;
    // A batch starts when Twilio's buffer has fallen to leadMs - quantumMs; once one frame went, it fills to the lead.
    let batchMs = this.quantumMs;
    for (;;) {
      const head = this.source.peek();
      if (head === undefined) return;
      if (head.kind === 'mark') {
        // Marks take no playback time: they go as soon as the audio before them has gone.
        this.source.shift();
        this.counters.marksSent++;
        this.sink.sendMark(head);
        if (this.stopped || epoch !== this.epoch) return;
        continue;
      }
      const sendAtMs = this.playbackEnd + batchMs - this.leadMs;
      if (nowMs < sendAtMs) {
        this.schedule(this.playbackEnd + this.quantumMs - this.leadMs);
        return;
      }
      if (this.gate !== null) {
        const releaseAtMs = this.gate.releaseAtMs(head, nowMs);
        if (nowMs < releaseAtMs) {
          this.schedule(releaseAtMs);
          return;
        }
      }
      this.source.shift();
      const ranDry = nowMs > this.playbackEnd;
      const playStartMs = ranDry ? nowMs : this.playbackEnd;
      // Silence before the first frame of an item is a gap between turns, not an underrun.
      const underrunMs = ranDry && head.itemOffsetMs > 0 && Number.isFinite(this.playbackEnd) ? nowMs - this.playbackEnd : 0;
      const accepted = this.sink.sendFrame(head, { sentAtMs: nowMs, playStartMs, underrunMs });
      if (accepted) {
        batchMs = FRAME_DURATION_MS;
        this.counters.framesSent++;
        if (underrunMs > 0) {
          this.counters.underruns++;
          this.counters.underrunMs += underrunMs;
        }
        if (epoch === this.epoch) this.playbackEnd = playStartMs + FRAME_DURATION_MS;
      }
      if (this.stopped || epoch !== this.epoch) return;
    }
  }

  private schedule(atMs: number): void {
    if (this.timer !== null && this.wakeAtMs === atMs) return;
    this.cancelTimer();
    this.wakeAtMs = atMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.wakeAtMs = null;
      this.kick();
    }, atMs - this.clock.now());
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.wakeAtMs = null;
  }
}
