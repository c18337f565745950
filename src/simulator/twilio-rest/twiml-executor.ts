/**
 * Running TwiML on an answered call, verb by verb, as Twilio does:
 *
 *   - `<Say>`, `<Play>`, `<Pause length>` take time (scaled) and are recorded;
 *   - `<Connect><Stream url><Parameter/></Stream></Connect>` joins the callee's line to the stream until it closes;
 *     then the `action` URL is requested (signed) and its TwiML replaces the document, or without `action` the verbs
 *     after `</Connect>` run;
 *   - `<Dial>number</Dial>` (or `<Dial><Number>`) records the destination, "talks" for the dial duration, then
 *     requests its `action` with `DialCallStatus=completed`, or continues;
 *   - `<Redirect>` fetches a new document; `<Hangup/>` and `<Reject/>` end the call;
 *   - anything else is recorded as unsupported and skipped.
 *
 * The host aborts a run when the call ends or the API redirects it: every wait here returns early on abort, and
 * nothing is requested after it.
 */
import { randomBytes } from 'node:crypto';
import { isHttpUrl, type HttpMethod } from './create-params.js';
import { parseTwimlVerbs, TwimlParseError, type TwimlElement } from './twiml-document.js';
import type { ExecutedVerb, RequestLogEntry } from './types.js';

/** What the call engine provides to one run. */
export interface TwimlHost {
  /** Aborted when this run is replaced or the call ends. */
  readonly signal: AbortSignal;
  /** Ms since answer. */
  atMs(): number;
  record(verb: ExecutedVerb): void;
  /** A Twilio debugger entry (errors 11200, 12100, …). */
  notify(code: number, message: string): void;
  /** Waits `ms` of simulated time (the host applies its time scale); returns early on abort. */
  sleep(ms: number): Promise<void>;
  /** Joins the callee's line to the stream; resolves once the stream has ended (or failed to open). */
  connectStream(url: string, parameters: Record<string, string>, twiml: string): Promise<void>;
  /** Requests a document: the TwiML text, or null when the request failed (the host has recorded why). */
  fetchTwiml(kind: RequestLogEntry['kind'], url: string, method: HttpMethod, extraParams: Record<string, string>): Promise<string | null>;
  /** How long a `<Dial>` leg lasts, ms of simulated time. */
  readonly dialDurationMs: number;
}

export interface TwimlDocument {
  xml: string;
  /** Where it came from: relative `action`/`Redirect` URLs resolve against it. Null for inline `Twiml`. */
  url: string | null;
}

/** How a run ended: the document ran out, `<Hangup/>`, a failure Twilio ends the call for, or aborted by the host. */
export type RunOutcome = 'ended' | 'hangup' | 'error' | 'aborted';

type Step = { kind: 'next' } | { kind: 'replace'; document: TwimlDocument } | { kind: 'stop'; outcome: RunOutcome };

/** Twilio speaks roughly this fast; a `<Say>` lasts its length in characters times this. */
const SAY_MS_PER_CHARACTER = 65;
/** `<Play>` of an unknown file: count each loop as this long. */
const PLAY_MS = 1_000;
/** `loop="0"` means "as often as Twilio allows". */
const MAX_LOOPS = 1_000;
const NEXT: Step = { kind: 'next' };

export async function runTwiml(host: TwimlHost, first: TwimlDocument): Promise<RunOutcome> {
  let document: TwimlDocument | null = first;
  while (document !== null) {
    let verbs: TwimlElement[];
    try {
      verbs = parseTwimlVerbs(document.xml);
    } catch (error) {
      if (!(error instanceof TwimlParseError)) throw error;
      host.notify(error.code, `Document parse failure: ${error.message}`);
      return 'error';
    }
    const current: TwimlDocument = document;
    document = null;
    for (const verb of verbs) {
      if (host.signal.aborted) return 'aborted';
      const step = await runVerb(host, verb, current);
      if (host.signal.aborted) return 'aborted';
      if (step.kind === 'next') continue;
      if (step.kind === 'stop') return step.outcome;
      document = step.document;
      break;
    }
  }
  return host.signal.aborted ? 'aborted' : 'ended';
}

