/**
 * The fast path for the one hot Twilio message, `media` (50 a second per call): a hand scanner that reads the few
 * fields the call needs straight out of the frame text, without `JSON.parse` building an object tree and copying
 * every string first.
 *
 * It recognises one thing only: a JSON object with exactly the keys `event`, `sequenceNumber`, `streamSid` and `media`
 * (any order, each once, JSON whitespace allowed between tokens), `event` being `"media"` and `media` an object with
 * exactly `track`, `chunk`, `timestamp`, `payload` (any order, each once), every value a string without escapes or
 * control characters, the three counters 1–15 decimal digits and the payload padded standard base64. That is the
 * shape Twilio sends, in either key order seen (`streamSid` before `media` in the fixtures, after it on the wire).
 *
 * On that input the strict parser (`parseTwilioMessageStrict`) succeeds, and this returns the very same result:
 * both build it with `mediaResult` below. For anything else (a valid message it does not recognise exactly, such as
 * an extra key, a number sent as a JSON number or an escaped character, or any invalid one) it returns null and the
 * caller runs the strict parser, so error codes and details come from one place only. It never throws.
 *
 * No regular expressions: plain loops over char codes, linear in the frame length, no backtracking.
 */
import { base64ToBytes } from '../audio/pcm.js';
import type { TwilioParseResult } from './messages.js';

/** The one success shape of a media message; the strict parser builds it here too, so both agree by construction. */
export function mediaResult(
  sequenceNumber: number,
  streamSid: string,
  track: string,
  chunk: number,
  timestampMs: number,
  payloadBase64: string,
): TwilioParseResult {
  return {
    ok: true,
    message: {
      event: 'media',
      sequenceNumber,
      streamSid,
      media: { track, chunk, timestampMs, payload: base64ToBytes(payloadBase64) },
    },
  };
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const EQUALS = 61;

/** Top-level keys, as bits of the seen-set. */
const KEY_EVENT = 1;
const KEY_SEQUENCE = 2;
const KEY_STREAM_SID = 4;
const KEY_MEDIA = 8;
const ALL_TOP_KEYS = 15;
/** Keys of the `media` object. */
const KEY_TRACK = 1;
const KEY_CHUNK = 2;
const KEY_TIMESTAMP = 4;
const KEY_PAYLOAD = 8;
const ALL_MEDIA_KEYS = 15;

/** 1 for the 64 characters of the standard base64 alphabet (not `=`), indexed by char code < 128. */
const BASE64_ALPHABET = new Uint8Array(128);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_ALPHABET[char.charCodeAt(0)] = 1;

/** Track names returned as shared constants, so a frame's track costs no string. Others are sliced as usual. */
const KNOWN_TRACKS = ['inbound', 'outbound', 'inbound_track', 'outbound_track'] as const;

// Scanner output registers: a hot path that returns several values without allocating an object for them.
/** Index just past the value read last. */
let end = 0;
/** The integer read by `readDigitString`. */
let integer = 0;
/** Start (inclusive) and end (exclusive) of the string body read by `readPlainString`. */
let stringStart = 0;
let stringEnd = 0;

/** The last streamSid returned: consecutive frames of a call share it, so it is reused instead of sliced again. */
let lastStreamSid = '';

let hits = 0;

/** How many messages the fast path has parsed in this process (tests prove it is taken; a gauge could read it). */
export function twilioFastMediaHits(): number {
  return hits;
}

function skipWhitespace(text: string, index: number): number {
  for (;;) {
    const code = text.charCodeAt(index);
    // JSON whitespace exactly: space, tab, LF, CR (JSON.parse accepts no other).
    if (code === 32 || code === 10 || code === 13 || code === 9) index++;
    else return index;
  }
}

/**
 * A string at `index` (its opening quote) with no escape and no control character, i.e. whose JSON text is its value.
 * Sets `stringStart`/`stringEnd` (the body) and `end`; false for anything else.
 */
function readPlainString(text: string, index: number): boolean {
  if (text.charCodeAt(index) !== QUOTE) return false;
  const start = index + 1;
  const length = text.length;
  for (let i = start; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      stringStart = start;
      stringEnd = i;
      end = i + 1;
      return true;
    }
    if (code === BACKSLASH || code < 32) return false;
  }
  return false;
}

