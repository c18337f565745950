/**
 * What a call cost, from the provider's usage and a price table. The defaults are the providers' published list
 * prices when this was written (OpenAI's pricing page for the Realtime models, USD per 1M tokens; ElevenLabs'
 * Agents price per minute of conversation): prices change, so operators override them with PRICE_TABLE and keep
 * them current (README, "Cost").
 */
import { z } from 'zod';
import type { TokenUsage } from '../voice/port.js';

/** Token prices in USD per 1M tokens, or a per-minute price (providers that bill by conversation time). */
export interface ModelPrice {
  readonly textInPerMTokUsd?: number;
  readonly textOutPerMTokUsd?: number;
  readonly audioInPerMTokUsd?: number;
  readonly audioOutPerMTokUsd?: number;
  readonly cachedInPerMTokUsd?: number;
  readonly perMinuteUsd?: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** Keys are model names or prefixes (`gpt-realtime` prices `gpt-realtime-2025-08-28`); the longest match wins. */
export const DEFAULT_PRICES: PriceTable = Object.freeze({
  'gpt-realtime': { textInPerMTokUsd: 4, cachedInPerMTokUsd: 0.4, textOutPerMTokUsd: 16, audioInPerMTokUsd: 32, audioOutPerMTokUsd: 64 },
  'gpt-realtime-mini': { textInPerMTokUsd: 0.6, cachedInPerMTokUsd: 0.06, textOutPerMTokUsd: 2.4, audioInPerMTokUsd: 10, audioOutPerMTokUsd: 20 },
  'gpt-4o-realtime-preview': { textInPerMTokUsd: 5, cachedInPerMTokUsd: 2.5, textOutPerMTokUsd: 20, audioInPerMTokUsd: 40, audioOutPerMTokUsd: 80 },
  'gpt-4o-mini-realtime-preview': { textInPerMTokUsd: 0.6, cachedInPerMTokUsd: 0.3, textOutPerMTokUsd: 2.4, audioInPerMTokUsd: 10, audioOutPerMTokUsd: 20 },
  elevenlabs: { perMinuteUsd: 0.1 },
});

const priceSchema = z
  .object({
    textInPerMTokUsd: z.number().nonnegative(),
    textOutPerMTokUsd: z.number().nonnegative(),
    audioInPerMTokUsd: z.number().nonnegative(),
    audioOutPerMTokUsd: z.number().nonnegative(),
    cachedInPerMTokUsd: z.number().nonnegative(),
    perMinuteUsd: z.number().nonnegative(),
  })
  .partial()
  .strict();

/** PRICE_TABLE's JSON merged over the defaults; throws one line naming what is wrong. */
export function parsePriceTable(json: string): PriceTable {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('must be a JSON object like {"gpt-realtime":{"audioInPerMTokUsd":32}}');
  }
  const result = z.record(z.string().min(1), priceSchema).safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`${issue?.path.join('.') || 'value'}: ${issue?.message ?? 'invalid'}`);
  }
  const table: Record<string, ModelPrice> = { ...DEFAULT_PRICES };
  // Field by field: `{"gpt-realtime":{"audioInPerMTokUsd":30}}` changes that one price and keeps the model's others.
  for (const [model, price] of Object.entries(result.data)) table[model] = { ...(Object.hasOwn(DEFAULT_PRICES, model) ? DEFAULT_PRICES[model] : {}), ...stripUndefined(price) };
  return Object.freeze(table);
}

/** The entry for `model`: exact name, else the longest key it starts with; null = unpriced. */
export function priceFor(table: PriceTable, model: string): { key: string; price: ModelPrice } | null {
  let best: string | null = null;
  for (const key of Object.keys(table)) {
    if ((model === key || model.startsWith(key)) && (best === null || key.length > best.length)) best = key;
  }
  return best === null ? null : { key: best, price: table[best]! };
}

/**
 * USD for one call, rounded to 1e-6. Input tokens include the cached ones (OpenAI's usage): cached tokens are
 * priced at the cached rate and taken out of the audio input first (audio dominates a phone call's context).
 */
export function costOf(price: ModelPrice, usage: TokenUsage, durationMs: number): number {
  const perToken = (perMTok: number | undefined, tokens: number) => ((perMTok ?? 0) * Math.max(0, tokens)) / 1_000_000;
  const textIn = usage.inputTokens - usage.inputAudioTokens;
  const cachedFromAudio = Math.min(usage.cachedTokens, usage.inputAudioTokens);
  const cachedFromText = usage.cachedTokens - cachedFromAudio;
  const usd =
    perToken(price.audioInPerMTokUsd, usage.inputAudioTokens - cachedFromAudio) +
    perToken(price.textInPerMTokUsd, textIn - cachedFromText) +
    perToken(price.cachedInPerMTokUsd, usage.cachedTokens) +
    perToken(price.audioOutPerMTokUsd, usage.outputAudioTokens) +
    perToken(price.textOutPerMTokUsd, usage.outputTokens - usage.outputAudioTokens) +
    ((price.perMinuteUsd ?? 0) * durationMs) / 60_000;
  return Math.round(usd * 1e6) / 1e6;
}

function stripUndefined(price: Partial<Record<keyof ModelPrice, number | undefined>>): ModelPrice {
  return Object.fromEntries(Object.entries(price).filter(([, value]) => value !== undefined)) as ModelPrice;
}
