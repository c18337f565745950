/**
 * One-time tokens with a fixed lifetime: issued with some info, consumed once, worthless after `ttlMs`. The Media
 * Stream's token (twilio/stream-tokens.ts) and the browser phone's (browser/phone-tokens.ts) are both this.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';

export interface OneTimeTokensOptions {
  clock: Clock;
  /** Lifetime of a token from issue, in ms: valid while `now < issuedAtMs + ttlMs`. */
  ttlMs: number;
  /** Hard cap on live tokens; the oldest is dropped beyond it. Default 10 000. */
  maxEntries?: number;
}

/** 18 random bytes: 144 bits, 24 base64url characters, no padding, safe in XML attributes and URLs. */
const TOKEN_BYTES = 18;

export class OneTimeTokens<I extends object> {
  private readonly clock: Clock;
  readonly ttlMs: number;
  private readonly maxEntries: number;
  // Insertion order is expiry order (constant TTL, monotonic clock), so pruning stops at the first live entry.
  private readonly entries = new Map<string, { info: I; expiresAtMs: number }>();

  constructor(options: OneTimeTokensOptions) {
    this.clock = options.clock;
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Tokens issued, not consumed and not expired (prunes first, so capacity checks never count dead tokens). */
  get size(): number {
    this.prune();
    return this.entries.size;
  }

  issue(info: I): string {
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
  consume(token: string): I | null {
    const entry = this.entries.get(token);
    if (entry === undefined) return null;
    this.entries.delete(token);
    return this.clock.now() < entry.expiresAtMs ? entry.info : null;
  }

  /** Whether `token` is live, without using it (an upgrade's check before its handshake). */
  isLive(token: string): boolean {
    const entry = this.entries.get(token);
    return entry !== undefined && this.clock.now() < entry.expiresAtMs;
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
