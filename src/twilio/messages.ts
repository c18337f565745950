/**
 * Inbound Twilio Media Streams messages: types and a tolerant parser.
 *
 * The parser never throws: it returns a result with a stable error code, so the transport can count and log each
 * class of bad input once and go on. Every field shown in the protocol notes (docs/PROTOCOLS.md) is required; a
 * missing one is MISSING_FIELD, a wrong type or shape INVALID_FIELD. Twilio sends numeric-looking fields as strings
 * ("sequenceNumber":"3"); they are converted to integers here so nothing downstream re-parses them.
 *
 * The media path runs 50 times a second per call: a `media` frame in Twilio's exact shape is read by one precompiled
 * check of the whole frame (fast-media.ts) without `JSON.parse`; anything else gets one JSON.parse and hand-written
 * checks, no schema library.
 */
import { rawDataToText } from '../net/socket-plumbing.js';
import type { RawData } from 'ws';
import { mediaResult, parseTwilioMediaFast } from './fast-media.js';

export const TWILIO_PARSE_ERROR_CODES = [
  'BINARY_FRAME',
  'INVALID_JSON',
  'NOT_AN_OBJECT',
  'UNKNOWN_EVENT',
  'MISSING_FIELD',
  'INVALID_FIELD',
  'INVALID_BASE64',
] as const;
export type TwilioParseErrorCode = (typeof TWILIO_PARSE_ERROR_CODES)[number];

/** `{"event":"connected","protocol":"Call","version":"1.0.0"}`: the first message, before `start`. */
export interface TwilioConnectedMessage {
  event: 'connected';
  protocol: string;
  version: string;
}

/** The `start` payload: who the stream belongs to and what the audio is. */
export interface StreamStart {
  streamSid: string;
  callSid: string;
  accountSid: string;
  /** e.g. `["inbound"]`. */
  tracks: string[];
  /** The `<Parameter>`s from the TwiML, verbatim. */
  customParameters: Record<string, string>;
  mediaFormat: {
    /** `audio/x-mulaw` on every stream Twilio currently sends. */
    encoding: string;
    /** Samples per second (Hz); 8000. Named as Twilio names it, since this object is part of the public contract. */
    sampleRate: number;
    channels: number;
  };
}

export interface TwilioStartMessage {
  event: 'start';
  sequenceNumber: number;
  streamSid: string;
  start: StreamStart;
}

export interface TwilioMediaMessage {
  event: 'media';
  sequenceNumber: number;
  streamSid: string;
  media: {
    track: string;
    /** Media-only counter, 1-based, increments per media message. */
    chunk: number;
    /** Milliseconds since the stream started, by Twilio's clock. */
    timestampMs: number;
    /** Raw mu-law 8 kHz mono, decoded from base64. Usually 160 bytes (20 ms), not guaranteed. */
    payload: Uint8Array;
  };
}

/** A mark we sent, echoed when playback reached it (or when a `clear` flushed it). */
export interface TwilioMarkMessage {
  event: 'mark';
  sequenceNumber: number;
  streamSid: string;
  mark: { name: string };
}

export interface TwilioDtmfMessage {
  event: 'dtmf';
  sequenceNumber: number;
  streamSid: string;
  dtmf: { track: string; digit: string };
}

export interface TwilioStopMessage {
  event: 'stop';
  sequenceNumber: number;
  streamSid: string;
  stop: { accountSid: string; callSid: string };
}

export type TwilioInboundMessage =
  | TwilioConnectedMessage
  | TwilioStartMessage
  | TwilioMediaMessage
  | TwilioMarkMessage
  | TwilioDtmfMessage
  | TwilioStopMessage;

export type TwilioParseResult =
  | { ok: true; message: TwilioInboundMessage }
  | { ok: false; code: TwilioParseErrorCode; detail: string };

type Fail = { ok: false; code: TwilioParseErrorCode; detail: string };
type JsonObject = Record<string, unknown>;


function fail(code: TwilioParseErrorCode, detail: string): Fail {
  return { ok: false, code, detail };
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Result of one field read: the value, or the failure to return. */
type Field<T> = { value: T; error?: undefined } | { value?: undefined; error: Fail };

function stringField(object: JsonObject, key: string, path: string): Field<string> {
  const value = object[key];
  if (value === undefined) return { error: fail('MISSING_FIELD', `${path} is missing`) };
  if (typeof value !== 'string') return { error: fail('INVALID_FIELD', `${path} must be a string`) };
  return { value };
}

function objectField(object: JsonObject, key: string, path: string): Field<JsonObject> {
  const value = object[key];
  if (value === undefined) return { error: fail('MISSING_FIELD', `${path} is missing`) };
  if (!isObject(value)) return { error: fail('INVALID_FIELD', `${path} must be an object`) };
  return { value };
}

/**
 * A non-negative integer sent as a decimal string ("40") or, tolerantly, as a JSON number. Anything else
 * ("1.5", "-1", "", "0x10", 1e21) is INVALID_FIELD. Hand-rolled: this runs three times per media frame.
 */
function integerField(object: JsonObject, key: string, path: string): Field<number> {
  const value = object[key];
  if (value === undefined) return { error: fail('MISSING_FIELD', `${path} is missing`) };
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return { value };
    return { error: fail('INVALID_FIELD', `${path} must be a non-negative integer`) };
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 15) {
    return { error: fail('INVALID_FIELD', `${path} must be a non-negative integer string`) };
  }
  let result = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return { error: fail('INVALID_FIELD', `${path} must be a non-negative integer string`) };
    result = result * 10 + digit;
  }
  return { value: result };
}

