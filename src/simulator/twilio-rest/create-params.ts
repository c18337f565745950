/**
 * Reading `POST …/Calls.json` as Twilio does: required To/From/Url|Twiml, numbers in E.164, absolute http(s) URLs,
 * the enums, and the numeric limits (clamped where Twilio clamps). A bad request is a TwilioApiError with the code
 * Twilio answers (21201/21211 To, 21213/21212/21210 From, 21205 Url, 21609 StatusCallback); where Twilio's exact
 * code for an enum is not documented, 20001 "invalid parameter".
 */
import { TwilioApiError } from './resource.js';

export type StatusCallbackEvent = 'initiated' | 'ringing' | 'answered' | 'completed';
export type HttpMethod = 'GET' | 'POST';
export type MachineDetection = 'Enable' | 'DetectMessageEnd';

export interface CreateCallRequest {
  to: string;
  from: string;
  /** Url wins when both are given. */
  url: string | null;
  method: HttpMethod;
  twiml: string | null;
  statusCallback: string | null;
  statusCallbackMethod: HttpMethod;
  /** Default: only `completed`. */
  statusCallbackEvents: ReadonlySet<StatusCallbackEvent>;
  timeoutSec: number;
  timeLimitSec: number;
  machineDetection: MachineDetection | null;
  machineDetectionTimeoutMs: number;
  machineDetectionSpeechThresholdMs: number;
  machineDetectionSpeechEndThresholdMs: number;
  machineDetectionSilenceTimeoutMs: number;
  asyncAmd: boolean;
  asyncAmdStatusCallback: string | null;
  asyncAmdStatusCallbackMethod: HttpMethod;
  /** Every param as received, repeated ones joined by commas (for the record). */
  raw: Record<string, string>;
}

const E164 = /^\+[1-9]\d{1,14}$/;
const EVENTS: readonly StatusCallbackEvent[] = ['initiated', 'ringing', 'answered', 'completed'];
/** Twilio's defaults and bounds (seconds or ms as named). */
const DEFAULT_TIMEOUT_SEC = 60;
const MAX_TIMEOUT_SEC = 600;
const DEFAULT_TIME_LIMIT_SEC = 14_400;
const MAX_TIME_LIMIT_SEC = 86_400;
const AMD_TIMEOUT_SEC = { fallback: 30, min: 3, max: 59 };
const AMD_SPEECH_THRESHOLD_MS = { fallback: 2_400, min: 1_000, max: 6_000 };
const AMD_SPEECH_END_THRESHOLD_MS = { fallback: 1_200, min: 500, max: 5_000 };
const AMD_SILENCE_TIMEOUT_MS = { fallback: 5_000, min: 2_000, max: 10_000 };

