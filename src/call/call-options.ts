/**
 * What a call is built with: the caller's channel, the agent session, its settings and what the agent may do.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { VoiceAgentSession } from '../voice/port.js';
import type { StreamOutcome } from './after-stream.js';
import type { CallControlSettings } from './builtin-tools.js';
import type { CallEvent } from './call-events.js';
import type { CallAudioTap } from './call-journal.js';
import type { AnsweringMachineSettings } from './answering-machine.js';
import type { CallLimitSettings } from './call-limits.js';
import type { CallerChannel } from './channel.js';
import type { DeliveryPace } from './delivery-pace.js';
import type { ToolDefinition } from './tools.js';

/** Provider-neutral settings of one call. */
export interface CallSettings {
  /** Max audio buffered at the caller's end ahead of playback, ms. */
  playbackLeadMs: number;
  /** A mark every this many ms of item audio, and one at each item end. */
  markIntervalMs: number;
  /**
   * Jitter cushion: audio gathered before an answer's first frame goes unless the provider is proven ahead of real
   * time, ms; 0 = off; absent = DEFAULT_JITTER_CUSHION_MS (60). See jitter-cushion.ts.
   */
  jitterCushionMs?: number;
  /** The pacer's send quantum: once the lead is reached, agent audio goes in batches this long, ms; absent = 20 (one
   *  frame per wake). At most `playbackLeadMs` − 20. See pacer.ts. */
  pacerQuantumMs?: number;
  /** Caller key presses go to the agent as one text message per burst, with one response. */
  forwardDtmf: boolean;
  /**
   * Instructions for the agent's first words; null = the caller speaks first. `greetingIsNote`: they are a note
   * for a call that resumes (a failed transfer), said even by a provider that greets by itself.
   */
  greetingIsNote?: boolean;
  /** Instructions for the agent's first words; null = the caller speaks first. */
  greeting: string | null;
  /** New sessions to open when the provider session is lost mid-call (0 = apologise and end). */
  redialAttempts: number;
  /** Hand the call to a fresh provider session this long after each session started (before the provider's own
   *  session limit), at a quiet moment, with the conversation so far; null/absent = never. */
  rotateSessionAfterMs?: number | null;
}

export interface CallOptions {
  settings: Readonly<CallSettings>;
  clock: Clock;
  /** Child logger already bound to callSid and streamSid. */
  logger: Logger;
  channel: CallerChannel;
  agent: VoiceAgentSession;
  tools?: readonly ToolDefinition[];
  /** Who called whom, for tools (an HTTP tool's request carries them). */
  numbers?: { callerNumber: string; calledNumber: string };
  /** The agent session was opened while answering the webhook. */
  predialled?: boolean;
  /** Opens a session of the fallback provider, for a primary that never connected (once per call). */
  fallback?: () => VoiceAgentSession;
  /**
   * Opens a fresh session of the provider the call is on (used when `settings.redialAttempts` > 0). `continuing`:
   * the agent has already spoken on this call, so the new session must not greet again on its own.
   */
  redial?: (continuing: boolean) => VoiceAgentSession;
  /** Live events for observers. Must not throw (the admission layer guards observers). */
  onEvent?: (event: CallEvent) => void;
  /** The built-in call-control tools (end_call, transfer_call) this call's agent may use. */
  control?: CallControlSettings;
  limits?: CallLimitSettings;
  /** A tool request still running after this long plays the hold sound; null or absent = never. */
  holdSoundAfterMs?: number | null;
  /** Outbound with answering-machine detection: wait for `Call.answeredBy` before the agent hears or greets. */
  answeringMachine?: AnsweringMachineSettings;
  /** The caller's and the agent's audio as the line carried it (a recording); absent = not recorded. */
  audioTap?: CallAudioTap;
  /** What the call asked for when it closed its stream (Twilio's `<Connect action>` asks next). */
  onStreamOutcome?: (outcome: StreamOutcome) => void;
  /** The agent's provider's recent delivery speed (shared by its calls): lets a fast provider's answers start at once. */
  deliveryPace?: DeliveryPace;
}

/** The Playout options a call's settings tune (an absent setting leaves Playout's default). */
export function playoutTuning(settings: Readonly<CallSettings>): { jitterCushionMs?: number; quantumMs?: number } {
  return {
    ...(settings.jitterCushionMs === undefined ? {} : { jitterCushionMs: settings.jitterCushionMs }),
    ...(settings.pacerQuantumMs === undefined ? {} : { quantumMs: settings.pacerQuantumMs }),
  };
}
