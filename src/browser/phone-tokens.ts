/**
 * One-time tokens for the browser phone's WebSocket (`/phone/ws?token=…`). A signed-in console session asks for one
 * (naming the agent); the upgrade presents it and it is consumed, so a token copied out of a page or a log is
 * worth nothing once used and nothing after `ttlMs`. Tokens are random (144 bits) and kept only in this process.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';

export interface PhoneTokenInfo {
  /** The agent the browser call talks to. */
  readonly agentName: string;
  /** Who asked (for logs): the console session's short id. */
  readonly issuedTo: string;
}

export const PHONE_TOKEN_TTL_MS = 60_000;
const TOKEN_BYTES = 18;
const MAX_LIVE_TOKENS = 1_000;

export class PhoneTokens {
  private readonly clock: Clock;
  readonly ttlMs: number;
  // Insertion order is expiry order (constant TTL, monotonic clock): pruning stops at the first live entry.
  private readonly entries = new Map<string, { info: PhoneTokenInfo; expiresAtMs: number }>();

  constructor(options: { clock: Clock; ttlMs?: number }) {
    this.clock = options.clock;
    this.ttlMs = options.ttlMs ?? PHONE_TOKEN_TTL_MS;
  }

  /** Tokens issued and neither used nor expired. */
  get size(): number {
    this.prune();
    return this.entries.size;
  }

  issue(info: PhoneTokenInfo): string {
    this.prune();
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    this.entries.set(token, { info, expiresAtMs: this.clock.now() + this.ttlMs });
    while (this.entries.size > MAX_LIVE_TOKENS) this.entries.delete(this.entries.keys().next().value as string);
    return token;
  }

  /** The token's info if it is live (it is used up now), else null. */
  consume(token: string): PhoneTokenInfo | null {
    this.prune();
    const entry = this.entries.get(token);
    if (entry === undefined) return null;
    this.entries.delete(token);
    return entry.info;
  }

  /** Whether `token` is live, without using it (the upgrade's check before the handshake). */
  isLive(token: string): boolean {
    this.prune();
    return this.entries.has(token);
  }

  private prune(): void {
    const nowMs = this.clock.now();
    for (const [token, entry] of this.entries) {
      if (entry.expiresAtMs > nowMs) break;
      this.entries.delete(token);
    }
  }
}
