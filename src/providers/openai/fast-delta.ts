/**
 * The fast path for the one hot OpenAI server event, `response.output_audio.delta` (several a second per call, each
 * carrying kilobytes of base64): a hand scanner that builds the event object straight from the frame text instead of
 * `JSON.parse`.
 *
 * It recognises one thing only: a JSON object with exactly the keys `type`, `event_id`, `response_id`, `item_id`,
 * `output_index`, `content_index` and `delta`, in any order, each once (JSON whitespace allowed between tokens);
 * `type` being `"response.output_audio.delta"`, the ids and `delta` strings without escapes or control characters,
 * the two indexes non-negative JSON integers of at most 15 digits. The GA API sends `type` first, the simulated
 * server `event_id` first; both are recognised.
 *
 * On that input the result is the object `JSON.parse` would build: the same keys, in the same (text) order, with the
 * same values. For anything else it returns null and the strict parser (`parseServerEventStrict`) runs, so every
 * error code and every other event comes from one place. It never throws. No regular expressions, no backtracking.
 */
import type { ResponseAudioDeltaEvent } from 'openai/resources/realtime/realtime';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

const TYPE_VALUE = '"response.output_audio.delta"';

/** The seven keys: quoted (as matched in the text), their property names, and their kind of value. */
const KEYS = ['type', 'event_id', 'response_id', 'item_id', 'output_index', 'content_index', 'delta'] as const;
const QUOTED_KEYS = KEYS.map((key) => `"${key}"`);
const KIND_TYPE = 0;
const KIND_STRING = 1;
const KIND_INTEGER = 2;
const KINDS = [KIND_TYPE, KIND_STRING, KIND_STRING, KIND_STRING, KIND_INTEGER, KIND_INTEGER, KIND_STRING];
const ALL_KEYS = (1 << KEYS.length) - 1;

let hits = 0;

/** How many events the fast path has parsed in this process (tests prove it is taken; a gauge could read it). */
export function audioDeltaFastHits(): number {
  return hits;
}

/** Index just past the value read last. */
let end = 0;

function skipWhitespace(text: string, index: number): number {
  for (;;) {
    const code = text.charCodeAt(index);
    // JSON whitespace exactly: space, tab, LF, CR.
    if (code === 32 || code === 10 || code === 13 || code === 9) index++;
    else return index;
  }
}

/** Which of KEYS is quoted at `index` (its opening quote); -1 for any other key. Sets `end`. */
function keyAt(text: string, index: number): number {
  let key: number;
  switch (text.charCodeAt(index + 1)) {
    case 116 /* t */:
      key = 0;
      break;
    case 101 /* e */:
      key = 1;
      break;
    case 114 /* r */:
      key = 2;
      break;
    case 105 /* i */:
      key = 3;
      break;
    case 111 /* o */:
      key = 4;
      break;
    case 99 /* c */:
      key = 5;
      break;
    case 100 /* d */:
      key = 6;
      break;
    default:
      return -1;
  }
  const quoted = QUOTED_KEYS[key]!;
  if (!text.startsWith(quoted, index)) return -1;
  end = index + quoted.length;
  return key;
}

/** The string whose opening quote is at `index`, when its JSON text is its value (no escape, no control char). */
function plainString(text: string, index: number): string | null {
  if (text.charCodeAt(index) !== QUOTE) return null;
  const start = index + 1;
  const length = text.length;
  for (let i = start; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      end = i + 1;
      return text.slice(start, i);
    }
    if (code === BACKSLASH || code < 32) return null;
  }
  return null;
}

/** A JSON integer ≥ 0 at `index` (`0`, or no leading zero), at most 15 digits so it is exact; -1 otherwise. */
function smallInteger(text: string, index: number): number {
  let value = 0;
  let i = index;
  const limit = index + 15;
  for (; i < limit; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    if (digit === 0 && i === index) {
      i++;
      break; // "0" ends the number (a digit after it is not JSON; the caller's separator check rejects it)
    }
    value = value * 10 + digit;
  }
  if (i === index) return -1;
  const next = text.charCodeAt(i);
  // A fraction, an exponent or a 16th digit: not ours (JSON.parse decides what it means).
  if (next === 46 /* . */ || next === 101 /* e */ || next === 69 /* E */ || (next >= 48 && next <= 57)) return -1;
  end = i;
  return value;
}

function scan(text: string): ResponseAudioDeltaEvent | null {
  let at = skipWhitespace(text, 0);
  if (text.charCodeAt(at) !== OPEN_BRACE) return null;
  at = skipWhitespace(text, at + 1);
  // Filled in text order, as JSON.parse does, so the key order is the same as the strict path's.
  const event: Record<string, unknown> = {};
  let seen = 0;
  for (;;) {
    const key = keyAt(text, at);
    if (key < 0) return null;
    const bit = 1 << key;
    if ((seen & bit) !== 0) return null; // duplicate: JSON.parse keeps the last; leave that to it
    seen |= bit;
    const colon = skipWhitespace(text, end);
    if (text.charCodeAt(colon) !== COLON) return null;
    const value = skipWhitespace(text, colon + 1);
    switch (KINDS[key]) {
      case KIND_TYPE:
        // Every other event type leaves here (the GA API puts `type` first).
        if (!text.startsWith(TYPE_VALUE, value)) return null;
        end = value + TYPE_VALUE.length;
        event['type'] = 'response.output_audio.delta';
        break;
      case KIND_STRING: {
        const string = plainString(text, value);
        if (string === null) return null;
        event[KEYS[key]!] = string;
        break;
      }
      default: {
        const integer = smallInteger(text, value);
        if (integer < 0) return null;
        event[KEYS[key]!] = integer;
      }
    }
    at = skipWhitespace(text, end);
    const separator = text.charCodeAt(at);
    if (separator === COMMA) {
      at = skipWhitespace(text, at + 1);
      continue;
    }
    if (separator !== CLOSE_BRACE || seen !== ALL_KEYS) return null;
    if (skipWhitespace(text, at + 1) !== text.length) return null;
    break;
  }
  hits++;
  return event as unknown as ResponseAudioDeltaEvent;
}

/**
 * A `response.output_audio.delta` frame in exactly the shape the API sends, as the object `JSON.parse` would build;
 * null for anything else (run the strict parser then). Never throws.
 */
export function parseAudioDeltaFast(text: string): ResponseAudioDeltaEvent | null {
  try {
    return scan(text);
  } catch {
    // Not reachable by construction (no call above throws on any string); if it ever were, strict decides.
    return null;
  }
}