/** `"<1 to 15 ASCII digits>"` at `index`, as the strict parser's integer-string rule accepts it. Sets `integer`, `end`. */
function readDigitString(text: string, index: number): boolean {
  if (text.charCodeAt(index) !== QUOTE) return false;
  let value = 0;
  let i = index + 1;
  const limit = i + 15;
  for (; i <= limit; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit >= 0 && digit <= 9) {
      if (i === limit) return false; // a 16th digit: the strict rule rejects it
      value = value * 10 + digit;
      continue;
    }
    if (digit !== QUOTE - 48 || i === index + 1) return false;
    integer = value;
    end = i + 1;
    return true;
  }
  return false;
}

/** `"<padded standard base64>"` at `index` (what `isStrictBase64` accepts). Sets `stringStart`/`stringEnd`, `end`. */
function readBase64String(text: string, index: number): boolean {
  if (text.charCodeAt(index) !== QUOTE) return false;
  const start = index + 1;
  const length = text.length;
  let i = start;
  while (i < length) {
    const code = text.charCodeAt(i);
    if (code >= 128 || BASE64_ALPHABET[code] !== 1) break;
    i++;
  }
  if (text.charCodeAt(i) === EQUALS) {
    i++;
    if (text.charCodeAt(i) === EQUALS) i++;
  }
  if (text.charCodeAt(i) !== QUOTE || (i - start) % 4 !== 0) return false;
  stringStart = start;
  stringEnd = i;
  end = i + 1;
  return true;
}

/** True when `text` has `"<word>"` at `index` (a key or a constant value). Sets `end`. */
function matchQuoted(text: string, index: number, quotedWord: string): boolean {
  if (!text.startsWith(quotedWord, index)) return false;
  end = index + quotedWord.length;
  return true;
}

/** Past the `:` after a key ending at `end`, and any whitespace around it; -1 without a colon. */
function valueStart(text: string): number {
  const colon = skipWhitespace(text, end);
  if (text.charCodeAt(colon) !== COLON) return -1;
  return skipWhitespace(text, colon + 1);
}

// The fields of the message being scanned (module registers again: no per-message object for them).
let sequenceNumber = 0;
let streamSid = '';
let track = '';
let chunk = 0;
let timestampMs = 0;
let payloadStart = 0;
let payloadEnd = 0;

/** Scans the `media` object whose `{` is at `index`. Sets the media registers and `end`; false if not exactly ours. */
function scanMediaObject(text: string, index: number): boolean {
  if (text.charCodeAt(index) !== OPEN_BRACE) return false;
  let seen = 0;
  let at = skipWhitespace(text, index + 1);
  for (;;) {
    let key: number;
    const first = text.charCodeAt(at + 1);
    if (first === 116 /* t */ && matchQuoted(text, at, '"track"')) key = KEY_TRACK;
    else if (first === 99 /* c */ && matchQuoted(text, at, '"chunk"')) key = KEY_CHUNK;
    else if (first === 116 /* t */ && matchQuoted(text, at, '"timestamp"')) key = KEY_TIMESTAMP;
    else if (first === 112 /* p */ && matchQuoted(text, at, '"payload"')) key = KEY_PAYLOAD;
    else return false;
    if ((seen & key) !== 0) return false; // a duplicate key: JSON.parse keeps the last one; leave that to it
    seen |= key;
    const value = valueStart(text);
    if (value < 0) return false;
    switch (key) {
      case KEY_TRACK: {
        if (!readPlainString(text, value)) return false;
        track = '';
        for (const known of KNOWN_TRACKS) {
          if (stringEnd - stringStart === known.length && text.startsWith(known, stringStart)) {
            track = known;
            break;
          }
        }
        if (track === '' && stringEnd > stringStart) track = text.slice(stringStart, stringEnd);
        break;
      }
      case KEY_CHUNK:
        if (!readDigitString(text, value)) return false;
        chunk = integer;
        break;
      case KEY_TIMESTAMP:
        if (!readDigitString(text, value)) return false;
        timestampMs = integer;
        break;
      default:
        if (!readBase64String(text, value)) return false;
        payloadStart = stringStart;
        payloadEnd = stringEnd;
    }
    at = skipWhitespace(text, end);
    const separator = text.charCodeAt(at);
    if (separator === COMMA) {
      at = skipWhitespace(text, at + 1);
      continue;
    }
    if (separator !== CLOSE_BRACE || seen !== ALL_MEDIA_KEYS) return false;
    end = at + 1;
    return true;
  }
}

