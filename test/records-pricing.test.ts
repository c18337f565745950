/**
 * Pricing: PRICE_TABLE parsing (merged over the defaults, one-line errors), the longest-prefix lookup of a model's
 * price, and the exact USD of realistic calls (cached input, audio and text, per-minute providers), rounded to 1e-6.
 */
import { describe, expect, it } from 'vitest';
import type { TokenUsage } from '../src/call/call-summary.js';
import { costOf, DEFAULT_PRICES, parsePriceTable, priceFor, type ModelPrice } from '../src/records/pricing.js';

const GPT_REALTIME = { textInPerMTokUsd: 4, cachedInPerMTokUsd: 0.4, textOutPerMTokUsd: 16, audioInPerMTokUsd: 32, audioOutPerMTokUsd: 64 };
const GPT_REALTIME_MINI = { textInPerMTokUsd: 0.6, cachedInPerMTokUsd: 0.06, textOutPerMTokUsd: 2.4, audioInPerMTokUsd: 10, audioOutPerMTokUsd: 20 };
const GPT_4O_REALTIME = { textInPerMTokUsd: 5, cachedInPerMTokUsd: 2.5, textOutPerMTokUsd: 20, audioInPerMTokUsd: 40, audioOutPerMTokUsd: 80 };
const GPT_4O_MINI_REALTIME = { textInPerMTokUsd: 0.6, cachedInPerMTokUsd: 0.3, textOutPerMTokUsd: 2.4, audioInPerMTokUsd: 10, audioOutPerMTokUsd: 20 };
const DEFAULTS = {
  'gpt-realtime': GPT_REALTIME,
  'gpt-realtime-mini': GPT_REALTIME_MINI,
  'gpt-4o-realtime-preview': GPT_4O_REALTIME,
  'gpt-4o-mini-realtime-preview': GPT_4O_MINI_REALTIME,
  elevenlabs: { perMinuteUsd: 0.1 },
};

function usage(inputTokens: number, inputAudioTokens: number, cachedTokens: number, outputTokens: number, outputAudioTokens: number): TokenUsage {
  return { inputTokens, inputAudioTokens, cachedTokens, outputTokens, outputAudioTokens };
}
const NONE = usage(0, 0, 0, 0, 0);

function parseError(json: string): string {
  try {
    parsePriceTable(json);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`expected ${json} to be refused`);
}

describe('DEFAULT_PRICES', () => {
  it('is the published list prices, frozen', () => {
    expect(DEFAULT_PRICES).toEqual(DEFAULTS);
    expect(Object.isFrozen(DEFAULT_PRICES)).toBe(true);
  });
});

