/**
 * Turns agent definitions into what a call runs with: the provider session for the agent and call (OpenAI today:
 * instructions with the call's variables filled, voice, formats, turn detection, tools), and the agent's tools
 * (its HTTP tools, plus tools given in code), built once per agent.
 */
import { agentToolSpecs } from '../agents/call-settings.js';
import { fillTemplate } from '../agents/template.js';
import type { AgentDefinition, AgentRoster } from '../agents/types.js';
import type { ToolDefinition } from '../call/tools.js';
import type { Clock } from '../clock.js';
import type { Config, VoiceProvider } from '../config.js';
import type { Logger } from '../logger.js';
import { createElevenLabsDialer } from '../providers/elevenlabs/dialer.js';
import { createOpenAiDialer, type RealtimeTarget } from '../providers/openai/dialer.js';
import { mcpToolsFor } from '../providers/openai/mcp-tools.js';
import { createHttpTool } from '../tools/http-tool.js';
import type { AgentDialer } from './admission-options.js';

/** Where and how to reach ElevenLabs (the real API or the embedded simulated server). */
export interface ElevenLabsTarget {
  apiBaseUrl: string;
  wsBaseUrl: string;
  /** null for a public agent. */
  apiKey: string | null;
  publicAgent: boolean;
  /** ELEVENLABS_AGENT_ID: the agent of agents that name none. */
  defaultAgentId: string | null;
}

export interface AgentWiringOptions {
  config: Readonly<Config>;
  roster: AgentRoster;
  target: RealtimeTarget;
  elevenlabs?: ElevenLabsTarget;
  clock: Clock;
  logger: Logger;
  /** Tools given in code (tests, embedding applications): offered to every agent. */
  codeTools: readonly ToolDefinition[];
}

export function createAgentDialer(options: AgentWiringOptions): AgentDialer {
  const dialOpenAi = createOpenAiDialer({ target: options.target, clock: options.clock, appendBatchMs: options.config.call.appendBatchMs });
  const codeToolSpecs = options.codeTools.map(({ name, description, parameters }) => ({ name, description, parameters }));
  const elevenLabsDialers = new Map<string, ReturnType<typeof createElevenLabsDialer>>();
  const { elevenlabs: elevenLabsConfig } = options.config;

  const dialElevenLabs = (agent: AgentDefinition): ReturnType<typeof createElevenLabsDialer> => {
    const target = options.elevenlabs;
    const agentId = agent.elevenLabsAgentId ?? target?.defaultAgentId ?? null;
    // The agent file and the configuration are checked at start; this is a guard, not a route.
    if (target === undefined || agentId === null) throw new Error(`agent ${agent.name}: ElevenLabs is not configured (ELEVENLABS_AGENT_ID)`);
    let dialer = elevenLabsDialers.get(agentId);
    if (dialer === undefined) {
      dialer = createElevenLabsDialer({
        apiKey: target.apiKey ?? '',
        agentId,
        public: target.publicAgent,
        apiBaseUrl: target.apiBaseUrl,
        wsBaseUrl: target.wsBaseUrl,
        clock: options.clock,
        connectTimeoutMs: elevenLabsConfig.connectTimeoutMs,
        dtmfAs: elevenLabsConfig.textAs,
        appendBatchMs: options.config.call.appendBatchMs,
      });
      elevenLabsDialers.set(agentId, dialer);
    }
    return dialer;
  };

  return ({ agent, variables, logger, provider, continuing, wideband }) => {
    const chosen: VoiceProvider = provider ?? agent.provider;
    const instructions = fillTemplate(agent.instructions, variables);
    if (chosen === 'elevenlabs') {
      const dynamicVariables = { caller_number: variables.callerNumber, called_number: variables.calledNumber, call_sid: variables.callSid, ...variables.custom };
      const overrides = elevenLabsConfig.sendOverrides ? { prompt: instructions, ...(agent.language === null ? {} : { language: agent.language }) } : undefined;
      return dialElevenLabs(agent)({ dynamicVariables, logger, ...(overrides === undefined ? {} : { overrides }), ...(continuing === true ? { continuing } : {}) });
    }
    return dialOpenAi({
      model: agent.model,
      settings: {
        instructions,
        // A wideband caller (the browser phone) hears the model's own 24 kHz, whatever the phone setting is.
        audioFormat: wideband === true ? 'pcm' : agent.audioFormat,
        transcriptionModel: agent.transcriptionModel,
        noiseReduction: options.config.openai.noiseReduction,
        turnDetection: agent.turnDetection,
        voice: agent.voice,
        language: agent.language,
      },
      functionTools: [...agentToolSpecs(agent), ...codeToolSpecs],
      otherTools: mcpToolsFor(agent.mcpServers),
      logger,
    });
  };
}

/** The tools each agent's calls may run, built once: creating an HTTP tool compiles its argument schema. */
export function createAgentTools(options: AgentWiringOptions): (agent: AgentDefinition) => readonly ToolDefinition[] {
  const byAgent = new Map<string, readonly ToolDefinition[]>();
  for (const agent of options.roster.agents) {
    const logger = options.logger.child({ agent: agent.name });
    const httpTools = agent.httpTools.map((tool) => createHttpTool(tool, { signingSecret: agent.toolSigningSecret, logger, agentName: agent.name }));
    byAgent.set(agent.name, [...httpTools, ...options.codeTools]);
  }
  return (agent) => byAgent.get(agent.name) ?? options.codeTools;
}
