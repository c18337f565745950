/**
 * Live call state from the console's event feed, and transcript merging for the live page and the browser phone.
 * Pure (no DOM): the pages render what these return; every function returns a new object when something changed.
 *
 * Transcript events (src/call/call-events.ts): `final: false` pieces are deltas appended to the item's line; a final
 * line replaces the text (it is the whole, possibly corrected, line); a late piece after the final is dropped. The
 * browser phone's `transcript` messages are the call's own transcript events passed on as they happen
 * (src/server/admission.ts → BrowserChannel.sendTranscript), so they merge the same way, keyed by item.
 */
import type { CallEvent, CallInfo, LiveCall } from './api-types.js';

export type Speaker = 'caller' | 'agent';
export type MergeMode = 'delta' | 'replace';

export interface TranscriptEntry {
  readonly speaker: Speaker;
  readonly itemId: string;
  readonly text: string;
  readonly final: boolean;
}

export type TranscriptInput = TranscriptEntry;

/** Merges one transcript piece into `lines` (keyed by speaker + item, first-seen order). Same array when ignored. */
export function mergeTranscript<T extends TranscriptEntry>(
  lines: readonly T[],
  input: TranscriptInput,
  mode: MergeMode,
  create: (input: TranscriptInput) => T,
): readonly T[] {
  const index = lines.findIndex((line) => line.itemId === input.itemId && line.speaker === input.speaker);
  if (index === -1) return [...lines, create(input)];
  const known = lines[index]!;
  // A piece that arrives after the final line is late: the final line stands.
  if (known.final && !input.final) return lines;
  const text = input.final || mode === 'replace' ? input.text : known.text + input.text;
  const final = input.final;
  if (text === known.text && final === known.final) return lines;
  const next = [...lines];
  next[index] = { ...known, text, final };
  return next;
}

/** The browser phone's transcript: one line per item (speaker + item id), in first-seen order. */
export function mergePhoneTranscript(lines: readonly TranscriptEntry[], input: TranscriptInput, mode: MergeMode = 'delta'): readonly TranscriptEntry[] {
  return mergeTranscript(lines, input, mode, (line) => ({ speaker: line.speaker, itemId: line.itemId, text: line.text, final: line.final }));
}

export interface LineEntry extends TranscriptEntry {
  readonly kind: 'line';
  readonly key: string;
  /** Ms into the call when the line began. */
  readonly atMs: number;
  /** The caller talked over this agent line before all of it was heard. */
  readonly interrupted: boolean;
}

export type FeedEntry =
  | LineEntry
  | { readonly kind: 'barge_in'; readonly key: string; readonly atMs: number; readonly heardMs: number; readonly audioMs: number }
  | { readonly kind: 'tool_call'; readonly key: string; readonly atMs: number; readonly name: string; readonly ok: boolean; readonly durationMs: number }
  | { readonly kind: 'transfer'; readonly key: string; readonly atMs: number; readonly destination: string | null; readonly reason: string }
  | { readonly kind: 'hang_up'; readonly key: string; readonly atMs: number; readonly reason: string }
  | { readonly kind: 'fault'; readonly key: string; readonly atMs: number; readonly message: string; readonly recovery: string }
  | { readonly kind: 'dtmf'; readonly key: string; readonly atMs: number; readonly digit: string };

export interface LiveCallState {
  readonly info: CallInfo;
  readonly feed: readonly FeedEntry[];
  readonly bargeIns: number;
  readonly toolCalls: number;
  /** The call is being transferred (stream_outcome transfer). */
  readonly transfer: { readonly destination: string | null; readonly reason: string } | null;
  /** Latest turn latency, ms. */
  readonly lastLatencyMs: number | null;
}

export function liveCallFrom(call: LiveCall): LiveCallState {
  const { events, ...info } = call;
  let state: LiveCallState = { info, feed: [], bargeIns: 0, toolCalls: 0, transfer: null, lastLatencyMs: null };
  for (const event of events) state = applyCallEvent(state, event);
  return state;
}

