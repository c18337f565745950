/**
 * The operator console's server side (docs/console.md): sign-in, the session-protected `/console/api/*` routes, and
 * the pages. Mount at the root, before any catch-all 404. Without an admin key (CALLBRIDGE_API_KEY) there is no
 * console: every /console path answers 404.
 *
 * Every route but sign-in needs the `cb_session` cookie; state-changing ones are also refused from another site and
 * need the session's `X-CSRF-Token` (csrf.ts). Errors are the API's JSON shape. The admin key, session ids and CSRF
 * tokens never reach a log line: sessions are named by their short id (a digest prefix).
 */
import express from 'express';
import { agentByName } from '../agents/routing.js';
import type { AgentRoster } from '../agents/types.js';
import type { PhoneTokens } from '../browser/phone-tokens.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { RecordStore } from '../records/types.js';
import { jsonError } from '../server/api-auth.js';
import { describeAgentsForConsole } from './agents-view.js';
import { checkConsoleRequest, CSRF_REFUSAL, isCrossSite, isStateChanging, SESSION_COOKIE, sessionIdOf, trustedOriginsOf } from './csrf.js';
import type { LiveCalls } from './live-calls.js';
import { serveLiveStream } from './live-stream.js';
import { overviewWindow, parseOverviewDays, readOverview } from './overview.js';
import { createConsoleOffRouter, createPagesRouter, securityHeaders } from './pages.js';
import { ConsoleSessions, type SessionView } from './sessions.js';

export interface ConsoleRouterDeps {
  config: Readonly<Config>;
  logger: Logger;
  clock: Clock;
  /** CALLBRIDGE_API_KEY; null = no console (404 everywhere under /console). */
  adminKey: string | null;
  /** Where `npm run build` put the console (dist/web): index.html and assets/. */
  assetsDir: string;
  roster: AgentRoster;
  phoneTokens: PhoneTokens;
  liveCalls: LiveCalls;
  /** Ends a live call (the call says goodbye its own way); false when no such call is live here. */
  hangUp(callSid: string, reason: string): boolean;
  /** The records store; null while it opens or when records are off (the overview answers 503). */
  store(): RecordStore | null;
  /**
   * The sessions, when the app shares them with the records API (`consoleSessionAuth`); absent = made here from the
   * admin key and CONSOLE_SESSION_TTL_S (see `createConsoleSessions`).
   */
  sessions?: ConsoleSessions | null;
  /** Wall clock, ms since the epoch: the overview's window (default Date.now). */
  epochNow?: () => number;
}

/** Open live streams at most (each is a long-lived response); beyond it 503. */
export const MAX_LIVE_STREAMS = 64;
/** The end reason a call gets when an operator hangs it up from the console. */
export const OPERATOR_HANGUP_REASON = 'operator_hung_up';
const BODY_LIMIT = '4kb';
/** Browser calls (`WB…`) and Twilio calls (`CA…`): letters, digits, `_` and `-`; anything else cannot be live. */
const LIVE_CALL_SID = /^[A-Za-z0-9_-]{1,64}$/;

/** The console's sessions for this configuration, or null when there is no console (no admin key). */
export function createConsoleSessions(options: { config: Readonly<Config>; clock: Clock; adminKey: string | null; epochNow?: () => number }): ConsoleSessions | null {
  if (options.adminKey === null || options.adminKey === '') return null;
  return new ConsoleSessions({
    adminKey: options.adminKey,
    clock: options.clock,
    ttlMs: options.config.console.sessionTtlS * 1000,
    ...(options.epochNow === undefined ? {} : { epochNow: options.epochNow }),
  });
}

