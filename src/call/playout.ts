/**
 * The agent → caller audio path as one object the call drives: agent mu-law in, paced 160-byte frames and marks out
 * to Twilio, and on barge-in one `clear` plus an exact account of what the caller heard.
 *
 * Composition (each part owns one slice of state): OutQueue (frames + marks, FIFO) → Pacer (lead over Twilio's
 * playback; the JitterCushion may hold an item's first frames a little, see jitter-cushion.ts) → sink, with the
 * PlaybackLedger (marks → heard ms) and the SequenceLog (seq numbers, summaries) observing every send. `clear` bypasses the queue. All timing on the injected Clock (see playback-ledger.ts for why).
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ChannelAudio } from '../audio/channel-audio.js';
import { FRAME_DURATION_MS } from '../audio/frames.js';
import type { DeliveryPace } from './delivery-pace.js';
import { DEFAULT_JITTER_CUSHION_MS, JitterCushion } from './jitter-cushion.js';
import { OutQueue, type FrameEntry, type MarkEntry } from './out-queue.js';
import { Pacer, type FrameTiming } from './pacer.js';
import { PlaybackLedger } from './playback-ledger.js';
import { SequenceLog } from './sequence-log.js';

/** What Playout sends to Twilio; the call turns these into Media Streams messages with its `streamSid`. */
export interface PlayoutSink {
  sendMedia(payload: Uint8Array): void;
  sendMark(name: string): void;
  sendClear(): void;
}

export interface PlayoutOptions {
  clock: Clock;
  /** Max audio buffered at Twilio ahead of playback, ms (config `call.playbackLeadMs`). */
  leadMs: number;
  /** The pacer's send quantum, ms (config `call.pacerQuantumMs`; default 20 = one frame per wake). See pacer.ts. */
  quantumMs?: number;
  /** A mark every this many ms of item audio, and one at each item end (config `call.markIntervalMs`). */
  markIntervalMs: number;
  logger: Logger;
  sink: PlayoutSink;
  /**
   * How long after the modelled end of playback an unechoed end mark still counts as "playing", ms (default 1000).
   * Bounds `isActive()` if Twilio never echoes a mark.
   */
  markEchoGraceMs?: number;
  /**
   * Audio gathered before an item's first frame goes unless the provider is proven ahead of real time, ms; 0 = off
   * (config `call.jitterCushionMs`, default DEFAULT_JITTER_CUSHION_MS). See jitter-cushion.ts.
   */
  jitterCushionMs?: number;
  /** The provider's recent delivery speed, shared by the agent's calls (see delivery-pace.ts); absent = none. */
  deliveryPace?: DeliveryPace;
  /** The caller channel's audio (default Twilio's 8 kHz mu-law): frame size and silence padding follow it. */
  audio?: ChannelAudio;
  /** Mark name prefix (default `cb`). */
  markPrefix?: string;
  /** The first frame of an item went to Twilio at `sentAtMs` (the agent's first audio of that item, for latency). */
  onItemStarted?(responseId: string, itemId: string, sentAtMs: number): void;
}

export interface HeardItem {
  readonly itemId: string;
  readonly responseId: string;
  /** Integer ms the caller heard: the `audio_end_ms` to truncate at. Never above `sentMs`. */
  readonly heardMs: number;
  /** Real audio sent to Twilio for the item, ms. */
  readonly sentMs: number;
  /** The item's audio that had reached the playout by the interruption (sent + dropped from the queue), ms. */
  readonly audioMs: number;
}

export interface InterruptResult {
  /**
   * Every item of the interrupted answer, in send order: the one being heard with its heard ms, later ones at 0.
   * Items whose audio was only queued (none sent) are included with `sentMs` 0 so the caller of `interrupt` can
   * truncate them too: the model must not believe the caller heard them.
   */
  readonly heard: HeardItem[];
  /** Frames dropped from the queue (never sent). */
  readonly droppedFrames: number;
}

export interface PlayoutStats {
  framesSent: number;
  marksSent: number;
  marksEchoed: number;
  /** Echoes of unknown or old-generation marks (e.g. those Twilio echoes because of a clear). */
  marksIgnored: number;
  underruns: number;
  underrunMs: number;
  sequenceErrors: number;
  clears: number;
  /**
   * Deltas refused because their item already ended or was cleared. (Late audio of an interrupted response is the
   * provider adapter's to drop: it knows which responses it interrupted.)
   */
  lateDeltasDropped: number;
}

