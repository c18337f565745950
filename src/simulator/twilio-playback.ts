/**
 * What Twilio does with the `media`, `mark` and `clear` messages a bridge sends, on an injected clock:
 *
 * - media is appended to one buffer and played at exactly 8,000 mu-law bytes per second; playback starts the moment
 *   audio arrives at an empty buffer (there is no jitter buffer to fill first);
 * - a mark is echoed when playback reaches it, at once if the buffer is empty;
 * - clear drops everything buffered and echoes every pending mark at once — so an echoed mark is not proof that its
 *   audio was heard, which is why each echo here records its cause and the bytes played by then.
 *
 * All times this class reports are milliseconds since `originMs` (by default the clock reading at construction).
 * Playback runs on ideal times (the end of one chunk is exactly the start of the next), so a late timer delays an echo
 * but never stretches what was heard.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { MULAW_BYTES_PER_MS } from '../audio/frames.js';
import { base64ToBytes } from '../audio/pcm.js';
import { EPSILON_MS, HeardAudioLog, wholeMulawBytesIn, type HeardSegment } from './twilio-heard-audio.js';

export { renderHeardTimeline, type HeardSegment } from './twilio-heard-audio.js';

export type MarkEchoCause = 'played' | 'cleared';

export interface MarkEcho {
  name: string;
  /** When the echo was emitted (clock reading), ms since origin. */
  echoedAtMs: number;
  /** When playback reached the mark on the ideal timeline (≤ echoedAtMs; equal on a ManualClock). */
  reachedAtMs: number;
  /** `played`: playback got there. `cleared`: a clear flushed it; its audio was not all heard. */
  cause: MarkEchoCause;
  /** Total mu-law bytes heard on the call when the mark was reached. */
  playedBytesBefore: number;
}

export interface ClearRecord {
  atMs: number;
  /** Buffered bytes dropped unheard. */
  droppedBytes: number;
  /** Names of the marks echoed by this clear, in order. */
  marksEchoed: string[];
}

export interface Underrun {
  /** When playback ran dry after media with no mark behind it, ms since origin. */
  atMs: number;
  /** Silence until the next media, mark or clear arrived; null while still silent (or if nothing came). */
  durationMs: number | null;
}

export interface PlaybackCounters {
  /** Media messages without a decodable base64 `payload`: ignored, as Twilio would not play them. */
  invalidPayloads: number;
  /** Mark messages without a string `mark.name`. */
  invalidMarks: number;
  /** Events other than media/mark/clear. */
  unknownEvents: number;
  /** Messages received after stop(). */
  afterStop: number;
}

export interface TwilioPlaybackOptions {
  clock: Clock;
  /** Clock reading that counts as time 0 in everything reported. Defaults to `clock.now()` at construction. */
  originMs?: number;
  /** Called for every echo, in order. The simulated caller sends it back on the socket. */
  onMarkEcho?: (name: string, echo: MarkEcho) => void;
}

type QueueEntry = { kind: 'audio'; bytes: Uint8Array } | { kind: 'mark'; name: string };

const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

export class TwilioPlaybackEmulator {
  readonly counters: PlaybackCounters = { invalidPayloads: 0, invalidMarks: 0, unknownEvents: 0, afterStop: 0 };
  private readonly clock: Clock;
  private readonly originMs: number;
  private readonly onMarkEcho: ((name: string, echo: MarkEcho) => void) | undefined;
  private readonly queue: QueueEntry[] = [];
  /** Bytes of queue[0] (audio) already played. */
  private headOffsetBytes = 0;
  /** Absolute ideal time at which the next unplayed byte starts; null while the buffer is empty. */
  private cursorMs: number | null = null;
  /** What playback consumed last in the current run: decides whether running dry is an underrun. */
  private lastConsumed: 'audio' | 'mark' | null = null;
  private readonly heard = new HeardAudioLog();
  private readonly markEchoes: MarkEcho[] = [];
  private readonly clearRecords: ClearRecord[] = [];
  private readonly underrunRecords: Underrun[] = [];
  private timer: TimerHandle | null = null;
  private stopped = false;
  private unplayedAtStopBytes = 0;

  constructor(options: TwilioPlaybackOptions) {
    this.clock = options.clock;
    this.originMs = options.originMs ?? options.clock.now();
    this.onMarkEcho = options.onMarkEcho;
  }