/** `Set-Cookie` for the session (or, with `sessionId` null, its removal). Secure when the request came over https. */
export function sessionCookie(sessionId: string | null, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${sessionId ?? ''}; Max-Age=${sessionId === null ? 0 : maxAgeS}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

type SessionHandler = (req: express.Request, res: express.Response, session: SessionView, sessionId: string) => void | Promise<void>;

export function createConsoleRouter(deps: ConsoleRouterDeps): express.Router {
  const { logger } = deps;
  const sessions = deps.sessions === undefined ? createConsoleSessions(deps) : deps.sessions;
  const router = express.Router();
  router.use('/console', securityHeaders);
  if (deps.adminKey === null || sessions === null) {
    router.use(createConsoleOffRouter((res) => jsonError(res, 404, 'console_off', 'The console is off on this server: set CALLBRIDGE_API_KEY to turn it on.')));
    return router;
  }
  const epochNow = deps.epochNow ?? Date.now;
  const trusted = trustedOriginsOf(deps.config.server.publicBaseUrl);
  const json = express.json({ limit: BODY_LIMIT, strict: true, type: () => true });
  let liveStreams = 0;

  const api = express.Router();
  // Session data and call data: no cache may keep any of it.
  api.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  /** Parses the JSON body; null after answering 400. */
  const bodyOf = (req: express.Request, res: express.Response, example: string): Promise<Record<string, unknown> | null> =>
    new Promise((resolve) => {
      json(req, res, (error?: unknown) => {
        const body: unknown = req.body;
        if (error !== undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
          jsonError(res, 400, 'bad_request', `The body must be a JSON object like ${example}.`);
          resolve(null);
        } else resolve(body as Record<string, unknown>);
      });
    });

  /** Runs `handler` with the request's session, or answers 401/403 (see csrf.ts); failures are a logged 500. */
  const withSession =
    (route: string, handler: SessionHandler): express.RequestHandler =>
    (req, res) => {
      if (isStateChanging(req.method) && isCrossSite(req, trusted)) return jsonError(res, CSRF_REFUSAL.status, CSRF_REFUSAL.code, CSRF_REFUSAL.message);
      const verdict = checkConsoleRequest(req, sessions, trusted);
      if (verdict.kind === 'absent') return jsonError(res, 401, 'no_session', 'Not signed in to the console: sign in with the admin key.');
      if (verdict.kind === 'refused') return jsonError(res, verdict.status, verdict.code, verdict.message);
      Promise.resolve()
        .then(() => handler(req, res, verdict.session, verdict.sessionId))
        .catch((error: unknown) => {
          logger.error({ err: error, route }, 'console API request failed');
          if (res.headersSent) res.destroy();
          else jsonError(res, 500, 'internal', 'Internal error; the details are in the server log.');
        });
    };

  api.post('/session', async (req, res) => {
    // Login CSRF: another site must not sign a browser in (to the attacker's session or otherwise).
    if (isCrossSite(req, trusted)) return jsonError(res, CSRF_REFUSAL.status, CSRF_REFUSAL.code, CSRF_REFUSAL.message);
    const body = await bodyOf(req, res, '{"key":"…"}');
    if (body === null) return;
    const key = body['key'];
    if (typeof key !== 'string' || key === '') return jsonError(res, 400, 'bad_request', 'The body must be a JSON object like {"key":"…"}.');
    const remote = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const result = sessions.signIn(key, remote);
    if (!result.ok) {
      if (result.error === 'too_many_attempts') {
        logger.debug({ remote }, 'console sign-in refused: too many wrong keys from this address');
        res.set('Retry-After', String(Math.ceil(result.retryAfterMs / 1000)));
        return jsonError(res, 429, 'too_many_attempts', 'Too many wrong keys from this address; wait a minute and try again.');
      }
      logger.warn({ remote }, 'console sign-in with a wrong key refused');
      return jsonError(res, 401, 'bad_key', 'That is not the admin key (CALLBRIDGE_API_KEY).');
    }
    // A browser signing in again leaves its old session behind: end it rather than let it linger until it expires.
    sessions.signOut(sessionIdOf(req));
    logger.info({ remote, session: result.shortId }, 'console signed in');
    res.append('Set-Cookie', sessionCookie(result.sessionId, Math.floor(result.ttlMs / 1000), req.secure));
    res.status(200).json({ csrfToken: result.csrfToken, expiresAtMs: result.expiresAtMs });
  });

  api.get(
    '/session',
    withSession('GET /console/api/session', (_req, res, session) => {
      res.json({ csrfToken: session.csrfToken, expiresAtMs: session.expiresAtMs });
    }),
  );

  api.delete('/session', (req, res) => {
    if (isCrossSite(req, trusted)) return jsonError(res, CSRF_REFUSAL.status, CSRF_REFUSAL.code, CSRF_REFUSAL.message);
    const verdict = checkConsoleRequest(req, sessions, trusted);
    // A live session needs its CSRF token to be ended; a dead or unknown one is only a stale cookie to clear.
    if (verdict.kind === 'refused' && verdict.status === 403) return jsonError(res, verdict.status, verdict.code, verdict.message);
    if (verdict.kind === 'ok') {
      sessions.signOut(verdict.sessionId);
      logger.info({ session: verdict.session.shortId }, 'console signed out');
    }
    res.append('Set-Cookie', sessionCookie(null, 0, req.secure));
    res.status(204).end();
  });

  api.get(
    '/live',
    withSession('GET /console/api/live', (req, res, _session, sessionId) => {
      // HEAD gets the headers only: a stream with no body would never end.
      if (req.method === 'HEAD') return void res.status(200).type('text/event-stream').set('Cache-Control', 'no-store').end();
      if (liveStreams >= MAX_LIVE_STREAMS) {
        res.set('Retry-After', '10');
        return jsonError(res, 503, 'too_many_streams', `At most ${MAX_LIVE_STREAMS} live streams are open at once; close a console tab.`);
      }
      liveStreams++;
      serveLiveStream(req, res, {
        liveCalls: deps.liveCalls,
        clock: deps.clock,
        logger,
        stillValid: () => sessions.lookup(sessionId).ok,
        onEnd: () => {
          liveStreams--;
        },
      });
    }),
  );

  api.post(
    '/calls/:callSid/hangup',
    withSession('POST /console/api/calls/:callSid/hangup', (req, res, session) => {
      const callSid = req.params['callSid'];
      if (typeof callSid !== 'string' || !LIVE_CALL_SID.test(callSid) || !deps.hangUp(callSid, OPERATOR_HANGUP_REASON)) {
        return jsonError(res, 404, 'not_found', 'No such call is live on this server.');
      }
      logger.info({ callSid, session: session.shortId }, 'console: an operator hung up a call');
      res.status(202).json({});
    }),
  );

  api.get(
    '/overview',
    withSession('GET /console/api/overview', async (req, res) => {
      const unknown = Object.keys(req.query).find((name) => name !== 'days');
      const days = parseOverviewDays(req.query['days']);
      if (unknown !== undefined || days === null) return jsonError(res, 400, 'bad_parameter', 'days: an integer from 1 to 90 (the only parameter)');
      const store = deps.store();
      if (store === null) {
        res.set('Retry-After', '5');
        return jsonError(res, 503, 'records_unavailable', 'The call records database is not available (records off, starting or unreachable).');
      }
      const { overview, capped } = await readOverview(store, overviewWindow(epochNow(), days));
      if (capped) logger.warn({ days }, 'console overview: more calls in the window than are read; the oldest are left out');
      res.json(overview);
    }),
  );

  const agents = describeAgentsForConsole(deps.roster);
  api.get(
    '/agents',
    withSession('GET /console/api/agents', (_req, res) => {
      res.json({ agents });
    }),
  );

  api.post(
    '/phone-token',
    withSession('POST /console/api/phone-token', async (req, res, session) => {
      const body = await bodyOf(req, res, '{"agent":"name"}');
      if (body === null) return;
      const name = body['agent'];
      if (typeof name !== 'string' || name === '') return jsonError(res, 400, 'bad_request', 'The body must be a JSON object like {"agent":"name"}.');
      const agent = agentByName(deps.roster, name);
      if (agent === null) return jsonError(res, 404, 'unknown_agent', 'No agent of that name.');
      const token = deps.phoneTokens.issue({ agentName: agent.name, issuedTo: session.shortId });
      logger.info({ agent: agent.name, session: session.shortId }, 'console: browser-phone token issued');
      // The token lives in this instance: behind a load balancer the socket must come here, so name this instance's
      // own URL when it has one of its own (docs/scale-out.md).
      const { instancePublicUrl } = deps.config.cluster;
      const base = instancePublicUrl === deps.config.server.publicBaseUrl ? '' : instancePublicUrl;
      res.json({ token, url: `${base}/phone/ws?token=${encodeURIComponent(token)}`, expiresInS: Math.round(deps.phoneTokens.ttlMs / 1000) });
    }),
  );

  api.use((_req, res) => jsonError(res, 404, 'not_found', 'No such console API route.'));

  router.use('/console/api', api);
  router.use(createPagesRouter(deps.assetsDir, logger));
  return router;
}