async function runVerb(host: TwimlHost, verb: TwimlElement, document: TwimlDocument): Promise<Step> {
  const atMs = host.atMs();
  const attributes = verb.attributes;
  switch (verb.name) {
    case 'Say': {
      host.record({ verb: 'Say', atMs, text: verb.text, voice: attributes['voice'] ?? null, language: attributes['language'] ?? null });
      await host.sleep(loops(attributes['loop']) * Math.max(verb.text.length, 1) * SAY_MS_PER_CHARACTER);
      return NEXT;
    }
    case 'Play': {
      host.record({ verb: 'Play', atMs, url: verb.text });
      await host.sleep(loops(attributes['loop']) * PLAY_MS);
      return NEXT;
    }
    case 'Pause': {
      const lengthSec = positiveNumber(attributes['length'], 1);
      host.record({ verb: 'Pause', atMs, lengthSec });
      await host.sleep(lengthSec * 1_000);
      return NEXT;
    }
    case 'Hangup':
      host.record({ verb: 'Hangup', atMs });
      return { kind: 'stop', outcome: 'hangup' };
    case 'Reject':
      host.record({ verb: 'Reject', atMs });
      return { kind: 'stop', outcome: 'hangup' };
    case 'Redirect': {
      const url = resolve(verb.text, document);
      host.record({ verb: 'Redirect', atMs, url: url ?? verb.text });
      if (url === null) return invalidUrl(host, 'Redirect', verb.text);
      return follow(host, 'redirect', url, method(attributes['method']), {});
    }
    case 'Connect':
      return runConnect(host, verb, document, atMs);
    case 'Dial':
      return runDial(host, verb, document, atMs);
    default:
      host.record({ verb: 'Unsupported', atMs, name: verb.name });
      return NEXT;
  }
}

async function runConnect(host: TwimlHost, verb: TwimlElement, document: TwimlDocument, atMs: number): Promise<Step> {
  const stream = verb.children.find((child) => child.name === 'Stream');
  const parameters: Record<string, string> = {};
  for (const parameter of stream?.children ?? []) {
    const name = parameter.attributes['name'];
    if (parameter.name === 'Parameter' && name !== undefined) parameters[name] = parameter.attributes['value'] ?? '';
  }
  const actionText = verb.attributes['action'] ?? null;
  const streamUrl = stream?.attributes['url'] ?? null;
  host.record({ verb: 'Connect', atMs, streamUrl, parameters, action: actionText });
  if (streamUrl === null) {
    // <Connect> to something this simulator does not model (Conversation Relay, a room…): nothing to join.
    host.notify(31941, '<Connect> without a <Stream url>: not simulated');
  } else if (!/^wss?:\/\//.test(streamUrl)) {
    host.notify(31941, `Stream URL must be wss:// (or ws:// locally): ${streamUrl}`);
  } else {
    await host.connectStream(streamUrl, parameters, document.xml);
  }
  if (host.signal.aborted || actionText === null) return NEXT;
  const action = resolve(actionText, document);
  if (action === null) return invalidUrl(host, 'Connect action', actionText);
  return follow(host, 'connect-action', action, method(verb.attributes['method']), {});
}

async function runDial(host: TwimlHost, verb: TwimlElement, document: TwimlDocument, atMs: number): Promise<Step> {
  const target = verb.children.find((child) => ['Number', 'Client', 'Sip', 'Conference', 'Queue'].includes(child.name));
  const number = target?.text ?? verb.text;
  const actionText = verb.attributes['action'] ?? null;
  host.record({ verb: 'Dial', atMs, number, action: actionText, callerId: verb.attributes['callerId'] ?? null });
  await host.sleep(host.dialDurationMs);
  if (host.signal.aborted || actionText === null) return NEXT;
  const action = resolve(actionText, document);
  if (action === null) return invalidUrl(host, 'Dial action', actionText);
  const dialParams = {
    DialCallStatus: 'completed',
    DialCallSid: `CA${randomBytes(16).toString('hex')}`,
    DialCallDuration: String(Math.ceil(host.dialDurationMs / 1_000)),
    DialBridged: 'true',
  };
  return follow(host, 'dial-action', action, method(verb.attributes['method']), dialParams);
}

async function follow(host: TwimlHost, kind: RequestLogEntry['kind'], url: string, httpMethod: HttpMethod, extra: Record<string, string>): Promise<Step> {
  const xml = await host.fetchTwiml(kind, url, httpMethod, extra);
  if (host.signal.aborted) return { kind: 'stop', outcome: 'aborted' };
  if (xml === null) return { kind: 'stop', outcome: 'error' };
  return { kind: 'replace', document: { xml, url } };
}

function invalidUrl(host: TwimlHost, what: string, text: string): Step {
  host.notify(11100, `${what} is not a valid URL: ${text}`);
  return { kind: 'stop', outcome: 'error' };
}

/**
 * An absolute URL as written (it is what gets signed, so it is not normalised), or a relative one resolved against
 * the document's own URL; null when neither works (a relative URL inside inline TwiML).
 */
function resolve(text: string, document: TwimlDocument): string | null {
  if (isHttpUrl(text)) return text;
  if (document.url === null) return null;
  try {
    const url = new URL(text, document.url);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : null;
  } catch {
    return null;
  }
}

function method(text: string | undefined): HttpMethod {
  return text?.toUpperCase() === 'GET' ? 'GET' : 'POST';
}

function loops(text: string | undefined): number {
  const count = positiveNumber(text, 1);
  return count === 0 ? MAX_LOOPS : Math.min(Math.floor(count), MAX_LOOPS);
}

function positiveNumber(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}
