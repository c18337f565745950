/**
 * Same-site checks for the console's cookie session (login CSRF and CSRF), and the session check the records API
 * reuses.
 *
 * Three layers, any one of which stops a forged request: the cookie is SameSite=Strict (a browser does not send it
 * with a request another site starts); a state-changing request (POST, PUT, PATCH, DELETE) whose `Origin` is not ours
 * — or, without an Origin, whose `Sec-Fetch-Site` is `cross-site` — is refused; and a state-changing request made
 * with a session must carry the session's CSRF token in `X-CSRF-Token`, which another site cannot read.
 *
 * "Ours" is the request's own origin, `${req.protocol}://${req.host}`: express derives both from the socket and the
 * Host header, and honours X-Forwarded-Proto / X-Forwarded-Host only when the app's 'trust proxy' setting trusts the
 * peer. Behind a TLS-terminating proxy without 'trust proxy', the request looks like http while the browser says
 * https, so the configured PUBLIC_BASE_URL origin is accepted too (it is ours by definition). A request without
 * either header (curl, the terminal client) is not a browser's cross-site request and passes this check.
 */
import { parseCookie } from 'cookie';
import type express from 'express';
import type { SessionAuth, SessionAuthVerdict } from '../server/api-auth.js';
import { ConsoleSessions, type SessionView } from './sessions.js';

export const SESSION_COOKIE = 'cb_session';
export const CSRF_HEADER = 'X-CSRF-Token';

const STATE_CHANGING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isStateChanging(method: string): boolean {
  return STATE_CHANGING.has(method.toUpperCase());
}

/** The request's own origin as express sees it (see the file comment for when proxies' headers count). */
export function ownOrigin(req: express.Request): string | null {
  const host = req.host;
  return host === undefined ? null : `${req.protocol}://${host}`.toLowerCase();
}

/**
 * True when a browser says the request came from another site: an `Origin` that is neither the request's own origin
 * nor one of `trustedOrigins` (an opaque `null` origin included), or no Origin and `Sec-Fetch-Site: cross-site`.
 */
export function isCrossSite(req: express.Request, trustedOrigins: readonly string[]): boolean {
  const origin = req.get('origin');
  if (origin !== undefined) {
    const presented = origin.trim().toLowerCase();
    return presented !== ownOrigin(req) && !trustedOrigins.includes(presented);
  }
  return req.get('sec-fetch-site')?.trim().toLowerCase() === 'cross-site';
}

/** The session id the `cb_session` cookie carries, if any. */
export function sessionIdOf(req: express.Request): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined || header === '') return undefined;
  const value = parseCookie(header)[SESSION_COOKIE];
  return value === undefined || value === '' ? undefined : value;
}

/** A session's verdict on one request: no cookie at all, a live session, or a refusal to answer as is. */
export type ConsoleRequestVerdict =
  | { readonly kind: 'absent' }
  | { readonly kind: 'ok'; readonly session: SessionView; readonly sessionId: string }
  | { readonly kind: 'refused'; readonly status: 401 | 403; readonly code: string; readonly message: string };

export const CSRF_REFUSAL = {
  kind: 'refused',
  status: 403,
  code: 'csrf',
  message: 'Refused: the request came from another site, or lacks the session\'s X-CSRF-Token header.',
} as const satisfies ConsoleRequestVerdict;

/**
 * Checks the request's session cookie: its session must be live and, for a state-changing request, the request must
 * be same-site and carry the session's CSRF token. A request without the cookie is `absent` (the caller decides).
 */
export function checkConsoleRequest(req: express.Request, sessions: ConsoleSessions, trustedOrigins: readonly string[]): ConsoleRequestVerdict {
  const sessionId = sessionIdOf(req);
  if (sessionId === undefined) return { kind: 'absent' };
  const stateChanging = isStateChanging(req.method);
  if (stateChanging && isCrossSite(req, trustedOrigins)) return CSRF_REFUSAL;
  const session = sessions.lookup(sessionId);
  if (!session.ok) {
    return session.error === 'session_expired'
      ? { kind: 'refused', status: 401, code: 'session_expired', message: 'The console session has expired; sign in again.' }
      : { kind: 'refused', status: 401, code: 'no_session', message: 'Not signed in to the console (or signed out); sign in again.' };
  }
  if (stateChanging && !ConsoleSessions.csrfMatches(req.get(CSRF_HEADER), session.csrfToken)) return CSRF_REFUSAL;
  return { kind: 'ok', session, sessionId };
}

/** The console session as a second way through `requireApiKey` (the records API: the console reads history there). */
export function consoleSessionAuth(sessions: ConsoleSessions, trustedOrigins: readonly string[]): SessionAuth {
  return {
    check(req): SessionAuthVerdict {
      const verdict = checkConsoleRequest(req, sessions, trustedOrigins);
      if (verdict.kind === 'ok') return { kind: 'ok', who: `console:${verdict.session.shortId}` };
      return verdict;
    },
  };
}

/** The origins accepted besides the request's own: the configured public origin (PUBLIC_BASE_URL). */
export function trustedOriginsOf(publicBaseUrl: string): string[] {
  try {
    return [new URL(publicBaseUrl).origin.toLowerCase()];
  } catch {
    return [];
  }
}
