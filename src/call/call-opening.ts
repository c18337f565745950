/**
 * Who speaks first on a call, and when: the greeting is asked for once, when the first session is ready (a re-dialled
 * session that replaces one whose greeting never played asks again); an outbound call with answering-machine
 * detection waits for the verdict (a person: the greeting, told a person answered; a machine: the voicemail message,
 * then the end; see answering-machine.ts), and until then (and for good on a machine) the agent hears nothing.
 */
import { AnsweringMachineGate, type AnsweringMachineSettings } from './answering-machine.js';
import type { CallSettings } from './call-options.js';

export interface CallOpeningHooks {
  /** The call is live and its current session is ready. */
  canSpeak(): boolean;
  requestResponse(request: { instructions: string; reason: string }): void;
  /** Ends the call once the agent's next answer has played. */
  endAfterNextAnswer(reason: string): void;
  /** Ends the call now (nothing to say). */
  hangUp(reason: string): void;
  report(answeredBy: string, action: string): void;
}

export class CallOpening {
  private greeted = false;
  private readonly gate: AnsweringMachineGate | null;

  constructor(
    private readonly settings: Pick<CallSettings, 'greeting' | 'greetingIsNote'>,
    answeringMachine: AnsweringMachineSettings | undefined,
    private readonly hooks: CallOpeningHooks,
  ) {
    this.gate = answeringMachine === undefined ? null : new AnsweringMachineGate(answeringMachine);
  }

  /** Caller audio stays away from the agent (answering-machine detection pending, or a machine answered). */
  get holdsCallerAudio(): boolean {
    return this.gate?.holdsCallerAudio === true;
  }

  /** A session became ready: greet, once (unless a verdict is awaited). */
  sessionReady(): void {
    const { greeting } = this.settings;
    if (this.greeted || greeting === null || this.gate?.pending === true || !this.hooks.canSpeak()) return;
    this.greeted = true;
    const note = this.gate?.greetingNote ?? null;
    const instructions = note === null ? greeting : `${note}\n${greeting}`;
    this.hooks.requestResponse({ instructions, reason: this.settings.greetingIsNote === true ? 'resume' : 'greeting' });
  }

  /** A replacement session takes over before the agent said anything: it greets in the lost one's place. */
  greetAgain(): void {
    this.greeted = false;
  }

  /** Twilio's AMD verdict. */
  answeredBy(answeredBy: string): void {
    if (this.gate === null) return;
    const action = this.gate.decide(answeredBy);
    if (action.kind === 'ignore') return;
    this.hooks.report(answeredBy, action.kind);
    if (action.kind === 'greet') {
      // A session still connecting greets when it is ready.
      this.sessionReady();
    } else if (action.kind === 'hang_up') {
      this.hooks.hangUp(action.reason);
    } else {
      this.greeted = true;
      this.hooks.endAfterNextAnswer('voicemail message left');
      this.hooks.requestResponse({ instructions: action.instructions, reason: 'voicemail' });
    }
  }
}
