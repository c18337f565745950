/**
 * The fast path for the one hot OpenAI server event, `response.output_audio.delta` (several a second per call, each
 * carrying kilobytes of base64): the event object built straight from the frame text instead of by `JSON.parse`.
 *
 * It recognises one thing only, the compact event in either key order seen (`type` first from the GA API, `event_id`
 * first from the simulated server):
 *
 *   {"type":"response.output_audio.delta","event_id":"E","response_id":"R","item_id":"I","output_index":N,"content_index":N,"delta":"D"}
 *   {"event_id":"E","type":"response.output_audio.delta","response_id":"R","item_id":"I","output_index":N,"content_index":N,"delta":"D"}
 *
 * where E, R, I and D are strings without escapes or control characters (so their JSON text is their value) and N a
 * JSON integer ≥ 0 of at most 15 digits (exact as a double). On such a frame the result is the object `JSON.parse`
 * builds: the same keys in the same order with the same values. For anything else it returns null and the strict
 * parser (`parseServerEventStrict`) runs, so every error code and every other event comes from one place. It never
 * throws.
 *
 * Where the time goes: `JSON.parse` is native code, and most of its work on this event is scanning and copying the
 * delta. A check of every delta character in JavaScript is slower than that, so the head (everything before the
 * delta) is matched by one precompiled expression and the delta by a 16-bytes-at-a-time WebAssembly SIMD scan for
 * the three characters a plain JSON string cannot hold (`"`, `\`, U+0000–U+001F); where WebAssembly is unavailable
 * the scan is a single-class sticky expression (native, linear, same answer).
 */
import type { ResponseAudioDeltaEvent } from 'openai/resources/realtime/realtime';
import { digitsAt, digitsEnd, PLAIN_JSON_STRING_BODY as PLAIN } from '../../net/fast-json.js';

/** A JSON integer ≥ 0 without leading zeros, at most 15 digits. Always followed by `,` in HEAD_PATTERN. */
const INDEX = '(?:0|[1-9][0-9]{0,14})';
const TYPE = '"type":"response\\.output_audio\\.delta"';

/**
 * Everything up to the first delta character. Sticky from 0 (and `lastIndex` then points at the delta). Linear and
 * free of backtracking hazards: every variable run is one character class followed by a character outside it, and
 * the two alternatives differ from their second character on.
 */
const HEAD_PATTERN = new RegExp(
  `\\{(?:${TYPE},"event_id":"${PLAIN}"|"event_id":"${PLAIN}",${TYPE}),"response_id":"${PLAIN}","item_id":"${PLAIN}","output_index":${INDEX},"content_index":${INDEX},"delta":"`,
  'y',
);

// The literal runs between the values, for reading them out once HEAD_PATTERN has matched.
const TYPE_FIRST_TO_EVENT_ID = '{"type":"response.output_audio.delta","event_id":"';
const EVENT_ID_FIRST_TO_EVENT_ID = '{"event_id":"';
const TYPE_FIRST_TO_RESPONSE_ID = '","response_id":"';
const EVENT_ID_FIRST_TO_RESPONSE_ID = '","type":"response.output_audio.delta","response_id":"';
const TO_ITEM_ID = '","item_id":"';
const TO_OUTPUT_INDEX = '","output_index":';
const TO_CONTENT_INDEX = ',"content_index":';
/** Where the first key's first letter is: `t` (type first) or `e` (event_id first). */
const FIRST_KEY_LETTER = 2;
/** With `type` first, where `.delta` of the type starts (`_transcript.delta` and `.done` differ there). */
const TYPE_FIRST_DELTA_SUFFIX_AT = TYPE_FIRST_TO_EVENT_ID.indexOf('.delta');

const PLAIN_BODY = new RegExp(PLAIN, 'y');

let hits = 0;

/** How many events the fast path has parsed in this process (tests prove it is taken; a gauge could read it). */
export function audioDeltaFastHits(): number {
  return hits;
}

