/**
 * The live page's state from the console feed, and transcript merging (web/lib/live-merge.ts).
 */
import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../src/call/call-events.js';
import type { LiveCall } from '../web/lib/api-types.js';
import {
  applyCallEvent,
  liveCallFrom,
  liveCallsFromSnapshot,
  mergePhoneTranscript,
  mergeTranscript,
  withCallEnded,
  withCallEvent,
  withCallStarted,
  type TranscriptEntry,
} from '../web/lib/live-merge.js';

const CLOCK = 10_000;
const call = (callSid: string, startedAtEpochMs: number, events: CallEvent[] = []): LiveCall => ({
  callSid,
  streamSid: `MZ${callSid}`,
  from: '+15550001111',
  to: '+15550002222',
  direction: 'inbound',
  agent: 'front-desk',
  provider: 'openai',
  model: null,
  startedAtEpochMs,
  clockStartMs: CLOCK,
  events,
});
const said = (speaker: 'agent' | 'caller', itemId: string, text: string, final: boolean, atMs = CLOCK): CallEvent => ({ type: 'transcript', atMs, speaker, itemId, text, final });
const lines = (state: ReturnType<typeof liveCallFrom>) =>
  state.feed.flatMap((entry) => (entry.kind === 'line' ? [`${entry.speaker}:${entry.text}${entry.final ? '' : '…'}${entry.interrupted ? ' [cut]' : ''}`] : []));

describe('transcript merge', () => {
  const create = (input: TranscriptEntry): TranscriptEntry => ({ ...input });

  it('appends pieces, replaces them with the final line, drops late pieces', () => {
    let list: readonly TranscriptEntry[] = [];
    list = mergeTranscript(list, { speaker: 'agent', itemId: 'a', text: 'Hel', final: false }, 'delta', create);
    list = mergeTranscript(list, { speaker: 'agent', itemId: 'a', text: 'lo', final: false }, 'delta', create);
    expect(list).toEqual([{ speaker: 'agent', itemId: 'a', text: 'Hello', final: false }]);
    list = mergeTranscript(list, { speaker: 'agent', itemId: 'a', text: 'Hello!', final: true }, 'delta', create);
    const settled = list;
    list = mergeTranscript(list, { speaker: 'agent', itemId: 'a', text: ' late', final: false }, 'delta', create);
    expect(list).toBe(settled);
    expect(list).toEqual([{ speaker: 'agent', itemId: 'a', text: 'Hello!', final: true }]);
    // A correction (a second final) replaces again.
    list = mergeTranscript(list, { speaker: 'agent', itemId: 'a', text: 'Hell', final: true }, 'delta', create);
    expect(list[0]!.text).toBe('Hell');
  });

  it('keys lines by speaker and item, in first-seen order', () => {
    let list: readonly TranscriptEntry[] = [];
    list = mergeTranscript(list, { speaker: 'caller', itemId: 'x', text: 'Hi', final: false }, 'delta', create);
    list = mergeTranscript(list, { speaker: 'agent', itemId: 'x', text: 'Hello', final: false }, 'delta', create);
    list = mergeTranscript(list, { speaker: 'caller', itemId: 'x', text: 'Hi there', final: true }, 'delta', create);
    expect(list.map((line) => `${line.speaker}:${line.text}`)).toEqual(['caller:Hi there', 'agent:Hello']);
  });

  it('phone transcript: pieces append, the final line replaces, one line per item', () => {
    let list: readonly TranscriptEntry[] = [];
    list = mergePhoneTranscript(list, { speaker: 'agent', itemId: 'i1', text: 'Good', final: false });
    list = mergePhoneTranscript(list, { speaker: 'agent', itemId: 'i1', text: ' morning', final: false });
    expect(list).toEqual([{ speaker: 'agent', itemId: 'i1', text: 'Good morning', final: false }]);
    list = mergePhoneTranscript(list, { speaker: 'caller', itemId: 'i2', text: 'Hi', final: true });
    list = mergePhoneTranscript(list, { speaker: 'agent', itemId: 'i1', text: 'Good morning!', final: true });
    expect(list).toEqual([
      { speaker: 'agent', itemId: 'i1', text: 'Good morning!', final: true },
      { speaker: 'caller', itemId: 'i2', text: 'Hi', final: true },
    ]);
  });

  it("replace mode: each message is the item's whole line so far", () => {
    let list: readonly TranscriptEntry[] = [];
    list = mergePhoneTranscript(list, { speaker: 'agent', itemId: 'i1', text: 'Good', final: false }, 'replace');
    list = mergePhoneTranscript(list, { speaker: 'agent', itemId: 'i1', text: 'Good morning', final: false }, 'replace');
    expect(list).toEqual([{ speaker: 'agent', itemId: 'i1', text: 'Good morning', final: false }]);
  });
});

