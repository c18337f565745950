/**
 * The HTTP face of the simulated ElevenLabs server: `GET /v1/convai/conversation/get-signed-url?agent_id=` (checked
 * with the `xi-api-key` header), the one-time `conversation_signature` tokens it issues, and the refusals of
 * WebSocket upgrades. Error bodies follow the platform's FastAPI shapes (`{"detail": …}`).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export const SIGNED_URL_PATH = '/v1/convai/conversation/get-signed-url';
export const CONVERSATION_PATH = '/v1/convai/conversation';
/** Signed URLs expire 15 minutes after they are issued. */
export const DEFAULT_SIGNED_URL_TTL_MS = 15 * 60_000;

export interface SignedUrlRequest {
  /** ms since the server started (server clock). */
  atMs: number;
  agentId: string | null;
  status: number;
}

export type SignatureVerdict = 'ok' | 'unknown' | 'used' | 'expired' | 'wrong_agent';

/** One-time signatures, each bound to the agent it was issued for. */
export class SignatureStore {
  private readonly issued = new Map<string, { agentId: string; expiresAtMs: number; used: boolean }>();

  constructor(private readonly ttlMs: number) {}

  issue(agentId: string, nowMs: number): string {
    const token = `sim_${randomBytes(24).toString('base64url')}`;
    this.issued.set(token, { agentId, expiresAtMs: nowMs + this.ttlMs, used: false });
    return token;
  }

  /** Checks a signature and, if valid, uses it up. */
  consume(token: string, agentId: string, nowMs: number): SignatureVerdict {
    const entry = this.issued.get(token);
    if (entry === undefined) return 'unknown';
    if (entry.used) return 'used';
    if (nowMs >= entry.expiresAtMs) return 'expired';
    if (entry.agentId !== agentId) return 'wrong_agent';
    entry.used = true;
    return 'ok';
  }
}

export interface SignedUrlDeps {
  apiKey: string;
  hasAgent(agentId: string): boolean;
  signatures: SignatureStore;
  /** `ws://host:port/v1/convai/conversation` */
  wsUrl(): string;
  nowMs(): number;
  record(request: SignedUrlRequest): void;
}

/** Answers every plain HTTP request: the signed-URL endpoint, or 404/405 in FastAPI's shape. */
export function handleHttpRequest(request: IncomingMessage, response: ServerResponse, deps: SignedUrlDeps): void {
  const url = new URL(request.url ?? '/', 'http://simulated.invalid');
  if (url.pathname !== SIGNED_URL_PATH) return sendJson(response, 404, { detail: 'Not Found' });
  if (request.method !== 'GET') return sendJson(response, 405, { detail: 'Method Not Allowed' });
  const agentId = url.searchParams.get('agent_id');
  const answer = (status: number, body: object): void => {
    deps.record({ atMs: deps.nowMs(), agentId, status });
    sendJson(response, status, body);
  };
  const presented = headerValue(request, 'xi-api-key');
  if (presented === undefined || presented !== deps.apiKey) {
    return answer(401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
  }
  if (agentId === null || agentId === '') {
    return answer(422, { detail: [{ type: 'missing', loc: ['query', 'agent_id'], msg: 'Field required', input: null }] });
  }
  if (!deps.hasAgent(agentId)) {
    return answer(404, { detail: { status: 'agent_not_found', message: `Agent with id ${agentId} was not found.` } });
  }
  const token = deps.signatures.issue(agentId, deps.nowMs());
  answer(200, { signed_url: `${deps.wsUrl()}?agent_id=${encodeURIComponent(agentId)}&conversation_signature=${token}` });
}

export function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** Why an upgrade with this signature verdict is refused (403 body). */
export function signatureRefusal(verdict: Exclude<SignatureVerdict, 'ok'>): object {
  const messages: Record<typeof verdict, string> = {
    unknown: 'The conversation signature is invalid.',
    used: 'The conversation signature has already been used.',
    expired: 'The conversation signature has expired.',
    wrong_agent: 'The conversation signature was issued for another agent.',
  };
  return { detail: { status: 'invalid_conversation_signature', message: messages[verdict] } };
}
