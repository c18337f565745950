/**
 * What CallAdmission is given: how to dial an agent, the tools, the observers, outbound calls, guard rails, and
 * recordings. Kept apart from admission.ts, which is the owner's logic.
 */
import type { CallVariables } from '../agents/template.js';
import type { AgentDefinition, AgentRoster } from '../agents/types.js';
import type { ChannelAudio } from '../audio/channel-audio.js';
import type { CallAudioTap } from '../call/call-journal.js';
import type { ToolDefinition } from '../call/tools.js';
import type { Clock } from '../clock.js';
import type { Config, VoiceProvider } from '../config.js';
import type { Logger } from '../logger.js';
import type { RefusalReason } from '../metrics/call-metrics.js';
import type { CallInfo, CallObservers } from '../observers/hub.js';
import type { OutboundCalls } from '../outbound/outbound-calls.js';
import type { VoiceAgentSession } from '../voice/port.js';
import type { CallGuard } from './call-guard.js';

/** Opens a provider session configured for `agent` on this call. */
export type AgentDialer = (request: {
  agent: AgentDefinition;
  variables: CallVariables;
  logger: Logger;
  provider?: VoiceProvider;
  /** A re-dial of a call already under way: no greeting of the provider's own (ElevenLabs' first message). */
  continuing?: boolean;
  /** The caller's channel is wideband (the browser phone): ask the provider for its full-band audio. */
  wideband?: boolean;
}) => VoiceAgentSession;

export interface CallAdmissionOptions {
  config: Readonly<Config>;
  logger: Logger;
  clock: Clock;
  roster: AgentRoster;
  /** Opens a new agent session for a call (dials at once). */
  dialAgent: AgentDialer;
  /** The tools an agent's calls may run (its HTTP tools, and tools given in code); built once per agent. */
  toolsFor(agent: AgentDefinition): readonly ToolDefinition[];
  /** Open the agent session while answering the webhook (default true). */
  predial: boolean;
  observers: CallObservers;
  /** Outbound calls we placed: their streams take identity and answering-machine settings from the job. */
  outbound?: OutboundCalls;
  /** Blocklist, per-number limit, spend cap. */
  guard?: CallGuard;
  /** A call refused at the door (for metrics). */
  onRefusal?(reason: RefusalReason): void;
  /** A recording of the call (its audio tap), when its agent records calls. */
  recordingFor?(info: CallInfo, agent: AgentDefinition, audio?: ChannelAudio): CallAudioTap | undefined;
}
