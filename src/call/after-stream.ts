/**
 * What happens when a call's Media Stream ends: the one decision behind the `<Connect action>` URL. Twilio asks
 * that URL when our side closes the stream (and when the caller hangs up, though then nothing runs), and executes
 * the TwiML we answer. Pure: the outcome the call left behind and the request in, the next step out.
 */

export interface AfterStreamTransfer {
  readonly kind: 'transfer';
  readonly destinationName: string;
  /** E.164 number or `sip:` URI, from the agent file, never from the model. */
  readonly target: string;
  readonly timeoutS: number;
  readonly callerId: string | null;
  readonly agentName: string;
}

/** What the call asked for when it closed its stream (kept by the admission layer until Twilio asks). */
export type StreamOutcome =
  /** The agent said goodbye (end_call), or the call hit its time limit. */
  | { readonly kind: 'hang_up'; readonly reason: string }
  /** The agent hands the caller to a person: dial exactly this configured destination. */
  | AfterStreamTransfer
  /** The provider session was lost and could not be replaced; the apology has played. */
  | { readonly kind: 'upstream_lost' };

/** Twilio's `<Dial>` result (`DialCallStatus`), when the action request answers a transfer. */
export type DialStatus = 'completed' | 'answered' | 'busy' | 'no-answer' | 'failed' | 'canceled';

export type NextStep =
  | { readonly kind: 'hang_up' }
  | { readonly kind: 'say_and_hang_up'; readonly text: string }
  | { readonly kind: 'dial'; readonly target: string; readonly timeoutS: number; readonly callerId: string | null }
  /** Back to the agent on a fresh stream, told why (a failed transfer). */
  | { readonly kind: 'back_to_agent'; readonly agentName: string; readonly note: string };

export const UPSTREAM_LOST_GOODBYE = 'We are sorry, we could not continue this call. Please call again later.';

/**
 * The next step after a stream ended (`dialStatus` null) or after a transfer's `<Dial>` ended (`dialStatus` set).
 * No outcome on record (the caller hung up, or the process restarted) is a plain hang-up: the call is over.
 */
export function decideAfterStream(outcome: StreamOutcome | null, dialStatus: DialStatus | null): NextStep {
  if (outcome === null) return { kind: 'hang_up' };
  switch (outcome.kind) {
    case 'hang_up':
      return { kind: 'hang_up' };
    case 'upstream_lost':
      // The call's own apology has already played; this is the last word if the caller is still there.
      return { kind: 'say_and_hang_up', text: UPSTREAM_LOST_GOODBYE };
    case 'transfer':
      if (dialStatus === null) return { kind: 'dial', target: outcome.target, timeoutS: outcome.timeoutS, callerId: outcome.callerId };
      if (dialStatus === 'completed' || dialStatus === 'answered') return { kind: 'hang_up' };
      return {
        kind: 'back_to_agent',
        agentName: outcome.agentName,
        note: `You tried to transfer the caller to ${outcome.destinationName}, but the transfer failed (${dialStatus.replace('-', ' ')}). Tell the caller briefly and offer to help another way.`,
      };
  }
}
