/**
 * One-time tokens that tie a Media Streams connection to the webhook that admitted it. The webhook issues one and
 * puts it in a `<Parameter>`; the stream presents it in `start.customParameters` and it is consumed. A stream
 * without a live token was not announced by a (signed) webhook of ours.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';

export interface StreamTokenInfo {
  callSid: string;
  from: string;
  to: string;
  /** The agent that answers this stream (chosen by the webhook from the called number). */
  agentName?: string;
  /** Instructions for the agent's first words on a resumed stream (e.g. after a failed transfer). */
  resumeNote?: string;
  /** An outbound call we placed (its job knows the rest). */
  direction?: 'outbound';
  /** Variables given with an outbound call (`{{custom.NAME}}` in the agent's templates). */
  custom?: Readonly<Record<string, string>>;
}

export interface StreamTokenRegistryOptions {
  clock: Clock;
  /** Lifetime of a token from issue, in ms: valid while `now < issuedAtMs + ttlMs`. */
  ttlMs: number;
  /** Hard cap on live tokens; the oldest is dropped beyond it. Default 10 000. */
  maxEntries?: number;
}

interface Entry {
  info: StreamTokenInfo;
  expiresAtMs: number;
}

/** 18 random bytes: 144 bits, 24 base64url characters, no padding, safe in XML attributes and URLs. */
const TOKEN_BYTES = 18;

export class StreamTokenRegistry {
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  // Insertion order is expiry order (constant TTL, monotonic clock), so pruning stops at the first live entry.
  private readonly entries = new Map<string, Entry>();

  constructor(options: StreamTokenRegistryOptions) {
    this.clock = options.clock;
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Tokens issued, not consumed and not expired (prunes first, so capacity checks never count dead tokens). */
  get size(): number {
    this.prune();
    return this.entries.size;
  }

  issue(info: StreamTokenInfo): string {
    this.prune();
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    this.entries.set(token, { info: { ...info }, expiresAtMs: this.clock.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    return token;
  }

  /** The info the token was issued with, once; null when unknown, already used or expired. */
  consume(token: string): StreamTokenInfo | null {
    const entry = this.entries.get(token);
    if (entry === undefined) return null;
    this.entries.delete(token);
    return this.clock.now() < entry.expiresAtMs ? entry.info : null;
  }

  /** Drops expired tokens. Called on every issue; callable from a timer. */
  prune(): void {
    const nowMs = this.clock.now();
    for (const [token, entry] of this.entries) {
      if (entry.expiresAtMs > nowMs) break;
      this.entries.delete(token);
    }
  }
}
