/**
 * The fast paths for the two hot messages (Twilio `media` in, OpenAI `response.output_audio.delta` in) must be
 * invisible: on every input the public parsers give exactly what the strict parsers give (deep-equal, same key order,
 * same error code and detail), they never throw, and the fast path is actually taken for the shapes the peers send.
 * Checked on every recorded fixture message, on every frame of a short simulated Realtime session, and on thousands
 * of seeded mutations of both.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  audioDeltaFastHits,
  audioDeltaScanUsesSimd,
  isPlainJsonStringBody,
  parseAudioDeltaFast,
} from '../src/providers/openai/fast-delta.js';
import { parseServerEvent, parseServerEventStrict } from '../src/providers/openai/events.js';
import { parseTwilioMediaFast, twilioFastMediaHits } from '../src/twilio/fast-media.js';
import { parseTwilioMessage, parseTwilioMessageStrict } from '../src/twilio/messages.js';
import { concatSamples, SIM_API_KEY, SIM_AUTH, silence, toneBurst, useSimulatedServer } from './helpers/realtime-sim-client.js';
import { dtmfWire, frame, markWire, mediaWire, startWire, stopWire } from './helpers/twilio-wire.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);

/** Every fixture line's `message`, verbatim as recorded (the text between `"message":` and the line's last `}`). */
function fixtureMessages(): Array<{ file: string; text: string; event: string }> {
  const messages: Array<{ file: string; text: string; event: string }> = [];
  for (const file of readdirSync(FIXTURES).filter((name) => name.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(new URL(file, FIXTURES), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const text = line.slice(line.indexOf('"message":') + '"message":'.length, line.lastIndexOf('}'));
      const event = (JSON.parse(text) as { event: string }).event;
      messages.push({ file, text, event });
    }
  }
  return messages;
}

/** A media message in Twilio's own key order (streamSid last), as opposed to the fixtures' (streamSid second). */
function wireOrder(text: string): string {
  const { event, sequenceNumber, streamSid, media } = JSON.parse(text) as Record<string, unknown>;
  return JSON.stringify({ event, sequenceNumber, media, streamSid });
}

/** `text` with JSON.stringify's escapes of lone surrogates and control characters written as the raw characters. */
function unescaped(text: string): string {
  return text.replace(/\\u([0-9a-f]{4})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Same result: deep-equal with prototypes (Uint8Array stays Uint8Array) and, for plain data, the same key order. */
function sameResult(actual: unknown, expected: unknown): boolean {
  return isDeepStrictEqual(actual, expected) && JSON.stringify(actual) === JSON.stringify(expected);
}

function twilioAgrees(text: string): boolean {
  return sameResult(parseTwilioMessage(text, false), parseTwilioMessageStrict(text, false));
}

function realtimeAgrees(text: string): boolean {
  return sameResult(parseServerEvent(text), parseServerEventStrict(text));
}

// ---------------------------------------------------------------------------------------------------------------
// Seeded fuzzing

/** mulberry32: small, fast, seeded. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(rng: Random, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const position = (rng: Random, text: string): number => Math.floor(rng() * (text.length + 1));

/** Characters that matter to JSON, to base64, to the scanners' fixed runs, and to UTF-16. */
const INTERESTING = [
  '"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\t', '\n', '\r', '\u000b', '\u00a0', '\ufeff', '\u0000', '\u0001',
  '\u001f', '\u007f', '0', '1', '9', '-', '+', '.', 'e', 'E', '=', '/', 'A', 'z', '_', 'm', 's', 'é', 'ÿ', '\u0100',
  '\u2028', '\ud83d', '\ude00', '😀', 'null', 'true', '\\u0041', '\\/', '\\"', '\\n', '""', '{}', '[]',
];

/** Text-level mutations: what a broken peer, a proxy or a bit flip could do to a frame. */
function mutateText(rng: Random, text: string): string {
  switch (Math.floor(rng() * 9)) {
    case 0: {
      // delete a run
      const at = position(rng, text);
      return text.slice(0, at) + text.slice(at + 1 + Math.floor(rng() * 3));
    }
    case 1: {
      const at = position(rng, text);
      return text.slice(0, at) + pick(rng, INTERESTING) + text.slice(at);
    }
    case 2: {
      // duplicate a run
      const at = position(rng, text);
      const run = text.slice(at, at + 1 + Math.floor(rng() * 12));
      return text.slice(0, at) + run + text.slice(at);
    }
    case 3: {
      const at = Math.floor(rng() * text.length);
      return text.slice(0, at) + pick(rng, INTERESTING) + text.slice(at + 1);
    }
    case 4:
      // truncated, sometimes closed again so that it still ends like a frame
      return text.slice(0, position(rng, text)) + pick(rng, ['', '', '}', '"}', '"}}', '}}']);
    case 5: {
      // swap neighbours
      const at = Math.floor(rng() * (text.length - 1));
      return text.slice(0, at) + text[at + 1] + text[at] + text.slice(at + 2);
    }
    case 6: {
      // whitespace between tokens (valid JSON, a layout the fast paths do not take)
      const tokens = [...text.matchAll(/[{}:,]/g)].map((match) => match.index);
      const at = tokens.length === 0 ? 0 : pick(rng, tokens) + (rng() < 0.5 ? 0 : 1);
      return text.slice(0, at) + pick(rng, [' ', '\n', '\t', '\r\n  ']) + text.slice(at);
    }
    case 7:
      // an escape inside a string: `\/` for `/`, or a \u escape for a letter or digit (valid JSON, same value)
      return rng() < 0.5 ? text.replace('/', '\\/') : text.replace(/([A-Za-z0-9])(?=[^"]*"[,}])/, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
    default:
      return ` ${text}${pick(rng, ['', ' ', '\n', 'x', '}', ','])}`;
  }
}

/** Replacement values of every kind for structure-level mutations. */
function oddValue(rng: Random): unknown {
  return pick(rng, [
    null, true, false, 0, 1, -1, 1.5, 1e21, 2 ** 53, -0, '', ' ', '0', '00', '007', '-1', '1.5', '1e3', '0x10', '１',
    '123456789012345', '1234567890123456', '99999999999999999999', 'x'.repeat(40), 'é', '😀', '\ud800', 'in"bound',
    'a\\b', '\u0000', 'AAAA', 'AA==', 'A===', '====', 'AAA', 'AA=A', '-_-_', 'QUJD\nREVG', [], ['inbound'], {}, { a: 1 },
    'inbound', 'outbound', 'response.output_audio.delta', 'media',
  ]);
}

/** Structure-level mutations: valid JSON with keys reordered, added, removed, retyped, duplicated. */
function mutateObject(rng: Random, value: Record<string, unknown>): string {
  const copy = structuredClone(value);
  const objects: Record<string, unknown>[] = [copy];
  for (const child of Object.values(copy)) if (typeof child === 'object' && child !== null && !Array.isArray(child)) objects.push(child as Record<string, unknown>);
  const target = pick(rng, objects);
  const keys = Object.keys(target);
  switch (Math.floor(rng() * 6)) {
    case 0: {
      // reorder keys
      const entries = Object.entries(target).sort(() => rng() - 0.5);
      for (const key of keys) delete target[key];
      for (const [key, entry] of entries) target[key] = entry;
      return JSON.stringify(copy);
    }
    case 1:
      target[pick(rng, ['extra', 'event', 'Event', '__proto__', 'sequence_number', 'delta', 'type', 'obfuscation'])] = oddValue(rng);
      return JSON.stringify(copy);
    case 2:
      if (keys.length > 0) delete target[pick(rng, keys)];
      return JSON.stringify(copy);
    case 3:
      if (keys.length > 0) target[pick(rng, keys)] = oddValue(rng);
      return JSON.stringify(copy);
    case 4: {
      // a duplicate key at text level (JSON.parse keeps the last one)
      const text = JSON.stringify(copy);
      const key = keys.length > 0 ? pick(rng, keys) : 'event';
      const duplicate = `"${key}":${JSON.stringify(oddValue(rng))},`;
      return rng() < 0.5 ? `{${duplicate}${text.slice(1)}` : text.replace(`"${key}":`, `${duplicate}"${key}":`);
    }
    default: {
      // a numeric field as a JSON number (the strict parser accepts these; the fast paths leave them to it)
      const numeric = keys.filter((key) => typeof target[key] === 'string' && /^[0-9]+$/.test(target[key] as string));
      if (numeric.length > 0) {
        const key = pick(rng, numeric);
        target[key] = Number(target[key]);
      } else if (keys.length > 0) {
        const key = pick(rng, keys);
        if (typeof target[key] === 'number') target[key] = String(target[key]);
      }
      return JSON.stringify(copy);
    }
  }
}

function mutate(rng: Random, seedText: string): string {
  const structural = rng() < 0.4;
  let text = structural ? mutateObject(rng, JSON.parse(seedText) as Record<string, unknown>) : seedText;
  const textRounds = structural && rng() < 0.5 ? 0 : 1 + Math.floor(rng() * 2);
  for (let round = 0; round < textRounds; round++) text = mutateText(rng, text);
  return text;
}

/** Parses every mutation both ways; returns the disagreements and throws (none expected) and how many took the fast path. */
function fuzz(
  seedTexts: readonly string[],
  count: number,
  seed: number,
  agrees: (text: string) => boolean,
  fast: (text: string) => unknown,
): { failures: string[]; fastTaken: number } {
  const rng = random(seed);
  const failures: string[] = [];
  let fastTaken = 0;
  for (let i = 0; i < count; i++) {
    const text = mutate(rng, pick(rng, seedTexts));
    try {
      if (fast(text) !== null) fastTaken++;
      if (!agrees(text)) failures.push(text.length > 400 ? `${text.slice(0, 400)}…` : text);
    } catch (error) {
      failures.push(`THREW ${String(error)}: ${text.slice(0, 400)}`);
    }
  }
  return { failures, fastTaken };
}

// ---------------------------------------------------------------------------------------------------------------
// Twilio

describe('Twilio media fast path', () => {
  const messages = fixtureMessages();
  const media = messages.filter((message) => message.event === 'media');

  it('fixtures hold what this test needs: every message kind, many media frames', () => {
    expect(new Set(messages.map((message) => message.event))).toEqual(new Set(['connected', 'start', 'media', 'dtmf', 'stop']));
    expect(media.length).toBeGreaterThan(1_500);
  });

  it('every message of every fixture parses exactly as the strict parser parses it, text or Buffer', () => {
    const disagreements = messages.filter(({ text }) => {
      const strict = parseTwilioMessageStrict(text, false);
      return !strict.ok || !sameResult(parseTwilioMessage(text, false), strict) || !sameResult(parseTwilioMessage(Buffer.from(text), false), strict);
    });
    expect(disagreements.map(({ file, text }) => `${file}: ${text.slice(0, 120)}`)).toEqual([]);
  });

  it('takes the fast path for every fixture media frame, in the fixtures key order and in Twilio wire order', () => {
    for (const texts of [media.map(({ text }) => text), media.map(({ text }) => wireOrder(text))]) {
      const before = twilioFastMediaHits();
      for (const text of texts) {
        const fast = parseTwilioMediaFast(text);
        expect(fast).not.toBeNull();
        expect(sameResult(fast, parseTwilioMessageStrict(text, false))).toBe(true);
      }
      expect(twilioFastMediaHits() - before).toBe(texts.length);
      // ...and through the public entry point.
      const beforePublic = twilioFastMediaHits();
      for (const text of texts) parseTwilioMessage(text, false);
      expect(twilioFastMediaHits() - beforePublic).toBe(texts.length);
    }
  });

  it('leaves every other message kind to the strict parser', () => {
    for (const { text } of messages.filter((message) => message.event !== 'media')) expect(parseTwilioMediaFast(text)).toBeNull();
  });

  it.each([
    ['empty payload', mediaWire(1, 1, 20, new Uint8Array(0))],
    ['one-byte payload (two pads)', mediaWire(1, 1, 20, frame(7, 1))],
    ['two-byte payload (one pad)', mediaWire(1, 1, 20, frame(7, 2))],
    ['15-digit counters', { ...mediaWire(1, 1, 20, frame(1)), sequenceNumber: '999999999999999', media: { track: 'outbound', chunk: '000000000000001', timestamp: '123456789012345', payload: 'AAAA' } }],
    ['unicode in streamSid and track', { ...mediaWire(1, 1, 20, frame(1), 'MZé😀\ud800'), media: { track: 'ïnbound\u2028', chunk: '1', timestamp: '0', payload: '' } }],
    ['empty streamSid and track', { ...mediaWire(1, 1, 20, frame(1), ''), media: { track: '', chunk: '1', timestamp: '0', payload: 'AAAA' } }],
  ])('valid edge case on the fast path: %s', (_name, message) => {
    const text = unescaped(JSON.stringify(message));
    const fast = parseTwilioMediaFast(text);
    expect(fast).not.toBeNull();
    expect(sameResult(fast, parseTwilioMessageStrict(text, false))).toBe(true);
    expect(fast?.ok).toBe(true);
  });

  it.each([
    ['16-digit counter', '{"event":"media","sequenceNumber":"1234567890123456","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"}}'],
    ['numeric chunk (strict accepts)', '{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":1,"timestamp":"0","payload":"AAAA"}}'],
    ['escaped slash in payload (strict accepts)', '{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"\\/\\/\\/\\/"}}'],
    ['escape in streamSid (strict accepts)', '{"event":"media","sequenceNumber":"1","streamSid":"MZ\\u0041","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"}}'],
    ['extra key (strict accepts)', '{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA","x":1}}'],
    ['whitespace (strict accepts)', '{"event": "media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"}}'],
    ['duplicate key', '{"event":"media","sequenceNumber":"1","sequenceNumber":"2","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"}}'],
    ['three pads', '{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"A==="}}'],
    ['unpadded', '{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAA"}}'],
    ['url-safe alphabet', '{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"-_-_"}}'],
    ['raw control character in streamSid', '{"event":"media","sequenceNumber":"1","streamSid":"MZ\u0001","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"}}'],
    ['trailing newline', '{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"}}\n'],
    ['trailing garbage', '{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"}}}'],
    ['missing streamSid', '{"event":"media","sequenceNumber":"1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"}}'],
    ['truncated', '{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"AAAA"}'],
  ])('left to the strict parser, same result: %s', (_name, text) => {
    expect(parseTwilioMediaFast(text)).toBeNull();
    expect(twilioAgrees(text)).toBe(true);
  });

  it('fuzz: 10,000 seeded mutations of real frames and of every other kind give the strict result and never throw', () => {
    const seeds = [
      ...media.filter((_, index) => index % 50 === 0).flatMap(({ text }) => [text, wireOrder(text)]),
      ...messages.filter((message) => message.event !== 'media').map(({ text }) => text),
      JSON.stringify(markWire(9, 'reply-1')),
      JSON.stringify(startWire({ customParameters: { streamToken: 'tok' } })),
      JSON.stringify(dtmfWire(4, '5')),
      JSON.stringify(stopWire(10)),
      JSON.stringify(mediaWire(3, 2, 40, frame(0x7f, 2))),
    ];
    const { failures, fastTaken } = fuzz(seeds, 10_000, 0x5eed, twilioAgrees, parseTwilioMediaFast);
    expect(failures).toEqual([]);
    // The fuzz reaches the fast path's success branch too (mutations that keep a frame valid and canonical).
    expect(fastTaken).toBeGreaterThan(300);
  });

  it('never throws, on anything ws can deliver', () => {
    const inputs: Array<[Parameters<typeof parseTwilioMessage>[0], boolean]> = [
      ['', false],
      ['{', false],
      ['"media"', false],
      ['{"event":"media"', false],
      ['{"event":"media","sequenceNumber":"1","streamSid":"', false],
      [`{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"${'A'.repeat(2_000_000)}"}}`, false],
      ['\ud800{}', false],
      [Buffer.from([0xff, 0xfe, 0x7b]), false],
      [[Buffer.from('{"event":"media",'), Buffer.from('"sequenceNumber":"1"}')], false],
      [new Uint8Array(Buffer.from(JSON.stringify(mediaWire(1, 1, 20, frame(3))))).buffer, false],
      [Buffer.from('{}'), true],
    ];
    for (const [data, isBinary] of inputs) {
      expect(() => parseTwilioMessage(data, isBinary)).not.toThrow();
      expect(sameResult(parseTwilioMessage(data, isBinary), parseTwilioMessageStrict(data, isBinary))).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// OpenAI Realtime

/** A delta event as the GA API orders its keys (`type` first) or as the simulated server does (`event_id` first). */
function deltaText(delta: string, order: 'api' | 'simulator', fields: { outputIndex?: number; contentIndex?: number } = {}): string {
  const rest = { response_id: 'resp_CZ3mY5w2mJr0pZ8m4vTq1', item_id: 'item_CZ3mY6Pq9XwYk2rTnU0aB', output_index: fields.outputIndex ?? 0, content_index: fields.contentIndex ?? 0, delta };
  return JSON.stringify(
    order === 'api' ? { type: 'response.output_audio.delta', event_id: 'event_CZ3mY7', ...rest } : { event_id: 'event_CZ3mY7', type: 'response.output_audio.delta', ...rest },
  );
}

function base64Of(bytes: number, seed = 1): string {
  return Buffer.from(new Uint8Array(bytes).map((_, i) => (i * 31 + seed) & 0xff)).toString('base64');
}

/** Every server frame, as text, of a short simulated session: greeting, one caller turn, an API error. */
async function simulatedSessionFrames(url: string): Promise<string[]> {
  const frames: string[] = [];
  const socket = new WebSocket(url, { headers: SIM_AUTH });
  socket.on('message', (data) => frames.push(String(data)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const count = (type: string) => frames.filter((text) => text.includes(`"type":"${type}"`)).length;
  const until = async (done: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out; got ${frames.length} frames`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const send = (event: Record<string, unknown>) => socket.send(JSON.stringify(event));
  await until(() => count('session.created') === 1);
  send({ type: 'session.update', session: { type: 'realtime', instructions: 'Be brief.' } });
  await until(() => count('session.updated') === 1);
  send({ type: 'response.create', response: { instructions: 'Greet the caller.' } });
  await until(() => count('response.done') === 1);
  const caller = concatSamples(toneBurst(300), silence(700));
  for (let offset = 0; offset < caller.length; offset += 480) {
    send({ type: 'input_audio_buffer.append', audio: Buffer.from(caller.slice(offset, offset + 480).buffer).toString('base64') });
  }
  await until(() => count('response.done') === 2);
  send({ type: 'no.such.event' });
  await until(() => count('error') === 1);
  socket.close();
  return frames;
}

describe('OpenAI audio delta fast path', () => {
  const sims = useSimulatedServer();

  it('every frame of a simulated session parses exactly as the strict parser parses it; every delta takes the fast path', async () => {
    await sims.start({ apiKey: SIM_API_KEY, speedFactor: Infinity, reply: { kind: 'speech' } });
    const frames = await simulatedSessionFrames(sims.current.url);
    const deltas = frames.filter((text) => (JSON.parse(text) as { type: string }).type === 'response.output_audio.delta');
    expect(deltas.length).toBeGreaterThan(10);
    expect(new Set(frames.map((text) => (JSON.parse(text) as { type: string }).type)).size).toBeGreaterThan(15);

    const before = audioDeltaFastHits();
    expect(frames.filter((text) => !realtimeAgrees(text))).toEqual([]);
    for (const text of frames) expect(parseServerEventStrict(text).ok).toBe(true);
    expect(audioDeltaFastHits() - before).toBe(deltas.length);

    // The same deltas in the GA API's key order (type first) take the fast path too, and keep that order.
    const apiOrder = deltas.map((text) => {
      const { type, ...rest } = JSON.parse(text) as Record<string, unknown>;
      return JSON.stringify({ type, ...rest });
    });
    const beforeApi = audioDeltaFastHits();
    expect(apiOrder.filter((text) => !realtimeAgrees(text))).toEqual([]);
    expect(audioDeltaFastHits() - beforeApi).toBe(apiOrder.length);
    for (const text of apiOrder) expect(Object.keys(parseAudioDeltaFast(text)!)[0]).toBe('type');
  });

  it.each([0, 1, 2, 3, 10, 11, 12, 13, 23, 24, 25, 4_800, 4_801, 24_000, 600_000])(
    'a %i-byte delta in both key orders takes the fast path with the strict result',
    (bytes) => {
      for (const order of ['api', 'simulator'] as const) {
        const text = deltaText(base64Of(bytes), order, { outputIndex: bytes % 3, contentIndex: 123_456_789_012_345 });
        const fast = parseAudioDeltaFast(text);
        expect(fast).not.toBeNull();
        expect(sameResult(parseServerEvent(text), parseServerEventStrict(text))).toBe(true);
      }
    },
  );

  it.each([
    ['escaped slash in delta', deltaText('AA\\/A', 'api').replace('AA\\\\/A', 'AA\\/A')],
    ['raw control character at a 16-byte boundary', unescaped(deltaText(`${'A'.repeat(32)}\u0001${'A'.repeat(30)}`, 'api'))],
    ['raw control character as the last delta character', unescaped(deltaText(`${'A'.repeat(47)}\u001f`, 'api'))],
    ['raw tab in delta', deltaText('AAAA\tAAAA', 'api').replace('\\t', '\t')],
    ['unterminated delta', '{"type":"response.output_audio.delta","event_id":"e","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"}'],
    ['quote inside the delta', '{"type":"response.output_audio.delta","event_id":"e","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"AA"AA"}'],
    ['leading zero index', deltaText('AAAA', 'api').replace('"output_index":0', '"output_index":01')],
    ['16-digit index', deltaText('AAAA', 'api').replace('"output_index":0', '"output_index":1234567890123456')],
    ['fraction index', deltaText('AAAA', 'api').replace('"output_index":0', '"output_index":0.0')],
    ['negative zero index', deltaText('AAAA', 'api').replace('"output_index":0', '"output_index":-0')],
    ['exponent index', deltaText('AAAA', 'api').replace('"output_index":0', '"output_index":0e1')],
    ['string index', deltaText('AAAA', 'api').replace('"output_index":0', '"output_index":"0"')],
    ['extra key', deltaText('AAAA', 'api').replace('{', '{"obfuscation":"x",')],
    ['missing event_id', deltaText('AAAA', 'api').replace('"event_id":"event_CZ3mY7",', '')],
    ['duplicate type', deltaText('AAAA', 'api').replace('{', '{"type":"error",')],
    ['other type', deltaText('AAAA', 'api').replace('output_audio.delta', 'output_audio_transcript.delta')],
    ['beta type', deltaText('AAAA', 'api').replace('output_audio.delta', 'audio.delta')],
    ['whitespace', deltaText('AAAA', 'api').replace(',"delta"', ', "delta"')],
    ['trailing newline', `${deltaText('AAAA', 'api')}\n`],
    ['escape in an id', deltaText('AAAA', 'api').replace('event_CZ3mY7', 'event_\\u0043Z')],
  ])('left to the strict parser, same result: %s', (_name, text) => {
    expect(parseAudioDeltaFast(text)).toBeNull();
    expect(realtimeAgrees(text)).toBe(true);
  });

  it('non-ASCII in the delta (valid JSON, not base64) is read like JSON.parse reads it', () => {
    for (const delta of ['é', '😀', '\ud800', '\ude00A', 'A\u2028', `${'A'.repeat(15)}ÿ`, `${'A'.repeat(15)}\u0120`, '\u00a2\u0122\u015c']) {
      for (const order of ['api', 'simulator'] as const) {
        const text = unescaped(deltaText(delta, order));
        expect(parseAudioDeltaFast(text)).not.toBeNull();
        expect(realtimeAgrees(text)).toBe(true);
      }
    }
  });

  it('fuzz: 10,000 seeded mutations of deltas and other events give the strict result and never throw', () => {
    const seeds = [
      ...[0, 1, 5, 12, 16, 31, 48, 960].flatMap((bytes) => [deltaText(base64Of(bytes, bytes), 'api'), deltaText(base64Of(bytes, bytes), 'simulator')]),
      JSON.stringify({ type: 'response.output_audio_transcript.delta', event_id: 'e', response_id: 'r', item_id: 'i', output_index: 0, content_index: 0, delta: 'Hello' }),
      JSON.stringify({ type: 'response.output_audio.done', event_id: 'e', response_id: 'r', item_id: 'i', output_index: 0, content_index: 0 }),
      JSON.stringify({ type: 'error', event_id: 'e', error: { type: 'invalid_request_error', code: 'x', message: 'm', param: null, event_id: null } }),
      JSON.stringify({ type: 'input_audio_buffer.speech_started', event_id: 'e', audio_start_ms: 100, item_id: 'i' }),
    ];
    const { failures, fastTaken } = fuzz(seeds, 10_000, 0xde17a, realtimeAgrees, parseAudioDeltaFast);
    expect(failures).toEqual([]);
    expect(fastTaken).toBeGreaterThan(400);
  });

  it('a control character anywhere in a long delta sends it to the strict parser (INVALID_JSON), wherever it sits', () => {
    const clean = deltaText(base64Of(300), 'api');
    const deltaStart = clean.indexOf('"delta":"') + '"delta":"'.length;
    for (let at = deltaStart; at < clean.length - 2; at += 7) {
      for (const char of ['\u0000', '\u0008', '\u001f']) {
        const text = clean.slice(0, at) + char + clean.slice(at + 1);
        expect(parseAudioDeltaFast(text)).toBeNull();
        const result = parseServerEvent(text);
        expect(result.ok ? 'ok' : result.code).toBe('INVALID_JSON');
      }
    }
  });

  it(`the delta scan (${audioDeltaScanUsesSimd ? 'WebAssembly SIMD' : 'expression'}) agrees with the expression on random bodies`, () => {
    const rng = random(0xb0d1e5);
    const alphabet = ['A', 'z', '+', '/', '=', '"', '\\', '\u0000', '\u0009', '\u001f', ' ', '\u007f', 'é', '\u0120', '\u015c', '\u0122', '\ud83d', '\ude00', '😀', '\uffff'];
    const mismatches: string[] = [];
    for (let i = 0; i < 4_000; i++) {
      const length = Math.floor(rng() * (rng() < 0.9 ? 70 : 5_000));
      let body = '';
      const dirty = rng() < 0.5;
      for (let j = 0; j < length; j++) body += dirty && rng() < 0.02 ? pick(rng, alphabet) : pick(rng, ['A', 'b', '7', '+', '/']);
      if (isPlainJsonStringBody(body) !== isPlainJsonStringBody(body, false)) mismatches.push(JSON.stringify(body));
    }
    // Large bodies grow the scan memory; beyond the SIMD limit the expression takes over.
    for (const length of [70_000, 300_000, 1_100_000]) {
      expect(isPlainJsonStringBody('A'.repeat(length))).toBe(true);
      expect(isPlainJsonStringBody(`${'A'.repeat(length - 1)}\u0000`)).toBe(false);
    }
    expect(mismatches).toEqual([]);
  });
});
