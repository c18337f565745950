/**
 * The HTTP half of `npm run chat`: sign in to the console with the admin key, list the agents, ask for a one-time
 * browser-phone token (docs/console.md). Every failure is a ChatError with one line; the key is never in one.
 * State-changing requests carry the session cookie, the CSRF token and an Origin equal to the base URL's.
 */
import { ChatError, EXIT } from './args.js';

const HTTP_TIMEOUT_MS = 15_000;

export interface ConsoleSession {
  readonly baseUrl: string;
  /** The base URL's origin, sent as `Origin` (the server refuses other sites). */
  readonly origin: string;
  /** `cb_session=…`, for the Cookie header. */
  readonly cookie: string;
  readonly csrfToken: string;
}

export interface PhoneToken {
  /** `/phone/ws?token=…`, relative to the base URL. */
  readonly url: string;
  readonly expiresInS: number;
}

type Fetch = typeof fetch;

interface Answer {
  readonly status: number;
  readonly json: unknown;
  readonly headers: Headers;
}

async function request(fetchImpl: Fetch, baseUrl: string, method: 'GET' | 'POST', pathname: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  let response: Response;
  try {
    response = await fetchImpl(`${baseUrl}${pathname}`, {
      method,
      headers: { Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      redirect: 'manual',
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (error) {
    throw new ChatError(EXIT.refused, `chat: cannot reach callbridge at ${baseUrl}: ${fetchFailure(error)}`);
  }
  const text = await response.text().catch(() => '');
  let json: unknown = null;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    json = null;
  }
  return { status: response.status, json, headers: response.headers };
}

/** Why a fetch failed, in one line (fetch hides the cause: ECONNREFUSED, ENOTFOUND, …). */
export function fetchFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${HTTP_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** The `{error: {code}}` of an API error answer, or null. */
export function errorCode(body: unknown): string | null {
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code : null;
}

/** One line for an answer that is not the expected one. */
export function refusalLine(what: string, status: number, body: unknown): string {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code === 'string') {
    const message = typeof error.message === 'string' ? error.message.replace(/\s+/g, ' ').trim().slice(0, 300) : '';
    return `chat: ${what} refused (HTTP ${status}): ${error.code}${message === '' ? '' : `: ${message}`}`;
  }
  return `chat: ${what} refused (HTTP ${status}): not a callbridge answer`;
}

/** `cb_session=value` from the Set-Cookie headers, or null. */
export function sessionCookie(headers: Headers): string | null {
  for (const line of headers.getSetCookie()) {
    const pair = line.split(';', 1)[0]!.trim();
    if (pair.startsWith('cb_session=') && pair.length > 'cb_session='.length) return pair;
  }
  return null;
}

/** POST /console/api/session {key}. */
export async function signIn(baseUrl: string, key: string, fetchImpl: Fetch = fetch): Promise<ConsoleSession> {
  const origin = new URL(baseUrl).origin;
  const answer = await request(fetchImpl, baseUrl, 'POST', '/console/api/session', { Origin: origin }, { key });
  if (answer.status === 401 && errorCode(answer.json) === 'bad_key') throw new ChatError(EXIT.refused, 'chat: the admin key was refused (CALLBRIDGE_API_KEY / --key)');
  if (answer.status === 404) {
    throw new ChatError(EXIT.consoleOff, `chat: the console is off at ${baseUrl}: start callbridge with CALLBRIDGE_API_KEY set to turn it on`);
  }
  const csrfToken = (answer.json as { csrfToken?: unknown } | null)?.csrfToken;
  if (answer.status !== 200 || typeof csrfToken !== 'string') throw new ChatError(EXIT.refused, refusalLine('sign-in', answer.status, answer.json));
  const cookie = sessionCookie(answer.headers);
  if (cookie === null) throw new ChatError(EXIT.refused, 'chat: sign-in answered without a cb_session cookie');
  return { baseUrl, origin, cookie, csrfToken };
}

function sessionHeaders(session: ConsoleSession): Record<string, string> {
  return { Cookie: session.cookie, 'X-CSRF-Token': session.csrfToken, Origin: session.origin };
}

/** GET /console/api/agents → the agents' names, in the server's order. */
export async function listAgents(session: ConsoleSession, fetchImpl: Fetch = fetch): Promise<string[]> {
  const answer = await request(fetchImpl, session.baseUrl, 'GET', '/console/api/agents', sessionHeaders(session));
  const agents = (answer.json as { agents?: unknown } | null)?.agents;
  if (answer.status !== 200 || !Array.isArray(agents)) throw new ChatError(EXIT.refused, refusalLine('the agent list', answer.status, answer.json));
  return agents.map((agent) => (agent as { name?: unknown } | null)?.name).filter((name): name is string => typeof name === 'string');
}

/** POST /console/api/phone-token {agent}; an unknown agent is one line naming the ones there are. */
export async function phoneToken(session: ConsoleSession, agent: string, fetchImpl: Fetch = fetch): Promise<PhoneToken> {
  const answer = await request(fetchImpl, session.baseUrl, 'POST', '/console/api/phone-token', sessionHeaders(session), { agent });
  if (answer.status === 404 && errorCode(answer.json) === 'unknown_agent') {
    const names = await listAgents(session, fetchImpl).catch(() => null);
    const known = names === null ? 'could not list them' : names.length === 0 ? 'none' : names.join(', ');
    throw new ChatError(EXIT.refused, `chat: no agent named "${agent}" (agents: ${known})`);
  }
  const token = answer.json as { url?: unknown; expiresInS?: unknown } | null;
  if (answer.status !== 200 || typeof token?.url !== 'string') throw new ChatError(EXIT.refused, refusalLine('the phone token', answer.status, answer.json));
  return { url: token.url, expiresInS: typeof token.expiresInS === 'number' ? token.expiresInS : 60 };
}

/** `{ws(s) base}{url}&rate=…`: the socket's address from the base URL and the token's relative URL. */
export function phoneSocketUrl(baseUrl: string, tokenUrl: string, rateHz: number): string {
  const wsBase = baseUrl.replace(/^http(s?):/, 'ws$1:');
  return `${wsBase}${tokenUrl}${tokenUrl.includes('?') ? '&' : '?'}rate=${rateHz}`;
}
