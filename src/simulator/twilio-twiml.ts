/**
 * Reading the Voice webhook's TwiML answer the way Twilio acts on it: the bidirectional `<Connect><Stream>` (its URL
 * and `<Parameter>`s), any `<Say>` text, and `<Hangup>`. No stream means the call does not connect (busy).
 */
import { TwilioCallerError } from './twilio-caller-types.js';

export interface ParsedTwiml {
  /** `<Connect><Stream url>`, entities decoded; null when the TwiML has no bidirectional stream. */
  streamUrl: string | null;
  /** `<Parameter name value>` inside the Stream, in document order. */
  parameters: Record<string, string>;
  /** Text of every `<Say>`. */
  says: string[];
  hangup: boolean;
}

/** Minimal TwiML reading: enough to find the bidirectional stream and a busy message. Not a general XML parser. */
export function parseTwiml(xml: string): ParsedTwiml {
  const parameters: Record<string, string> = {};
  const says = [...xml.matchAll(/<Say\b[^>]*>([\s\S]*?)<\/Say>/g)].map((match) => decodeXml(match[1]!.trim()));
  const hangup = /<Hangup\s*\/?>/.test(xml);
  const connect = /<Connect\b[^>]*>([\s\S]*?)<\/Connect>/.exec(xml);
  const stream = connect === null ? null : /<Stream\b([^>]*?)(\/>|>([\s\S]*?)<\/Stream>)/.exec(connect[1]!);
  if (stream === null) {
    if (/<Stream\b/.test(xml)) {
      throw new TwilioCallerError('invalid_twiml', 'TwiML has a <Stream> outside <Connect>: that stream is one-way and cannot carry the agent\'s voice');
    }
    return { streamUrl: null, parameters, says, hangup };
  }
  const url = attribute(stream[1]!, 'url');
  if (url === null) throw new TwilioCallerError('invalid_twiml', 'TwiML <Stream> has no url attribute');
  for (const parameter of (stream[3] ?? '').matchAll(/<Parameter\b([^>]*?)\/?>/g)) {
    const name = attribute(parameter[1]!, 'name');
    const value = attribute(parameter[1]!, 'value');
    if (name !== null) parameters[name] = value ?? '';
  }
  if (!/^wss?:\/\//.test(url)) throw new TwilioCallerError('invalid_twiml', `TwiML <Stream url="${url}"> is not a ws:// or wss:// URL`);
  if (new URL(url).search !== '') {
    throw new TwilioCallerError('invalid_twiml', `TwiML <Stream url="${url}"> has a query string; Twilio does not pass it on (use <Parameter>)`);
  }
  return { streamUrl: url, parameters, says, hangup };
}

function attribute(attributes: string, name: string): string | null {
  const match = new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(attributes);
  if (match === null) return null;
  return decodeXml(match[1] ?? match[2] ?? '');
}

/** XML entities decoded (the five named ones and numeric references). */
export function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_entity, body: string) => {
    switch (body) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(body.startsWith('#x') ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10));
    }
  });
}
