/**
 * What a call does when its provider session is lost — the one policy, pure:
 * - the provider's agent ended the conversation itself: end the call once its last words have played;
 * - the session never got going (refused, unreachable, timed out) before the agent said anything, and a fallback
 *   provider is configured and unused: place the call on the fallback (the caller hears at most the connect delay);
 * - re-dials are left: open a new session of the same provider, the call goes on;
 * - otherwise: apologise and end the stream.
 */
import type { VoiceAgentFaultKind } from '../voice/port.js';

export type Recovery = 'end_after_playback' | 'fallback' | 'redial' | 'apologise';

/** Faults of a session that never connected: another provider may well work. */
const CONNECT_FAULTS: ReadonlySet<VoiceAgentFaultKind> = new Set(['connect_failed', 'unauthorized', 'handshake_failed', 'connect_timeout']);

export interface RecoveryInputs {
  readonly fault: VoiceAgentFaultKind;
  /** Any agent audio reached the call from any session so far. */
  readonly agentSpoke: boolean;
  readonly fallbackAvailable: boolean;
  readonly redialsLeft: number;
  readonly canRedial: boolean;
}

export function recoveryFor(inputs: RecoveryInputs): Recovery {
  if (inputs.fault === 'ended') return 'end_after_playback';
  if (CONNECT_FAULTS.has(inputs.fault) && !inputs.agentSpoke && inputs.fallbackAvailable) return 'fallback';
  if (inputs.redialsLeft > 0 && inputs.canRedial) return 'redial';
  return 'apologise';
}
