/**
 * The call record: everything about one finished call that outlives it. Built by the records observer from the
 * call's live events and summary (record-builder.ts), written by the RecordWriter (off the audio path, batched,
 * retried) through a RecordStore (PGlite embedded, or PostgreSQL), read back by the records API.
 *
 * Times: `*AtEpochMs` are wall-clock ms since the epoch; `atMs` inside a call are ms since the call's start (the
 * stream's `start`), the same axis as the recording.
 */
import type { TokenUsage } from '../voice/port.js';

export type CallDirection = 'inbound' | 'outbound' | 'browser';

/** One line of the transcript as the caller heard it. */
export interface TranscriptLine {
  /** Order within the call (0, 1, …). */
  readonly seq: number;
  /** When the line was spoken (caller: end of their turn; agent: first audio sent), ms since call start. */
  readonly atMs: number;
  readonly speaker: 'caller' | 'agent';
  /** The provider's item id (session-tagged), to join with turns and events. */
  readonly itemId: string;
  /** For an interrupted agent answer: only what was played (cut at the heard ms), see `interrupted`. */
  readonly text: string;
  /** The caller talked over this answer: `text` is the part they heard, `fullText` what the agent meant to say. */
  readonly interrupted: boolean;
  /** Agent lines: ms of this item's audio the caller heard (null when not measured, e.g. caller lines). */
  readonly heardMs: number | null;
  /** The whole text before the cut (only for interrupted lines; null otherwise). */
  readonly fullText: string | null;
}

/** One caller turn and how fast the agent answered it, measured at the bridge. */
export interface TurnRecord {
  /** 1, 2, … in the call. */
  readonly turn: number;
  /** The end of the caller's speech that ended the turn, ms since call start. */
  readonly callerStoppedAtMs: number;
  /** The first agent frame of the answer went to Twilio, ms since call start; null when never answered. */
  readonly firstAudioAtMs: number | null;
  /** callerStoppedAtMs → firstAudioAtMs, ms; null when never answered. */
  readonly latencyMs: number | null;
}

/** One agent response: when it started and when its first audio went to the caller. */
export interface ResponseRecord {
  readonly responseId: string;
  readonly startedAtMs: number;
  readonly firstAudioAtMs: number | null;
  /** startedAtMs → firstAudioAtMs (provider + bridge), ms; null when it said nothing. */
  readonly firstAudioLatencyMs: number | null;
  readonly status: string | null;
}

/** Everything else that happened, on the call's time axis. `data` is JSON with secrets redacted. */
export interface RecordEvent {
  readonly seq: number;
  readonly atMs: number;
  readonly type: 'dtmf' | 'tool_call' | 'transfer' | 'hang_up' | 'barge_in' | 'fault' | 'provider_fallback' | 'call_status' | 'answered_by';
  readonly data: Readonly<Record<string, unknown>>;
}

export interface CostBreakdown {
  /** USD, rounded to 1e-6. */
  readonly totalUsd: number;
  /** The price table entry used (model name), null when the model has no price (cost 0, said in the record). */
  readonly priceModel: string | null;
}

export interface RecordingInfo {
  /** Path relative to RECORDINGS_DIR. */
  readonly file: string;
  readonly durationMs: number;
  readonly bytes: number;
}

export interface CallRecord {
  readonly callSid: string;
  readonly streamSid: string | null;
  readonly direction: CallDirection;
  readonly from: string;
  readonly to: string;
  readonly agent: string;
  readonly provider: string;
  /** The model the provider ran (for the price), when known. */
  readonly model: string | null;
  readonly startedAtEpochMs: number;
  /** Outbound: the callee answered; inbound: the stream started. Null when never answered. */
  readonly answeredAtEpochMs: number | null;
  readonly endedAtEpochMs: number;
  readonly durationMs: number;
  readonly endReason: string;
  /** Outbound calls: Twilio's last call status (completed, busy, no-answer, …); null for inbound. */
  readonly finalStatus: string | null;
  /** Outbound calls: AMD's verdict (human, machine_end_beep, …); null when not asked. */
  readonly answeredBy: string | null;
  readonly transcript: readonly TranscriptLine[];
  readonly turns: readonly TurnRecord[];
  readonly responses: readonly ResponseRecord[];
  readonly events: readonly RecordEvent[];
  readonly usage: TokenUsage;
  readonly cost: CostBreakdown;
  readonly recording: RecordingInfo | null;
  /** The call's counters (frames, underruns, gaps, …) as in the "call ended" log line. */
  readonly counters: Readonly<Record<string, number>>;
}

/** Filters of `GET /api/calls`. */
export interface CallQuery {
  readonly fromEpochMs?: number;
  readonly toEpochMs?: number;
  readonly agent?: string;
  /** Matches either the caller's or the called number. */
  readonly number?: string;
  readonly direction?: CallDirection;
  readonly endReason?: string;
  /** Opaque cursor from a previous page. */
  readonly cursor?: string;
  /** 1..200, default 50. */
  readonly limit?: number;
}

/** One row of the call list (no transcript). */
export type CallListItem = Omit<CallRecord, 'transcript' | 'turns' | 'responses' | 'events'>;

export interface CallPage {
  readonly calls: readonly CallListItem[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** Where records live: PGlite (embedded, DATA_DIR) or PostgreSQL (DATABASE_URL). Same schema, same SQL. */
export interface RecordStore {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Writes finished calls, one transaction per call (a record is all there or not at all). Idempotent per callSid:
   * a retried batch never duplicates a call. Rejects when the database cannot be reached (the writer retries).
   */
  insertCalls(records: readonly CallRecord[]): Promise<void>;
  /** Newest first (startedAt desc, callSid desc), keyset-paginated by `cursor`. */
  listCalls(query: CallQuery): Promise<CallPage>;
  getCall(callSid: string): Promise<CallRecord | null>;
  /** USD of every call started at or after `fromEpochMs` (every instance's, on a shared database): the spend cap. */
  costSince(fromEpochMs: number): Promise<number>;
  /**
   * Latencies (ms) of the answered turns of calls started in [fromEpochMs, toEpochMs), newest calls first, at most
   * `limit` values: the console's overview. Optional: a store without it (a test double) gives no latency figures.
   */
  turnLatencies?(range: { readonly fromEpochMs: number; readonly toEpochMs: number }, limit: number): Promise<number[]>;
  close(): Promise<void>;
}