function scan(text: string): TwilioParseResult | null {
  let at = skipWhitespace(text, 0);
  if (text.charCodeAt(at) !== OPEN_BRACE) return null;
  at = skipWhitespace(text, at + 1);
  let seen = 0;
  for (;;) {
    let key: number;
    const first = text.charCodeAt(at + 1);
    if (first === 101 /* e */ && matchQuoted(text, at, '"event"')) key = KEY_EVENT;
    else if (first === 115 /* s */ && matchQuoted(text, at, '"sequenceNumber"')) key = KEY_SEQUENCE;
    else if (first === 115 /* s */ && matchQuoted(text, at, '"streamSid"')) key = KEY_STREAM_SID;
    else if (first === 109 /* m */ && matchQuoted(text, at, '"media"')) key = KEY_MEDIA;
    else return null;
    if ((seen & key) !== 0) return null;
    seen |= key;
    const value = valueStart(text);
    if (value < 0) return null;
    switch (key) {
      case KEY_EVENT:
        // Any other event (start, mark, …) leaves here, after reading one key.
        if (!matchQuoted(text, value, '"media"')) return null;
        break;
      case KEY_SEQUENCE:
        if (!readDigitString(text, value)) return null;
        sequenceNumber = integer;
        break;
      case KEY_STREAM_SID: {
        const cached = lastStreamSid;
        if (
          cached !== '' &&
          text.charCodeAt(value) === QUOTE &&
          text.charCodeAt(value + 1 + cached.length) === QUOTE &&
          text.startsWith(cached, value + 1)
        ) {
          // Same characters as a string that passed readPlainString before, so this one would pass too.
          streamSid = cached;
          end = value + cached.length + 2;
          break;
        }
        if (!readPlainString(text, value)) return null;
        streamSid = text.slice(stringStart, stringEnd);
        break;
      }
      default:
        if (!scanMediaObject(text, value)) return null;
    }
    at = skipWhitespace(text, end);
    const separator = text.charCodeAt(at);
    if (separator === COMMA) {
      at = skipWhitespace(text, at + 1);
      continue;
    }
    if (separator !== CLOSE_BRACE || seen !== ALL_TOP_KEYS) return null;
    if (skipWhitespace(text, at + 1) !== text.length) return null;
    break;
  }
  if (streamSid !== '') lastStreamSid = streamSid;
  hits++;
  return mediaResult(sequenceNumber, streamSid, track, chunk, timestampMs, text.slice(payloadStart, payloadEnd));
}

/**
 * A Twilio `media` frame in exactly the shape Twilio sends, parsed to the result the strict parser would return;
 * null for anything else (run the strict parser then). Never throws.
 */
export function parseTwilioMediaFast(text: string): TwilioParseResult | null {
  try {
    return scan(text);
  } catch {
    // Not reachable by construction (no call above throws on any string); if it ever were, strict decides.
    return null;
  }
}
