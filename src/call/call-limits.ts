/**
 * Per-agent limits on a call: a maximum duration, and the longest caller silence before a polite check-in (then,
 * after as long again, a goodbye). Silence counts only while the agent is idle: the timer restarts whenever either
 * side is active, and a due check-in waits while the agent is still talking.
 */
import type { Clock, TimerHandle } from '../clock.js';

export interface CallLimitSettings {
  /** null = no limit. */
  readonly maxCallDurationS: number | null;
  /** null = never check in. */
  readonly silenceCheckInS: number | null;
}

export interface CallLimitActions {
  /** The agent is busy (talking, or a response or tool is on its way): silence does not count yet. */
  agentBusy(): boolean;
  /** Ask the caller whether they are still there. */
  checkIn(): void;
  /** Say goodbye and end the call. */
  goodbye(reason: 'max duration' | 'caller silent'): void;
}

export const CHECK_IN_INSTRUCTIONS = 'The caller has been silent for a while. Politely ask, in one short sentence, whether they are still there.';
export const SILENCE_GOODBYE_INSTRUCTIONS = 'The caller is still silent. Say a brief, polite goodbye now; the call will end.';
export const MAX_DURATION_GOODBYE_INSTRUCTIONS = 'The call has reached its time limit. Apologise briefly, say a polite goodbye now; the call will end.';

export class CallLimits {
  private silenceTimer: TimerHandle | null = null;
  private durationTimer: TimerHandle | null = null;
  private checkedIn = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly settings: CallLimitSettings,
    private readonly actions: CallLimitActions,
  ) {}

  start(): void {
    if (this.settings.maxCallDurationS !== null) {
      this.durationTimer = this.clock.setTimeout(() => this.fireGoodbye('max duration'), this.settings.maxCallDurationS * 1000);
    }
    this.armSilence();
  }

  /** The caller spoke or pressed a key: the silence count starts again, and a check-in is forgotten. */
  onCallerActivity(): void {
    this.checkedIn = false;
    this.armSilence();
  }

  /** The agent was active (audio played): the silence count starts again. */
  onAgentActivity(): void {
    this.armSilence();
  }

  stop(): void {
    this.stopped = true;
    if (this.silenceTimer !== null) this.clock.clearTimeout(this.silenceTimer);
    if (this.durationTimer !== null) this.clock.clearTimeout(this.durationTimer);
    this.silenceTimer = null;
    this.durationTimer = null;
  }

  private armSilence(): void {
    if (this.stopped || this.settings.silenceCheckInS === null) return;
    if (this.silenceTimer !== null) this.clock.clearTimeout(this.silenceTimer);
    this.silenceTimer = this.clock.setTimeout(() => this.onSilence(), this.settings.silenceCheckInS * 1000);
  }

  private onSilence(): void {
    this.silenceTimer = null;
    if (this.stopped) return;
    if (this.actions.agentBusy()) {
      this.armSilence();
      return;
    }
    if (!this.checkedIn) {
      this.checkedIn = true;
      this.actions.checkIn();
      this.armSilence();
      return;
    }
    this.fireGoodbye('caller silent');
  }

  private fireGoodbye(reason: 'max duration' | 'caller silent'): void {
    if (this.stopped) return;
    this.stop();
    this.actions.goodbye(reason);
  }
}

/** The limits of one call: check-ins and goodbyes are asked of `agent()`, and a goodbye ends the call after it. */
export function callLimits(options: {
  clock: Clock;
  settings: CallLimitSettings | undefined;
  agent: () => { requestResponse(request: { instructions: string; reason: string }): void };
  agentBusy: () => boolean;
  endAfterGoodbye: (reason: 'max duration' | 'caller silent') => void;
}): CallLimits {
  return new CallLimits(options.clock, options.settings ?? { maxCallDurationS: null, silenceCheckInS: null }, {
    agentBusy: options.agentBusy,
    checkIn: () => options.agent().requestResponse({ instructions: CHECK_IN_INSTRUCTIONS, reason: 'silence check-in' }),
    goodbye: (reason) => {
      options.agent().requestResponse({ instructions: reason === 'max duration' ? MAX_DURATION_GOODBYE_INSTRUCTIONS : SILENCE_GOODBYE_INSTRUCTIONS, reason });
      options.endAfterGoodbye(reason);
    },
  });
}
