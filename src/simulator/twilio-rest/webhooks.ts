/**
 * Every request Twilio makes to the application, made the way Twilio makes it: form-encoded POST (or GET with the
 * params in the query string), `X-Twilio-Signature` with the ACCOUNT auth token over the exact URL given (plus the
 * POST params), the params of an outbound-api call, status callbacks with their sequence numbers, and async AMD
 * verdicts. Each request is logged when sent and completed with its answer.
 */
import twilio from 'twilio';
import type { HttpMethod } from './create-params.js';
import { API_VERSION, rfc2822 } from './resource.js';
import type { AnsweredBy, RequestLogEntry } from './types.js';

/** Twilio waits this long for a webhook before giving up (error 11205). */
const REQUEST_TIMEOUT_MS = 15_000;

export interface CallIdentity {
  sid: string;
  accountSid: string;
  from: string;
  to: string;
}

/** The params every request about an outbound-api call carries. */
export function callParams(call: CallIdentity, callStatus: string): Record<string, string> {
  return {
    AccountSid: call.accountSid,
    ApiVersion: API_VERSION,
    CallSid: call.sid,
    CallStatus: callStatus,
    Called: call.to,
    Caller: call.from,
    Direction: 'outbound-api',
    From: call.from,
    To: call.to,
  };
}

/** SIP answer behind each final status, as Twilio reports it in `SipResponseCode`. */
const SIP_RESPONSE_CODES: Record<string, string> = { completed: '200', busy: '486', 'no-answer': '487', canceled: '487', failed: '404' };

/** The final event's durations: the call's seconds, and the minutes billed (rounded up, at least 1 once answered). */
export interface CallDurations {
  callSec: number;
  billedMinutes: number;
}

/**
 * A status callback's params. `CallStatus` is the event's status (`initiated`, `ringing`, `in-progress`, or the final
 * one); `CallDuration` and `Duration` come only with the final event.
 */
export function statusCallbackParams(
  call: CallIdentity,
  event: { callStatus: string; sequenceNumber: number; timestamp: Date; durations?: CallDurations },
): Record<string, string> {
  const params: Record<string, string> = {
    ...callParams(call, event.callStatus),
    CallbackSource: 'call-progress-events',
    SequenceNumber: String(event.sequenceNumber),
    Timestamp: rfc2822(event.timestamp),
  };
  const sipResponseCode = SIP_RESPONSE_CODES[event.callStatus];
  if (sipResponseCode !== undefined) params['SipResponseCode'] = sipResponseCode;
  if (event.durations !== undefined) {
    params['CallDuration'] = String(event.durations.callSec);
    params['Duration'] = String(event.durations.billedMinutes);
  }
  return params;
}

export function amdCallbackParams(call: CallIdentity, answeredBy: AnsweredBy, detectionMs: number): Record<string, string> {
  return { AccountSid: call.accountSid, AnsweredBy: answeredBy, CallSid: call.sid, MachineDetectionDuration: String(Math.round(detectionMs)) };
}

export interface OutgoingRequest {
  kind: RequestLogEntry['kind'];
  method: HttpMethod;
  url: string;
  params: Record<string, string>;
}

/**
 * Sends one signed request. `log` receives the entry at once (status null) and sees it completed in place when the
 * answer (or the failure) comes; the returned promise resolves then and never rejects.
 */
export async function sendSignedRequest(
  authToken: string,
  request: OutgoingRequest,
  atMs: number,
  log: (entry: RequestLogEntry) => void,
  transport: { abort: AbortSignal; route: (url: string) => string },
): Promise<RequestLogEntry> {
  const url = request.method === 'GET' ? withQuery(request.url, request.params) : request.url;
  // GET is signed over the URL alone (the params are in it); POST over the URL plus the sorted params.
  const signature = twilio.getExpectedTwilioSignature(authToken, url, request.method === 'GET' ? {} : request.params);
  const entry: RequestLogEntry = {
    kind: request.kind,
    atMs,
    method: request.method,
    url,
    params: { ...request.params },
    signature,
    status: null,
    contentType: '',
    body: '',
    error: null,
  };
  log(entry);
  const headers: Record<string, string> = { 'X-Twilio-Signature': signature, 'User-Agent': 'TwilioProxy/1.1', Accept: '*/*' };
  if (request.method === 'POST') headers['Content-Type'] = 'application/x-www-form-urlencoded; charset=utf-8';
  try {
    // Sent to the routed address (a tunnel's local end), signed over the URL Twilio was given.
    const response = await fetch(transport.route(url), {
      method: request.method,
      headers,
      ...(request.method === 'POST' ? { body: new URLSearchParams(request.params).toString() } : {}),
      signal: AbortSignal.any([transport.abort, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    });
    entry.status = response.status;
    entry.contentType = response.headers.get('content-type') ?? '';
    entry.body = await response.text();
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    entry.error = cause?.code ?? cause?.message ?? (error as Error).message;
  }
  return entry;
}

function withQuery(url: string, params: Record<string, string>): string {
  const query = new URLSearchParams(params).toString();
  if (query === '') return url;
  return url + (url.includes('?') ? '&' : '?') + query;
}

/** Callbacks about one call leave one at a time, so they arrive in sequence-number order. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  push<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once everything pushed so far has run. */
  drained(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