const BASE64_BODY = /^[A-Za-z0-9+/]*$/;

/**
 * Strict standard base64 with padding. Needed because Buffer.from(s, 'base64') skips characters outside the
 * alphabet and stops at stray padding, so garbage would decode to plausible-looking (wrong) audio.
 */
export function isStrictBase64(text: string): boolean {
  const length = text.length;
  if (length % 4 !== 0) return false;
  let bodyEnd = length;
  if (length > 0 && text.charCodeAt(length - 1) === 61 /* = */) {
    bodyEnd--;
    if (text.charCodeAt(length - 2) === 61) bodyEnd--;
  }
  return BASE64_BODY.test(bodyEnd === length ? text : text.slice(0, bodyEnd));
}

function parseConnected(object: JsonObject): TwilioParseResult {
  const protocol = stringField(object, 'protocol', 'protocol');
  if (protocol.error) return protocol.error;
  const version = stringField(object, 'version', 'version');
  if (version.error) return version.error;
  return { ok: true, message: { event: 'connected', protocol: protocol.value, version: version.value } };
}

function parseStart(object: JsonObject, sequenceNumber: number, streamSid: string): TwilioParseResult {
  const start = objectField(object, 'start', 'start');
  if (start.error) return start.error;
  const body = start.value;
  const innerStreamSid = stringField(body, 'streamSid', 'start.streamSid');
  if (innerStreamSid.error) return innerStreamSid.error;
  if (innerStreamSid.value !== streamSid) return fail('INVALID_FIELD', 'start.streamSid differs from streamSid');
  const callSid = stringField(body, 'callSid', 'start.callSid');
  if (callSid.error) return callSid.error;
  const accountSid = stringField(body, 'accountSid', 'start.accountSid');
  if (accountSid.error) return accountSid.error;

  const tracks = body['tracks'];
  if (tracks === undefined) return fail('MISSING_FIELD', 'start.tracks is missing');
  if (!Array.isArray(tracks) || !tracks.every((track) => typeof track === 'string')) {
    return fail('INVALID_FIELD', 'start.tracks must be an array of strings');
  }

  const customParameters = objectField(body, 'customParameters', 'start.customParameters');
  if (customParameters.error) return customParameters.error;
  for (const key of Object.keys(customParameters.value)) {
    if (typeof customParameters.value[key] !== 'string') {
      return fail('INVALID_FIELD', `start.customParameters.${key} must be a string`);
    }
  }

  const mediaFormat = objectField(body, 'mediaFormat', 'start.mediaFormat');
  if (mediaFormat.error) return mediaFormat.error;
  const encoding = stringField(mediaFormat.value, 'encoding', 'start.mediaFormat.encoding');
  if (encoding.error) return encoding.error;
  const sampleRate = integerField(mediaFormat.value, 'sampleRate', 'start.mediaFormat.sampleRate');
  if (sampleRate.error) return sampleRate.error;
  const channels = integerField(mediaFormat.value, 'channels', 'start.mediaFormat.channels');
  if (channels.error) return channels.error;

  return {
    ok: true,
    message: {
      event: 'start',
      sequenceNumber,
      streamSid,
      start: {
        streamSid,
        callSid: callSid.value,
        accountSid: accountSid.value,
        tracks: tracks as string[],
        // Returned as parsed: copying keys into `{}` would let a "__proto__" parameter set the prototype.
        customParameters: customParameters.value as Record<string, string>,
        mediaFormat: { encoding: encoding.value, sampleRate: sampleRate.value, channels: channels.value },
      },
    },
  };
}

function parseMedia(object: JsonObject, sequenceNumber: number, streamSid: string): TwilioParseResult {
  const media = objectField(object, 'media', 'media');
  if (media.error) return media.error;
  const body = media.value;
  const track = stringField(body, 'track', 'media.track');
  if (track.error) return track.error;
  const chunk = integerField(body, 'chunk', 'media.chunk');
  if (chunk.error) return chunk.error;
  const timestamp = integerField(body, 'timestamp', 'media.timestamp');
  if (timestamp.error) return timestamp.error;
  const payload = stringField(body, 'payload', 'media.payload');
  if (payload.error) return payload.error;
  if (!isStrictBase64(payload.value)) return fail('INVALID_BASE64', 'media.payload is not padded standard base64');
  return mediaResult(sequenceNumber, streamSid, track.value, chunk.value, timestamp.value, payload.value);
}

