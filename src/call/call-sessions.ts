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
import type { VoiceAgentFaultKind } from '../voice/port.js';
import { recoveryFor, type Recovery } from './session-recovery.js';
import { ConversationMemory, SessionRotation } from './session-rotation.js';

export interface CallSessionsOptions {
  first: VoiceAgentSession;
  redialAttempts: number;
  clock: Clock;
  logger: Logger;
  /** Rotate each session this long after it started; null = never. */
  rotateAfterMs: number | null;
  /** Opens a fresh session of the provider the call is on; `continuing`: the agent has spoken, no greeting of its own. */
  redial?: (continuing: boolean) => VoiceAgentSession;
  /** Opens a session of the fallback provider (once per call). */
  fallback?: () => VoiceAgentSession;
  /** Neither side speaking, nothing in flight (a moment to rotate). */
  isQuiet: () => boolean;
  /** The call went to the fallback provider (observers hear of it). */
  fellBack?: (from: string, to: string, faultKind: string) => void;
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
  private readonly options: CallSessionsOptions;

  constructor(options: CallSessionsOptions) {
    this.currentSession = options.first;
    this.redials = options.redialAttempts;
    this.options = options;
    const redial = options.redial;
    this.rotation = new SessionRotation({
      clock: options.clock,
      logger: options.logger,
      afterMs: redial === undefined ? null : options.rotateAfterMs,
      dial: () => redial!(true),
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

  /** What to do about the current session's loss (the pure policy in session-recovery.ts, with this call's state). */
  recoveryFor(fault: VoiceAgentFaultKind, agentSpoke: boolean): Recovery {
    const { fallback, redial } = this.options;
    return recoveryFor({ fault, agentSpoke, fallbackAvailable: fallback !== undefined && !this.fallbackUsed, redialsLeft: this.redials, canRedial: redial !== undefined });
  }

  /** Opens the session a re-dial or fallback calls for and makes it current. Throws when the dial throws. */
  openReplacement(recovery: 'redial' | 'fallback', agentSpoke: boolean, faultKind: string): VoiceAgentSession {
    const from = this.currentSession.provider;
    const next = recovery === 'fallback' ? this.options.fallback!() : this.options.redial!(agentSpoke);
    this.replace(next, recovery);
    if (recovery === 'fallback') {
      this.options.logger.warn({ from, to: next.provider }, 'provider failed to connect: the call goes to the fallback provider');
      this.options.fellBack?.(from, next.provider, faultKind);
    } else {
      this.options.logger.warn({ redialsLeft: this.redials }, 're-dialling the upstream session');
    }
    return next;
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

  /** The call ended: nothing waits to take over, the current session is closed. */
  close(): void {
    this.rotation.cancel();
    this.currentSession.close();
  }

  /** Every session's counters, retired ones included. */
  stats(): VoiceAgentStats[] {
    return [...this.retired, this.currentSession].map((session) => session.stats());
  }
}
