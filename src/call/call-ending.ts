/**
 * The agent asked to end the call (`end_call`, a time limit) or to transfer it: the stream closes only once the
 * agent's last words have played to the caller, never cutting them.
 *
 * "Played" means: the follow-up response that the tool result (or goodbye request) produced is done, and the
 * out-queue and the far end's playback are empty (end marks echoed). A caller who talks over the goodbye is heard
 * as usual: the barge-in restarts the wait for the agent's next answer. A safety deadline ends the call anyway if
 * the provider never answers.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { StreamOutcome } from './after-stream.js';

/** Longest wait for the agent's last words, ms, after which the call ends regardless. */
export const ENDING_DEADLINE_MS = 20_000;
/** How often playback is looked at once the last answer is done (the far end's end mark may come before our model's end). */
const PLAYBACK_POLL_MS = 100;

export class CallEnding {
  private requested: StreamOutcome | null = null;
  /** A response started after the request: its end is the agent's answer to it (not one already on its way). */
  private answerStarted = false;
  private answered = false;
  private fired = false;
  private deadline: TimerHandle | null = null;
  private poll: TimerHandle | null = null;
  private polling = true;

  constructor(
    private readonly clock: Clock,
    /** True while agent audio is queued or still playing at the far end. */
    private readonly playbackActive: () => boolean,
    /** Close the stream with this outcome (called once). */
    private readonly onDue: (outcome: StreamOutcome) => void,
    private readonly deadlineMs: number = ENDING_DEADLINE_MS,
  ) {}

  get pending(): StreamOutcome | null {
    return this.fired ? null : this.requested;
  }

  /**
   * A later request replaces an earlier one (a transfer after a goodbye request wins, and vice versa). `deadlineMs`
   * (default: the one given at construction) starts a new deadline when given.
   */
  request(outcome: StreamOutcome, deadlineMs?: number): void {
    if (this.fired) return;
    this.requested = outcome;
    this.answered = false;
    this.answerStarted = false;
    this.polling = true;
    if (deadlineMs !== undefined && this.deadline !== null) {
      this.clock.clearTimeout(this.deadline);
      this.deadline = null;
    }
    if (this.deadline === null) this.deadline = this.clock.setTimeout(() => this.fire(), deadlineMs ?? this.deadlineMs);
  }

  /**
   * Ends as soon as nothing is left to play: no answer to wait for (the agent ended the conversation, or the bridge's
   * own last words). `poll: false` relies on the end mark's echo and the deadline alone (the apology's exact timing).
   */
  requestAfterPlayback(outcome: StreamOutcome, options: { deadlineMs?: number; poll?: boolean } = {}): void {
    this.request(outcome, options.deadlineMs);
    this.answered = true;
    this.polling = options.poll ?? true;
    this.check();
  }

  /**
   * A response finished (its audio may still be playing). A cancelled one (the caller talked over a goodbye still
   * being generated) is not the agent's last word: the answer to what the caller said is.
   */
  onResponseDone(status: string): void {
    if (this.requested !== null && this.answerStarted && status !== 'cancelled') this.answered = true;
  }

  /** A response started (only one that starts after the request can be the agent's last words). */
  onResponseStarted(): void {
    if (this.requested !== null) this.answerStarted = true;
  }

  /** The caller talked over the agent: wait for the agent's next answer to finish. */
  onBargeIn(): void {
    this.answered = false;
    this.answerStarted = false;
    if (this.poll !== null) this.clock.clearTimeout(this.poll);
    this.poll = null;
  }

  /** Ends the call if the agent's last answer is done and nothing is left to play; else looks again shortly. */
  check(): void {
    if (this.fired || this.requested === null || !this.answered) return;
    if (!this.playbackActive()) {
      this.fire();
      return;
    }
    if (this.poll !== null || !this.polling) return;
    this.poll = this.clock.setTimeout(() => {
      this.poll = null;
      this.check();
    }, PLAYBACK_POLL_MS);
  }

  dispose(): void {
    if (this.deadline !== null) this.clock.clearTimeout(this.deadline);
    if (this.poll !== null) this.clock.clearTimeout(this.poll);
    this.deadline = null;
    this.poll = null;
  }

  private fire(): void {
    if (this.fired || this.requested === null) return;
    this.fired = true;
    this.dispose();
    this.onDue(this.requested);
  }
}
