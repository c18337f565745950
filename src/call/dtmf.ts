/**
 * Groups a caller's key presses into one burst ("1", "5" → "15") so the agent gets one message and answers once,
 * as an IVR reads a multi-digit entry. A burst ends after `interDigitTimeoutMs` without a press, or at once on '#'.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { VoiceAgentSession } from '../voice/port.js';

/** Long enough for a caller typing a short number, short enough that a single press feels answered. */
export const DEFAULT_INTER_DIGIT_TIMEOUT_MS = 800;

export class DtmfCollector {
  private digits = '';
  private timer: TimerHandle | null = null;

  constructor(
    private readonly options: { clock: Clock; onBurst(digits: string): void; interDigitTimeoutMs?: number },
  ) {}

  /** Adds one digit ('0'–'9', '*', '#', 'A'–'D'). '#' ends the burst and is not part of it. */
  press(digit: string): void {
    if (digit === '#') {
      this.flush();
      return;
    }
    this.digits += digit;
    this.cancelTimer();
    this.timer = this.options.clock.setTimeout(() => this.flush(), this.options.interDigitTimeoutMs ?? DEFAULT_INTER_DIGIT_TIMEOUT_MS);
  }

  /** Emits the pending burst, if any. */
  flush(): void {
    this.cancelTimer();
    if (this.digits === '') return;
    const burst = this.digits;
    this.digits = '';
    this.options.onBurst(burst);
  }

  /** Forgets pending digits (call ended). */
  dispose(): void {
    this.cancelTimer();
    this.digits = '';
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

/** What the keypad needs of its call. */
export interface KeypadTarget {
  /** The call's current agent session (it changes on a re-dial). */
  agent(): VoiceAgentSession;
  isLive(): boolean;
}

/**
 * The caller's keypad on a call: with push-to-talk (`manualTurns`) '#' ends the spoken turn; otherwise keys are
 * forwarded (when allowed) as one text message and one response per burst.
 */
export class CallKeypad {
  private readonly collector: DtmfCollector;

  constructor(
    clock: Clock,
    private readonly forward: boolean,
    private readonly target: KeypadTarget,
  ) {
    this.collector = new DtmfCollector({ clock, onBurst: (digits) => this.onBurst(digits) });
  }

  press(digit: string): void {
    if (this.target.agent().manualTurns && digit === '#') {
      this.collector.flush();
      this.target.agent().endCallerTurn();
      return;
    }
    if (this.forward) this.collector.press(digit);
  }

  dispose(): void {
    this.collector.dispose();
  }

  private onBurst(digits: string): void {
    if (!this.target.isLive()) return;
    const agent = this.target.agent();
    agent.sendUserText(`The caller pressed ${digits.split('').join(', ')} on the keypad.`);
    agent.requestResponse({ reason: 'dtmf' });
  }
}
