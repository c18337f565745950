/**
 * Pieces shared by the fast paths for hot messages (src/twilio/fast-media.ts, src/providers/openai/fast-delta.ts):
 * once an anchored expression has proved a message has the exact expected layout, its values are read in place.
 */

/** Regular-expression source of a JSON string body that is its own value: no quote, no backslash, no control char. */
export const PLAIN_JSON_STRING_BODY = '[^"\\\\\\u0000-\\u001f]*';

/**
 * Index just past the digits the last `digitsAt` read. A module variable rather than a returned pair: the hot path
 * reads several numbers per message and allocates nothing for them.
 */
export let digitsEnd = 0;

/** The decimal digits at `index` (the caller's expression has checked there are 1 to 15 of them). Sets `digitsEnd`. */
export function digitsAt(text: string, index: number): number {
  let value = 0;
  for (;;) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
    index++;
  }
  digitsEnd = index;
  return value;
}