/** One live event → the next state (the same object when the event changes nothing shown). */
export function applyCallEvent(state: LiveCallState, event: CallEvent): LiveCallState {
  const atMs = Math.max(0, Math.round(event.atMs - state.info.clockStartMs));
  const key = `${event.type}:${state.feed.length}:${atMs}`;
  switch (event.type) {
    case 'transcript': {
      const lines = state.feed.filter((entry): entry is LineEntry => entry.kind === 'line');
      const merged = mergeTranscript(lines, event, 'delta', (input): LineEntry => ({
        kind: 'line',
        key: `line:${input.speaker}:${input.itemId}`,
        speaker: input.speaker,
        itemId: input.itemId,
        text: input.text,
        final: input.final,
        atMs,
        interrupted: false,
      }));
      if (merged === lines) return state;
      const changed = merged.find((line) => line.itemId === event.itemId && line.speaker === event.speaker)!;
      const at = state.feed.findIndex((entry) => entry.kind === 'line' && entry.key === changed.key);
      return { ...state, feed: at === -1 ? [...state.feed, changed] : replaceAt(state.feed, at, changed) };
    }
    case 'barge_in': {
      const heardMs = event.heard.reduce((sum, share) => sum + share.heardMs, 0);
      const audioMs = event.heard.reduce((sum, share) => sum + share.audioMs, 0);
      const cut = new Set(event.heard.filter((share) => share.heardMs < share.audioMs).map((share) => share.itemId));
      const feed = state.feed.map((entry) => (entry.kind === 'line' && entry.speaker === 'agent' && cut.has(entry.itemId) ? { ...entry, interrupted: true } : entry));
      return { ...state, bargeIns: state.bargeIns + 1, feed: [...feed, { kind: 'barge_in', key, atMs, heardMs, audioMs }] };
    }
    case 'tool_call':
      return { ...state, toolCalls: state.toolCalls + 1, feed: [...state.feed, { kind: 'tool_call', key, atMs, name: event.name, ok: event.ok, durationMs: event.durationMs }] };
    case 'stream_outcome': {
      if (event.outcome === 'transfer') {
        const transfer = { destination: event.destination ?? null, reason: event.reason };
        return { ...state, transfer, feed: [...state.feed, { kind: 'transfer', key, atMs, ...transfer }] };
      }
      return { ...state, feed: [...state.feed, { kind: 'hang_up', key, atMs, reason: `${event.outcome}: ${event.reason}` }] };
    }
    case 'fault':
      return { ...state, feed: [...state.feed, { kind: 'fault', key, atMs, message: `${event.kind}: ${event.message}`, recovery: event.recovery }] };
    case 'dtmf':
      return { ...state, feed: [...state.feed, { kind: 'dtmf', key, atMs, digit: event.digit }] };
    case 'turn_latency':
      return { ...state, lastLatencyMs: Math.round(event.latencyMs) };
    default:
      return state;
  }
}

function replaceAt<T>(items: readonly T[], index: number, item: T): T[] {
  const next = [...items];
  next[index] = item;
  return next;
}

/** The live calls page's state: calls by sid, in the order they started. */
export type LiveCalls = ReadonlyMap<string, LiveCallState>;

export function liveCallsFromSnapshot(calls: readonly LiveCall[]): LiveCalls {
  return new Map([...calls].sort((a, b) => a.startedAtEpochMs - b.startedAtEpochMs).map((call) => [call.callSid, liveCallFrom(call)]));
}

export function withCallStarted(calls: LiveCalls, call: LiveCall): LiveCalls {
  const next = new Map(calls);
  next.set(call.callSid, liveCallFrom(call));
  return next;
}

export function withCallEvent(calls: LiveCalls, callSid: string, event: CallEvent): LiveCalls {
  const state = calls.get(callSid);
  if (state === undefined) return calls;
  const updated = applyCallEvent(state, event);
  if (updated === state) return calls;
  const next = new Map(calls);
  next.set(callSid, updated);
  return next;
}

export function withCallEnded(calls: LiveCalls, callSid: string): LiveCalls {
  if (!calls.has(callSid)) return calls;
  const next = new Map(calls);
  next.delete(callSid);
  return next;
}
