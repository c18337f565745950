/**
 * The browser phone's WebSocket upgrade (`/phone/ws?token=…&rate=…`), checked in ws's `verifyClient` like the Media
 * Stream's, so a refused upgrade gets a plain HTTP status and never a socket:
 *   - 401 without a live one-time token (issued to a signed-in console session, see console/router.ts);
 *   - 403 when the `Origin` names another site (a page elsewhere must not ride on a token it somehow saw);
 *   - 400 for a rate other than 16000 or 24000.
 * The token is only looked at here; the route consumes it after the handshake.
 */
import type http from 'node:http';
import type { PhoneTokens } from './phone-tokens.js';

export const PHONE_WS_PATH = '/phone/ws';
export const PHONE_RATES_HZ = [16_000, 24_000] as const;
export const DEFAULT_PHONE_RATE_HZ = 24_000;

export type PhoneUpgradeCheck = { ok: true; token: string; rateHz: number } | { ok: false; status: 400 | 401 | 403; reason: string };

export function isPhoneUpgrade(req: http.IncomingMessage): boolean {
  const rawUrl = req.url ?? '';
  const queryAt = rawUrl.indexOf('?');
  return (queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt)) === PHONE_WS_PATH;
}

/** The query of an upgrade request (only its own parameters are read). */
function queryOf(req: http.IncomingMessage): URLSearchParams {
  const rawUrl = req.url ?? '';
  const queryAt = rawUrl.indexOf('?');
  return new URLSearchParams(queryAt === -1 ? '' : rawUrl.slice(queryAt + 1));
}

/** Same site: the page's origin names the host the request came to (any scheme: TLS may end at a proxy). */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * `trustedOrigins`: our own other origins (the load balancer's PUBLIC_BASE_URL): a console page served there opens
 * the socket on this instance's own URL, where the token lives.
 */
export function checkPhoneUpgrade(req: http.IncomingMessage, tokens: PhoneTokens, trustedOrigins: readonly string[] = []): PhoneUpgradeCheck {
  const origin = req.headers.origin;
  if (origin !== undefined && !isSameOrigin(origin, req.headers.host) && !trustedOrigins.includes(origin.toLowerCase())) {
    return { ok: false, status: 403, reason: 'Cross-site WebSocket refused' };
  }
  const query = queryOf(req);
  const rateText = query.get('rate');
  const rateHz = rateText === null ? DEFAULT_PHONE_RATE_HZ : Number(rateText);
  if (!(PHONE_RATES_HZ as readonly number[]).includes(rateHz)) return { ok: false, status: 400, reason: 'rate must be 16000 or 24000' };
  const token = query.get('token');
  if (token === null || !tokens.isLive(token)) return { ok: false, status: 401, reason: 'Missing, expired or used phone token' };
  return { ok: true, token, rateHz };
}
