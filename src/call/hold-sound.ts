/**
 * The hold sound: two soft beeps every second, played to the caller while a slow tool works, so the line never
 * sounds dead. Generated once per process and channel format (no asset), faded in and out so it never clicks.
 */
import { encodeClipFor, TWILIO_AUDIO, type ChannelAudio } from '../audio/channel-audio.js';
import type { Clock, TimerHandle } from '../clock.js';

/** One cycle of the hold sound, ms: what is queued at a time. */
export const HOLD_CYCLE_MS = 1_000;
const BEEP_MS = 120;
const BEEP_GAP_MS = 80;
const BEEP_HZ = 480;
/** About −24 dBFS: audible, not alarming. */
const AMPLITUDE = 2_000;
const FADE_MS = 10;

const cycleCache = new Map<ChannelAudio, Uint8Array>();

export function holdCycleMulaw(): Uint8Array {
  return holdCycleAudio(TWILIO_AUDIO);
}

/** One cycle in the channel's audio, synthesised at its own rate (no resampling). */
export function holdCycleAudio(audio: ChannelAudio): Uint8Array {
  const cached = cycleCache.get(audio);
  if (cached !== undefined) return cached;
  const rateHz = audio.format.sampleRateHz;
  const samples = new Int16Array((HOLD_CYCLE_MS * rateHz) / 1000);
  const perMs = rateHz / 1000;
  const fade = FADE_MS * perMs;
  for (const startMs of [0, BEEP_MS + BEEP_GAP_MS]) {
    const start = startMs * perMs;
    const length = BEEP_MS * perMs;
    for (let index = 0; index < length; index++) {
      const envelope = Math.min(1, index / fade, (length - 1 - index) / fade);
      samples[start + index] = Math.round(AMPLITUDE * envelope * Math.sin((2 * Math.PI * BEEP_HZ * index) / rateHz));
    }
  }
  const cycle = encodeClipFor(audio, samples, rateHz);
  cycleCache.set(audio, cycle);
  return cycle;
}

/** What the hold player needs of the out-queue. */
export interface HoldSink {
  enqueue(responseId: string, itemId: string, mulaw: Uint8Array): boolean;
  endItem(responseId: string, itemId: string): void;
  /** Anything queued or still playing at the far end (the agent may still be talking). */
  isActive(): boolean;
  /** Drops what is queued and playing at the far end (one `clear`). */
  interrupt(): unknown;
}

/** Response id of hold-sound items: never an agent's, never told to the provider. */
export const HOLD_RESPONSE_ID = 'callbridge-hold';
/** While the agent's words still play, the hold waits and looks again this often. */
const START_RECHECK_MS = 100;

/**
 * Plays the hold sound, one cycle queued at a time on the call's clock (the pacer keeps it in real time), until
 * `stop()`, which drops what is left with one `clear` so the agent's answer starts at once. It starts only once
 * nothing else plays: the agent's own words before the tool ("let me look that up") are never cut by it.
 */
export class HoldPlayer {
  private timer: TimerHandle | null = null;
  private cycles = 0;
  private state: 'idle' | 'waiting' | 'playing' = 'idle';

  constructor(
    private readonly clock: Clock,
    private readonly sink: HoldSink,
    private readonly audio: ChannelAudio = TWILIO_AUDIO,
  ) {}

  get active(): boolean {
    return this.state === 'playing';
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'waiting';
    this.startWhenQuiet();
  }

  /** Stops the hold; a playing one is cleared from the far end at once. */
  stop(): void {
    const wasPlaying = this.state === 'playing';
    this.dispose();
    if (wasPlaying) this.sink.interrupt();
  }

  /** Forgets the hold without a `clear` (the caller's barge-in clears everything itself, or the call ended). */
  dispose(): void {
    this.state = 'idle';
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private startWhenQuiet(): void {
    this.timer = null;
    if (this.state !== 'waiting') return;
    if (this.sink.isActive()) {
      this.timer = this.clock.setTimeout(() => this.startWhenQuiet(), START_RECHECK_MS);
      return;
    }
    this.state = 'playing';
    this.queueCycle();
  }

  private queueCycle(): void {
    const itemId = `${HOLD_RESPONSE_ID}-${++this.cycles}`;
    this.sink.enqueue(HOLD_RESPONSE_ID, itemId, holdCycleAudio(this.audio));
    this.sink.endItem(HOLD_RESPONSE_ID, itemId);
    this.timer = this.clock.setTimeout(() => this.queueCycle(), HOLD_CYCLE_MS);
  }
}
