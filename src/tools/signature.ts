/**
 * HMAC-SHA256 signing of HTTP tool requests, so a tool's receiver can trust a request came from this callbridge.
 *
 *   X-Callbridge-Timestamp: <unix seconds>
 *   X-Callbridge-Signature: v1=<hex hmac-sha256(secret, "<timestamp>.<raw body>")>
 *
 * Requests without a body (GET, DELETE) sign the empty string. The scheme is described for receivers in
 * docs/http-tools.md.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'X-Callbridge-Timestamp';
export const SIGNATURE_HEADER = 'X-Callbridge-Signature';
/** How far (either way) a receiver lets the timestamp drift from its own clock by default. */
export const DEFAULT_TOLERANCE_S = 300;

export interface ToolSignatureHeaders {
  'X-Callbridge-Timestamp': string;
  'X-Callbridge-Signature': string;
}

function hmacHex(secret: string, timestamp: string, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The two signature headers for `body` (the exact bytes sent; '' when there is none) at `nowEpochMs`. */
export function signToolRequest(secret: string, body: string | Uint8Array, nowEpochMs: number): ToolSignatureHeaders {
  if (secret === '') throw new Error('the tool signing secret is empty');
  if (!Number.isFinite(nowEpochMs)) throw new Error('signToolRequest needs a finite time');
  const timestamp = String(Math.floor(nowEpochMs / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `v1=${hmacHex(secret, timestamp, body)}` } as ToolSignatureHeaders;
}

/** A header as node:http or a framework hands it over. */
type RawHeader = string | readonly string[] | null | undefined;

export interface VerifyToolSignatureInput {
  secret: string;
  timestampHeader: RawHeader;
  signatureHeader: RawHeader;
  /** The raw body exactly as received ('' for GET/DELETE), not a re-serialised parse. */
  body: string | Uint8Array;
  /** The receiver's clock; defaults to Date.now(). */
  nowEpochMs?: number;
  /** Maximum |now − timestamp| in seconds; the edge itself is accepted. */
  toleranceS?: number;
}

function single(header: RawHeader): string | null {
  if (typeof header === 'string') return header.trim();
  if (Array.isArray(header) && header.length === 1 && typeof header[0] === 'string') return header[0].trim();
  return null;
}

/**
 * True only for a well-formed, fresh signature made with `secret` over exactly `body`. Compares in constant time;
 * returns false (never throws) for anything malformed.
 */
export function verifyToolSignature(input: VerifyToolSignatureInput): boolean {
  try {
    const { secret, body } = input;
    if (typeof secret !== 'string' || secret === '') return false;
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) return false;
    const timestamp = single(input.timestampHeader);
    const signature = single(input.signatureHeader);
    if (timestamp === null || signature === null || !/^\d{1,12}$/.test(timestamp)) return false;
    const match = /^v1=([0-9a-fA-F]{64})$/.exec(signature);
    if (match === null) return false;
    const nowS = (input.nowEpochMs ?? Date.now()) / 1000;
    const toleranceS = input.toleranceS ?? DEFAULT_TOLERANCE_S;
    if (!Number.isFinite(nowS) || !Number.isFinite(toleranceS) || toleranceS < 0) return false;
    if (Math.abs(Math.floor(nowS) - Number(timestamp)) > toleranceS) return false;
    const expected = Buffer.from(hmacHex(secret, timestamp, body), 'hex');
    const given = Buffer.from(match[1]!, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  } catch {
    return false;
  }
}
