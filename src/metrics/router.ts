/**
 * `GET /metrics`: the Prometheus text exposition of a CallMetrics.
 *
 * Unauthenticated by default, like most exporters: Prometheus scrapes it from inside the network (the same host,
 * the cluster, the VPC), and the reverse proxy that publishes the Twilio webhook should not route `/metrics` to the
 * internet. Nothing in it is personal: no callSid, no phone number, no text of a call, only counts. Where the port is
 * reachable from outside anyway, METRICS_TOKEN turns on `Authorization: Bearer <token>` (Prometheus'
 * `authorization: { credentials: … }` in the scrape config).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express from 'express';
import type { CallMetrics } from './call-metrics.js';

export interface MetricsRouterOptions {
  /** METRICS_TOKEN: null/absent = no authentication. */
  readonly bearerToken?: string | null;
}

const BEARER = /^Bearer +(\S+) *$/i;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function createMetricsRouter(metrics: Pick<CallMetrics, 'metricsText' | 'contentType'>, options: MetricsRouterOptions = {}): express.Router {
  const token = options.bearerToken ?? null;
  if (token === '') throw new TypeError('createMetricsRouter: an empty bearer token would let anyone in; pass null for no authentication');
  // Compared as SHA-256 digests: both sides 32 bytes, so neither the token's content nor its length leaks by timing.
  const expected = token === null ? null : digest(token);
  const router = express.Router();

  router.get('/metrics', async (req, res) => {
    if (expected !== null) {
      const presented = BEARER.exec(req.get('authorization') ?? '')?.[1] ?? null;
      if (presented === null || !timingSafeEqual(digest(presented), expected)) {
        res.set('WWW-Authenticate', presented === null ? 'Bearer realm="metrics"' : 'Bearer realm="metrics", error="invalid_token"');
        res.status(401).type('text/plain').send('Unauthorized: send "Authorization: Bearer <METRICS_TOKEN>".\n');
        return;
      }
    }
    let text: string;
    try {
      text = await metrics.metricsText();
    } catch (error) {
      res.status(500).type('text/plain').send(`metrics collection failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return;
    }
    res.set('Content-Type', metrics.contentType);
    res.set('Cache-Control', 'no-store');
    res.send(text);
  });

  return router;
}
