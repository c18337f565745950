/**
 * Console sign-in sessions: the admin key (CALLBRIDGE_API_KEY) is exchanged once for a random session id that the
 * browser keeps in an HttpOnly cookie, so the key itself never sits in the page (where any injected script could read
 * it) nor in every request.
 *
 * What is kept: only the SHA-256 digest of each session id (a memory dump or a debug log of this map lets nobody
 * in), its CSRF token and its absolute expiry on the injected monotonic clock. A session is never renewed by use:
 * a stolen cookie is worth at most `ttlMs`. Expired sessions are remembered for a while so the console can say
 * "expired" rather than "signed out", and the whole table is bounded (the oldest go first).
 *
 * Sign-in is throttled per remote address: after `maxFailures` wrong keys within `failureWindowMs`, further attempts
 * are refused without even looking at the key until the oldest failure leaves the window.
 *
 * Neither the admin key nor a session id ever reaches a log line or an error message; `shortId` (a prefix of the
 * id's digest) is what logs and phone tokens name a session by.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';

export const DEFAULT_MAX_SESSIONS = 1_000;
export const DEFAULT_MAX_FAILURES = 10;
export const DEFAULT_FAILURE_WINDOW_MS = 60_000;
const SESSION_ID_BYTES = 32;
const CSRF_TOKEN_BYTES = 24;
/** How long an expired session is still recognised as expired (then: no_session). */
const EXPIRED_MEMORY_MS = 24 * 3_600_000;
/** Remote addresses whose failures are tracked at most (an address flood cannot grow the table without bound). */
const MAX_TRACKED_ADDRESSES = 10_000;

export interface ConsoleSessionsOptions {
  /** CALLBRIDGE_API_KEY; must not be empty. Only its digest is kept. */
  adminKey: string;
  clock: Clock;
  /** Absolute session lifetime (CONSOLE_SESSION_TTL_S × 1000). */
  ttlMs: number;
  /** Wall-clock ms since the epoch, for the `expiresAtMs` the browser is told (default Date.now). */
  epochNow?: () => number;
  maxSessions?: number;
  /** Wrong keys per remote address within `failureWindowMs` before sign-in is refused (429). */
  maxFailures?: number;
  failureWindowMs?: number;
}

/** A live session, as the routes see it. */
export interface SessionView {
  readonly ok: true;
  readonly csrfToken: string;
  /** Wall-clock expiry, ms since the epoch (what the console shows and schedules its sign-out by). */
  readonly expiresAtMs: number;
  /** A short, non-secret name for logs (a prefix of the id's digest). */
  readonly shortId: string;
}

export type SessionLookup = SessionView | { readonly ok: false; readonly error: 'no_session' | 'session_expired' };

export type SignInResult =
  | (SessionView & { readonly sessionId: string; readonly ttlMs: number })
  | { readonly ok: false; readonly error: 'bad_key' }
  | { readonly ok: false; readonly error: 'too_many_attempts'; readonly retryAfterMs: number };

