/**
 * HTTP for outbound calls: `POST /api/calls` (bearer API key) places one; `GET /api/outbound/:id` follows it (the
 * dial CLI polls it); Twilio's status and async-AMD callbacks (signed like every Twilio request) report back.
 */
import express from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { jsonError, requireApiKey } from '../server/api-auth.js';
import type { SignedParams } from '../twilio/signature.js';
import { param, signedTwilioForm } from '../twilio/webhook.js';
import { OUTBOUND_AMD_PATH, OUTBOUND_STATUS_PATH, type OutboundCalls } from './outbound-calls.js';

const API_BODY_LIMIT = '16kb';

export function createOutboundRouter(options: { config: Readonly<Config>; logger: Logger; outbound: OutboundCalls }): express.Router {
  const { config, logger, outbound } = options;
  const router = express.Router();
  const auth = requireApiKey({ apiKey: config.api.key, logger });
  const json = express.json({ limit: API_BODY_LIMIT, strict: false, type: () => true });

  router.post('/api/calls', auth, (req, res, next) => {
    json(req, res, (error?: unknown) => {
      if (error !== undefined) return jsonError(res, 400, 'bad_request', 'the body must be JSON like {"to":"+15551234567","agent":"reminders"}');
      next();
    });
  }, async (req, res) => {
    try {
      const answer = await outbound.request(req.body);
      if (answer.status === 202) {
        res.status(202).json(answer.body);
        return;
      }
      jsonError(res, answer.status, answer.code, answer.message);
    } catch (error) {
      logger.error({ err: error }, 'outbound call request failed');
      jsonError(res, 500, 'internal', 'the call could not be placed');
    }
  });

  router.get('/api/outbound/:id', auth, (req, res) => {
    const progress = outbound.progress(String(req.params['id']));
    if (progress === null) return jsonError(res, 404, 'not_found', 'no outbound call with this request id or callSid (finished ones are kept 10 minutes)');
    res.set('Cache-Control', 'no-store').json(progress);
  });

  const requestIdOf = (req: express.Request) => (typeof req.query['request'] === 'string' ? req.query['request'] : '');
  router.post(OUTBOUND_STATUS_PATH, ...signedTwilioForm({ config, logger }), (req, res) => {
    const params = res.locals['params'] as SignedParams;
    const duration = Number(param(params, 'CallDuration'));
    outbound.statusChanged(requestIdOf(req), param(params, 'CallSid'), param(params, 'CallStatus'), param(params, 'CallDuration') !== '' && Number.isFinite(duration) ? duration : null);
    res.status(204).end();
  });
  router.post(OUTBOUND_AMD_PATH, ...signedTwilioForm({ config, logger }), (req, res) => {
    const params = res.locals['params'] as SignedParams;
    outbound.machineVerdict(requestIdOf(req), param(params, 'CallSid'), param(params, 'AnsweredBy'));
    res.status(204).end();
  });
  return router;
}
