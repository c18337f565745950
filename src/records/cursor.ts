/**
 * The keyset cursor of `GET /api/calls`. The list is ordered newest first by (startedAtEpochMs desc, callSid desc),
 * so a page ends at one (startedAt, callSid) position and the next page is every row strictly after it in that
 * order. Keyset rather than OFFSET: a call written while someone pages never shifts or repeats rows.
 *
 * The cursor is opaque to clients (base64url), versioned (`v1`) so the format can change, and canonical: decoding
 * re-encodes and compares, so exactly one string names a position and garbage never reaches SQL.
 */

/**
 * A cursor that this server did not issue (or no longer understands). The RecordStore throws it from `listCalls`;
 * the API answers 400 `bad_cursor`. Recognised by class or by `name` (see isBadCursorError).
 */
export class BadCursorError extends Error {
  override name = 'BadCursorError';

  constructor(message = 'the cursor is not one this server issued') {
    super(message);
  }
}

/**
 * True for a BadCursorError, also one from another copy of this module or an equivalent class of a store
 * implementation (matched by `name`), so the API does not depend on which class the store throws.
 */
export function isBadCursorError(error: unknown): boolean {
  return error instanceof BadCursorError || (error instanceof Error && error.name === 'BadCursorError');
}

/** Where a page ended: the last row's sort key. */
export interface CursorPosition {
  readonly startedAtEpochMs: number;
  readonly callSid: string;
}

const VERSION = 'v1';
/** Twilio SIDs are letters and digits; a little room for other ids (simulated calls). */
const SID_PATTERN = /^[A-Za-z0-9]{1,64}$/;
const DECODED_PATTERN = /^v1:(0|[1-9][0-9]{0,15}):([A-Za-z0-9]{1,64})$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]{1,200}$/;

export function encodeCursor(position: CursorPosition): string {
  const { startedAtEpochMs, callSid } = position;
  if (!Number.isSafeInteger(startedAtEpochMs) || startedAtEpochMs < 0) throw new RangeError(`cannot encode a cursor at ${startedAtEpochMs}`);
  if (!SID_PATTERN.test(callSid)) throw new RangeError('cannot encode a cursor for this call sid');
  return Buffer.from(`${VERSION}:${startedAtEpochMs}:${callSid}`, 'utf8').toString('base64url');
}

/** The position a cursor names; throws BadCursorError for anything encodeCursor did not produce. */
export function decodeCursor(cursor: string): CursorPosition {
  if (!BASE64URL_PATTERN.test(cursor)) throw new BadCursorError();
  const match = DECODED_PATTERN.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) throw new BadCursorError();
  const position = { startedAtEpochMs: Number(match[1]), callSid: match[2] ?? '' };
  if (!Number.isSafeInteger(position.startedAtEpochMs) || encodeCursor(position) !== cursor) throw new BadCursorError();
  return position;
}
