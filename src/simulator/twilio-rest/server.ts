/**
 * The simulated Twilio REST API: the parts of the Calls resource callbridge uses, on a real HTTP server at
 * 127.0.0.1:0, so the real `twilio` client can talk to it once pointed there the supported way:
 *
 *   const client = twilio(accountSid, authToken);
 *   client.api.baseUrl = sim.url; // read on every request
 *
 * Routes (form-encoded bodies, HTTP Basic auth with the account SID and auth token or an API key SID and secret):
 *   POST /2010-04-01/Accounts/{AccountSid}/Calls.json          create → 201 Call resource (`queued`)
 *   GET  /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json    fetch
 *   POST /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json    update: Status=completed|canceled, or Url|Twiml
 * Errors are Twilio's JSON `{code, message, more_info, status}` (401 20003 for bad credentials, 404 20404 for an
 * unknown call or another account's path), which the client raises as RestException.
 *
 * Each created call is run by an OutboundCallEngine against the callee `callees(To)` returns.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { systemClock } from '../../clock.js';
import { silentLogger } from '../../logger.js';
import { listenLocally } from '../plumbing.js';
import { OutboundCallEngine } from './call-engine.js';
import { calleeTimeline } from './callees.js';
import { parseCreateParams, parseUpdateParams } from './create-params.js';
import { callResourceJson, TwilioApiError } from './resource.js';
import type { SimulatedOutboundCall, SimulatedTwilioRest, SimulatedTwilioRestOptions } from './types.js';

export type * from './types.js';
export { DEFAULT_BEEP_HZ, DEFAULT_BEEP_MS, DEFAULT_RECORD_MS } from './callees.js';

const CALLS_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\.json$/;
const CALL_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\/([^/]+)\.json$/;
const DEFAULT_WAIT_MS = 10_000;
const DEFAULT_DIAL_DURATION_MS = 1_000;

interface Waiter {
  sid: string;
  predicate: (call: SimulatedOutboundCall) => boolean;
  resolve: (call: SimulatedOutboundCall) => void;
}

export async function startSimulatedTwilioRest(options: SimulatedTwilioRestOptions): Promise<SimulatedTwilioRest> {
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger()).child({ component: 'simulated-twilio-rest' });
  const engines = new Map<string, OutboundCallEngine>();
  const waiters = new Set<Waiter>();
  const shutdown = new AbortController();
  const fromNumbers = options.fromNumbers === undefined ? null : new Set(options.fromNumbers);

  const onChange = (): void => {
    for (const waiter of waiters) {
      const engine = engines.get(waiter.sid);
      if (engine !== undefined && waiter.predicate(engine.call)) {
        waiters.delete(waiter);
        waiter.resolve(engine.call);
      }
    }
  };

  const authenticated = (request: IncomingMessage): boolean => {
    const match = /^Basic\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (match === null) return false;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    if (user === options.accountSid && password === options.authToken) return true;
    return (options.apiKeys ?? []).some((key) => key.sid === user && key.secret === password);
  };

  const createCall = (form: URLSearchParams): OutboundCallEngine => {
    const request = parseCreateParams(form, fromNumbers);
    const behaviour = options.callees(request.to);
    // Built before anything is dialled: unreadable callee audio fails the create, not the call.
    const timeline = behaviour.kind === 'human' || behaviour.kind === 'voicemail' ? calleeTimeline(behaviour) : null;
    const sid = `CA${randomBytes(16).toString('hex')}`;
    const engine = new OutboundCallEngine({
      sid,
      accountSid: options.accountSid,
      authToken: options.authToken,
      request,
      behaviour,
      timeline,
      clock,
      timeScale: options.timeScale ?? 1,
      dialDurationMs: options.dialDurationMs ?? DEFAULT_DIAL_DURATION_MS,
      keepPayloads: options.keepPayloads ?? true,
      routeUrl: options.routeUrl ?? ((url) => url),
      abort: shutdown.signal,
      logger,
      onChange,
    });
    engines.set(sid, engine);
    logger.debug({ callSid: sid, to: request.to, callee: behaviour.kind }, 'simulated outbound call created');
    return engine;
  };

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://simulated.invalid').pathname;
    const method = request.method ?? 'GET';
    if (!authenticated(request)) {
      response.setHeader('WWW-Authenticate', 'Basic realm="Twilio API"');
      throw new TwilioApiError(401, 20003, 'Authenticate');
    }
    const callsMatch = CALLS_PATH.exec(path);
    const callMatch = CALL_PATH.exec(path);
    const pathAccountSid = callsMatch?.[1] ?? callMatch?.[1];
    if (pathAccountSid === undefined || pathAccountSid !== options.accountSid) throw notFound(path);

    if (callsMatch !== null) {
      if (method !== 'POST') throw new TwilioApiError(405, 20004, 'Method not allowed');
      const engine = createCall(await readForm(request));
      send(response, 201, callResourceJson(engine.resource()));
      engine.start();
      return;
    }
    const engine = engines.get(callMatch![2]!);
    if (engine === undefined) throw notFound(path);
    if (method === 'GET') return send(response, 200, callResourceJson(engine.resource()));
    if (method !== 'POST') throw new TwilioApiError(405, 20004, 'Method not allowed');
    engine.update(parseUpdateParams(await readForm(request)));
    send(response, 200, callResourceJson(engine.resource()));
  };

  const httpServer = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (error instanceof TwilioApiError) return send(response, error.httpStatus, error.body());
      logger.error({ err: error }, 'simulated twilio rest: request failed');
      send(response, 500, { code: 20500, message: `Internal server error: ${(error as Error).message}`, more_info: 'https://www.twilio.com/docs/errors/20500', status: 500 });
    });
  });
  const { port, authority } = await listenLocally(httpServer, { ...(options.host === undefined ? {} : { host: options.host }), ...(options.port === undefined ? {} : { port: options.port }) });

  return {
    url: `http://${authority}`,
    port,
    calls: () => [...engines.values()].map((engine) => engine.call),
    call: (sid) => engines.get(sid)?.call,
    waitForCall(sid, predicate = (call) => call.finished, timeoutMs = DEFAULT_WAIT_MS) {
      const engine = engines.get(sid);
      if (engine === undefined) return Promise.reject(new Error(`no simulated call ${sid}`));
      if (predicate(engine.call)) return Promise.resolve(engine.call);
      return new Promise((resolve, reject) => {
        // Real time on purpose: this waits for socket I/O, which a ManualClock does not drive.
        const timeout = setTimeout(() => {
          waiters.delete(waiter);
          const call = engine.call;
          reject(new Error(`simulated call ${sid}: condition not met within ${timeoutMs} ms (status ${call.status}, finished ${call.finished})`));
        }, timeoutMs);
        const waiter: Waiter = {
          sid,
          predicate,
          resolve: (call) => {
            clearTimeout(timeout);
            resolve(call);
          },
        };
        waiters.add(waiter);
      });
    },
    async close() {
      shutdown.abort();
      for (const engine of engines.values()) engine.shutdown();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

function notFound(path: string): TwilioApiError {
  return new TwilioApiError(404, 20404, `The requested resource ${path} was not found`);
}

function send(response: ServerResponse, status: number, body: object): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A `routeUrl` for an application reached through a public base URL (a tunnel): same path and query on the local
 * origin, `https`→`http` and `wss`→`ws` as the local base's scheme says. Other URLs pass unchanged.
 */
export function rebaseUrls(publicBaseUrl: string, localBaseUrl: string): (url: string) => string {
  const publicBase = new URL(publicBaseUrl);
  const local = new URL(localBaseUrl);
  const secure = local.protocol === 'https:';
  return (url) => {
    const target = new URL(url);
    if (target.host !== publicBase.host) return url;
    const scheme = target.protocol === 'ws:' || target.protocol === 'wss:' ? (secure ? 'wss:' : 'ws:') : local.protocol;
    return `${scheme}//${local.host}${target.pathname}${target.search}`;
  };
}
