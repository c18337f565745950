/**
 * Redactor: values under secret-looking keys at any depth, known secrets wherever they appear in text, secrets
 * shorter than 6 characters left alone, text that is not JSON, and clipping.
 */
import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor } from '../src/records/redact.js';

const API_KEY = 'sk-live-0123456789abcdefXYZ';
const TOOL_SECRET = 'whsec_9f8e7d6c5b4a';
const HEADER_SECRET = 'Bearer tok_31337_abcdef';
const redactor = new Redactor([API_KEY, TOOL_SECRET, HEADER_SECRET, null, undefined, 'abc12', API_KEY]);
const R = REDACTED;

describe('Redactor.text', () => {
  it('replaces every occurrence of every known secret', () => {
    expect(R).toBe('[redacted]');
    expect(redactor.text(`key=${API_KEY}&sig=${TOOL_SECRET}; again ${API_KEY}${API_KEY}`)).toBe(`key=${R}&sig=${R}; again ${R}${R}`);
    expect(redactor.text(`Authorization: ${HEADER_SECRET}`)).toBe(`Authorization: ${R}`);
    expect(redactor.text('nothing secret here')).toBe('nothing secret here');
    expect(redactor.text('')).toBe('');
  });

  it('ignores secrets shorter than 6 characters, and counts 6', () => {
    expect(redactor.text('abc12 is a short code')).toBe('abc12 is a short code');
    const six = new Redactor(['pin123', '12345', '']);
    expect(six.text('pin123 / 12345')).toBe(`${R} / 12345`);
    expect(new Redactor([]).text(`${API_KEY}`)).toBe(API_KEY);
  });

  it('replaces the longest secret first when one secret contains another', () => {
    const nested = new Redactor(['abcdef', 'abcdefghij']);
    expect(nested.text('abcdefghij then abcdef then abcdefgh')).toBe(`${R} then ${R} then ${R}gh`);
    const reversed = new Redactor(['abcdefghij', 'abcdef']);
    expect(reversed.text('abcdefghij then abcdef')).toBe(`${R} then ${R}`);
  });

  it('matches secrets exactly (case matters, a part of a secret is not the secret)', () => {
    expect(redactor.text(API_KEY.toUpperCase())).toBe(API_KEY.toUpperCase());
    expect(redactor.text(API_KEY.slice(0, 20))).toBe(API_KEY.slice(0, 20));
  });
});