export class Playout {
  private readonly clock: Clock;
  private readonly sink: PlayoutSink;
  private readonly markEchoGraceMs: number;
  private readonly queue: OutQueue;
  private readonly pacer: Pacer;
  private readonly cushion: JitterCushion | null;
  private readonly ledger: PlaybackLedger;
  private readonly sequence: SequenceLog;
  private readonly onItemStarted: PlayoutOptions['onItemStarted'];
  private counters = { marksEchoed: 0, marksIgnored: 0, clears: 0, lateDeltasDropped: 0 };
  private disposed = false;

  constructor(options: PlayoutOptions) {
    this.clock = options.clock;
    this.sink = options.sink;
    this.markEchoGraceMs = options.markEchoGraceMs ?? 1_000;
    this.onItemStarted = options.onItemStarted;
    this.queue = new OutQueue({ markIntervalMs: options.markIntervalMs, ...(options.audio === undefined ? {} : { audio: options.audio }) });
    this.ledger = new PlaybackLedger(options.markPrefix === undefined ? {} : { markPrefix: options.markPrefix });
    this.sequence = new SequenceLog(options.logger);
    const cushionMs = options.jitterCushionMs ?? DEFAULT_JITTER_CUSHION_MS;
    this.cushion = cushionMs > 0 ? new JitterCushion({ cushionMs, ...(options.deliveryPace === undefined ? {} : { pace: options.deliveryPace }) }) : null;
    this.pacer = new Pacer({
      clock: options.clock,
      leadMs: options.leadMs,
      ...(options.quantumMs === undefined ? {} : { quantumMs: options.quantumMs }),
      source: this.queue,
      sink: {
        sendFrame: (frame, timing) => this.sendFrame(frame, timing),
        sendMark: (mark) => this.sendMark(mark),
      },
      ...(this.cushion === null ? {} : { gate: this.cushion }),
    });
  }

  /**
   * Queues agent audio (the channel's audio, any length) and sends what the lead allows now. Returns false when the delta
   * was dropped: its item already ended or was cleared, or the playout is disposed.
   */
  enqueue(responseId: string, itemId: string, audio: Uint8Array): boolean {
    if (this.disposed) return false;
    const nowMs = this.clock.now();
    const previousItemId = this.queue.openItemId;
    const ranDry = this.queue.length === 0 && nowMs > this.pacer.playbackEndMs;
    const pushed = this.queue.push(responseId, itemId, audio);
    if (!pushed.accepted) {
      this.counters.lateDeltasDropped++;
      return false;
    }
    if (this.cushion !== null) {
      if (previousItemId !== null && previousItemId !== itemId) this.cushion.onItemEnded(previousItemId, nowMs);
      this.cushion.onQueued(itemId, pushed.framesQueued * FRAME_DURATION_MS, nowMs, ranDry);
    }
    this.pacer.kick();
    return true;
  }

  /** Ends an item (`response.output_audio.done`): its tail goes padded with silence, then its end mark. */
  endItem(responseId: string, itemId: string): void {
    if (this.disposed) return;
    this.queue.endItem(responseId, itemId);
    this.cushion?.onItemEnded(itemId, this.clock.now());
    this.pacer.kick();
  }

  /** A `mark` event from Twilio. Returns the acknowledged entry, or null if ignored (unknown / old generation). */
  onMarkEchoed(name: string): MarkEntry | null {
    const entry = this.ledger.onMarkEchoed(name, this.clock.now());
    if (entry === null) {
      this.counters.marksIgnored++;
      return null;
    }
    this.counters.marksEchoed++;
    if (entry.endOfItem) this.sequence.finishItem(entry.responseId, entry.itemId, 'played');
    return entry;
  }

  /**
   * True while agent audio is queued, or sent and not yet played: the model says Twilio is still playing, or an
   * item's end mark has not come back yet (for at most `markEchoGraceMs` after the modelled end).
   */
  isActive(nowMs: number = this.clock.now()): boolean {
    if (!this.queue.isEmpty) return true;
    const playbackEndMs = this.pacer.playbackEndMs;
    if (nowMs < playbackEndMs) return true;
    return this.ledger.hasUnfinishedItems && nowMs < playbackEndMs + this.markEchoGraceMs;
  }

