import { describe, expect, it } from 'vitest';
import { isStrictBase64, parseTwilioMessage, type TwilioParseErrorCode } from '../src/twilio/messages.js';
import { ACCOUNT_SID, CALL_SID, connectedWire, dtmfWire, frame, markWire, mediaWire, startWire, STREAM_SID, stopWire } from './helpers/twilio-wire.js';

const text = (value: unknown): string => JSON.stringify(value);

/** Deep-ish edit of a wire message: `path` like "media.chunk"; `undefined` deletes. */
function edit(message: Record<string, unknown>, path: string, value: unknown): string {
  const copy = structuredClone(message);
  const keys = path.split('.');
  let target = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return JSON.stringify(copy);
}

describe('parseTwilioMessage: valid messages', () => {
  it('parses connected', () => {
    expect(parseTwilioMessage(text(connectedWire()), false)).toEqual({
      ok: true,
      message: { event: 'connected', protocol: 'Call', version: '1.0.0' },
    });
  });

  it('parses start with custom parameters and integer mediaFormat', () => {
    const result = parseTwilioMessage(text(startWire({ customParameters: { streamToken: 'tok', from: '+1555' } })), false);
    expect(result).toEqual({
      ok: true,
      message: {
        event: 'start',
        sequenceNumber: 1,
        streamSid: STREAM_SID,
        start: {
          streamSid: STREAM_SID,
          callSid: CALL_SID,
          accountSid: ACCOUNT_SID,
          tracks: ['inbound'],
          customParameters: { streamToken: 'tok', from: '+1555' },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      },
    });
  });

  it('parses media: string numbers become integers, payload decodes to exact bytes', () => {
    const payload = new Uint8Array(160).map((_, i) => i);
    const result = parseTwilioMessage(Buffer.from(text(mediaWire(3, 2, 40, payload))), false);
    expect(result.ok).toBe(true);
    if (!result.ok || result.message.event !== 'media') throw new Error('expected media');
    expect(result.message.sequenceNumber).toBe(3);
    expect(result.message.media.chunk).toBe(2);
    expect(result.message.media.timestampMs).toBe(40);
    expect(result.message.media.track).toBe('inbound');
    expect(result.message.media.payload).toBeInstanceOf(Uint8Array);
    expect(Array.from(result.message.media.payload)).toEqual(Array.from(payload));
  });

  it('accepts every RawData shape ws can deliver', () => {
    const wire = text(markWire(5, 'm1'));
    const asBuffer = Buffer.from(wire);
    const asArrayBuffer = asBuffer.buffer.slice(asBuffer.byteOffset, asBuffer.byteOffset + asBuffer.byteLength);
    const asFragments = [asBuffer.subarray(0, 7), asBuffer.subarray(7)];
    for (const data of [wire, asBuffer, asArrayBuffer, asFragments]) {
      expect(parseTwilioMessage(data, false)).toEqual({
        ok: true,
        message: { event: 'mark', sequenceNumber: 5, streamSid: STREAM_SID, mark: { name: 'm1' } },
      });
    }
  });

  it('parses dtmf and stop', () => {
    expect(parseTwilioMessage(text(dtmfWire(7, '#')), false)).toEqual({
      ok: true,
      message: { event: 'dtmf', sequenceNumber: 7, streamSid: STREAM_SID, dtmf: { track: 'inbound_track', digit: '#' } },
    });
    expect(parseTwilioMessage(text(stopWire(9)), false)).toEqual({
      ok: true,
      message: { event: 'stop', sequenceNumber: 9, streamSid: STREAM_SID, stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID } },
    });
  });

  it('tolerates JSON numbers where Twilio normally sends strings', () => {
    const result = parseTwilioMessage(edit(mediaWire(3, 2, 40, frame(1)), 'media.timestamp', 40), false);
    expect(result.ok && result.message.event === 'media' && result.message.media.timestampMs).toBe(40);
  });

  it('keeps a "__proto__" custom parameter as data, not as a prototype', () => {
    const wire = text(startWire()).replace('"customParameters":{}', '"customParameters":{"__proto__":"x"}');
    const result = parseTwilioMessage(wire, false);
    if (!result.ok || result.message.event !== 'start') throw new Error('expected start');
    expect(Object.getPrototypeOf(result.message.start.customParameters)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(result.message.start.customParameters, '__proto__')?.value).toBe('x');
  });

  it('decodes an empty payload as zero bytes', () => {
    const result = parseTwilioMessage(edit(mediaWire(3, 2, 40, frame(1)), 'media.payload', ''), false);
    expect(result.ok && result.message.event === 'media' && result.message.media.payload.length).toBe(0);
  });
});