  /**
   * Takes one parsed outbound message (`media`, `mark` or `clear`). Returns what it was taken as; anything it cannot
   * use is counted in `counters` and otherwise ignored. streamSid is not checked here (the caller does that).
   */
  receive(message: object): 'media' | 'mark' | 'clear' | 'ignored' {
    if (this.stopped) {
      this.counters.afterStop++;
      return 'ignored';
    }
    const nowMs = this.clock.now();
    this.settle(nowMs);
    const event = (message as { event?: unknown }).event;
    let taken: 'media' | 'mark' | 'clear' | 'ignored' = 'ignored';
    if (event === 'media') {
      const payload = (message as { media?: { payload?: unknown } }).media?.payload;
      const bytes = typeof payload === 'string' ? decodeBase64Strict(payload) : null;
      if (bytes === null) {
        this.counters.invalidPayloads++;
      } else {
        taken = 'media';
        if (bytes.length > 0) this.enqueueAudio(bytes, nowMs);
      }
    } else if (event === 'mark') {
      const name = (message as { mark?: { name?: unknown } }).mark?.name;
      if (typeof name !== 'string') {
        this.counters.invalidMarks++;
      } else {
        taken = 'mark';
        this.enqueueMark(name, nowMs);
      }
    } else if (event === 'clear') {
      taken = 'clear';
      this.clear(nowMs);
    } else {
      this.counters.unknownEvents++;
    }
    this.schedule();
    return taken;
  }

  /** The call ended: play out to now, then freeze. What is still buffered was never heard. */
  stop(): void {
    if (this.stopped) return;
    this.settle(this.clock.now());
    this.stopped = true;
    this.cancelTimer();
    this.unplayedAtStopBytes = this.bufferedBytesNow();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Runs of contiguous playback with their start times, oldest first. */
  heardSegments(): HeardSegment[] {
    this.settleNow();
    return this.heard.heardSegments();
  }

  /** Every byte the caller heard, in order, without the gaps and without anything cleared. */
  heardAudio(): Uint8Array {
    this.settleNow();
    return this.heard.heardAudio();
  }

  get playedBytesTotal(): number {
    this.settleNow();
    return this.heard.playedBytes;
  }

  get heardMsTotal(): number {
    return this.playedBytesTotal / MULAW_BYTES_PER_MS;
  }

  /** Bytes heard by `timeMs` (ms since origin), from the recorded segments. */
  playedBytesAt(timeMs: number): number {
    this.settleNow();
    return this.heard.playedBytesAt(timeMs);
  }

  /** Bytes buffered and not yet played. After stop(): what was left unheard when the call ended. */
  get bufferedBytes(): number {
    if (this.stopped) return this.unplayedAtStopBytes;
    this.settleNow();
    return this.bufferedBytesNow();
  }

  /** Names of marks waiting in the buffer, in order. */
  get pendingMarks(): string[] {
    this.settleNow();
    return this.queue.flatMap((entry) => (entry.kind === 'mark' ? [entry.name] : []));
  }

  get marks(): readonly MarkEcho[] {
    this.settleNow();
    return this.markEchoes;
  }

  get clears(): readonly ClearRecord[] {
    return this.clearRecords;
  }

  get underruns(): readonly Underrun[] {
    this.settleNow();
    return this.underrunRecords;
  }

  get underrunCount(): number {
    return this.underruns.length;
  }

  /** Total silence inside answers (closed underruns only). */
  get underrunMs(): number {
    return this.underruns.reduce((sum, underrun) => sum + (underrun.durationMs ?? 0), 0);
  }

  get isPlaying(): boolean {
    this.settleNow();
    return this.cursorMs !== null;
  }

  private settleNow(): void {
    if (!this.stopped) this.settle(this.clock.now());
  }

  private bufferedBytesNow(): number {
    let total = -this.headOffsetBytes;
    for (const entry of this.queue) if (entry.kind === 'audio') total += entry.bytes.length;
    return Math.max(total, 0);
  }

  private enqueueAudio(bytes: Uint8Array, nowMs: number): void {
    if (this.cursorMs === null) {
      this.closeUnderrun(nowMs);
      this.cursorMs = nowMs;
      this.lastConsumed = null;
    }
    // Copy: the caller's buffer may be reused, and heard audio must be exactly what arrived.
    this.queue.push({ kind: 'audio', bytes: bytes.slice() });
  }

  private enqueueMark(name: string, nowMs: number): void {
    if (this.cursorMs === null) {
      this.closeUnderrun(nowMs);
      this.echo(name, nowMs, nowMs, 'played');
      return;
    }
    this.queue.push({ kind: 'mark', name });
  }

  private clear(nowMs: number): void {
    this.closeUnderrun(nowMs);
    const droppedBytes = this.bufferedBytesNow();
    const marksEchoed: string[] = [];
    for (const entry of this.queue) {
      if (entry.kind !== 'mark') continue;
      marksEchoed.push(entry.name);
      this.echo(entry.name, nowMs, nowMs, 'cleared');
    }
    this.queue.length = 0;
    this.headOffsetBytes = 0;
    this.cursorMs = null;
    this.lastConsumed = null;
    this.clearRecords.push({ atMs: nowMs - this.originMs, droppedBytes, marksEchoed });
  }

  /** Plays the ideal timeline forward to `nowMs`: records heard bytes, echoes reached marks, notes running dry. */
  private settle(nowMs: number): void {
    while (this.cursorMs !== null && this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.kind === 'mark') {
        if (this.cursorMs > nowMs + EPSILON_MS) break;
        this.queue.shift();
        this.lastConsumed = 'mark';
        this.echo(head.name, this.cursorMs, nowMs, 'played');
        continue;
      }
      const remainingBytes = head.bytes.length - this.headOffsetBytes;
      const endMs = this.cursorMs + remainingBytes / MULAW_BYTES_PER_MS;
      if (endMs <= nowMs + EPSILON_MS) {
        this.heard.record(head.bytes.subarray(this.headOffsetBytes), this.cursorMs - this.originMs);
        this.cursorMs = endMs;
        this.queue.shift();
        this.headOffsetBytes = 0;
        this.lastConsumed = 'audio';
        continue;
      }
      const partialBytes = wholeMulawBytesIn(nowMs - this.cursorMs);
      if (partialBytes > 0) {
        this.heard.record(head.bytes.subarray(this.headOffsetBytes, this.headOffsetBytes + partialBytes), this.cursorMs - this.originMs);
        this.headOffsetBytes += partialBytes;
        this.cursorMs += partialBytes / MULAW_BYTES_PER_MS;
      }
      break;
    }
    if (this.cursorMs !== null && this.queue.length === 0) {
      // Ran dry. After a mark this is the end of an answer; after bare media it is a hole in one.
      if (this.lastConsumed === 'audio') this.underrunRecords.push({ atMs: this.cursorMs - this.originMs, durationMs: null });
      this.cursorMs = null;
      this.lastConsumed = null;
    }
  }

