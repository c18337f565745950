/**
 * Twilio's side of the Voice webhook: a form-encoded POST signed with `X-Twilio-Signature` over the PUBLIC URL plus
 * the params (which is what the server validates, whatever address the request actually reached), answered by TwiML.
 */
import twilio from 'twilio';
import { TwilioCallerError } from './twilio-caller-types.js';
import { parseTwiml, type ParsedTwiml } from './twilio-twiml.js';

/** The Twilio params a real inbound call's webhook carries (a representative subset, all signed). */
export function webhookParams(options: { callSid: string; accountSid: string; from: string; to: string }): Record<string, string> {
  return {
    AccountSid: options.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: options.callSid,
    CallStatus: 'ringing',
    Called: options.to,
    Caller: options.from,
    Direction: 'inbound',
    From: options.from,
    To: options.to,
  };
}

/**
 * The `X-Twilio-Signature` header for `signedUrl` + `params`, or no header when there is no auth token. The stream
 * upgrade is signed the same way, over the exact stream URL with no params.
 */
export function twilioSignatureHeader(authToken: string | null, signedUrl: string, params: Record<string, string>): Record<string, string> {
  return authToken === null ? {} : { 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(authToken, signedUrl, params) };
}

export interface WebhookRequest {
  /** Where the POST goes. */
  url: string;
  /** The public URL the signature is computed over. */
  signedUrl: string;
  params: Record<string, string>;
  /** Null: send the POST unsigned. */
  authToken: string | null;
}

export interface WebhookAnswer {
  twiml: string;
  parsedTwiml: ParsedTwiml;
}

/** POSTs the Voice webhook and reads its TwiML. Rejects with TwilioCallerError. */
export async function postVoiceWebhook(request: WebhookRequest): Promise<WebhookAnswer> {
  const { url } = request;
  const headers: Record<string, string> = {
    'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
    'User-Agent': 'TwilioProxy/1.1',
    Accept: '*/*',
    ...twilioSignatureHeader(request.authToken, request.signedUrl, request.params),
  };
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(request.params).toString() });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new TwilioCallerError('unreachable', `cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  const twiml = await response.text();
  if (response.status !== 200) {
    throw new TwilioCallerError('webhook_http_error', `POST ${url} answered HTTP ${response.status}: ${oneLine(twiml)}`, response.status);
  }
  return { twiml, parsedTwiml: parseTwiml(twiml) };
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
