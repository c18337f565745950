/**
 * One-time tokens for the browser phone's WebSocket (`/phone/ws?token=…`). A signed-in console session asks for one
 * (naming the agent); the upgrade presents it and it is consumed, so a token copied out of a page or a log is
 * worth nothing once used and nothing after `ttlMs`. Tokens are random (144 bits) and kept only in this process.
 */
import type { Clock } from '../clock.js';
import { OneTimeTokens } from '../net/one-time-tokens.js';

export interface PhoneTokenInfo {
  /** The agent the browser call talks to. */
  readonly agentName: string;
  /** Who asked (for logs): the console session's short id. */
  readonly issuedTo: string;
}

export const PHONE_TOKEN_TTL_MS = 60_000;

export class PhoneTokens extends OneTimeTokens<PhoneTokenInfo> {
  constructor(options: { clock: Clock; ttlMs?: number }) {
    super({ clock: options.clock, ttlMs: options.ttlMs ?? PHONE_TOKEN_TTL_MS, maxEntries: 1_000 });
  }
}
