/**
 * What a live call tells its observers (records, metrics, the console) as it happens. Times are ms on the call's
 * injected clock. Observers never feed back into the call: they read.
 */
import type { HeardItem, Speaker } from '../voice/port.js';

export type CallEvent =
  /** A piece (`final: false`) or the whole of what someone said, as the provider transcribed it. */
  | { readonly type: 'transcript'; readonly atMs: number; readonly speaker: Speaker; readonly itemId: string; readonly text: string; readonly final: boolean }
  /** The caller talked over the agent: what they had heard of each item in play. */
  | { readonly type: 'barge_in'; readonly atMs: number; readonly heard: readonly HeardItem[] }
  /** A tool the model called, with how long it took and whether it answered. */
  | { readonly type: 'tool_call'; readonly atMs: number; readonly name: string; readonly callId: string; readonly ok: boolean; readonly durationMs: number }
  /** The primary provider never connected; the call went to the fallback provider. */
  | { readonly type: 'provider_fallback'; readonly atMs: number; readonly from: string; readonly to: string; readonly fault: string }
  /** The caller's turn ended (end of their speech) → the first agent frame of the answer went to the caller. */
  | { readonly type: 'turn_latency'; readonly atMs: number; readonly turn: number; readonly latencyMs: number };
