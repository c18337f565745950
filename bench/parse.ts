/**
 * Hot-message parse benchmark: ns per message and V8 heap bytes allocated per message, strict parser (one
 * `JSON.parse` and checks) versus the fast path, for recorded Twilio `media` frames (both key orders) and OpenAI
 * `response.output_audio.delta` events of realistic sizes, plus one miss of each (what the fast path's checks add to a
 * message it leaves to the strict parser). Prints figures; asserts nothing (machines are shared and noisy).
 *
 *   npm run bench:parse            (runs with --expose-gc, for the allocation figures)
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { bytesToBase64 } from '../src/audio/pcm.js';
import { parseServerEvent, parseServerEventStrict } from '../src/providers/openai/events.js';
import { audioDeltaFastHits } from '../src/providers/openai/fast-delta.js';
import { twilioFastMediaHits } from '../src/twilio/fast-media.js';
import { parseTwilioMessage, parseTwilioMessageStrict } from '../src/twilio/messages.js';

const ROUNDS = 9;
const gc = (globalThis as { gc?: () => void }).gc;

/** The wire text of every `media` line of a fixture (the `message` value verbatim). */
function fixtureMediaTexts(name: string): string[] {
  const lines = readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8').split('\n');
  return lines
    .filter((line) => line.includes('"event":"media"'))
    .map((line) => line.slice(line.indexOf('"message":') + '"message":'.length, line.lastIndexOf('}')));
}

function deltaText(bytes: number, order: 'api' | 'simulator', seed: number): string {
  const audio = new Uint8Array(bytes).map((_, i) => (i * 31 + seed) & 0xff);
  const fields = { response_id: 'resp_CZ3mY5w2mJr0pZ8m4vTq1', item_id: 'item_CZ3mY6Pq9XwYk2rTnU0aB', output_index: 0, content_index: 0, delta: bytesToBase64(audio) };
  const eventId = `event_CZ3mY7${seed.toString(36).padStart(6, '0')}`;
  const event =
    order === 'api' ? { type: 'response.output_audio.delta', event_id: eventId, ...fields } : { event_id: eventId, type: 'response.output_audio.delta', ...fields };
  return JSON.stringify(event);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

let sink = 0;

/** ns per message of one round of `iterations` parses cycling through `texts`. */
function nsPerMessage(texts: string[], parse: (text: string) => { ok: boolean }, iterations: number): number {
  const start = performance.now();
  for (let i = 0; i < iterations; i++) if (parse(texts[i % texts.length]!).ok) sink++;
  return ((performance.now() - start) * 1e6) / iterations;
}

/** Median ns per message of strict and fast, measured in alternating rounds (the machine's load hits both alike). */
function timeBoth(entry: Case): { strict: number; fast: number } {
  const strict: number[] = [];
  const fast: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    strict.push(nsPerMessage(entry.texts, entry.strict, entry.iterations));
    fast.push(nsPerMessage(entry.texts, entry.fast, entry.iterations));
  }
  return { strict: median(strict), fast: median(fast) };
}

/** Bytes in use in the young generation (where every new object and string goes, large ones included). */
function youngBytes(): number {
  let total = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space') total += space.space_used_size;
  }
  return total;
}

/**
 * V8 heap bytes allocated per message (objects, strings), across a batch after a full GC. A round in which a
 * scavenge ran (the young generation shrank) is measured again. Median of rounds. The decoded Twilio audio (a
 * Buffer's backing store, outside the V8 heap) is the same on both paths and not counted.
 */
function bytesPerMessage(texts: string[], parse: (text: string) => { ok: boolean }, batch: number): number | null {
  if (gc === undefined) return null;
  const heap: number[] = [];
  for (let attempt = 0; heap.length < ROUNDS && attempt < ROUNDS * 4; attempt++) {
    gc();
    const before = youngBytes();
    for (let i = 0; i < batch; i++) if (parse(texts[i % texts.length]!).ok) sink++;
    const after = youngBytes();
    if (after >= before) heap.push((after - before) / batch);
  }
  return heap.length === 0 ? null : median(heap);
}

interface Case {
  name: string;
  texts: string[];
  strict: (text: string) => { ok: boolean };
  fast: (text: string) => { ok: boolean };
  /** The fast path's hit counter; null for a message it must leave to the strict parser (the cost of a miss). */
  hits: (() => number) | null;
  iterations: number;
  batch: number;
}

const fixtureOrder = fixtureMediaTexts('greeting-question.jsonl');
// Twilio's own key order puts streamSid after media (the fixtures put it before); both are recognised.
const wireOrder = fixtureOrder.map((text) => {
  const message = JSON.parse(text) as { event: string; sequenceNumber: string; streamSid: string; media: unknown };
  return JSON.stringify({ event: message.event, sequenceNumber: message.sequenceNumber, media: message.media, streamSid: message.streamSid });
});
const twilioStrict = (text: string) => parseTwilioMessageStrict(text, false);
const twilioFast = (text: string) => parseTwilioMessage(text, false);

