/**
 * The HTTP API's one key and one error shape.
 *
 * Every `/api/*` route except the OpenAPI document takes `Authorization: Bearer <CALLBRIDGE_API_KEY>`. The key is
 * compared as SHA-256 digests with timingSafeEqual: both sides are always 32 bytes, so neither the content nor the
 * length of the key leaks through response timing. Without a key configured the API is off (404), never open.
 * Routes the operator console reads (the records API) also take a console session cookie (`session` option).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type express from 'express';
import type { Logger } from '../logger.js';

/** The body of every API error: `{ "error": { "code": "…", "message": "…" } }`. `code` is stable, `message` is for people. */
export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** Answers the API's one error shape. Codes are stable (clients branch on them); messages may change. */
export function jsonError(res: express.Response, status: number, code: string, message: string): void {
  const body: ApiErrorBody = { error: { code, message } };
  res.status(status).json(body);
}

export interface RequireApiKeyOptions {
  /** CALLBRIDGE_API_KEY; null = the API is off (every protected route answers 404 `api_disabled`). */
  apiKey: string | null;
  logger: Logger;
  /** Sent in `WWW-Authenticate: Bearer realm="…"`; absent = no realm. */
  realm?: string;
  /**
   * A second way in: the operator console's signed-in session (cookie), so the console reads the records API without
   * ever holding the key. Consulted only for requests without an Authorization header; absent = bearer key only.
   */
  session?: SessionAuth;
}

/** What a session check says about one request (see console/csrf.ts for the console's). */
export type SessionAuthVerdict =
  /** No session credential on the request: the bearer key decides (401 as without sessions). */
  | { readonly kind: 'absent' }
  /** A live session, allowed this request (same-site and CSRF checks included for state-changing ones). */
  | { readonly kind: 'ok'; readonly who: string }
  /** A session credential that does not let this request through: answered with this status and code. */
  | { readonly kind: 'refused'; readonly status: number; readonly code: string; readonly message: string };

export interface SessionAuth {
  check(req: express.Request): SessionAuthVerdict;
}

/** `Bearer <token>`: the scheme is case-insensitive (RFC 7235), the token is one run of non-space characters. */
const BEARER = /^Bearer +(\S+) *$/i;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Middleware that lets a request through only with the right bearer key (or, when `session` is given, a session
 * credential it accepts). The presented key is never logged, not even in part: a near-miss key is usually the real
 * key with a typo.
 */
export function requireApiKey(options: RequireApiKeyOptions): express.RequestHandler {
  const { logger } = options;
  if (options.apiKey === '') throw new TypeError('requireApiKey: an empty API key would let anyone in; pass null to turn the API off');
  // Digest the configured key once; the string itself is not kept by the middleware.
  const expected = options.apiKey === null ? null : digest(options.apiKey);
  const realm = options.realm === undefined ? '' : ` realm="${options.realm.replace(/["\\]/g, '')}"`;

  return (req, res, next) => {
    if (expected === null) {
      jsonError(res, 404, 'api_disabled', 'The HTTP API is off on this server: set CALLBRIDGE_API_KEY to turn it on.');
      return;
    }
    const header = req.get('authorization');
    // A request that brings a bearer credential is judged by it alone; only one without asks the session.
    if (header === undefined && options.session !== undefined) {
      const verdict = options.session.check(req);
      if (verdict.kind === 'ok') {
        next();
        return;
      }
      if (verdict.kind === 'refused') {
        logger.info({ method: req.method, path: req.baseUrl + req.path, remote: req.ip, reason: verdict.code }, 'API request with a console session refused');
        if (verdict.status === 401) res.set('WWW-Authenticate', `Bearer${realm}`);
        jsonError(res, verdict.status, verdict.code, verdict.message);
        return;
      }
    }
    const presented = header === undefined ? null : BEARER.exec(header)?.[1] ?? null;
    if (presented !== null && timingSafeEqual(digest(presented), expected)) {
      next();
      return;
    }
    const reason = header === undefined ? 'missing' : presented === null ? 'not a Bearer credential' : 'wrong key';
    // Path without the query string: queries can carry phone numbers.
    const where = { method: req.method, path: req.baseUrl + req.path, remote: req.ip, reason };
    if (reason === 'wrong key') logger.warn(where, 'API request with a wrong key refused');
    else logger.info(where, 'API request without a valid Authorization header refused');
    // RFC 6750: `error="invalid_token"` only when a token was presented.
    res.set('WWW-Authenticate', `Bearer${realm}${presented === null ? '' : `${realm === '' ? '' : ','} error="invalid_token"`}`);
    jsonError(
      res,
      401,
      'unauthorized',
      presented === null ? 'Send the API key as "Authorization: Bearer <CALLBRIDGE_API_KEY>".' : 'The API key is not valid.',
    );
  };
}
