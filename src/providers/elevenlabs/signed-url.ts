/**
 * A private agent's conversation URL: `GET <apiBaseUrl>/v1/convai/conversation/get-signed-url?agent_id=<id>` with
 * header `xi-api-key`, answered `{"signed_url":"wss://…"}` (opaque: used as is). The key travels in that header
 * only; no outcome here carries it (an error body is not even read: it is not ours to log, and could quote it).
 */
import type { VoiceAgentFault } from '../../voice/port.js';
import { signedUrlOf } from './wire.js';

export type SignedUrlOutcome =
  | { kind: 'url'; signedUrl: string }
  | { kind: 'fault'; fault: VoiceAgentFault }
  /** `signal` aborted (closed, or the connect timer fired): whoever aborted reports. */
  | { kind: 'aborted' };

/** Never rejects. 401/403 → `unauthorized`; other non-2xx or no ws(s) URL → `handshake_failed`; network → `connect_failed`. */
export async function requestSignedUrl(endpoint: URL, apiKey: string, signal: AbortSignal): Promise<SignedUrlOutcome> {
  let status: number;
  let body: unknown;
  try {
    const response = await fetch(endpoint, { headers: { 'xi-api-key': apiKey, accept: 'application/json' }, signal });
    status = response.status;
    if (response.ok) body = await response.json().catch(() => undefined);
    else await response.body?.cancel().catch(() => undefined);
  } catch (error) {
    if (signal.aborted) return { kind: 'aborted' };
    const cause = (error as { cause?: unknown }).cause;
    const code = errorCode(cause) ?? errorCode(error);
    const detail = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
    return { kind: 'fault', fault: { kind: 'connect_failed', message: `signed URL request failed: ${detail}`, ...(code === undefined ? {} : { code }) } };
  }
  if (signal.aborted) return { kind: 'aborted' };
  if (status < 200 || status > 299) {
    const kind = status === 401 || status === 403 ? 'unauthorized' : 'handshake_failed';
    return { kind: 'fault', fault: { kind, status, message: `signed URL request answered HTTP ${status}` } };
  }
  const signedUrl = signedUrlOf(body);
  if (signedUrl === null) {
    return { kind: 'fault', fault: { kind: 'handshake_failed', status, code: 'bad_signed_url', message: 'signed URL answer has no ws:/wss: signed_url' } };
  }
  return { kind: 'url', signedUrl };
}

/** A Node error's machine code (`ECONNREFUSED`…), if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
