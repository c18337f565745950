/**
 * The one place that talks to Twilio's REST API (the `twilio` package): create a call, end one. Credentials are the
 * account SID with the auth token, or an API key pair; the origin is TWILIO_API_URL (the simulated Twilio REST
 * server in development and tests), set through the client's public `api.baseUrl`, read on every request.
 */
import twilio from 'twilio';
import type { Config } from '../config.js';

export interface CreateCallParams {
  to: string;
  from: string;
  url: string;
  statusCallback: string;
  asyncAmdStatusCallback: string | null;
  machineDetection: 'Enable' | 'DetectMessageEnd' | null;
  timeoutS: number;
}

/** What callbridge needs of Twilio's Calls resource (a fake in unit tests). */
export interface TwilioCalls {
  create(params: CreateCallParams): Promise<{ sid: string; status: string }>;
  hangUp(callSid: string): Promise<void>;
}

/** Twilio's refusal of a request: its numeric code and one-line message (never a credential). */
export class TwilioRestError extends Error {
  override name = 'TwilioRestError';
  constructor(
    readonly status: number,
    readonly code: number | null,
    message: string,
  ) {
    super(message);
  }
}

/** Null when outbound calls are not configured (no account SID, no credential, or no caller ID). */
export function twilioCallsFromConfig(config: Readonly<Config>): TwilioCalls | null {
  const { accountSid, apiKeySid, apiKeySecret, authToken, fromNumber, apiUrl } = config.twilio;
  if (accountSid === null || fromNumber === null) return null;
  const [username, password] = apiKeySid !== null && apiKeySecret !== null ? [apiKeySid, apiKeySecret] : [accountSid, authToken];
  if (password === null) return null;
  const client = twilio(username, password, { accountSid });
  client.api.baseUrl = apiUrl;
  return {
    async create(params) {
      try {
        const call = await client.calls.create({
          to: params.to,
          from: params.from,
          url: params.url,
          method: 'POST',
          statusCallback: params.statusCallback,
          statusCallbackMethod: 'POST',
          statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
          timeout: params.timeoutS,
          ...(params.machineDetection === null || params.asyncAmdStatusCallback === null
            ? {}
            : { machineDetection: params.machineDetection, asyncAmd: 'true', asyncAmdStatusCallback: params.asyncAmdStatusCallback, asyncAmdStatusCallbackMethod: 'POST' }),
        });
        return { sid: call.sid, status: call.status };
      } catch (error) {
        throw restError(error);
      }
    },
    async hangUp(callSid) {
      try {
        await client.calls(callSid).update({ status: 'completed' });
      } catch (error) {
        throw restError(error);
      }
    },
  };
}

function restError(error: unknown): TwilioRestError {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as { status?: unknown; code?: unknown; message?: unknown };
  const status = typeof fields.status === 'number' ? fields.status : 502;
  const code = typeof fields.code === 'number' ? fields.code : null;
  const message = typeof fields.message === 'string' ? fields.message.split('\n')[0]!.slice(0, 300) : 'Twilio could not be reached';
  return new TwilioRestError(status, code, message);
}
