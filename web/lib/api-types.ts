/**
 * What the console reads from the server (docs/console.md). The record and event shapes are the server's own types
 * (type-only imports: nothing of src/ ends up in the bundle); the console-only shapes are spelled out here.
 */
import type { CallEvent } from '../../src/call/call-events.js';
import type { CallListItem, CallPage, CallRecord, RecordEvent, TranscriptLine, TurnRecord } from '../../src/records/types.js';

export type { CallEvent, CallListItem, CallPage, CallRecord, RecordEvent, TranscriptLine, TurnRecord };

/** CallInfo (src/observers/hub.ts), as JSON. */
export interface CallInfo {
  readonly callSid: string;
  readonly streamSid: string;
  readonly from: string;
  readonly to: string;
  readonly direction: 'inbound' | 'outbound' | 'browser';
  readonly agent: string;
  readonly provider: string;
  readonly model: string | null;
  readonly startedAtEpochMs: number;
  /** The call clock's reading at `startedAtEpochMs`: an event's `atMs` minus this is ms into the call. */
  readonly clockStartMs: number;
  /** The instance serving the call (several instances behind one load balancer). */
  readonly instanceId?: string;
}

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
