/**
 * Long calls outlive a provider session (OpenAI's lasts at most 60 minutes). Before that limit the call rotates: a
 * fresh session is dialled in the background, and at a moment when neither side is speaking (nothing playing or
 * queued for the caller, no response or tool in flight, the caller not mid-turn) and the new session is ready, it
 * takes over with the conversation so far (the transcript as the caller heard it). The caller hears no gap: the agent
 * was silent, and caller audio goes to the new session from that moment.
 *
 * ConversationMemory keeps that transcript (final lines, an interrupted answer cut to the share the caller heard);
 * SessionRotation owns the timer, the waiting session and the moment of the switch. The call supplies "idle?" and
 * "switch to this session".
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ConversationTurn, VoiceAgentSession } from '../voice/port.js';
import { cutAtWord } from '../voice/transcript-cut.js';
import type { HeardShare } from './call-events.js';

/** Lines kept at most: the newest win (a session's context is finite anyway). */
const MAX_TURNS = 400;

export class ConversationMemory {
  private readonly lines = new Map<string, { role: 'user' | 'assistant'; text: string; final: boolean }>();

  /** A transcript event of the call (ids are the call's tagged ids). */
  transcript(speaker: 'caller' | 'agent', itemId: string, text: string, final: boolean): void {
    const known = this.lines.get(itemId);
    if (known !== undefined && known.final && !final) return;
    const merged = known === undefined || final ? text : known.text + text;
    this.lines.set(itemId, { role: speaker === 'caller' ? 'user' : 'assistant', text: merged, final });
    if (this.lines.size > MAX_TURNS) this.lines.delete(this.lines.keys().next().value!);
  }

  /** The caller talked over these items: keep what they heard of each. */
  bargeIn(heard: readonly HeardShare[]): void {
    for (const share of heard) {
      const line = this.lines.get(share.itemId);
      if (line === undefined || share.heardMs >= share.audioMs) continue;
      line.text = cutAtWord(line.text, share.audioMs > 0 ? share.heardMs / share.audioMs : 0);
    }
  }

  turns(): ConversationTurn[] {
    return [...this.lines.values()].filter((line) => line.text.trim() !== '').map(({ role, text }) => ({ role, text: text.trim() }));
  }
}

export interface SessionRotationOptions {
  clock: Clock;
  logger: Logger;
  /** Rotate this long after a session started; null = never. */
  afterMs: number | null;
  /** Opens a fresh session of the call's provider (a continuing one: it must not greet). */
  dial: () => VoiceAgentSession;
  /** Neither side speaking, nothing in flight. */
  isIdle: () => boolean;
  /** Makes `next` the call's session, given the conversation so far. */
  switchTo: (next: VoiceAgentSession) => void;
}

/** How often the moment to switch is looked for once a fresh session is waiting. */
const POLL_MS = 100;

export class SessionRotation {
  private timer: TimerHandle | null = null;
  private waiting: VoiceAgentSession | null = null;
  private rotations = 0;

  constructor(private readonly options: SessionRotationOptions) {}

  get count(): number {
    return this.rotations;
  }

  /** A session (the first, a re-dialled or a rotated one) started: its clock starts now. */
  sessionStarted(): void {
    this.cancel();
    const { afterMs } = this.options;
    if (afterMs === null) return;
    this.timer = this.options.clock.setTimeout(() => this.prepare(), afterMs);
  }

  /** The call ended, or its session was replaced for another reason (a fault): nothing waits any more. */
  cancel(): void {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    this.waiting?.close();
    this.waiting = null;
  }

  private prepare(): void {
    this.timer = null;
    try {
      this.waiting = this.options.dial();
    } catch (error) {
      this.options.logger.error({ err: error }, 'session rotation: could not open a fresh session (the current one goes on)');
      return;
    }
    this.options.logger.info('session rotation: a fresh session is connecting; switching at the next quiet moment');
    this.poll();
  }

  private poll(): void {
    const next = this.waiting;
    if (next === null) return;
    if (next.state === 'closed') {
      this.options.logger.warn('session rotation: the fresh session closed before it took over (the current one goes on)');
      this.waiting = null;
      return;
    }
    if (next.state === 'ready' && this.options.isIdle()) {
      this.waiting = null;
      this.rotations++;
      this.options.switchTo(next);
      return;
    }
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = null;
      this.poll();
    }, POLL_MS);
  }
}
