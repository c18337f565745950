/**
 * Without AGENTS_FILE: one default agent built from the environment (OPENAI_*, AGENT_*, TURN_DETECTION, …), so every
 * setup from before the agent file keeps working unchanged: same instructions, same session, no tools.
 */
import type { Config } from '../config.js';
import type { AgentDefinition, AgentRoster } from './types.js';

/** A tool slower than this plays the hold sound (agent-file default). */
export const DEFAULT_HOLD_SOUND_AFTER_MS = 1_500;
/** How long a transfer target rings before the call comes back to the agent (agent-file default), seconds. */
export const DEFAULT_TRANSFER_TIMEOUT_S = 30;

export function agentFromConfig(config: Readonly<Config>): AgentDefinition {
  const { openai } = config;
  return {
    name: 'default',
    numbers: [],
    isDefault: true,
    provider: config.voice.provider,
    fallbackProvider: config.voice.fallback,
    elevenLabsAgentId: null,
    model: openai.model,
    voice: openai.voice,
    audioFormat: openai.audioFormat,
    instructions: openai.instructions,
    greeting: openai.greeting,
    turnDetection: openai.turnDetection,
    language: null,
    transcriptionModel: openai.transcriptionModel,
    builtinTools: [],
    httpTools: [],
    mcpServers: [],
    transferDestinations: [],
    transferCallerId: null,
    transferTimeoutS: DEFAULT_TRANSFER_TIMEOUT_S,
    toolSigningSecret: null,
    limits: { maxCallDurationS: null, silenceCheckInS: null },
    holdSoundAfterMs: DEFAULT_HOLD_SOUND_AFTER_MS,
    recording: config.records.recordCalls,
    outbound: { allowedPrefixes: config.outbound.allowedPrefixes, answeringMachine: 'hang_up', voicemailMessage: null },
  };
}

export function rosterFromConfig(config: Readonly<Config>): AgentRoster {
  const agent = agentFromConfig(config);
  return { agents: [agent], defaultAgent: agent, source: 'environment' };
}
