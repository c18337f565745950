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
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createOpenAiDialer, type RealtimeTarget } from '../providers/openai/dialer.js';
import { mcpToolsFor } from '../providers/openai/mcp-tools.js';
import { createHttpTool } from '../tools/http-tool.js';
import type { AgentDialer } from './admission.js';

export interface AgentWiringOptions {
  config: Readonly<Config>;
  roster: AgentRoster;
  target: RealtimeTarget;
  clock: Clock;
  logger: Logger;
  /** Tools given in code (tests, embedding applications): offered to every agent. */
  codeTools: readonly ToolDefinition[];
}

export function createAgentDialer(options: AgentWiringOptions): AgentDialer {
  const dialOpenAi = createOpenAiDialer({ target: options.target, clock: options.clock });
  const codeToolSpecs = options.codeTools.map(({ name, description, parameters }) => ({ name, description, parameters }));
  return ({ agent, variables, logger }) =>
    dialOpenAi({
      model: agent.model,
      settings: {
        instructions: fillTemplate(agent.instructions, variables),
        audioFormat: agent.audioFormat,
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