/**
 * The delta check in WebAssembly: `scan(length)` is nonzero when one of the first `length` bytes of memory is below
 * 0x20, or is `"` or `\`; it reads whole 16-byte blocks, so the caller pads the last one with harmless bytes.
 *
 *   (func (param $length i32) (result i32) (local $i i32) (local $any v128) (local $block v128)
 *     block loop
 *       (br_if 1 (i32.ge_u (local.get $i) (local.get $length)))
 *       (local.set $block (v128.load (local.get $i)))
 *       (local.set $any (v128.or (v128.or (v128.or (local.get $any)
 *         (i8x16.lt_u (local.get $block) (v128.const i8x16 0x20 …)))
 *         (i8x16.eq (local.get $block) (v128.const i8x16 0x22 …)))
 *         (i8x16.eq (local.get $block) (v128.const i8x16 0x5c …))))
 *       (local.set $i (i32.add (local.get $i) (i32.const 16)))
 *       br 0
 *     end end
 *     (v128.any_true (local.get $any)))
 *   exported as "scan", with its memory (1 page to start) as "memory".
 */
function assembleScanModule(): Uint8Array {
  const splat = (byte: number) => [0xfd, 0x0c, ...new Array<number>(16).fill(byte)];
  const name = (text: string) => [text.length, ...Array.from(text, (char) => char.charCodeAt(0))];
  const section = (id: number, content: number[]) => [id, ...leb128(content.length), ...content];
  const body = [
    0x02, 0x01, 0x7f, 0x02, 0x7b, // locals: 1 × i32 ($i), 2 × v128 ($any, $block)
    0x02, 0x40, 0x03, 0x40, // block, loop
    0x20, 0x01, 0x20, 0x00, 0x4f, 0x0d, 0x01, // br_if 1 (i >= length)
    0x20, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x21, 0x03, // block = v128.load(i)
    0x20, 0x02, // any
    0x20, 0x03, ...splat(0x20), 0xfd, 0x26, 0xfd, 0x50, // | (block <u 0x20)
    0x20, 0x03, ...splat(0x22), 0xfd, 0x23, 0xfd, 0x50, // | (block == '"')
    0x20, 0x03, ...splat(0x5c), 0xfd, 0x23, 0xfd, 0x50, // | (block == '\')
    0x21, 0x02, // any = …
    0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, // i += 16
    0x0c, 0x00, 0x0b, 0x0b, // br 0, end loop, end block
    0x20, 0x02, 0xfd, 0x53, // v128.any_true(any)
    0x0b,
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, [0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f]), // type: (i32) -> i32
    ...section(3, [0x01, 0x00]), // one function of that type
    ...section(5, [0x01, 0x00, 0x01]), // one memory, min 1 page
    ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('scan'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb128(body.length), ...body]),
  ]);
}

function leb128(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** Bodies longer than this (in UTF-16 units) use the expression instead, so the scan memory stays small. */
const MAX_SIMD_BODY = 1 << 20;
const WASM_PAGE = 65_536;

/** The little of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

interface SimdScanner {
  memory: WasmMemory;
  scan: (length: number) => number;
  bytes: Uint8Array;
}

function createSimdScanner(): SimdScanner | null {
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (wasm === undefined) return null;
    const { exports } = new wasm.Instance(new wasm.Module(assembleScanModule()));
    const memory = exports['memory'] as WasmMemory;
    const scan = exports['scan'] as (length: number) => number;
    return { memory, scan, bytes: new Uint8Array(memory.buffer) };
  } catch {
    // No WebAssembly (e.g. --jitless) or no SIMD: the expression does the same check.
    return null;
  }
}

const simd = createSimdScanner();

/** Whether the delta check runs in WebAssembly here (false: the expression does it). */
export const audioDeltaScanUsesSimd = simd !== null;
const encoder = new TextEncoder();

/**
 * True when `body` holds no `"`, no `\` and no control character, i.e. `"body"` is a JSON string whose value is
 * `body`. `useSimd` false forces the expression (tests compare the two).
 */
export function isPlainJsonStringBody(body: string, useSimd = true): boolean {
  if (useSimd && simd !== null && body.length <= MAX_SIMD_BODY) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; 16 more for the padded last block.
    const needed = body.length * 3 + 16;
    if (simd.bytes.length < needed) {
      simd.memory.grow(Math.ceil((needed - simd.bytes.length) / WASM_PAGE));
      simd.bytes = new Uint8Array(simd.memory.buffer);
    }
    // Characters outside ASCII become bytes ≥ 0x80 (a lone surrogate becomes U+FFFD's), never one the scan looks for.
    const { written } = encoder.encodeInto(body, simd.bytes);
    simd.bytes.fill(0x41, written, written + 16);
    return simd.scan(written) === 0;
  }
  PLAIN_BODY.lastIndex = 0;
  return PLAIN_BODY.test(body) && PLAIN_BODY.lastIndex === body.length;
}

