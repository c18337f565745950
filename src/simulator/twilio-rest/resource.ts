/**
 * What the REST API answers: the Call resource JSON in the field names and formats the `twilio` package's
 * CallInstance reads (snake_case, RFC 2822 dates with `+0000`, numbers as strings), and Twilio's error body
 * `{code, message, more_info, status}`.
 */
import type { AnsweredBy, CallStatus } from './types.js';

export const API_VERSION = '2010-04-01';

/** An error answered the way Twilio does; the `twilio` client turns it into a RestException with this code. */
export class TwilioApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  body(): { code: number; message: string; more_info: string; status: number } {
    return { code: this.code, message: this.message, more_info: `https://www.twilio.com/docs/errors/${this.code}`, status: this.httpStatus };
  }
}

/** The state the resource shows; dates are wall-clock `Date`s (the monotonic clock cannot give a date). */
export interface CallResourceState {
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  status: CallStatus;
  answeredBy: AnsweredBy | null;
  dateCreated: Date;
  dateUpdated: Date;
  startTime: Date | null;
  endTime: Date | null;
  durationSec: number | null;
}

export function callUri(accountSid: string, sid: string): string {
  return `/${API_VERSION}/Accounts/${accountSid}/Calls/${sid}.json`;
}

/** Every field of the twilio package's CallResource, so `client.calls.create()` yields a complete CallInstance. */
export function callResourceJson(call: CallResourceState): Record<string, unknown> {
  const uri = callUri(call.accountSid, call.sid);
  const base = uri.slice(0, -'.json'.length);
  return {
    sid: call.sid,
    date_created: rfc2822(call.dateCreated),
    date_updated: rfc2822(call.dateUpdated),
    parent_call_sid: null,
    account_sid: call.accountSid,
    to: call.to,
    to_formatted: formatNumber(call.to),
    from: call.from,
    from_formatted: formatNumber(call.from),
    phone_number_sid: null,
    status: call.status,
    start_time: call.startTime === null ? null : rfc2822(call.startTime),
    end_time: call.endTime === null ? null : rfc2822(call.endTime),
    duration: call.durationSec === null ? null : String(call.durationSec),
    price: null,
    price_unit: 'USD',
    direction: 'outbound-api',
    answered_by: call.answeredBy,
    api_version: API_VERSION,
    forwarded_from: null,
    group_sid: null,
    caller_name: null,
    queue_time: '0',
    trunk_sid: null,
    uri,
    subresource_uris: {
      feedback: `${base}/Feedback.json`,
      notifications: `${base}/Notifications.json`,
      recordings: `${base}/Recordings.json`,
      streams: `${base}/Streams.json`,
      payments: `${base}/Payments.json`,
      user_defined_message_subscriptions: `${base}/UserDefinedMessageSubscriptions.json`,
      user_defined_messages: `${base}/UserDefinedMessages.json`,
      events: `${base}/Events.json`,
      siprec: `${base}/Siprec.json`,
    },
  };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Wed, 24 Aug 2025 13:49:54 +0000`: the exact pattern the twilio package parses (`ddd, DD MMM YYYY HH:mm:ss [+0000]`). */
export function rfc2822(date: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return (
    `${DAYS[date.getUTCDay()]}, ${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

/** North American numbers as Twilio formats them, `(415) 555-2671`; anything else as given. */
export function formatNumber(number: string): string {
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(number);
  return nanp === null ? number : `(${nanp[1]}) ${nanp[2]}-${nanp[3]}`;
}
