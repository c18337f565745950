/**
 * The Twilio HTTP routes: the Voice webhook (`POST /incoming-call`) answers a new call with TwiML that connects it to
 * our Media Streams WebSocket; `POST /connect-action` and `POST /dial-action` are where Twilio asks what to do when
 * a stream ends or a transfer's `<Dial>` ends. All three are signature-checked the same way.
 *
 * The signature is checked over `publicBaseUrl + originalUrl`, never the Host header: behind a proxy or tunnel the
 * Host we see is not the URL Twilio signed, and trusting it would let a caller choose what is verified.
 */
import express from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { isValidWebhookSignature, mediaStreamUrl, type SignedParams } from './signature.js';
import type { StreamTokenInfo, StreamTokenRegistry } from './stream-tokens.js';
import { busyTwiml, sayAndHangUpTwiml, streamTwiml } from './twiml.js';

/** Where Twilio asks for an outbound call's TwiML once the callee answers (`?request=<id>`). */
export const OUTBOUND_VOICE_PATH = '/outbound/voice';

export interface AcceptedCall extends StreamTokenInfo {
  token: string;
}

/** Said to a caller the guard rails refuse (blocklist, per-number limit, spend cap): polite, no reason given. */
export const GUARD_REFUSAL_MESSAGE = 'Sorry, we cannot take your call right now. Please try again later. Goodbye.';

/** Said to a caller whose number no agent answers (and there is no default agent). */
export const NO_AGENT_MESSAGE = 'Sorry, this number is not in service. Goodbye.';

export const CONNECT_ACTION_PATH = '/connect-action';
export const DIAL_ACTION_PATH = '/dial-action';