  /**
   * Barge-in. Null (and no `clear`) when nothing is queued or playing. Otherwise drops every queued frame and mark,
   * sends exactly one `clear`, resets the pacer, starts a new mark generation, and reports what was heard.
   * Later deltas of the interrupted items are refused.
   */
  interrupt(): InterruptResult | null {
    if (this.disposed) return null;
    const nowMs = this.clock.now();
    if (!this.isActive(nowMs)) return null;
    const dropped = this.queue.clear();
    this.cushion?.reset();
    this.pacer.reset();
    const heard: HeardItem[] = this.ledger.inPlay(nowMs).map(({ itemId, responseId, heardMs, sentMs }) => ({ itemId, responseId, heardMs, sentMs, audioMs: sentMs }));
    // New mark generation before the clear goes out: Twilio answers a clear by echoing every pending mark, and
    // those echoes must already count as old.
    this.ledger.clear(nowMs);
    this.sink.sendClear();
    this.counters.clears++;

    const droppedByItem = new Map<string, number>();
    let droppedFrames = 0;
    for (const item of dropped) {
      droppedFrames += item.droppedFrames;
      droppedByItem.set(item.itemId, item.droppedFrames);
      if (!heard.some((entry) => entry.itemId === item.itemId)) heard.push({ itemId: item.itemId, responseId: item.responseId, heardMs: 0, sentMs: 0, audioMs: 0 });
    }
    const withQueued = heard.map((item) => ({ ...item, audioMs: item.sentMs + (droppedByItem.get(item.itemId) ?? 0) * FRAME_DURATION_MS }));
    heard.splice(0, heard.length, ...withQueued);
    for (const item of heard) this.sequence.finishItem(item.responseId, item.itemId, 'interrupted', droppedByItem.get(item.itemId) ?? 0);
    return { heard, droppedFrames };
  }

  /** What the caller has heard of `itemId` so far (frozen at the interruption if it was interrupted), integer ms. */
  heardMs(itemId: string): number {
    return this.ledger.heardMs(itemId, this.clock.now());
  }

  stats(): PlayoutStats {
    const pacer = this.pacer.stats();
    return {
      framesSent: pacer.framesSent,
      marksSent: pacer.marksSent,
      marksEchoed: this.counters.marksEchoed,
      marksIgnored: this.counters.marksIgnored,
      underruns: pacer.underruns,
      underrunMs: pacer.underrunMs,
      sequenceErrors: this.sequence.sequenceErrors,
      clears: this.counters.clears,
      lateDeltasDropped: this.counters.lateDeltasDropped,
    };
  }

  /** On hang-up: cancels the pacer's timer, summarises unfinished items, and ignores everything afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pacer.stop();
    for (const item of this.sequence.openItems()) this.sequence.finishItem(item.responseId, item.itemId, 'hangup');
  }

  private sendFrame(frame: FrameEntry, timing: FrameTiming): boolean {
    if (this.sequence.onFrameSent(frame, timing.underrunMs) === null) return false;
    this.sink.sendMedia(frame.payload);
    this.ledger.onFrameSent(frame, timing.sentAtMs, timing.playStartMs, FRAME_DURATION_MS);
    if (frame.itemOffsetMs === 0) this.onItemStarted?.(frame.responseId, frame.itemId, timing.sentAtMs);
    return true;
  }

  private sendMark(mark: MarkEntry): void {
    this.sink.sendMark(this.ledger.nameMark(mark));
  }
}

/**
 * What the caller heard of one provider session's items, in that session's own ids: the call names out-queue items
 * `<session tag><provider id>`; the bridge's own items (hold sound, apology) and a lost session's are left out.
 */
export function heardOfSession(interrupted: InterruptResult | null, tag: string): Array<{ responseId: string; itemId: string; heardMs: number }> {
  return (interrupted?.heard ?? [])
    .filter(({ responseId }) => responseId.startsWith(tag))
    .map(({ responseId, itemId, heardMs }) => ({ responseId: responseId.slice(tag.length), itemId: itemId.slice(tag.length), heardMs }));
}
