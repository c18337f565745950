/**
 * The provider sessions of one call, and the one owner of which is current: the first (often pre-dialled), then any
 * re-dialled, fallback or rotated one. Retired sessions are closed but kept: their counters are the call's. Each
 * session's ids are tagged (`<n>/`) so a new session's ids never collide with an old one's (ElevenLabs counts from
 * 1 again). Also here: what a re-dial may still do (attempts left, fallback used), the conversation so far, and the
 * rotation before the provider's session limit.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { VoiceAgentSession, VoiceAgentStats } from '../voice/port.js';
import { ConversationMemory, SessionRotation } from './session-rotation.js';

export interface CallSessionsOptions {
  first: VoiceAgentSession;
  redialAttempts: number;
  clock: Clock;
  logger: Logger;
  /** Rotate each session this long after it started; null = never. */
  rotateAfterMs: number | null;
  /** Opens a fresh session of the call's provider that continues the call (no greeting of its own). */
  dialContinuing?: () => VoiceAgentSession;
  /** Neither side speaking, nothing in flight (a moment to rotate). */
  isQuiet: () => boolean;
  /** A rotated session took over (the call attaches it). */
  rotated: (next: VoiceAgentSession) => void;
}

export class CallSessions {
  readonly memory = new ConversationMemory();
  readonly rotation: SessionRotation;
  private currentSession: VoiceAgentSession;
  private readonly retired: VoiceAgentSession[] = [];
  private redials: number;
  private fallbackUsed = false;

  constructor(options: CallSessionsOptions) {
    this.currentSession = options.first;
    this.redials = options.redialAttempts;
    const dial = options.dialContinuing;
    this.rotation = new SessionRotation({
      clock: options.clock,
      logger: options.logger,
      afterMs: dial === undefined ? null : options.rotateAfterMs,
      dial: () => dial!(),
      isIdle: options.isQuiet,
      switchTo: (next) => {
        const turns = this.memory.turns();
        next.seedConversation(turns);
        options.logger.info({ turns: turns.length, session: this.retired.length + 1 }, 'session rotated: a fresh provider session continues the call');
        this.replace(next);
        options.rotated(next);
      },
    });
  }

  get current(): VoiceAgentSession {
    return this.currentSession;
  }

  /** The current session's id prefix. */
  get tag(): string {
    return `${this.retired.length}/`;
  }

  get redialsLeft(): number {
    return this.redials;
  }

  get fellBack(): boolean {
    return this.fallbackUsed;
  }

  /** `next` is current from now on; the old one is closed (idempotent) and retired. */
  replace(next: VoiceAgentSession, why?: 'redial' | 'fallback'): void {
    this.rotation.cancel();
    this.retired.push(this.currentSession);
    // A lost session closed itself (its fault says so); a rotated one is closed here.
    if (this.currentSession.state !== 'closed') this.currentSession.close();
    this.currentSession = next;
    if (why === 'redial') this.redials--;
    if (why === 'fallback') this.fallbackUsed = true;
  }

  /** Every session's counters, retired ones included. */
  stats(): VoiceAgentStats[] {
    return [...this.retired, this.currentSession].map((session) => session.stats());
  }
}