describe('parseTwilioMessage: every error code', () => {
  const media = mediaWire(3, 2, 40, frame(0x7f));
  const cases: Array<[string, string | Buffer, boolean, TwilioParseErrorCode]> = [
    ['binary frame', Buffer.from(text(media)), true, 'BINARY_FRAME'],
    ['truncated JSON', text(media).slice(0, 30), false, 'INVALID_JSON'],
    ['empty text', '', false, 'INVALID_JSON'],
    ['JSON array', '[1,2]', false, 'NOT_AN_OBJECT'],
    ['JSON string', '"media"', false, 'NOT_AN_OBJECT'],
    ['JSON null', 'null', false, 'NOT_AN_OBJECT'],
    ['unknown event', text({ event: 'hello', streamSid: STREAM_SID }), false, 'UNKNOWN_EVENT'],
    ['outbound-only event sent inbound', text({ event: 'clear', streamSid: STREAM_SID }), false, 'UNKNOWN_EVENT'],
    ['no event', text({ streamSid: STREAM_SID }), false, 'MISSING_FIELD'],
    ['event not a string', text({ event: 7 }), false, 'INVALID_FIELD'],
    ['connected without version', edit(connectedWire(), 'version', undefined), false, 'MISSING_FIELD'],
    ['media without sequenceNumber', edit(media, 'sequenceNumber', undefined), false, 'MISSING_FIELD'],
    ['media without streamSid', edit(media, 'streamSid', undefined), false, 'MISSING_FIELD'],
    ['media without media', edit(media, 'media', undefined), false, 'MISSING_FIELD'],
    ['media.media not an object', edit(media, 'media', 'x'), false, 'INVALID_FIELD'],
    ['media without payload', edit(media, 'media.payload', undefined), false, 'MISSING_FIELD'],
    ['media without chunk', edit(media, 'media.chunk', undefined), false, 'MISSING_FIELD'],
    ['media without timestamp', edit(media, 'media.timestamp', undefined), false, 'MISSING_FIELD'],
    ['media without track', edit(media, 'media.track', undefined), false, 'MISSING_FIELD'],
    ['decimal timestamp', edit(media, 'media.timestamp', '40.5'), false, 'INVALID_FIELD'],
    ['negative chunk', edit(media, 'media.chunk', '-2'), false, 'INVALID_FIELD'],
    ['empty sequenceNumber', edit(media, 'sequenceNumber', ''), false, 'INVALID_FIELD'],
    ['hex sequenceNumber', edit(media, 'sequenceNumber', '0x10'), false, 'INVALID_FIELD'],
    ['non-integer JSON number', edit(media, 'media.chunk', 2.5), false, 'INVALID_FIELD'],
    ['boolean timestamp', edit(media, 'media.timestamp', true), false, 'INVALID_FIELD'],
    ['streamSid not a string', edit(media, 'streamSid', 12), false, 'INVALID_FIELD'],
    ['payload not a string', edit(media, 'media.payload', 12), false, 'INVALID_FIELD'],
    ['payload with a character outside the alphabet', edit(media, 'media.payload', 'AAA*'), false, 'INVALID_BASE64'],
    ['payload missing padding', edit(media, 'media.payload', 'AAA'), false, 'INVALID_BASE64'],
    ['payload with padding in the middle', edit(media, 'media.payload', 'AA==AAAA'), false, 'INVALID_BASE64'],
    ['payload with triple padding', edit(media, 'media.payload', 'A==='), false, 'INVALID_BASE64'],
    ['payload base64url', edit(media, 'media.payload', '-_-_'), false, 'INVALID_BASE64'],
    ['payload with whitespace', edit(media, 'media.payload', 'AAAA AAA'), false, 'INVALID_BASE64'],
    ['start without start', edit(startWire(), 'start', undefined), false, 'MISSING_FIELD'],
    ['start without callSid', edit(startWire(), 'start.callSid', undefined), false, 'MISSING_FIELD'],
    ['start without accountSid', edit(startWire(), 'start.accountSid', undefined), false, 'MISSING_FIELD'],
    ['start without tracks', edit(startWire(), 'start.tracks', undefined), false, 'MISSING_FIELD'],
    ['start with non-string tracks', edit(startWire(), 'start.tracks', [1]), false, 'INVALID_FIELD'],
    ['start without mediaFormat', edit(startWire(), 'start.mediaFormat', undefined), false, 'MISSING_FIELD'],
    ['start with a non-integer sampleRate', edit(startWire(), 'start.mediaFormat.sampleRate', 'fast'), false, 'INVALID_FIELD'],
    ['start without customParameters', edit(startWire(), 'start.customParameters', undefined), false, 'MISSING_FIELD'],
    ['start with a numeric custom parameter', edit(startWire(), 'start.customParameters', { a: 1 }), false, 'INVALID_FIELD'],
    ['start with mismatched inner streamSid', edit(startWire(), 'start.streamSid', 'MZother'), false, 'INVALID_FIELD'],
    ['mark without name', edit(markWire(4, 'x'), 'mark.name', undefined), false, 'MISSING_FIELD'],
    ['dtmf with empty digit', edit(dtmfWire(4, '1'), 'dtmf.digit', ''), false, 'INVALID_FIELD'],
    ['stop without callSid', edit(stopWire(4), 'stop.callSid', undefined), false, 'MISSING_FIELD'],
  ];

  it.each(cases)('%s → %s', (_name, data, isBinary, code) => {
    const result = parseTwilioMessage(data, isBinary);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe(code);
    expect(result.detail.length).toBeGreaterThan(0);
  });

  it('names the failing field in the detail', () => {
    expect(parseTwilioMessage(edit(media, 'media.chunk', '2.0'), false)).toEqual({
      ok: false,
      code: 'INVALID_FIELD',
      detail: 'media.chunk must be a non-negative integer string',
    });
  });

  it('never throws, whatever the input', () => {
    const inputs = ['{', '}', '{"event":"media","media":null}', '{"event":"start","sequenceNumber":"1","streamSid":"x","start":[]}', '\u0000', '{"event":{"x":1}}'];
    for (const input of inputs) expect(() => parseTwilioMessage(input, false)).not.toThrow();
  });
});

describe('isStrictBase64', () => {
  it.each([
    ['', true],
    ['AAAA', true],
    ['AA==', true],
    ['AAA=', true],
    ['A===', false],
    ['AA=A', false],
    ['AAAAA', false],
    ['AA\nAA', false],
  ])('%j → %s', (input, expected) => {
    expect(isStrictBase64(input)).toBe(expected);
  });

  it('accepts what Buffer encodes for every length 0..200', () => {
    for (let n = 0; n <= 200; n++) expect(isStrictBase64(Buffer.alloc(n, n).toString('base64'))).toBe(true);
  });
});