/** Throws TwilioApiError for what Twilio refuses. `fromNumbers`: the account's numbers, or null to accept any. */
export function parseCreateParams(form: URLSearchParams, fromNumbers: ReadonlySet<string> | null): CreateCallRequest {
  const raw: Record<string, string> = {};
  for (const key of new Set(form.keys())) raw[key] = form.getAll(key).join(',');
  const get = (name: string): string | null => {
    const value = form.get(name);
    return value === null || value === '' ? null : value;
  };

  const to = get('To');
  if (to === null) throw new TwilioApiError(400, 21201, "No 'To' number is specified");
  if (!E164.test(to) && !/^(client|sip):\S+$/.test(to)) throw new TwilioApiError(400, 21211, `Invalid 'To' Phone Number: ${to}`);
  const from = get('From');
  if (from === null) throw new TwilioApiError(400, 21213, "No 'From' number is specified");
  if (!E164.test(from)) throw new TwilioApiError(400, 21212, `Invalid From Number (caller ID): ${from}`);
  if (fromNumbers !== null && !fromNumbers.has(from)) {
    throw new TwilioApiError(400, 21210, `The source phone number provided, ${from}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio.`);
  }

  const url = get('Url');
  const twiml = get('Twiml');
  if (url === null && twiml === null) {
    if (get('ApplicationSid') !== null) throw new TwilioApiError(400, 20001, 'ApplicationSid is not supported by this simulator: pass Url or Twiml');
    throw new TwilioApiError(400, 21205, 'Either Url, Twiml or ApplicationSid must be provided');
  }
  if (url !== null && !isHttpUrl(url)) throw new TwilioApiError(400, 21205, `Url is not a valid URL: ${url}`);
  const statusCallback = get('StatusCallback');
  if (statusCallback !== null && !isHttpUrl(statusCallback)) throw new TwilioApiError(400, 21609, `Invalid StatusCallback url: ${statusCallback}`);
  const asyncAmdStatusCallback = get('AsyncAmdStatusCallback');
  if (asyncAmdStatusCallback !== null && !isHttpUrl(asyncAmdStatusCallback)) {
    throw new TwilioApiError(400, 21609, `Invalid AsyncAmdStatusCallback url: ${asyncAmdStatusCallback}`);
  }

  const machineDetection = get('MachineDetection');
  if (machineDetection !== null && machineDetection !== 'Enable' && machineDetection !== 'DetectMessageEnd') {
    throw new TwilioApiError(400, 20001, `MachineDetection must be Enable or DetectMessageEnd, got ${machineDetection}`);
  }
  const asyncAmd = get('AsyncAmd');
  if (asyncAmd !== null && asyncAmd !== 'true' && asyncAmd !== 'false') throw new TwilioApiError(400, 20001, `AsyncAmd must be true or false, got ${asyncAmd}`);

  return {
    to,
    from,
    url,
    method: method(get('Method'), 'Method'),
    twiml: url === null ? twiml : null,
    statusCallback,
    statusCallbackMethod: method(get('StatusCallbackMethod'), 'StatusCallbackMethod'),
    statusCallbackEvents: events(form.getAll('StatusCallbackEvent')),
    timeoutSec: Math.min(integer(get('Timeout'), 'Timeout', DEFAULT_TIMEOUT_SEC), MAX_TIMEOUT_SEC),
    timeLimitSec: Math.min(integer(get('TimeLimit'), 'TimeLimit', DEFAULT_TIME_LIMIT_SEC), MAX_TIME_LIMIT_SEC),
    machineDetection,
    machineDetectionTimeoutMs: 1_000 * bounded(get('MachineDetectionTimeout'), 'MachineDetectionTimeout', AMD_TIMEOUT_SEC),
    machineDetectionSpeechThresholdMs: bounded(get('MachineDetectionSpeechThreshold'), 'MachineDetectionSpeechThreshold', AMD_SPEECH_THRESHOLD_MS),
    machineDetectionSpeechEndThresholdMs: bounded(get('MachineDetectionSpeechEndThreshold'), 'MachineDetectionSpeechEndThreshold', AMD_SPEECH_END_THRESHOLD_MS),
    machineDetectionSilenceTimeoutMs: bounded(get('MachineDetectionSilenceTimeout'), 'MachineDetectionSilenceTimeout', AMD_SILENCE_TIMEOUT_MS),
    asyncAmd: asyncAmd === 'true' && machineDetection !== null,
    asyncAmdStatusCallback,
    asyncAmdStatusCallbackMethod: method(get('AsyncAmdStatusCallbackMethod'), 'AsyncAmdStatusCallbackMethod'),
    raw,
  };
}

/** Status update params: `Status` (completed | canceled) and/or a redirect (`Url` wins over `Twiml`). */
export interface UpdateCallRequest {
  status: 'completed' | 'canceled' | null;
  url: string | null;
  method: HttpMethod;
  twiml: string | null;
}

export function parseUpdateParams(form: URLSearchParams): UpdateCallRequest {
  const status = form.get('Status');
  if (status !== null && status !== 'completed' && status !== 'canceled') {
    throw new TwilioApiError(400, 20001, `Status must be completed or canceled, got ${status}`);
  }
  const url = form.get('Url') || null;
  if (url !== null && !isHttpUrl(url)) throw new TwilioApiError(400, 21205, `Url is not a valid URL: ${url}`);
  const twiml = form.get('Twiml') || null;
  return { status, url, method: method(form.get('Method'), 'Method'), twiml: url === null ? twiml : null };
}

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function method(value: string | null, name: string): HttpMethod {
  if (value === null || value === '') return 'POST';
  const upper = value.toUpperCase();
  if (upper !== 'GET' && upper !== 'POST') throw new TwilioApiError(400, 20001, `${name} must be GET or POST, got ${value}`);
  return upper;
}

/** Repeated params, or one param with the events separated by spaces or commas (both reach Twilio in practice). */
function events(values: readonly string[]): ReadonlySet<StatusCallbackEvent> {
  if (values.length === 0) return new Set(['completed']);
  const out = new Set<StatusCallbackEvent>();
  for (const word of values.flatMap((value) => value.split(/[\s,]+/)).filter((word) => word !== '')) {
    const event = EVENTS.find((candidate) => candidate === word);
    if (event === undefined) throw new TwilioApiError(400, 20001, `StatusCallbackEvent must be one of ${EVENTS.join(', ')}, got ${word}`);
    out.add(event);
  }
  return out;
}

function integer(value: string | null, name: string, fallback: number): number {
  if (value === null) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new TwilioApiError(400, 20001, `${name} must be a positive integer, got ${value}`);
  return Number(value);
}

function bounded(value: string | null, name: string, range: { fallback: number; min: number; max: number }): number {
  const parsed = integer(value, name, range.fallback);
  if (parsed < range.min || parsed > range.max) throw new TwilioApiError(400, 20001, `${name} must be between ${range.min} and ${range.max}, got ${value}`);
  return parsed;
}
