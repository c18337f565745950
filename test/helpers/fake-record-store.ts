/**
 * An in-memory RecordStore with the contract's semantics (newest first by startedAt then callSid, keyset cursor via
 * src/records/cursor.ts, whose decodeCursor throws BadCursorError on a bad cursor), plus what tests need: every CallQuery it was asked, and a
 * switch to make the next calls fail like a lost database.
 */
import { decodeCursor, encodeCursor } from '../../src/records/cursor.js';
import type { CallListItem, CallPage, CallQuery, CallRecord, RecordStore } from '../../src/records/types.js';

export class FakeRecordStore implements RecordStore {
  readonly kind = 'pglite' as const;
  readonly records = new Map<string, CallRecord>();
  /** Every listCalls query, as received. */
  readonly queries: CallQuery[] = [];
  /** Every getCall sid, as received. */
  readonly gets: string[] = [];
  /** When set, every method rejects with it. */
  failWith: Error | null = null;
  closed = false;

  constructor(records: readonly CallRecord[] = []) {
    for (const record of records) this.records.set(record.callSid, record);
  }

  async insertCalls(records: readonly CallRecord[]): Promise<void> {
    if (this.failWith !== null) throw this.failWith;
    for (const record of records) this.records.set(record.callSid, record);
  }

  async costSince(fromEpochMs: number): Promise<number> {
    return [...this.records.values()].filter((record) => record.startedAtEpochMs >= fromEpochMs).reduce((sum, record) => sum + record.cost.totalUsd, 0);
  }

  async listCalls(query: CallQuery): Promise<CallPage> {
    this.queries.push(query);
    if (this.failWith !== null) throw this.failWith;
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const limit = query.limit ?? 50;
    const rows = [...this.records.values()]
      .filter(
        (r) =>
          (query.fromEpochMs === undefined || r.startedAtEpochMs >= query.fromEpochMs) &&
          (query.toEpochMs === undefined || r.startedAtEpochMs < query.toEpochMs) &&
          (query.agent === undefined || r.agent === query.agent) &&
          (query.number === undefined || r.from === query.number || r.to === query.number) &&
          (query.direction === undefined || r.direction === query.direction) &&
          (query.endReason === undefined || r.endReason === query.endReason),
      )
      .sort((a, b) => b.startedAtEpochMs - a.startedAtEpochMs || (a.callSid < b.callSid ? 1 : a.callSid > b.callSid ? -1 : 0))
      .filter((r) => after === null || r.startedAtEpochMs < after.startedAtEpochMs || (r.startedAtEpochMs === after.startedAtEpochMs && r.callSid < after.callSid));
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      calls: page.map(listItem),
      nextCursor: rows.length > limit && last !== undefined ? encodeCursor({ startedAtEpochMs: last.startedAtEpochMs, callSid: last.callSid }) : null,
    };
  }

  /** Like the SQL (records/overview-query.ts): answered turns of calls started in the range, newest calls first. */
  async turnLatencies(range: { fromEpochMs: number; toEpochMs: number }, limit: number): Promise<number[]> {
    if (this.failWith !== null) throw this.failWith;
    return [...this.records.values()]
      .filter((r) => r.startedAtEpochMs >= range.fromEpochMs && r.startedAtEpochMs < range.toEpochMs)
      .sort((a, b) => b.startedAtEpochMs - a.startedAtEpochMs)
      .flatMap((r) => r.turns.flatMap((turn) => (turn.latencyMs === null ? [] : [turn.latencyMs])))
      .slice(0, limit);
  }

  async getCall(callSid: string): Promise<CallRecord | null> {
    this.gets.push(callSid);
    if (this.failWith !== null) throw this.failWith;
    return this.records.get(callSid) ?? null;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function listItem(record: CallRecord): CallListItem {
  const { transcript: _transcript, turns: _turns, responses: _responses, events: _events, ...item } = record;
  return item;
}

/** `CA` + 32 hex digits from a small number: sids that sort like the numbers. */
export function callSid(n: number): string {
  return `CA${n.toString(16).padStart(32, '0')}`;
}

/** A realistic finished inbound call (two turns, one interrupted answer, a DTMF and a tool call), overridable. */
export function sampleRecord(overrides: Partial<CallRecord> = {}): CallRecord {
  const sid = overrides.callSid ?? callSid(1);
  const startedAtEpochMs = overrides.startedAtEpochMs ?? Date.UTC(2025, 0, 31, 9, 0, 0);
  return {
    callSid: sid,
    streamSid: `MZ${sid.slice(2)}`,
    direction: 'inbound',
    from: '+15551230001',
    to: '+15559870000',
    agent: 'front-desk',
    provider: 'openai',
    model: 'gpt-realtime',
    startedAtEpochMs,
    answeredAtEpochMs: startedAtEpochMs + 180,
    endedAtEpochMs: startedAtEpochMs + 42_500,
    durationMs: 42_500,
    endReason: 'caller_hung_up',
    finalStatus: null,
    answeredBy: null,
    transcript: [
      { seq: 0, atMs: 900, speaker: 'agent', itemId: 's1:item_a1', text: 'Hello, front desk, how can I help?', interrupted: false, heardMs: 2100, fullText: null },
      { seq: 1, atMs: 6200, speaker: 'caller', itemId: 's1:item_c1', text: 'I would like to book a table for two.', interrupted: false, heardMs: null, fullText: null },
      {
        seq: 2,
        atMs: 6650,
        speaker: 'agent',
        itemId: 's1:item_a2',
        text: 'Of course. For which',
        interrupted: true,
        heardMs: 1200,
        fullText: 'Of course. For which day and time would you like the table?',
      },
      { seq: 3, atMs: 9100, speaker: 'caller', itemId: 's1:item_c2', text: 'Tomorrow at eight.', interrupted: false, heardMs: null, fullText: null },
    ],
    turns: [
      { turn: 1, callerStoppedAtMs: 6200, firstAudioAtMs: 6650, latencyMs: 450 },
      { turn: 2, callerStoppedAtMs: 9100, firstAudioAtMs: null, latencyMs: null },
    ],
    responses: [
      { responseId: 'resp_1', startedAtMs: 300, firstAudioAtMs: 900, firstAudioLatencyMs: 600, status: 'completed' },
      { responseId: 'resp_2', startedAtMs: 6250, firstAudioAtMs: 6650, firstAudioLatencyMs: 400, status: 'cancelled' },
    ],
    events: [
      { seq: 0, atMs: 7850, type: 'barge_in', data: { itemId: 's1:item_a2', heardMs: 1200 } },
      { seq: 1, atMs: 12_000, type: 'dtmf', data: { digit: '5' } },
      { seq: 2, atMs: 15_000, type: 'tool_call', data: { name: 'book_table', arguments: { people: 2 }, ok: true } },
    ],
    usage: { inputTokens: 1840, outputTokens: 620, inputAudioTokens: 1500, outputAudioTokens: 560, cachedTokens: 256 },
    cost: { totalUsd: 0.041236, priceModel: 'gpt-realtime' },
    recording: { file: `${sid}.wav`, durationMs: 42_500, bytes: 1_360_044 },
    counters: { framesIn: 2125, framesOut: 1840, underruns: 0, gaps: 1 },
    ...overrides,
  };
}
