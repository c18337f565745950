/**
 * Admission check for the Media Streams WebSocket upgrade, run from ws `verifyClient` so a refused upgrade gets a
 * plain HTTP status before any WebSocket handshake (and before any per-call state exists).
 */
import type http from 'node:http';
import type { Config } from '../config.js';
import { isValidUpgradeSignature, MEDIA_STREAM_PATH, mediaStreamUrl } from './signature.js';

export type UpgradeCheck = { ok: true } | { ok: false; status: 403 | 404; reason: string };

/**
 * 404 unless the path is exactly `/media-stream` (query ignored); with an auth token configured, 403 unless
 * `X-Twilio-Signature` signs `mediaStreamUrl(INSTANCE_PUBLIC_URL)` (the stream URL our TwiML named) with no params. The path is compared as sent rather
 * than through `new URL()`, which would read `//host/media-stream` as a host and a matching path.
 */
export function checkMediaStreamUpgrade(req: http.IncomingMessage, config: Readonly<Config>): UpgradeCheck {
  const rawUrl = req.url ?? '';
  const queryAt = rawUrl.indexOf('?');
  const pathname = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
  if (pathname !== MEDIA_STREAM_PATH) return { ok: false, status: 404, reason: 'Not found' };

  const authToken = config.twilio.authToken;
  if (authToken === null) return { ok: true };
  const header = req.headers['x-twilio-signature'];
  const signature = typeof header === 'string' ? header : undefined;
  if (!isValidUpgradeSignature(authToken, signature, mediaStreamUrl(config.cluster.instancePublicUrl))) {
    return { ok: false, status: 403, reason: signature === undefined ? 'Missing Twilio signature' : 'Invalid Twilio signature' };
  }
  return { ok: true };
}
