/**
 * Outbound calls with answering-machine detection: until Twilio's verdict arrives, the agent neither greets nor
 * hears the line (a voicemail greeting is not a caller to answer), then
 *   - a person (`human`, or `unknown`: better to speak to a machine than to ignore a person): the greeting;
 *   - a machine at the end of its message (`machine_end_beep|silence|other`) with a voicemail message: that message,
 *     once, then the call ends when it has played;
 *   - any other machine verdict (`machine_start`, `fax`, or no voicemail message): the call ends at once.
 * Pure: the call acts on what `decide` returns.
 */

export interface AnsweringMachineSettings {
  /** `voicemail`: leave `voicemailMessage` after the beep; `hang_up`: end the call when a machine answers. */
  readonly mode: 'voicemail' | 'hang_up';
  /** Instructions for the one voicemail message (rendered from the agent file). */
  readonly voicemailMessage: string | null;
}

export type MachineVerdictAction =
  | { readonly kind: 'greet'; readonly note: string }
  | { readonly kind: 'leave_message'; readonly instructions: string }
  | { readonly kind: 'hang_up'; readonly reason: string }
  /** Already decided (a second callback): nothing changes. */
  | { readonly kind: 'ignore' };

export const HUMAN_NOTE = 'The person you called has answered (answering-machine detection: human).';

export class AnsweringMachineGate {
  private decided = false;
  /** Said to the agent with its greeting once a person answered. */
  greetingNote: string | null = null;

  constructor(private readonly settings: AnsweringMachineSettings) {}

  /** True until the verdict: no greeting. */
  get pending(): boolean {
    return !this.decided;
  }

  /**
   * No caller audio to the agent: until the verdict, and for good once a machine answered (its beep, still arriving
   * after the verdict, would count as the caller talking over the message and cancel it).
   */
  get holdsCallerAudio(): boolean {
    return !this.decided || this.greetingNote === null;
  }

  decide(answeredBy: string): MachineVerdictAction {
    if (this.decided) return { kind: 'ignore' };
    this.decided = true;
    if (answeredBy === 'human' || answeredBy === 'unknown') {
      this.greetingNote = HUMAN_NOTE;
      return { kind: 'greet', note: HUMAN_NOTE };
    }
    const endOfMessage = answeredBy.startsWith('machine_end_');
    const { mode, voicemailMessage } = this.settings;
    if (endOfMessage && mode === 'voicemail' && voicemailMessage !== null) {
      return {
        kind: 'leave_message',
        instructions: `You reached an answering machine (answering-machine detection: ${answeredBy}); the beep has sounded and it is recording. Leave this message once, then stop talking: ${voicemailMessage}`,
      };
    }
    return { kind: 'hang_up', reason: `answered by ${answeredBy}` };
  }
}

