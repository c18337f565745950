/**
 * The terminal client's playout clock, like a phone's: received agent audio is laid on a timeline that starts at
 * max(now, end of what is queued) and "plays" in real time; a mark is echoed when the playout reaches the point where
 * it arrived (every frame received before it has played); a clear drops what has not started playing and echoes
 * every pending mark at once. Pure: time comes from an injected Clock, frames and echoes go to callbacks.
 *
 * A frame is handed to `onFrame` when it starts playing, or `leadMs` earlier (a sound device needs a little audio
 * ahead of time); marks are never early.
 */
import type { Clock, TimerHandle } from '../clock.js';

/** Timeline comparisons tolerate floating-point dust (a 1-sample frame lasts 1/24 ms). */
const EPSILON_MS = 1e-6;

export interface PlayoutOptions {
  readonly clock: Clock;
  readonly sampleRateHz: number;
  /** How long before its start a frame is handed over (default 0). */
  readonly leadMs?: number;
  /** A frame, with its place on the timeline (clock ms). */
  readonly onFrame: (bytes: Uint8Array, startMs: number, endMs: number) => void;
  /** Echo this mark now. */
  readonly onMark: (name: string) => void;
}

interface QueuedFrame {
  readonly bytes: Uint8Array;
  readonly startMs: number;
  readonly endMs: number;
}

interface QueuedMark {
  readonly name: string;
  readonly atMs: number;
}

export interface ClearResult {
  /** Audio dropped before it started (ms). */
  readonly droppedMs: number;
  /** The marks echoed by the clear, in order. */
  readonly marks: readonly string[];
}

export class PlayoutModel {
  private readonly clock: Clock;
  private readonly sampleRateHz: number;
  private readonly leadMs: number;
  private readonly onFrame: PlayoutOptions['onFrame'];
  private readonly onMark: PlayoutOptions['onMark'];
  /** End of everything queued so far (clock ms). */
  private endMs = -Infinity;
  private frames: QueuedFrame[] = [];
  private marks: QueuedMark[] = [];
  private timer: TimerHandle | null = null;
  private closed = false;

  constructor(options: PlayoutOptions) {
    this.clock = options.clock;
    this.sampleRateHz = options.sampleRateHz;
    this.leadMs = options.leadMs ?? 0;
    this.onFrame = options.onFrame;
    this.onMark = options.onMark;
  }

  /** Audio still to play (ms from now to the end of the queue). */
  get queuedMs(): number {
    return Math.max(0, this.endMs - this.clock.now());
  }

  /** Marks received and not yet echoed. */
  get pendingMarks(): number {
    return this.marks.length;
  }

  /** One binary frame (PCM16 LE mono): appended to the timeline. A trailing odd byte is ignored. */
  audio(bytes: Uint8Array): void {
    const samples = bytes.length >> 1;
    if (this.closed || samples === 0) return;
    const startMs = Math.max(this.clock.now(), this.endMs);
    const endMs = startMs + (samples * 1000) / this.sampleRateHz;
    this.endMs = endMs;
    this.frames.push({ bytes: bytes.length === samples * 2 ? bytes : bytes.subarray(0, samples * 2), startMs, endMs });
    this.pump();
  }

  /** A mark: echoed once everything queued before it has played (at once when nothing is). */
  mark(name: string): void {
    if (this.closed) return;
    this.marks.push({ name, atMs: Math.max(this.clock.now(), this.endMs) });
    this.pump();
  }

  /** Drops every frame not yet handed over and echoes every pending mark, in order; the timeline restarts now. */
  clear(): ClearResult {
    const nowMs = this.clock.now();
    let droppedMs = 0;
    for (const frame of this.frames) droppedMs += frame.endMs - Math.max(frame.startMs, nowMs);
    const marks = this.marks.map((mark) => mark.name);
    this.frames = [];
    this.marks = [];
    this.endMs = nowMs;
    this.cancelTimer();
    if (!this.closed) for (const name of marks) this.onMark(name);
    return { droppedMs: Math.max(0, droppedMs), marks };
  }

  /** The call is over: hands every queued frame over now (so sinks get the whole answer); pending marks are dropped. */
  flushAndClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelTimer();
    const frames = this.frames;
    this.frames = [];
    this.marks = [];
    for (const frame of frames) this.onFrame(frame.bytes, frame.startMs, frame.endMs);
  }

  /** Stops without handing anything over. */
  close(): void {
    this.closed = true;
    this.cancelTimer();
    this.frames = [];
    this.marks = [];
  }

  /** Hands over what is due, echoes what is due, and sets the timer for the next due item. */
  private pump(): void {
    this.cancelTimer();
    const nowMs = this.clock.now() + EPSILON_MS;
    let frameIndex = 0;
    while (frameIndex < this.frames.length && this.frames[frameIndex]!.startMs - this.leadMs <= nowMs) {
      const frame = this.frames[frameIndex++]!;
      this.onFrame(frame.bytes, frame.startMs, frame.endMs);
    }
    if (frameIndex > 0) this.frames = this.frames.slice(frameIndex);
    let markIndex = 0;
    while (markIndex < this.marks.length && this.marks[markIndex]!.atMs <= nowMs) this.onMark(this.marks[markIndex++]!.name);
    if (markIndex > 0) this.marks = this.marks.slice(markIndex);
    if (this.closed) return;
    const nextFrameMs = this.frames.length === 0 ? Infinity : this.frames[0]!.startMs - this.leadMs;
    const nextMarkMs = this.marks.length === 0 ? Infinity : this.marks[0]!.atMs;
    const nextMs = Math.min(nextFrameMs, nextMarkMs);
    if (nextMs !== Infinity) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.pump();
      }, nextMs - this.clock.now());
    }
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