interface Entry {
  readonly csrfToken: string;
  readonly expiresAtMs: number;
  readonly shortId: string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export class ConsoleSessions {
  readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly epochNow: () => number;
  private readonly keyDigest: Buffer;
  private readonly maxSessions: number;
  private readonly maxFailures: number;
  private readonly failureWindowMs: number;
  // Keyed by the base64url digest of the session id. Insertion order is expiry order (one TTL, monotonic clock).
  private readonly sessions = new Map<string, Entry>();
  // Failure times per remote address, oldest first; re-inserted on each failure so the map's first key is the stalest.
  private readonly failures = new Map<string, number[]>();

  constructor(options: ConsoleSessionsOptions) {
    if (options.adminKey === '') throw new TypeError('ConsoleSessions: an empty admin key would let anyone in');
    if (!(options.ttlMs > 0)) throw new RangeError('ConsoleSessions: ttlMs must be positive');
    this.keyDigest = digest(options.adminKey);
    this.clock = options.clock;
    this.ttlMs = options.ttlMs;
    this.epochNow = options.epochNow ?? Date.now;
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.maxFailures = options.maxFailures ?? DEFAULT_MAX_FAILURES;
    this.failureWindowMs = options.failureWindowMs ?? DEFAULT_FAILURE_WINDOW_MS;
  }

  /** Live sessions (expired ones still remembered are not counted). */
  get size(): number {
    const nowMs = this.clock.now();
    let live = 0;
    for (const entry of this.sessions.values()) if (entry.expiresAtMs > nowMs) live++;
    return live;
  }

  /**
   * Checks the key (digests compared in constant time) and opens a session. `remote` is the client's address, for
   * the throttle only.
   */
  signIn(key: string, remote: string): SignInResult {
    const nowMs = this.clock.now();
    const recent = this.recentFailures(remote, nowMs);
    if (recent.length >= this.maxFailures) {
      // The oldest failure in the window decides when the next attempt is allowed.
      return { ok: false, error: 'too_many_attempts', retryAfterMs: Math.max(1, recent[0]! + this.failureWindowMs - nowMs) };
    }
    if (!timingSafeEqual(digest(key), this.keyDigest)) {
      this.recordFailure(remote, recent, nowMs);
      return { ok: false, error: 'bad_key' };
    }
    this.failures.delete(remote);
    this.prune(nowMs);
    const sessionId = randomBytes(SESSION_ID_BYTES).toString('base64url');
    const id = digest(sessionId).toString('base64url');
    const entry: Entry = { csrfToken: randomBytes(CSRF_TOKEN_BYTES).toString('base64url'), expiresAtMs: nowMs + this.ttlMs, shortId: id.slice(0, 8) };
    this.sessions.set(id, entry);
    while (this.sessions.size > this.maxSessions) this.sessions.delete(this.sessions.keys().next().value as string);
    return { ...this.view(entry, nowMs), sessionId, ttlMs: this.ttlMs };
  }

  /** The session a cookie names, or why there is none. Never renews it. */
  lookup(sessionId: string | undefined | null): SessionLookup {
    if (sessionId === undefined || sessionId === null || sessionId === '') return { ok: false, error: 'no_session' };
    const nowMs = this.clock.now();
    const entry = this.sessions.get(digest(sessionId).toString('base64url'));
    if (entry === undefined) return { ok: false, error: 'no_session' };
    if (entry.expiresAtMs <= nowMs) return { ok: false, error: 'session_expired' };
    return this.view(entry, nowMs);
  }

  /** Ends the session (live or expired). True when there was one. */
  signOut(sessionId: string | undefined | null): boolean {
    if (sessionId === undefined || sessionId === null || sessionId === '') return false;
    return this.sessions.delete(digest(sessionId).toString('base64url'));
  }

  /** Whether `presented` is the session's CSRF token (digests compared in constant time: nothing leaks by timing). */
  static csrfMatches(presented: string | undefined, expected: string): boolean {
    if (presented === undefined || presented === '') return false;
    return timingSafeEqual(digest(presented), digest(expected));
  }

  private view(entry: Entry, nowMs: number): SessionView {
    // Monotonic expiry → wall clock, relative to now: the browser only understands epoch ms.
    return { ok: true, csrfToken: entry.csrfToken, expiresAtMs: Math.round(this.epochNow() + (entry.expiresAtMs - nowMs)), shortId: entry.shortId };
  }

  private recentFailures(remote: string, nowMs: number): number[] {
    const times = this.failures.get(remote);
    if (times === undefined) return [];
    const cutoff = nowMs - this.failureWindowMs;
    while (times.length > 0 && times[0]! <= cutoff) times.shift();
    if (times.length === 0) this.failures.delete(remote);
    return times;
  }

  private recordFailure(remote: string, recent: number[], nowMs: number): void {
    recent.push(nowMs);
    this.failures.delete(remote);
    this.failures.set(remote, recent);
    while (this.failures.size > MAX_TRACKED_ADDRESSES) this.failures.delete(this.failures.keys().next().value as string);
  }

  /** Drops sessions expired for longer than EXPIRED_MEMORY_MS (they are first in the map). */
  private prune(nowMs: number): void {
    for (const [id, entry] of this.sessions) {
      if (entry.expiresAtMs + EXPIRED_MEMORY_MS > nowMs) break;
      this.sessions.delete(id);
    }
  }
}