function parseMark(object: JsonObject, sequenceNumber: number, streamSid: string): TwilioParseResult {
  const mark = objectField(object, 'mark', 'mark');
  if (mark.error) return mark.error;
  const name = stringField(mark.value, 'name', 'mark.name');
  if (name.error) return name.error;
  return { ok: true, message: { event: 'mark', sequenceNumber, streamSid, mark: { name: name.value } } };
}

function parseDtmf(object: JsonObject, sequenceNumber: number, streamSid: string): TwilioParseResult {
  const dtmf = objectField(object, 'dtmf', 'dtmf');
  if (dtmf.error) return dtmf.error;
  const track = stringField(dtmf.value, 'track', 'dtmf.track');
  if (track.error) return track.error;
  const digit = stringField(dtmf.value, 'digit', 'dtmf.digit');
  if (digit.error) return digit.error;
  if (digit.value.length === 0) return fail('INVALID_FIELD', 'dtmf.digit must not be empty');
  return { ok: true, message: { event: 'dtmf', sequenceNumber, streamSid, dtmf: { track: track.value, digit: digit.value } } };
}

function parseStop(object: JsonObject, sequenceNumber: number, streamSid: string): TwilioParseResult {
  const stop = objectField(object, 'stop', 'stop');
  if (stop.error) return stop.error;
  const accountSid = stringField(stop.value, 'accountSid', 'stop.accountSid');
  if (accountSid.error) return accountSid.error;
  const callSid = stringField(stop.value, 'callSid', 'stop.callSid');
  if (callSid.error) return callSid.error;
  return {
    ok: true,
    message: { event: 'stop', sequenceNumber, streamSid, stop: { accountSid: accountSid.value, callSid: callSid.value } },
  };
}

/**
 * Parses one WebSocket message from Twilio. Never throws.
 *
 * A `media` frame in exactly Twilio's shape is read by the fast path (fast-media.ts: no `JSON.parse`, same result);
 * everything else, including every invalid message, goes through `parseTwilioMessageStrict`, so the error codes and
 * details are the strict parser's alone.
 *
 * @param data - The message as ws delivers it (`RawData`), or already-decoded text.
 * @param isBinary - ws's flag; Twilio only sends text frames, so a binary frame is BINARY_FRAME.
 */
export function parseTwilioMessage(data: RawData | string, isBinary: boolean): TwilioParseResult {
  if (isBinary) return fail('BINARY_FRAME', 'Twilio sends text frames only');
  let text: string;
  try {
    text = rawDataToText(data);
  } catch {
    // Decoding can only fail on a frame too big for a string; the strict parser reports that as it always has.
    return parseTwilioMessageStrict(data, false);
  }
  return parseTwilioMediaFast(text) ?? parseTwilioMessageStrict(text, false);
}

/**
 * The reference parser: one `JSON.parse`, then hand-written checks of every field. `parseTwilioMessage` gives the same
 * result for every input (tests compare them on the fixtures and on fuzzed frames); exported for those tests and the
 * parse benchmark.
 */
export function parseTwilioMessageStrict(data: RawData | string, isBinary: boolean): TwilioParseResult {
  if (isBinary) return fail('BINARY_FRAME', 'Twilio sends text frames only');
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawDataToText(data));
  } catch (error) {
    return fail('INVALID_JSON', error instanceof Error ? error.message : 'unparseable JSON');
  }
  if (!isObject(parsed)) return fail('NOT_AN_OBJECT', 'message is not a JSON object');

  const event = parsed['event'];
  if (event === undefined) return fail('MISSING_FIELD', 'event is missing');
  if (typeof event !== 'string') return fail('INVALID_FIELD', 'event must be a string');
  if (event === 'connected') return parseConnected(parsed);
  if (event !== 'media' && event !== 'start' && event !== 'mark' && event !== 'dtmf' && event !== 'stop') {
    return fail('UNKNOWN_EVENT', `unknown event "${event.slice(0, 64)}"`);
  }

  const sequenceNumber = integerField(parsed, 'sequenceNumber', 'sequenceNumber');
  if (sequenceNumber.error) return sequenceNumber.error;
  const streamSid = stringField(parsed, 'streamSid', 'streamSid');
  if (streamSid.error) return streamSid.error;

  switch (event) {
    case 'media':
      return parseMedia(parsed, sequenceNumber.value, streamSid.value);
    case 'start':
      return parseStart(parsed, sequenceNumber.value, streamSid.value);
    case 'mark':
      return parseMark(parsed, sequenceNumber.value, streamSid.value);
    case 'dtmf':
      return parseDtmf(parsed, sequenceNumber.value, streamSid.value);
    case 'stop':
      return parseStop(parsed, sequenceNumber.value, streamSid.value);
  }
}