function scan(text: string): ResponseAudioDeltaEvent | null {
  const length = text.length;
  // Cheap exits first: the frame must end with the delta's closing quote and the object's brace.
  if (text.charCodeAt(length - 1) !== 125 /* } */ || text.charCodeAt(length - 2) !== 34 /* " */) return null;
  const typeFirst = text.charCodeAt(FIRST_KEY_LETTER) === 116; /* t */
  if (typeFirst && (text.charCodeAt(TYPE_FIRST_DELTA_SUFFIX_AT) !== 46 /* . */ || text.charCodeAt(TYPE_FIRST_DELTA_SUFFIX_AT + 1) !== 100) /* d */) {
    return null;
  }
  HEAD_PATTERN.lastIndex = 0;
  if (!HEAD_PATTERN.test(text)) return null;
  const deltaStart = HEAD_PATTERN.lastIndex;
  // `…"delta":"}` ends in `"}` too, with that quote opening the delta: unterminated, not ours.
  if (deltaStart > length - 2) return null;
  const delta = text.slice(deltaStart, length - 2);
  if (!isPlainJsonStringBody(delta)) return null;

  // Matched: the layout is known, so the values are read between the literal runs.
  const eventIdStart = typeFirst ? TYPE_FIRST_TO_EVENT_ID.length : EVENT_ID_FIRST_TO_EVENT_ID.length;
  const eventIdEnd = text.indexOf('"', eventIdStart);
  const responseIdStart = eventIdEnd + (typeFirst ? TYPE_FIRST_TO_RESPONSE_ID.length : EVENT_ID_FIRST_TO_RESPONSE_ID.length);
  const responseIdEnd = text.indexOf('"', responseIdStart);
  const itemIdStart = responseIdEnd + TO_ITEM_ID.length;
  const itemIdEnd = text.indexOf('"', itemIdStart);
  const outputIndex = digitsAt(text, itemIdEnd + TO_OUTPUT_INDEX.length);
  const contentIndex = digitsAt(text, digitsEnd + TO_CONTENT_INDEX.length);
  const eventId = text.slice(eventIdStart, eventIdEnd);
  const responseId = text.slice(responseIdStart, responseIdEnd);
  const itemId = text.slice(itemIdStart, itemIdEnd);
  hits++;
  // Keys in text order, as JSON.parse would insert them.
  return typeFirst
    ? {
        type: 'response.output_audio.delta',
        event_id: eventId,
        response_id: responseId,
        item_id: itemId,
        output_index: outputIndex,
        content_index: contentIndex,
        delta,
      }
    : {
        event_id: eventId,
        type: 'response.output_audio.delta',
        response_id: responseId,
        item_id: itemId,
        output_index: outputIndex,
        content_index: contentIndex,
        delta,
      };
}

/**
 * A `response.output_audio.delta` frame in exactly the shape the API sends, as the object `JSON.parse` would build;
 * null for anything else (run the strict parser then). Never throws.
 */
export function parseAudioDeltaFast(text: string): ResponseAudioDeltaEvent | null {
  try {
    return scan(text);
  } catch {
    // Not reachable by construction (no call above throws on a string); if it ever were, strict decides.
    return null;
  }
}
