/**
 * What the console reads from the server (docs/console.md). The record and event shapes are the server's own types
 * (type-only imports: nothing of src/ ends up in the bundle); the console-only shapes are spelled out here.
 */
import type { CallEvent } from '../../src/call/call-events.js';
import type { CallInfo } from '../../src/observers/hub.js';
import type { CallListItem, CallPage, CallRecord, RecordEvent, TranscriptLine, TurnRecord } from '../../src/records/types.js';

export type { CallEvent, CallInfo, CallListItem, CallPage, CallRecord, RecordEvent, TranscriptLine, TurnRecord };

/** One live call of `GET /console/api/live`: CallInfo plus its events so far (transcripts merged per item). */
export interface LiveCall extends CallInfo {
  readonly events: readonly CallEvent[];
}

export interface SessionInfo {
  readonly csrfToken: string;
  readonly expiresAtMs: number;
}

export interface Overview {
  readonly callsPerHour: readonly { readonly hourStartMs: number; readonly calls: number }[];
  readonly turnLatencyMs: { readonly p50: number | null; readonly p90: number | null; readonly p99: number | null; readonly turns: number };
  readonly costPerDay: readonly { readonly day: string; readonly usd: number }[];
  readonly errors: { readonly faults: number; readonly byEndReason: Readonly<Record<string, number>> };
}

export interface AgentInfo {
  readonly name: string;
  readonly provider: string;
  readonly numbers: readonly string[];
  readonly tools: readonly { readonly name: string; readonly description: string }[];
  readonly destinations: readonly { readonly name: string; readonly number: string }[];
  readonly recording: boolean;
}

export interface PhoneToken {
  readonly token: string;
  readonly url: string;
  readonly expiresInS: number;
}