export interface TwilioWebhookDeps {
  config: Readonly<Config>;
  tokens: StreamTokenRegistry;
  logger: Logger;
  /** Guard rails (blocklist, per-number limit, spend cap): true = refuse this caller politely. */
  refuseCaller?(from: string, callSid: string): boolean;
  /** Reserve capacity for a call; false answers busy TwiML. Only called for requests that passed the signature. */
  admitCall(callSid: string): boolean;
  /**
   * A refused call would be served by another instance (this one is draining in a cluster): answer 503 so the load
   * balancer retries the webhook there, instead of a busy signal. Absent = never.
   */
  retryElsewhere?(): boolean;
  /** The agent answering a called number; null = none (a polite refusal). Absent = no agent routing. */
  agentFor?(calledNumber: string): string | null;
  /** After the stream TwiML is sent. A throw is logged, not turned into an error response. */
  onCallAccepted?(info: AcceptedCall): void;
  /**
   * TwiML for what happens after a stream (`dialStatus` null) or a transfer's dial ended. Absent = hang up.
   * `resume` builds the stream TwiML that puts the call back with its agent.
   */
  afterStream?(request: { callSid: string; from: string; to: string; dialStatus: string | null }, resume: (info: Omit<StreamTokenInfo, 'callSid' | 'from' | 'to'>) => string): string;
  /** Outbound calls we placed: the agent and variables for this request id and callSid; null = not ours. */
  outboundCall?(requestId: string, callSid: string): { agentName: string; custom: Record<string, string> } | null;
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

export function param(params: SignedParams, name: string): string {
  const value = params[name];
  return typeof value === 'string' ? value : '';
}

/**
 * Parses the form and checks `X-Twilio-Signature`; answers 403 (no TwiML) to an unsigned or mis-signed request and
 * 400 without a CallSid. On success `res.locals.params` holds the signed parameters.
 */
export function signedTwilioForm(deps: Pick<TwilioWebhookDeps, 'config' | 'logger'>): express.RequestHandler[] {
  const { config } = deps;
  return [
    express.urlencoded({ extended: false, limit: WEBHOOK_BODY_LIMIT }),
    (req, res, next) => {
      const params = formParams(req.body);
      const authToken = config.twilio.authToken;
      if (authToken !== null) {
        // Twilio signs the URL it used: the load balancer's (the number's webhook) or this instance's own (every
        // callback of a call this instance answered). Both are ours; nothing else is accepted.
        const url = config.server.publicBaseUrl + req.originalUrl;
        const instanceUrl = config.cluster.instancePublicUrl + req.originalUrl;
        const signature = req.get('x-twilio-signature');
        if (!isValidWebhookSignature(authToken, signature, url, params) && (instanceUrl === url || !isValidWebhookSignature(authToken, signature, instanceUrl, params))) {
          deps.logger.warn({ url, hasSignature: req.get('x-twilio-signature') !== undefined }, 'rejected unsigned or mis-signed Twilio webhook');
          res.status(403).type('text/plain').send('Forbidden');
          return;
        }
      }
      if (param(params, 'CallSid') === '') {
        res.status(400).type('text/plain').send('Missing CallSid');
        return;
      }
      res.locals['params'] = params;
      next();
    },
  ];
}

/** Routers for `POST /incoming-call`, `/connect-action`, `/dial-action`. Mount at the root (signatures use originalUrl). */
export function createTwilioWebhookRouter(deps: TwilioWebhookDeps): express.Router {
  const { config, tokens } = deps;
  const router = express.Router();
  // Sticky by design: the stream and the call's later requests come to the instance that answered (its token, its
  // pre-dialled session and the call's outcome live here), whichever instance the load balancer chose.
  const streamUrl = mediaStreamUrl(config.cluster.instancePublicUrl);
  const connectActionUrl = config.cluster.instancePublicUrl + CONNECT_ACTION_PATH;

  /** Issues a one-time stream token and answers the TwiML that connects the call's stream to us. */
  const connectStream = (info: StreamTokenInfo, logger: Logger): string => {
    const token = tokens.issue(info);
    const twiml = streamTwiml({
      streamUrl,
      parameters: { callSid: info.callSid, from: info.from, to: info.to, streamToken: token },
      preludeSay: info.resumeNote === undefined && info.direction !== 'outbound' ? config.twilio.preludeSay : null,
      actionUrl: connectActionUrl,
    });
    if (deps.onCallAccepted !== undefined) {
      // After the answer is built: a throw here must not turn into an error response.
      queueMicrotask(() => {
        try {
          deps.onCallAccepted?.({ token, ...info });
        } catch (error) {
          logger.error({ err: error }, 'onCallAccepted threw');
        }
      });
    }
    return twiml;
  };

  router.post('/incoming-call', ...signedTwilioForm(deps), (_req, res) => {
    const params = res.locals['params'] as SignedParams;
    const callSid = param(params, 'CallSid');
    const from = param(params, 'From');
    const to = param(params, 'To');
    const logger = deps.logger.child({ callSid });
    const agentName = deps.agentFor === undefined ? undefined : deps.agentFor(to);
    if (agentName === null) {
      logger.warn({ to }, 'no agent answers this number and there is no default agent: refused');
      res.status(200).type('text/xml').send(sayAndHangUpTwiml(NO_AGENT_MESSAGE));
      return;
    }
    if (deps.refuseCaller?.(from, callSid) === true) {
      res.status(200).type('text/xml').send(sayAndHangUpTwiml(GUARD_REFUSAL_MESSAGE));
      return;
    }
    if (!deps.admitCall(callSid)) {
      if (deps.retryElsewhere?.() === true) {
        logger.info('draining: 503 so the load balancer gives the call to another instance');
        res.status(503).set('Retry-After', '1').type('text/plain').send('Draining: another instance takes this call');
        return;
      }
      logger.warn('at capacity; answering busy');
      res.status(200).type('text/xml').send(busyTwiml());
      return;
    }
    res.status(200).type('text/xml').send(connectStream({ callSid, from, to, ...(agentName === undefined ? {} : { agentName }) }, logger));
    logger.info({ agent: agentName }, 'incoming call accepted; stream TwiML sent');
  });

  // An outbound call we placed answered: same stream TwiML as an inbound call, with the agent the request named.
  router.post(OUTBOUND_VOICE_PATH, ...signedTwilioForm(deps), (req, res) => {
    const params = res.locals['params'] as SignedParams;
    const callSid = param(params, 'CallSid');
    const logger = deps.logger.child({ callSid });
    const requestId = typeof req.query['request'] === 'string' ? req.query['request'] : '';
    const outbound = deps.outboundCall?.(requestId, callSid) ?? null;
    if (outbound === null) {
      logger.warn({ requestId }, 'outbound voice request for a call we did not place: hanging up');
      res.status(200).type('text/xml').send(sayAndHangUpTwiml('Goodbye.'));
      return;
    }
    const info = { callSid, from: param(params, 'From'), to: param(params, 'To'), agentName: outbound.agentName, direction: 'outbound' as const, custom: outbound.custom };
    res.status(200).type('text/xml').send(connectStream(info, logger));
    logger.info({ agent: outbound.agentName }, 'outbound call answered; stream TwiML sent');
  });

  const afterStream = (dialStatus: 'form' | 'none') => (_req: express.Request, res: express.Response) => {
    const params = res.locals['params'] as SignedParams;
    const callSid = param(params, 'CallSid');
    const from = param(params, 'From');
    const to = param(params, 'To');
    const logger = deps.logger.child({ callSid });
    const status = dialStatus === 'form' ? param(params, 'DialCallStatus') || null : null;
    const twiml =
      deps.afterStream === undefined
        ? sayAndHangUpTwiml('Goodbye.')
        : deps.afterStream({ callSid, from, to, dialStatus: status }, (resume) => connectStream({ callSid, from, to, ...resume }, logger));
    logger.info({ dialStatus: status }, dialStatus === 'form' ? 'transfer dial ended; next TwiML sent' : 'stream ended; next TwiML sent');
    res.status(200).type('text/xml').send(twiml);
  };
  router.post(CONNECT_ACTION_PATH, ...signedTwilioForm(deps), afterStream('none'));
  router.post(DIAL_ACTION_PATH, ...signedTwilioForm(deps), afterStream('form'));
  return router;
}

/** The absolute URL a transfer's `<Dial action>` reports to. */
export function dialActionUrl(config: Readonly<Config>): string {
  return config.cluster.instancePublicUrl + DIAL_ACTION_PATH;
}
