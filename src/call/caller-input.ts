/**
 * What the caller sends besides speech: key presses (grouped into bursts by CallKeypad) and typed lines (the browser
 * phone, the terminal client). A typed line interrupts the agent like speech, is the caller's words in the transcript,
 * and is answered once.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { VoiceAgentSession } from '../voice/port.js';
import type { CallJournal } from './call-journal.js';
import { CallKeypad } from './dtmf.js';

export interface CallerInputContext {
  clock: Clock;
  logger: Logger;
  journal: CallJournal;
  forwardDtmf: boolean;
  agent(): VoiceAgentSession;
  isLive(): boolean;
}

/** What the call does for the caller's input. */
export interface CallerInputActions {
  /** Caller activity (the silence limit starts over). */
  active(): void;
  /** Talks over the agent: the same barge-in as speech. */
  interrupt(): void;
  /** The caller's words, final, under `itemId` (the call's transcript and conversation memory). */
  said(itemId: string, text: string): void;
  /** The current session's id tag (items of one session never collide with another's). */
  sessionTag(): string;
}

export class CallerInput {
  private readonly keypad: CallKeypad;
  private typedLines = 0;

  constructor(
    private readonly context: CallerInputContext,
    private readonly actions: CallerInputActions,
  ) {
    this.keypad = new CallKeypad(context.clock, context.forwardDtmf, { agent: context.agent, isLive: context.isLive });
  }

  key(digit: string): void {
    this.context.logger.info({ digit }, 'caller pressed a key');
    this.context.journal.dtmf(digit);
    this.actions.active();
    this.keypad.press(digit);
  }

  typed(text: string): void {
    this.actions.interrupt();
    this.actions.said(`${this.actions.sessionTag()}typed-${++this.typedLines}`, text);
    const agent = this.context.agent();
    agent.sendUserText(text);
    agent.requestResponse({ reason: 'typed_text' });
  }

  dispose(): void {
    this.keypad.dispose();
  }
}
