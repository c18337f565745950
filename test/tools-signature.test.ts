import { describe, expect, it } from 'vitest';
import { signToolRequest, verifyToolSignature } from '../src/tools/signature.js';

// A fixed vector, computed once outside this code base and cross-checked two ways:
//   printf '%s' '1700000000.{"arguments":{"city":"Zürich"},"call":{"callSid":"CA123"}}' | openssl dgst -sha256 -hmac 'whsec_test_3f9a'
//   python3: hmac.new(b"whsec_test_3f9a", "1700000000.{...}".encode(), hashlib.sha256).hexdigest()
const SECRET = 'whsec_test_3f9a';
const BODY = '{"arguments":{"city":"Zürich"},"call":{"callSid":"CA123"}}';
const NOW_MS = 1_700_000_000_000;
const SIGNATURE = 'v1=6d39b72034be3cc23ef1040188bba9d22fad5bdf8c0b8327cf4f386360c2cda1';
// The empty body (GET/DELETE) at the same second: openssl over '1700000000.'.
const EMPTY_SIGNATURE = 'v1=29bc9de7458211541aca991a5b50463898e5180241054f31ac93bfb13b58ccd8';

function verify(overrides: Partial<Parameters<typeof verifyToolSignature>[0]> = {}): boolean {
  return verifyToolSignature({
    secret: SECRET,
    timestampHeader: '1700000000',
    signatureHeader: SIGNATURE,
    body: BODY,
    nowEpochMs: NOW_MS,
    ...overrides,
  });
}

describe('signToolRequest', () => {
  it('matches the known vector (UTF-8 body, seconds from milliseconds, rounded down)', () => {
    expect(signToolRequest(SECRET, BODY, NOW_MS + 999)).toEqual({
      'X-Callbridge-Timestamp': '1700000000',
      'X-Callbridge-Signature': SIGNATURE,
    });
    expect(signToolRequest(SECRET, Buffer.from(BODY, 'utf8'), NOW_MS)['X-Callbridge-Signature']).toBe(SIGNATURE);
  });

  it('signs the empty string when there is no body', () => {
    expect(signToolRequest(SECRET, '', NOW_MS)['X-Callbridge-Signature']).toBe(EMPTY_SIGNATURE);
  });

  it('refuses an empty secret', () => {
    expect(() => signToolRequest('', BODY, NOW_MS)).toThrow(/empty/);
  });
});

describe('verifyToolSignature', () => {
  it('accepts the known vector, also as raw bytes, a one-element header array and upper-case hex', () => {
    expect(verify()).toBe(true);
    expect(verify({ body: Buffer.from(BODY, 'utf8') })).toBe(true);
    expect(verify({ timestampHeader: ['1700000000'], signatureHeader: [SIGNATURE] })).toBe(true);
    expect(verify({ signatureHeader: SIGNATURE.toUpperCase().replace('V1=', 'v1=') })).toBe(true);
    expect(verify({ body: '', signatureHeader: EMPTY_SIGNATURE })).toBe(true);
  });

  it('rejects another body, another secret, another timestamp', () => {
    expect(verify({ body: BODY.replace('Zürich', 'Zurich') })).toBe(false);
    expect(verify({ body: `${BODY} ` })).toBe(false);
    expect(verify({ secret: 'whsec_test_3f9b' })).toBe(false);
    expect(verify({ timestampHeader: '1700000001' })).toBe(false);
  });

  it('accepts up to the tolerance either way and rejects one second beyond', () => {
    expect(verify({ nowEpochMs: NOW_MS + 300_999 })).toBe(true);
    expect(verify({ nowEpochMs: NOW_MS + 301_000 })).toBe(false);
    expect(verify({ nowEpochMs: NOW_MS - 300_000 })).toBe(true);
    expect(verify({ nowEpochMs: NOW_MS - 301_000 })).toBe(false);
    expect(verify({ nowEpochMs: NOW_MS + 10_000, toleranceS: 10 })).toBe(true);
    expect(verify({ nowEpochMs: NOW_MS + 11_000, toleranceS: 10 })).toBe(false);
    expect(verify({ nowEpochMs: NOW_MS, toleranceS: 0 })).toBe(true);
  });

  it('returns false, never throws, for malformed input', () => {
    const malformedTimestamps = [undefined, null, '', ' ', 'abc', '-1700000000', '1700000000.5', '1e9', '17000000000000000', ['1700000000', '1700000000']];
    for (const timestampHeader of malformedTimestamps) expect(verify({ timestampHeader })).toBe(false);
    const malformedSignatures = [
      undefined,
      null,
      '',
      'v1=',
      SIGNATURE.slice(3),
      `v0=${SIGNATURE.slice(3)}`,
      SIGNATURE.slice(0, -1),
      `${SIGNATURE}0`,
      `${SIGNATURE.slice(0, -1)}g`,
      `${SIGNATURE},${SIGNATURE}`,
      [SIGNATURE, SIGNATURE],
    ];
    for (const signatureHeader of malformedSignatures) expect(verify({ signatureHeader })).toBe(false);
    expect(verify({ secret: '' })).toBe(false);
    expect(verify({ nowEpochMs: Number.NaN })).toBe(false);
    expect(verify({ toleranceS: -1 })).toBe(false);
    expect(verify({ body: 42 as unknown as string })).toBe(false);
    expect(verify({ secret: undefined as unknown as string })).toBe(false);
  });

  it('round-trips with signToolRequest', () => {
    const headers = signToolRequest('another-secret', '{"x":1}', 1_234_567_890_123);
    expect(
      verifyToolSignature({
        secret: 'another-secret',
        timestampHeader: headers['X-Callbridge-Timestamp'],
        signatureHeader: headers['X-Callbridge-Signature'],
        body: '{"x":1}',
        nowEpochMs: 1_234_567_890_123 + 5_000,
      }),
    ).toBe(true);
  });
});
