/**
 * Twilio request signatures (`X-Twilio-Signature`): HMAC-SHA1 of the public URL plus the sorted POST params.
 * The webhook is signed over its URL and form params; the Media Streams upgrade over the `wss://` URL alone.
 * https://www.twilio.com/docs/usage/webhooks/webhooks-security
 */
import twilio from 'twilio';

/** Form params as express's urlencoded parser yields them (a repeated key gives an array). */
export type SignedParams = Record<string, string | string[]>;

function isValid(authToken: string, signatureHeader: string | undefined, url: string, params: SignedParams): boolean {
  if (signatureHeader === undefined || signatureHeader === '') return false;
  try {
    return twilio.validateRequest(authToken, signatureHeader, url, params);
  } catch {
    // validateRequest throws on a malformed URL; that is a failed check, not a server error.
    return false;
  }
}

/**
 * True when `signatureHeader` signs `url` (the full public URL Twilio called, with any query string) and `params`.
 * Twilio's signing is inconsistent about default ports; validateRequest accepts both forms.
 */
export function isValidWebhookSignature(
  authToken: string,
  signatureHeader: string | undefined,
  url: string,
  params: SignedParams,
): boolean {
  return isValid(authToken, signatureHeader, url, params);
}

/** True when `signatureHeader` signs the WebSocket upgrade to `wssUrl` (no params). */
export function isValidUpgradeSignature(authToken: string, signatureHeader: string | undefined, wssUrl: string): boolean {
  return isValid(authToken, signatureHeader, wssUrl, {});
}

/** The signature Twilio would send for this request: for tests and the simulated caller. */
export function signTwilioRequest(authToken: string, url: string, params: SignedParams): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

/** Path of the Media Streams WebSocket route. */
export const MEDIA_STREAM_PATH = '/media-stream';

/**
 * The stream URL Twilio is told to open: `https://h` → `wss://h/media-stream`, `http://h` → `ws://h/media-stream`,
 * and an instance behind a path prefix `https://h/i/a` → `wss://h/i/a/media-stream` (the proxy strips the prefix).
 * Throws TypeError for any other scheme (config only admits http/https).
 */
export function mediaStreamUrl(publicBaseUrl: string): string {
  const base = new URL(publicBaseUrl);
  let scheme: string;
  if (base.protocol === 'https:') scheme = 'wss:';
  else if (base.protocol === 'http:') scheme = 'ws:';
  else throw new TypeError(`public base URL must be http or https (got "${publicBaseUrl}")`);
  return `${scheme}//${base.host}${base.pathname.replace(/\/+$/, '')}${MEDIA_STREAM_PATH}`;
}