describe('parsePriceTable', () => {
  it('is the defaults for an empty object', () => {
    const table = parsePriceTable('{}');
    expect(table).toEqual(DEFAULTS);
    expect(Object.isFrozen(table)).toBe(true);
  });

  it('adds new models with only the prices given', () => {
    expect(parsePriceTable('{"gpt-realtime-2025-08-28":{"audioInPerMTokUsd":30,"audioOutPerMTokUsd":60},"my-sip-agent":{"perMinuteUsd":0.05}}')).toEqual({
      ...DEFAULTS,
      'gpt-realtime-2025-08-28': { audioInPerMTokUsd: 30, audioOutPerMTokUsd: 60 },
      'my-sip-agent': { perMinuteUsd: 0.05 },
    });
    expect(parsePriceTable('{"free":{}}')).toEqual({ ...DEFAULTS, free: {} });
  });

  it('merges an entry for a default model field by field (the README example changes one price)', () => {
    // README: PRICE_TABLE is "JSON merged over the defaults, e.g. {"gpt-realtime":{"audioInPerMTokUsd":32}}".
    expect(parsePriceTable('{"gpt-realtime":{"audioInPerMTokUsd":30},"elevenlabs":{"perMinuteUsd":0.08}}')).toEqual({
      ...DEFAULTS,
      'gpt-realtime': { ...GPT_REALTIME, audioInPerMTokUsd: 30 },
      elevenlabs: { perMinuteUsd: 0.08 },
    });
    expect(parsePriceTable('{"gpt-realtime-mini":{"textInPerMTokUsd":0,"cachedInPerMTokUsd":0}}')['gpt-realtime-mini']).toEqual({ ...GPT_REALTIME_MINI, textInPerMTokUsd: 0, cachedInPerMTokUsd: 0 });
    // The defaults themselves are untouched.
    expect(DEFAULT_PRICES['gpt-realtime']).toEqual(GPT_REALTIME);
  });

  it('refuses text that is not JSON with the expected shape', () => {
    const shape = 'must be a JSON object like {"gpt-realtime":{"audioInPerMTokUsd":32}}';
    expect(['', 'nope', '{gpt-realtime: {}}', "{'a':{}}"].map(parseError)).toEqual([shape, shape, shape, shape]);
  });

  it('names what is wrong in one line', () => {
    expect(
      [
        '[]',
        '5',
        'null',
        '{"gpt-realtime":32}',
        '{"gpt-realtime":{"audioInPerMTokUsd":-1}}',
        '{"gpt-realtime":{"audioInPerMTokUsd":"32"}}',
        '{"x":{"perMinuteUsd":null}}',
        '{"gpt-realtime":{"audioInPerMtokUsd":32}}',
        '{"x":{"textInPerMTokUsd":1,"bar":2,"baz":3}}',
        '{"":{"perMinuteUsd":1}}',
      ].map(parseError),
    ).toEqual([
      'value: Invalid input: expected record, received array',
      'value: Invalid input: expected record, received number',
      'value: Invalid input: expected record, received null',
      'gpt-realtime: Invalid input: expected object, received number',
      'gpt-realtime.audioInPerMTokUsd: Too small: expected number to be >=0',
      'gpt-realtime.audioInPerMTokUsd: Invalid input: expected number, received string',
      'x.perMinuteUsd: Invalid input: expected number, received null',
      'gpt-realtime: Unrecognized key: "audioInPerMtokUsd"',
      'x: Unrecognized keys: "bar", "baz"',
      'value: Invalid key in record',
    ]);
  });
});

describe('priceFor', () => {
  it('finds a model by exact name or its longest prefix', () => {
    const cases: Array<[string, string | null]> = [
      ['gpt-realtime', 'gpt-realtime'],
      ['gpt-realtime-2025-08-28', 'gpt-realtime'],
      ['gpt-realtime-mini', 'gpt-realtime-mini'],
      ['gpt-realtime-mini-2025-10-06', 'gpt-realtime-mini'],
      ['gpt-4o-realtime-preview-2025-06-03', 'gpt-4o-realtime-preview'],
      ['gpt-4o-mini-realtime-preview-2024-12-17', 'gpt-4o-mini-realtime-preview'],
      ['elevenlabs', 'elevenlabs'],
      ['gpt-4o', null],
      ['gpt-4o-transcribe', null],
      ['GPT-REALTIME', null],
      ['realtime', null],
      ['', null],
    ];
    expect(cases.map(([model]) => [model, priceFor(DEFAULT_PRICES, model)])).toEqual(
      cases.map(([model, key]) => [model, key === null ? null : { key, price: DEFAULT_PRICES[key] }]),
    );
    expect(priceFor(DEFAULT_PRICES, 'gpt-realtime-mini-2025-10-06')?.price).toBe(DEFAULT_PRICES['gpt-realtime-mini']);
  });

  it('prefers the longest key whatever the table order', () => {
    const dated: ModelPrice = { audioInPerMTokUsd: 30 };
    const family: ModelPrice = { audioInPerMTokUsd: 32 };
    const all: ModelPrice = { audioInPerMTokUsd: 1 };
    for (const table of [
      { 'gpt-realtime-2025-08-28': dated, 'gpt-realtime': family, gpt: all },
      { gpt: all, 'gpt-realtime': family, 'gpt-realtime-2025-08-28': dated },
    ]) {
      expect(priceFor(table, 'gpt-realtime-2025-08-28')).toEqual({ key: 'gpt-realtime-2025-08-28', price: dated });
      expect(priceFor(table, 'gpt-realtime-2025-12-01')).toEqual({ key: 'gpt-realtime', price: family });
      expect(priceFor(table, 'gpt-5')).toEqual({ key: 'gpt', price: all });
    }
    const overridden = parsePriceTable('{"gpt-realtime-2025-08-28":{"audioInPerMTokUsd":30}}');
    expect(priceFor(overridden, 'gpt-realtime-2025-08-28')).toEqual({ key: 'gpt-realtime-2025-08-28', price: { audioInPerMTokUsd: 30 } });
    expect(priceFor({}, 'gpt-realtime')).toBeNull();
  });
});

