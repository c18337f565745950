/**
 * What a live call tells its observers (records, metrics, the console) as it happens. Times are ms on the call's
 * injected clock. Observers never feed back into the call: they read.
 *
 * Item and response ids are the call's own: `<session>/<provider id>` (see Call's session tag), so two provider
 * sessions of one call (a re-dial, a fallback) never share an id.
 */
import type { TokenUsage } from '../voice/port.js';
import type { Speaker } from '../voice/port.js';

/** What the caller heard of one agent item when they talked over it. */
export interface HeardShare {
  readonly responseId: string;
  readonly itemId: string;
  /** Ms of the item's audio the caller heard. */
  readonly heardMs: number;
  /** Ms of the item's audio that had reached the bridge by then (sent + still queued): the text is cut in that ratio. */
  readonly audioMs: number;
}

export type CallEvent =
  /**
   * A piece (`final: false`) or the whole of what someone said, as the provider transcribed it. `asHeard`: the
   * provider already cut the text to what the caller heard (ElevenLabs' correction); a later final line replaces.
   */
  | { readonly type: 'transcript'; readonly atMs: number; readonly speaker: Speaker; readonly itemId: string; readonly text: string; readonly final: boolean; readonly asHeard?: boolean }
  /** The caller talked over the agent: what they had heard of each item in play. */
  | { readonly type: 'barge_in'; readonly atMs: number; readonly heard: readonly HeardShare[] }
  /** A tool the model called, with how long it took and whether it answered. Arguments and output as JSON text. */
  | {
      readonly type: 'tool_call';
      readonly atMs: number;
      readonly name: string;
      readonly callId: string;
      readonly ok: boolean;
      readonly durationMs: number;
      readonly argumentsJson?: string;
      readonly output?: string;
    }
  /** The primary provider never connected; the call went to the fallback provider. */
  | { readonly type: 'provider_fallback'; readonly atMs: number; readonly from: string; readonly to: string; readonly fault: string }
  /** The caller's turn ended (end of their speech) → the first agent frame of the answer went to the caller. */
  | { readonly type: 'turn_latency'; readonly atMs: number; readonly turn: number; readonly latencyMs: number }
  /** The caller's turn `turn` ended; `atMs` is where their speech ended (on the call clock). */
  | { readonly type: 'turn_ended'; readonly atMs: number; readonly turn: number }
  /** The agent began a response. */
  | { readonly type: 'response_started'; readonly atMs: number; readonly responseId: string }
  /** The first frame of an agent item went to the caller (`atMs` = sent). */
  | { readonly type: 'agent_audio_started'; readonly atMs: number; readonly responseId: string; readonly itemId: string }
  /** A response ended (any status) with its token usage when the provider reports it. */
  | { readonly type: 'response_done'; readonly atMs: number; readonly responseId: string; readonly status: string; readonly usage: TokenUsage | null }
  /** The caller pressed a key. */
  | { readonly type: 'dtmf'; readonly atMs: number; readonly digit: string }
  /** The provider session failed; what the call did about it. */
  | { readonly type: 'fault'; readonly atMs: number; readonly kind: string; readonly recovery: string; readonly message: string }
  /** The call closed its stream asking for this (Twilio's `<Connect action>` request acts on it). */
  | { readonly type: 'stream_outcome'; readonly atMs: number; readonly outcome: 'hang_up' | 'transfer' | 'upstream_lost'; readonly reason: string; readonly destination?: string }
  /** Outbound calls: answering-machine detection's verdict (human, machine_end_beep, …) as the call acted on it. */
  | { readonly type: 'answered_by'; readonly atMs: number; readonly answeredBy: string; readonly action: string }
  /** Outbound calls: Twilio's call status (queued, ringing, in-progress, completed, busy, no-answer, failed, canceled). */
  | { readonly type: 'call_status'; readonly atMs: number; readonly status: string; readonly durationS?: number };
