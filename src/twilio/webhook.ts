/**
 * The Voice webhook: Twilio POSTs here when a call comes in and we answer with TwiML that connects the call to our
 * Media Streams WebSocket.
 *
 * The signature is checked over `publicBaseUrl + originalUrl`, never the Host header: behind a proxy or tunnel the
 * Host we see is not the URL Twilio signed, and trusting it would let a caller choose what is verified.
 */
import express from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { isValidWebhookSignature, mediaStreamUrl, type SignedParams } from './signature.js';
import type { StreamTokenRegistry } from './stream-tokens.js';
import { busyTwiml, streamTwiml } from './twiml.js';

export interface AcceptedCall {
  token: string;
  callSid: string;
  from: string;
  to: string;
}

export interface TwilioWebhookDeps {
  config: Readonly<Config>;
  tokens: StreamTokenRegistry;
  logger: Logger;
  /** Reserve capacity for a call; false answers busy TwiML. Only called for requests that passed the signature. */
  admitCall(callSid: string): boolean;
  /** After the stream TwiML is sent. A throw is logged, not turned into an error response. */
  onCallAccepted?(info: AcceptedCall): void;
}

/** Body size limit for the form post; Twilio's voice webhook params are well under 8 KB. */
const WEBHOOK_BODY_LIMIT = '64kb';

function formParams(body: unknown): SignedParams {
  if (typeof body !== 'object' || body === null) return {};
  const params: SignedParams = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value === 'string') params[key] = value;
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) params[key] = value as string[];
  }
  return params;
}

/** Router with `POST /incoming-call`. Mount at the root: the signed URL is `publicBaseUrl + req.originalUrl`. */
export function createTwilioWebhookRouter(deps: TwilioWebhookDeps): express.Router {
  const { config, tokens } = deps;
  const router = express.Router();
  const streamUrl = mediaStreamUrl(config.server.publicBaseUrl);

  router.post('/incoming-call', express.urlencoded({ extended: false, limit: WEBHOOK_BODY_LIMIT }), (req, res) => {
    const params = formParams(req.body);
    const authToken = config.twilio.authToken;
    if (authToken !== null) {
      const url = config.server.publicBaseUrl + req.originalUrl;
      if (!isValidWebhookSignature(authToken, req.get('x-twilio-signature'), url, params)) {
        deps.logger.warn({ url, hasSignature: req.get('x-twilio-signature') !== undefined }, 'rejected unsigned or mis-signed Twilio webhook');
        res.status(403).type('text/plain').send('Forbidden');
        return;
      }
    }

    const callSid = params['CallSid'];
    if (typeof callSid !== 'string' || callSid === '') {
      res.status(400).type('text/plain').send('Missing CallSid');
      return;
    }
    const from = typeof params['From'] === 'string' ? params['From'] : '';
    const to = typeof params['To'] === 'string' ? params['To'] : '';
    const logger = deps.logger.child({ callSid });

    if (!deps.admitCall(callSid)) {
      logger.warn('at capacity; answering busy');
      res.status(200).type('text/xml').send(busyTwiml());
      return;
    }

    const token = tokens.issue({ callSid, from, to });
    const twiml = streamTwiml({
      streamUrl,
      parameters: { callSid, from, to, streamToken: token },
      preludeSay: config.twilio.preludeSay,
    });
    res.status(200).type('text/xml').send(twiml);
    logger.info('incoming call accepted; stream TwiML sent');
    if (deps.onCallAccepted !== undefined) {
      try {
        deps.onCallAccepted({ token, callSid, from, to });
      } catch (error) {
        logger.error({ err: error }, 'onCallAccepted threw');
      }
    }
  });

  return router;
}