describe('costOf', () => {
  it('prices a 3-minute gpt-realtime call: uncached audio and text in, cached in, audio and text out', () => {
    // 10 000 audio + 2 000 text in, 4 000 of them cached (taken from the audio); 4 500 audio + 500 text out.
    // 6 000 × 32 + 2 000 × 4 + 4 000 × 0.4 + 4 500 × 64 + 500 × 16 = 192 000 + 8 000 + 1 600 + 288 000 + 8 000 = 497 600 µ$/M.
    expect(costOf(GPT_REALTIME, usage(12_000, 10_000, 4_000, 5_000, 4_500), 180_000)).toBe(0.4976);
  });

  it('prices a long call whose context is mostly cached', () => {
    // 20 000 × 32 + 50 000 × 4 + 180 000 × 0.4 + 10 000 × 64 + 2 000 × 16 = 640 000 + 200 000 + 72 000 + 640 000 + 32 000.
    expect(costOf(GPT_REALTIME, usage(250_000, 200_000, 180_000, 12_000, 10_000), 300_000)).toBe(1.584);
  });

  it('takes cached tokens beyond the audio input out of the text input', () => {
    // gpt-realtime-mini: 3 000 audio all cached, 2 000 of 17 000 text cached.
    // 0 × 10 + 15 000 × 0.6 + 5 000 × 0.06 + 1 500 × 20 + 500 × 2.4 = 9 000 + 300 + 30 000 + 1 200.
    expect(costOf(GPT_REALTIME_MINI, usage(20_000, 3_000, 5_000, 2_000, 1_500), 60_000)).toBe(0.0405);
    // gpt-4o-realtime-preview: 1 600 × 5 + 6 400 × 2.5 + 2 800 × 80 + 200 × 20 = 8 000 + 16 000 + 224 000 + 4 000.
    expect(costOf(GPT_4O_REALTIME, usage(8_000, 6_000, 6_400, 3_000, 2_800), 60_000)).toBe(0.252);
    // Text only: 1 000 text in (400 cached), 300 text out on gpt-4o-mini-realtime-preview.
    // 600 × 0.6 + 400 × 0.3 + 300 × 2.4 = 360 + 120 + 720.
    expect(costOf(GPT_4O_MINI_REALTIME, usage(1_000, 0, 400, 300, 0), 5_000)).toBe(0.0012);
  });

  it('ignores the duration for token prices and the tokens for per-minute prices', () => {
    expect(costOf(GPT_REALTIME, NONE, 3_600_000)).toBe(0);
    expect(costOf({ perMinuteUsd: 0.1 }, usage(100_000, 90_000, 0, 10_000, 9_000), 90_000)).toBe(0.15);
    expect(costOf({ perMinuteUsd: 0.1 }, NONE, 0)).toBe(0);
    expect(costOf({ perMinuteUsd: 0.1 }, NONE, 100)).toBe(0.000167);
    expect(costOf({ perMinuteUsd: 0.08 }, NONE, 754_250)).toBe(1.005667);
  });

  it('adds per-minute and token prices when an entry has both, and prices a missing rate at zero', () => {
    // 1 000 × 10 (audio in) + 2 minutes × 0.02; no other rate is set.
    expect(costOf({ audioInPerMTokUsd: 10, perMinuteUsd: 0.02 }, usage(1_500, 1_000, 0, 2_000, 1_000), 120_000)).toBe(0.05);
    expect(costOf({}, usage(12_000, 10_000, 4_000, 5_000, 4_500), 180_000)).toBe(0);
  });

  it('rounds to a millionth of a dollar', () => {
    expect(costOf(GPT_REALTIME, usage(1, 1, 0, 0, 0), 0)).toBe(0.000032);
    expect(costOf(GPT_REALTIME, usage(1, 1, 1, 0, 0), 0)).toBe(0); // 0.4 µ$
    expect(costOf(GPT_REALTIME, usage(2, 2, 2, 0, 0), 0)).toBe(0.000001); // 0.8 µ$
    expect(costOf(GPT_REALTIME_MINI, usage(3, 0, 0, 0, 0), 0)).toBe(0.000002); // 1.8 µ$
  });
});