describe('live call state', () => {
  it('builds a card from the snapshot: merged lines, times made relative to the call start', () => {
    const state = liveCallFrom(call('CA1', 1_000, [said('agent', 'a1', 'Hello, this is the front desk.', true, CLOCK + 400), said('caller', 'c1', 'Hi', false, CLOCK + 2_500)]));
    expect(lines(state)).toEqual(['agent:Hello, this is the front desk.', 'caller:Hi…']);
    expect(state.feed.map((entry) => entry.atMs)).toEqual([400, 2500]);
    expect(state.info).not.toHaveProperty('events');
  });

  it('grows the transcript line by line, interim replaced by final, and records barge-ins, tools, transfers', () => {
    let state = liveCallFrom(call('CA1', 1_000));
    const events: CallEvent[] = [
      said('agent', 'a1', 'Sure,', false, CLOCK + 100),
      said('agent', 'a1', ' let me check', false, CLOCK + 150),
      { type: 'barge_in', atMs: CLOCK + 900, heard: [{ responseId: 'r1', itemId: 'a1', heardMs: 700, audioMs: 2_000 }] },
      said('agent', 'a1', 'Sure, let me check that.', true, CLOCK + 950),
      said('caller', 'c1', 'Actually, transfer me', true, CLOCK + 2_000),
      { type: 'turn_latency', atMs: CLOCK + 2_600, turn: 1, latencyMs: 612.4 },
      { type: 'tool_call', atMs: CLOCK + 3_000, name: 'transfer_call', callId: 't1', ok: true, durationMs: 35 },
      { type: 'stream_outcome', atMs: CLOCK + 3_100, outcome: 'transfer', reason: 'caller asked', destination: '+15550003333' },
    ];
    for (const event of events) state = applyCallEvent(state, event);
    expect(lines(state)).toEqual(['agent:Sure, let me check that. [cut]', 'caller:Actually, transfer me']);
    expect(state.feed.map((entry) => entry.kind)).toEqual(['line', 'barge_in', 'line', 'tool_call', 'transfer']);
    expect(state.feed[1]).toMatchObject({ kind: 'barge_in', atMs: 900, heardMs: 700, audioMs: 2_000 });
    expect(state.feed[3]).toMatchObject({ kind: 'tool_call', atMs: 3_000, name: 'transfer_call', ok: true, durationMs: 35 });
    expect(state.bargeIns).toBe(1);
    expect(state.toolCalls).toBe(1);
    expect(state.lastLatencyMs).toBe(612);
    expect(state.transfer).toEqual({ destination: '+15550003333', reason: 'caller asked' });
  });

  it('returns the same state for events it does not show', () => {
    const state = liveCallFrom(call('CA1', 1_000));
    expect(applyCallEvent(state, { type: 'response_started', atMs: CLOCK, responseId: 'r' })).toBe(state);
  });

  it('keeps calls by sid in start order; unknown sids change nothing; ended calls leave', () => {
    let calls = liveCallsFromSnapshot([call('CA2', 2_000), call('CA1', 1_000)]);
    expect([...calls.keys()]).toEqual(['CA1', 'CA2']);
    calls = withCallStarted(calls, call('CA3', 3_000));
    const before = calls;
    expect(withCallEvent(calls, 'CA9', said('agent', 'x', 'hi', true))).toBe(before);
    calls = withCallEvent(calls, 'CA3', said('agent', 'x', 'hi', true));
    expect(lines(calls.get('CA3')!)).toEqual(['agent:hi']);
    calls = withCallEnded(calls, 'CA1');
    expect([...calls.keys()]).toEqual(['CA2', 'CA3']);
    expect(withCallEnded(calls, 'CA1')).toBe(calls);
  });
});
