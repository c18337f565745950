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
}

/**
 * `<Response>[<Say>…</Say>]<Connect><Stream url="…"><Parameter …/>…</Stream></Connect></Response>`.
 * `<Connect>` (not `<Start>`) because only a connected stream is bidirectional.
 */
export function streamTwiml(options: StreamTwimlOptions): string {
  const response = new twilio.twiml.VoiceResponse();
  if (options.preludeSay !== null) response.say(options.preludeSay);
  const stream = response.connect().stream({ url: options.streamUrl });
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
