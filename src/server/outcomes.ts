/**
 * What each call asked for when its stream closed (hang up, transfer, upstream lost), kept until Twilio's
 * `<Connect action>` (and, for a transfer, `<Dial action>`) request asks. Bounded in time and size: a call whose
 * request never comes (the caller hung up) is forgotten.
 */
import type { StreamOutcome } from '../call/after-stream.js';
import type { Clock } from '../clock.js';

/** Long enough for a transfer target to ring out and Twilio to report the dial's result. */
const OUTCOME_TTL_MS = 15 * 60_000;
const MAX_OUTCOMES = 10_000;

export class OutcomeStore {
  private readonly entries = new Map<string, { outcome: StreamOutcome; expiresAtMs: number }>();

  constructor(private readonly clock: Clock) {}

  set(callSid: string, outcome: StreamOutcome): void {
    this.entries.delete(callSid);
    this.entries.set(callSid, { outcome, expiresAtMs: this.clock.now() + OUTCOME_TTL_MS });
    this.prune();
  }

  get(callSid: string): StreamOutcome | null {
    const entry = this.entries.get(callSid);
    if (entry === undefined || entry.expiresAtMs <= this.clock.now()) return null;
    return entry.outcome;
  }

  delete(callSid: string): void {
    this.entries.delete(callSid);
  }

  private prune(): void {
    const nowMs = this.clock.now();
    for (const [callSid, entry] of this.entries) {
      if (this.entries.size <= MAX_OUTCOMES && entry.expiresAtMs > nowMs) break;
      this.entries.delete(callSid);
    }
  }
}
