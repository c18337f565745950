/**
 * What a call needs from its agent's definition, in the call layer's terms.
 */
import type { CallControlSettings, ToolSpec } from '../call/builtin-tools.js';
import { builtinToolSpecs } from '../call/builtin-tools.js';
import type { CallLimitSettings } from '../call/call-limits.js';
import type { AgentDefinition } from './types.js';

export function callControlFor(agent: AgentDefinition): CallControlSettings {
  return {
    agentName: agent.name,
    builtinTools: agent.builtinTools,
    transferDestinations: agent.transferDestinations,
    transferTimeoutS: agent.transferTimeoutS,
    transferCallerId: agent.transferCallerId,
  };
}

export function callLimitsFor(agent: AgentDefinition): CallLimitSettings {
  return { maxCallDurationS: agent.limits.maxCallDurationS, silenceCheckInS: agent.limits.silenceCheckInS };
}

/** Every function tool the model is offered for this agent: built-ins, then HTTP tools (code tools are added by the server). */
export function agentToolSpecs(agent: AgentDefinition): ToolSpec[] {
  return [
    ...builtinToolSpecs(callControlFor(agent)),
    ...agent.httpTools.map((tool) => ({ name: tool.name, description: tool.description, parameters: tool.parameters })),
  ];
}