describe('Redactor.value', () => {
  it('replaces whatever sits under a secret-looking key, at any depth, and known secrets in strings', () => {
    const input = {
      to: '+15551234567',
      password: 'hunter2',
      nested: {
        apiKey: { id: 1, value: 'x' },
        api_key: 12345,
        'x-api-key': null,
        Authorization: HEADER_SECRET,
        list: [{ client_secret: 'cs', name: 'Ada' }, `sent with ${API_KEY}`, 42, true, null, [{ refresh_token: ['a', 'b'] }]],
      },
      headers: { Cookie: 'session=1', 'X-Twilio-Signature': 'abc=', authorisation: 'Basic x', credentials: { user: 'u' } },
      passwd: 'p',
      accessToken: 'at',
      amount: 12.5,
      key: 'not a secret-looking key',
      note: `the signing secret is ${TOOL_SECRET}.`,
    };
    expect(redactor.value(input)).toEqual({
      to: '+15551234567',
      password: R,
      nested: {
        apiKey: R,
        api_key: R,
        'x-api-key': R,
        Authorization: R,
        list: [{ client_secret: R, name: 'Ada' }, `sent with ${R}`, 42, true, null, [{ refresh_token: R }]],
      },
      headers: { Cookie: R, 'X-Twilio-Signature': R, authorisation: R, credentials: R },
      passwd: R,
      accessToken: R,
      amount: 12.5,
      key: 'not a secret-looking key',
      note: `the signing secret is ${R}.`,
    });
    // The input is not changed.
    expect(input.password).toBe('hunter2');
    expect(input.nested.list[1]).toBe(`sent with ${API_KEY}`);
  });

  it('redacts by whole words of the key, so ordinary fields that merely contain a secret word stay readable', () => {
    expect(redactor.value({ passengers: 3, max_tokens: 200, compass: 'N', secretary: 'Ada', bypass: false, name: 'x' })).toEqual({
      passengers: 3,
      max_tokens: 200,
      compass: 'N',
      secretary: 'Ada',
      bypass: false,
      name: 'x',
    });
    expect(redactor.value({ apiKey: 'a', api_key: 'b', 'X-Api-Key': 'c', accessToken: 'd', client_secret: 'e', Authorization: 'f', privateKey: 'g', pin: '1234' })).toEqual({
      apiKey: R,
      api_key: R,
      'X-Api-Key': R,
      accessToken: R,
      client_secret: R,
      Authorization: R,
      privateKey: R,
      pin: R,
    });
  });

  it('passes numbers, booleans and null through, and redacts a string on its own', () => {
    expect([42, 0, false, null, undefined].map((value) => redactor.value(value))).toEqual([42, 0, false, null, undefined]);
    expect(redactor.value(API_KEY)).toBe(R);
    expect(redactor.value([API_KEY, 'plain'])).toEqual([R, 'plain']);
  });

  it('replaces a known secret used as a key', () => {
    expect(redactor.value({ [API_KEY]: { plan: 'pro' }, other: 1 })).toEqual({ [R]: { plan: 'pro' }, other: 1 });
  });

  it('walks 32 levels deep and replaces anything deeper whole (it could hide a secret)', () => {
    const leaf = { apiKey: API_KEY, note: `key ${API_KEY}`, n: 1 };
    const nest = (levels: number, inner: unknown): unknown => {
      let value = inner;
      // The container at depth k (0 = outermost) is an object for even k, an array for odd k.
      for (let depth = levels - 1; depth >= 0; depth--) value = depth % 2 === 0 ? { d: value } : [value];
      return value;
    };
    // The leaf at depth 32 is walked: its secrets are replaced, the rest kept.
    expect(redactor.value(nest(32, leaf))).toEqual(nest(32, { apiKey: R, note: `key ${R}`, n: 1 }));
    // At depth 33 it is not walked: replaced whole rather than kept with the secret inside.
    expect(redactor.value(nest(33, leaf))).toEqual(nest(33, R));
    // Strings and scalars in the last walked container are still handled as usual.
    expect(redactor.value(nest(33, `key ${API_KEY}`))).toEqual(nest(33, `key ${R}`));
    expect(redactor.value(nest(33, 7))).toEqual(nest(33, 7));
    // Anything below is cut at depth 33.
    expect(redactor.value(nest(40, 7))).toEqual(nest(33, R));
  });
});

describe('Redactor.json', () => {
  it('is null for no text', () => {
    expect(redactor.json(undefined)).toBeNull();
  });

  it('parses JSON and redacts the value', () => {
    expect(redactor.json(JSON.stringify({ token: 't', result: { ok: true, echo: `Bearer ${API_KEY}` }, items: [1, 2] }))).toEqual({ token: R, result: { ok: true, echo: `Bearer ${R}` }, items: [1, 2] });
    expect(redactor.json(JSON.stringify(API_KEY))).toBe(R);
    expect(redactor.json('42')).toBe(42);
    expect(redactor.json('null')).toBeNull();
  });

  it('keeps text that is not JSON as text, secrets replaced', () => {
    expect(redactor.json(`upstream said: 401 for key ${API_KEY}`)).toBe(`upstream said: 401 for key ${R}`);
    expect(redactor.json('')).toBe('');
    expect(redactor.json(`{"token": "${API_KEY}"`)).toBe(`{"token": "${R}"`);
  });

  it('clips text that is not JSON to maxChars with an ellipsis', () => {
    const text = 'x'.repeat(4_001);
    expect(redactor.json(text)).toBe(`${'x'.repeat(4_000)}…`);
    expect(redactor.json('x'.repeat(4_000))).toBe('x'.repeat(4_000));
    expect(redactor.json('hello world', 5)).toBe('hello…');
    expect(redactor.json('hello', 5)).toBe('hello');
  });

  it('never keeps the beginning of a secret the clip runs through', () => {
    const text = `error: the key ${API_KEY} was refused`;
    // The clip at 20 characters falls inside the key ("error: the key " is 15).
    expect(redactor.json(text, 20)).toBe(`error: the key ${R.slice(0, 5)}…`);
    expect(redactor.json(text, 200)).toBe(`error: the key ${R} was refused`);
  });

  it('keeps valid JSON whole (clipping would break it), redacted', () => {
    const big = JSON.stringify({ rows: Array.from({ length: 500 }, (_, index) => ({ index, secret: 's' })) });
    expect(big.length).toBeGreaterThan(4_000);
    expect(redactor.json(big)).toEqual({ rows: Array.from({ length: 500 }, (_, index) => ({ index, secret: R })) });
  });
});
