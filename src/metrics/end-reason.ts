/**
 * Why a call ended, as one of a few fixed categories: the `end_reason` label of `callbridge_calls_total`. The free
 * text of CallSummary.endReason (a tool's reason, a transfer's destination, a close code) would make one time series
 * per distinct text; the category keeps the label bounded. Pure, so the table is tested on its own.
 */
import type { CallEvent } from '../call/call-events.js';

export type StreamOutcomeKind = Extract<CallEvent, { type: 'stream_outcome' }>['outcome'];

/** Twilio statuses of an outbound call that never connected a stream (kept as Twilio spells them). */
export const NOT_CONNECTED_STATUSES = ['busy', 'no-answer', 'failed', 'canceled'] as const;

export type EndReasonCategory =
  /** The caller (the callee, outbound) hung up: Twilio's `stop`. */
  | 'caller_hangup'
  /** The agent ended the call (end_call, a limit's goodbye, the provider's agent closing, a machine verdict). */
  | 'agent_hangup'
  /** The agent transferred the call. */
  | 'transfer'
  /** The provider session was lost for good: the caller heard the apology. */
  | 'upstream_lost'
  /** The server hung up because it was stopping (shutdown, drain). */
  | 'shutdown'
  /** The media stream's socket closed without Twilio's `stop` (network, Twilio side). */
  | 'stream_closed'
  /** Outbound, never connected: Twilio's final status. */
  | (typeof NOT_CONNECTED_STATUSES)[number]
  /** Outbound, never connected, with any other (or no) status. */
  | 'not_connected'
  | 'other';

export const END_REASON_CATEGORIES: readonly EndReasonCategory[] = [
  'caller_hangup',
  'agent_hangup',
  'transfer',
  'upstream_lost',
  'shutdown',
  'stream_closed',
  ...NOT_CONNECTED_STATUSES,
  'not_connected',
  'other',
];

export interface CallEnding {
  /** The call's `stream_outcome` event, when it closed the stream asking for something. */
  readonly streamOutcome?: StreamOutcomeKind | null;
  /** CallSummary.endReason; null/absent = the call never connected a stream (outbound). */
  readonly endReason?: string | null;
  /** The last Twilio status of an outbound call (`call_status` events). */
  readonly twilioStatus?: string | null;
}

const BY_OUTCOME: Readonly<Record<StreamOutcomeKind, EndReasonCategory>> = { hang_up: 'agent_hangup', transfer: 'transfer', upstream_lost: 'upstream_lost' };

/**
 * The category: the stream outcome first (the agent asked for it), else the summary's end reason, else (never
 * connected) Twilio's status.
 */
export function endReasonCategory(ending: CallEnding): EndReasonCategory {
  const outcome = ending.streamOutcome ?? null;
  if (outcome !== null) return BY_OUTCOME[outcome] ?? 'other';
  const reason = ending.endReason ?? null;
  if (reason !== null) {
    if (reason === 'caller hung up') return 'caller_hangup';
    if (/shutting down|shutdown|drain/i.test(reason)) return 'shutdown';
    if (reason.startsWith('stream closed')) return 'stream_closed';
    return 'other';
  }
  const status = ending.twilioStatus ?? null;
  return status !== null && (NOT_CONNECTED_STATUSES as readonly string[]).includes(status) ? (status as EndReasonCategory) : 'not_connected';
}
