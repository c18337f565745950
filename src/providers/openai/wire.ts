/**
 * Small pure pieces of the Realtime wire: the dial URL, log-safe URLs, error flattening and the hot-path serializer.
 */
import type { RealtimeClientEvent, RealtimeErrorEvent } from './events.js';
import { FATAL_ERROR_CODES, type RealtimeApiError, type RealtimeFault } from './connection-types.js';

/** The dial URL: `url` with `model` set as a query parameter, other parameters kept. */
export function realtimeDialUrl(url: string, model: string): URL {
  const dialUrl = new URL(url);
  dialUrl.searchParams.set('model', model);
  return dialUrl;
}

/** A URL safe to log: no userinfo, and values of credential-looking query parameters replaced. */
export function redactUrlForLog(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  for (const key of [...copy.searchParams.keys()]) {
    if (/key|token|secret|sig|auth|pass/i.test(key)) copy.searchParams.set(key, 'REDACTED');
  }
  return copy.href;
}

/** Decoded size of base64 text, in bytes, without decoding it. */
export function base64DecodedLength(base64: string): number {
  let padding = 0;
  if (base64.endsWith('==')) padding = 2;
  else if (base64.endsWith('=')) padding = 1;
  return Math.max(0, Math.floor((base64.length * 3) / 4) - padding);
}

/** Flattens an error event, tolerating a malformed body: the envelope was checked, the payload was not. */
export function toApiError(event: RealtimeErrorEvent): RealtimeApiError {
  const body: Partial<RealtimeErrorEvent['error']> = typeof event.error === 'object' && event.error !== null ? event.error : {};
  return {
    type: typeof body.type === 'string' ? body.type : 'unknown',
    code: typeof body.code === 'string' ? body.code : null,
    message: typeof body.message === 'string' ? body.message : '',
    param: typeof body.param === 'string' ? body.param : null,
    eventId: typeof body.event_id === 'string' ? body.event_id : null,
  };
}

/**
 * JSON for a client event. Audio appends (50 a second per call, each a ~1.3 KB base64 string) are built by
 * concatenation: base64 and our `cb_<n>` ids never need escaping, and JSON.stringify would scan every character.
 */
export function serializeClientEvent(event: RealtimeClientEvent): string {
  if (event.type === 'input_audio_buffer.append' && event.event_id !== undefined && /^[\w.-]*$/.test(event.event_id)) {
    return `{"type":"input_audio_buffer.append","audio":"${event.audio}","event_id":"${event.event_id}"}`;
  }
  return JSON.stringify(event);
}

/**
 * What an API `error` means for the session: most leave it usable (logged, passed on); `session_expired` and the
 * beta-shape refusal end it, and so does a refusal of our own `session.update` while configuring.
 */
export function classifyApiError(apiError: RealtimeApiError, answersSessionUpdate: boolean): { fault: RealtimeFault | null; logMessage: string } {
  const fatalKind = apiError.code === null ? undefined : FATAL_ERROR_CODES[apiError.code];
  if (fatalKind !== undefined) {
    return { fault: { kind: fatalKind, code: apiError.code!, message: apiError.message || `API error ${apiError.code}` }, logMessage: 'realtime API error ends the session' };
  }
  if (answersSessionUpdate) {
    return {
      fault: { kind: 'protocol', code: apiError.code ?? 'session_update_rejected', message: `session.update rejected: ${apiError.message}` },
      logMessage: 'realtime API rejected session.update',
    };
  }
  return { fault: null, logMessage: 'realtime API error (session continues)' };
}

/** A Map that forgets its oldest entry beyond `limit` entries. */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    super.set(key, value);
    if (this.size > this.limit) this.delete(this.keys().next().value!);
    return this;
  }
}
