/**
 * TwiML answers for the Voice webhook, built with the twilio package so every attribute and text node is escaped.
 */
import twilio from 'twilio';

export interface StreamTwimlOptions {
  /** `wss://host/media-stream`. Twilio rejects query strings on stream URLs: pass values as `parameters`. */
  streamUrl: string;
  /** Each becomes `<Parameter name value/>` and arrives in `start.customParameters`. */
  parameters: Record<string, string>;
  /** Spoken before the stream connects; null for none. */
  preludeSay: string | null;
  /** `<Connect action>`: where Twilio asks what to do when the stream ends (absolute URL); absent = hang up. */
  actionUrl?: string;
}

/**
 * `<Response>[<Say>…</Say>]<Connect><Stream url="…"><Parameter …/>…</Stream></Connect></Response>`.
 * `<Connect>` (not `<Start>`) because only a connected stream is bidirectional.
 */
export function streamTwiml(options: StreamTwimlOptions): string {
  const response = new twilio.twiml.VoiceResponse();
  if (options.preludeSay !== null) response.say(options.preludeSay);
  const connect = options.actionUrl === undefined ? response.connect() : response.connect({ action: options.actionUrl, method: 'POST' });
  const stream = connect.stream({ url: options.streamUrl });
  for (const [name, value] of Object.entries(options.parameters)) stream.parameter({ name, value });
  return response.toString();
}

export const BUSY_MESSAGE = 'Sorry, all of our lines are busy right now. Please call again later.';

/** Said when the bridge is at capacity, then hang up. */
export function busyTwiml(): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(BUSY_MESSAGE);
  response.hangup();
  return response.toString();
}

/** Say something, then hang up (a refusal, or the last word after a lost session). */
export function sayAndHangUpTwiml(text: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(text);
  response.hangup();
  return response.toString();
}

export function hangUpTwiml(): string {
  const response = new twilio.twiml.VoiceResponse();
  response.hangup();
  return response.toString();
}

export interface DialTwimlOptions {
  /** E.164 number or `sip:` URI (from the agent file). */
  target: string;
  timeoutS: number;
  /** Caller ID shown to the target; null = Twilio's default (the caller's number). */
  callerId: string | null;
  /** Where Twilio reports the dial's result (`DialCallStatus`). */
  actionUrl: string;
}

/** `<Dial>` a transfer target; when it ends, Twilio asks `actionUrl` what next (back to the agent if it failed). */
export function dialTwiml(options: DialTwimlOptions): string {
  const response = new twilio.twiml.VoiceResponse();
  const dial = response.dial({
    action: options.actionUrl,
    method: 'POST',
    timeout: options.timeoutS,
    ...(options.callerId === null ? {} : { callerId: options.callerId }),
  });
  if (options.target.startsWith('sip:')) dial.sip(options.target);
  else dial.number(options.target);
  return response.toString();
}
