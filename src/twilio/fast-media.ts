/**
 * The fast path for the one hot Twilio message, `media` (50 a second per call): one precompiled check of the whole
 * frame, then the values read out between its fixed literal runs, without `JSON.parse` building an object tree and
 * copying every string first.
 *
 * It recognises one thing only, the compact frame Twilio sends, in either key order seen (`streamSid` before `media`
 * in the fixtures, after it on the wire):
 *
 *   {"event":"media","sequenceNumber":"N","streamSid":"S","media":{"track":"T","chunk":"N","timestamp":"N","payload":"B"}}
 *   {"event":"media","sequenceNumber":"N","media":{"track":"T","chunk":"N","timestamp":"N","payload":"B"},"streamSid":"S"}
 *
 * where N is 1 to 15 ASCII digits (the strict parser's integer-string rule), S and T strings without escapes or
 * control characters, and B padded standard base64 (what `isStrictBase64` accepts). On such a frame the strict
 * parser (`parseTwilioMessageStrict`) succeeds, and this returns the very same result: both build it with
 * `mediaResult` below. For anything else (a valid frame it does not recognise exactly, such as one with whitespace,
 * an extra key, a number sent as a JSON number or an escaped character, and every invalid one) it returns null and
 * the caller runs the strict parser, so error codes and details come from one place only. It never throws.
 */
import { base64ToBytes } from '../audio/pcm.js';
import type { TwilioParseResult } from './messages.js';
import { digitsAt, digitsEnd, PLAIN_JSON_STRING_BODY as PLAIN } from '../net/fast-json.js';

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

/** The strict parser's integer string: 1 to 15 ASCII digits. */
const DIGITS = '[0-9]{1,15}';
const MEDIA_OBJECT = `\\{"track":"${PLAIN}","chunk":"${DIGITS}","timestamp":"${DIGITS}","payload":"[A-Za-z0-9+/]*={0,2}"\\}`;

/**
 * The whole frame, compact, in either key order Twilio uses. Linear and free of backtracking hazards: every variable
 * run is a single character class followed by a character outside it, and the two alternatives differ from their
 * second character on. Anchored at both ends (`$` without the m flag is the end of the input, not of a line).
 */
const MEDIA_FRAME = new RegExp(
  `^\\{"event":"media","sequenceNumber":"${DIGITS}",(?:"streamSid":"${PLAIN}","media":${MEDIA_OBJECT}|"media":${MEDIA_OBJECT},"streamSid":"${PLAIN}")\\}$`,
);

// The literal runs between the values, for reading the values out once MEDIA_FRAME has matched.
const HEAD = '{"event":"media","sequenceNumber":"';
/** From the closing quote of the value before it to the `{` of the media object. */
const TO_MEDIA = '","media":';
/** From the closing quote of the value before it to the first character of the streamSid. */
const TO_STREAM_SID = '","streamSid":"';
/** From the `}` of the media object to the first character of the streamSid. */
const AFTER_MEDIA_TO_STREAM_SID = '},"streamSid":"';
const TO_TRACK = '{"track":"';
const TO_CHUNK = '","chunk":"';
const TO_TIMESTAMP = '","timestamp":"';
const TO_PAYLOAD = '","payload":"';
/** Where the frame's event name starts (its `me` tells media from every other event). */
const EVENT_NAME_AT = HEAD.indexOf('media');
/** Offset, from the sequence number's closing quote, of the letter that tells which key comes next (`m` or `s`). */
const NEXT_KEY_LETTER = TO_MEDIA.indexOf('m');

let hits = 0;

/** How many messages the fast path has parsed in this process (tests prove it is taken; a gauge could read it). */
export function twilioFastMediaHits(): number {
  return hits;
}

function scan(text: string): TwilioParseResult | null {
  // Cheap exits first: any other event (or layout) fails one of these before the expression runs.
  if (text.charCodeAt(EVENT_NAME_AT + 1) !== 101 /* the e of media (not mark) */ || text.charCodeAt(text.length - 1) !== 125 /* } */) {
    return null;
  }
  if (!MEDIA_FRAME.test(text)) return null;

  // Matched: the layout is known, so the values are read between the literal runs.
  const sequenceNumber = digitsAt(text, HEAD.length);
  let streamSidStart: number;
  let streamSidEnd: number;
  let media: number;
  const mediaFirst = text.charCodeAt(digitsEnd + NEXT_KEY_LETTER) === 109; /* m */
  if (mediaFirst) {
    // {"event":"media","sequenceNumber":"N","media":{…},"streamSid":"S"} (Twilio's own order)
    media = digitsEnd + TO_MEDIA.length;
    streamSidStart = -1; // known once the media object is read
    streamSidEnd = text.length - 2;
  } else {
    // {"event":"media","sequenceNumber":"N","streamSid":"S","media":{…}} (the fixtures' order)
    streamSidStart = digitsEnd + TO_STREAM_SID.length;
    streamSidEnd = text.indexOf('"', streamSidStart);
    media = streamSidEnd + TO_MEDIA.length;
  }
  // media: the `{` of {"track":"T","chunk":"N","timestamp":"N","payload":"B"}
  const trackStart = media + TO_TRACK.length;
  const trackEnd = text.indexOf('"', trackStart);
  const chunk = digitsAt(text, trackEnd + TO_CHUNK.length);
  const timestampMs = digitsAt(text, digitsEnd + TO_TIMESTAMP.length);
  const payloadStart = digitsEnd + TO_PAYLOAD.length;
  const payloadEnd = text.indexOf('"', payloadStart);
  // MEDIA_FRAME checked the alphabet and the padding characters; whole 4-character groups are checked here.
  if ((payloadEnd - payloadStart) % 4 !== 0) return null;
  if (mediaFirst) streamSidStart = payloadEnd + 1 + AFTER_MEDIA_TO_STREAM_SID.length;

  hits++;
  return mediaResult(
    sequenceNumber,
    text.slice(streamSidStart, streamSidEnd),
    text.slice(trackStart, trackEnd),
    chunk,
    timestampMs,
    text.slice(payloadStart, payloadEnd),
  );
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