const cases: Case[] = [
  { name: 'twilio media, fixture key order', texts: fixtureOrder, strict: twilioStrict, fast: twilioFast, hits: twilioFastMediaHits, iterations: 50_000, batch: 2_000 },
  { name: 'twilio media, wire key order', texts: wireOrder, strict: twilioStrict, fast: twilioFast, hits: twilioFastMediaHits, iterations: 50_000, batch: 2_000 },
  ...[
    ['openai delta 20 ms (960 B)', 960, 'api'],
    ['openai delta 100 ms (4 800 B)', 4_800, 'api'],
    ['openai delta 100 ms, simulator key order', 4_801, 'simulator'],
    ['openai delta 500 ms (24 000 B)', 24_000, 'api'],
  ].map(([name, bytes, order]): Case => {
    const texts = Array.from({ length: 16 }, (_, seed) => deltaText(bytes as number, order as 'api' | 'simulator', seed));
    const perMessage = (texts[0]!.length * 2) / 1024;
    return {
      name: name as string,
      texts,
      strict: parseServerEventStrict,
      fast: parseServerEvent,
      hits: audioDeltaFastHits,
      iterations: Math.max(1_000, Math.round(1_000_000 / perMessage / 10)),
      batch: Math.max(50, Math.round(4_000 / perMessage)),
    };
  }),
  // Misses: what the fast path's checks add to a message it leaves to the strict parser.
  { name: 'twilio mark (miss: strict)', texts: [JSON.stringify({ event: 'mark', sequenceNumber: '7', streamSid: 'MZ00000000000000000000000000000001', mark: { name: 'reply-3' } })], strict: twilioStrict, fast: twilioFast, hits: null, iterations: 50_000, batch: 2_000 },
  {
    name: 'openai transcript delta (miss: strict)',
    texts: [JSON.stringify({ type: 'response.output_audio_transcript.delta', event_id: 'event_CZ3mY7', response_id: 'resp_CZ3mY5w2mJr0pZ8m4vTq1', item_id: 'item_CZ3mY6Pq9XwYk2rTnU0aB', output_index: 0, content_index: 0, delta: ' the pharmacy' })],
    strict: parseServerEventStrict,
    fast: parseServerEvent,
    hits: null,
    iterations: 50_000,
    batch: 2_000,
  },
];

console.log(`node ${process.version}; ${ROUNDS} rounds, medians${gc === undefined ? '; run with --expose-gc for allocation figures' : ''}`);
const rows: string[][] = [['message', 'chars', 'strict ns', 'fast ns', 'speed-up', 'strict B', 'fast B', 'B ratio']];
for (const entry of cases) {
  // Same results first: a benchmark of a fast path that falls back would measure the fallback.
  for (const text of entry.texts) {
    if (JSON.stringify(entry.strict(text)) !== JSON.stringify(entry.fast(text))) throw new Error(`${entry.name}: fast and strict disagree`);
  }
  if (entry.hits !== null) {
    const hitsBefore = entry.hits();
    entry.fast(entry.texts[0]!);
    if (entry.hits() !== hitsBefore + 1) throw new Error(`${entry.name}: the fast path was not taken`);
  }
  // Warm up both (JIT), then measure.
  nsPerMessage(entry.texts, entry.strict, entry.iterations);
  nsPerMessage(entry.texts, entry.fast, entry.iterations);
  const { strict: strictNs, fast: fastNs } = timeBoth(entry);
  const strictBytes = bytesPerMessage(entry.texts, entry.strict, entry.batch);
  const fastBytes = bytesPerMessage(entry.texts, entry.fast, entry.batch);
  const chars = Math.round(entry.texts.reduce((sum, text) => sum + text.length, 0) / entry.texts.length);
  const bytes = (value: number | null) => (value === null ? 'n/a' : Math.round(value).toLocaleString('en-US'));
  rows.push([
    entry.name,
    chars.toLocaleString('en-US'),
    Math.round(strictNs).toLocaleString('en-US'),
    Math.round(fastNs).toLocaleString('en-US'),
    `${(strictNs / fastNs).toFixed(2)}×`,
    bytes(strictBytes),
    bytes(fastBytes),
    strictBytes === null || fastBytes === null || fastBytes === 0 ? 'n/a' : `${(strictBytes / fastBytes).toFixed(1)}×`,
  ]);
}
const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) console.log(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
console.log('strict: parseTwilioMessageStrict / parseServerEventStrict; fast: parseTwilioMessage / parseServerEvent (fast path, strict on a miss).');
console.log('B: V8 heap bytes allocated per message (objects, strings; the decoded audio buffer, the same on both paths, not counted).');
if (sink < 0) console.log(sink);