  private echo(name: string, reachedAbsMs: number, nowMs: number, cause: MarkEchoCause): void {
    const echo: MarkEcho = {
      name,
      echoedAtMs: nowMs - this.originMs,
      reachedAtMs: reachedAbsMs - this.originMs,
      cause,
      playedBytesBefore: this.heard.playedBytes,
    };
    this.markEchoes.push(echo);
    this.onMarkEcho?.(name, echo);
  }

  private closeUnderrun(nowMs: number): void {
    const open = this.underrunRecords.at(-1);
    if (open === undefined || open.durationMs !== null) return;
    const durationMs = nowMs - this.originMs - open.atMs;
    // Audio arriving exactly as the buffer empties leaves no audible hole: not an underrun.
    if (durationMs < EPSILON_MS) this.underrunRecords.pop();
    else open.durationMs = durationMs;
  }

  /** One timer for the next thing that must happen on time: a mark being reached or the buffer running dry. */
  private schedule(): void {
    this.cancelTimer();
    if (this.stopped || this.cursorMs === null) return;
    let dueMs = this.cursorMs - (this.headOffsetBytes / MULAW_BYTES_PER_MS);
    for (const entry of this.queue) {
      if (entry.kind === 'mark') break;
      dueMs += entry.bytes.length / MULAW_BYTES_PER_MS;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.settle(this.clock.now());
      this.schedule();
    }, dueMs - this.clock.now());
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

/** Twilio rejects payloads that are not base64; Node's decoder would silently skip bad characters. */
function decodeBase64Strict(text: string): Uint8Array | null {
  if (text.length % 4 !== 0 || !BASE64_PATTERN.test(text)) return null;
  return base64ToBytes(text);
}
