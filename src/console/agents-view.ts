/**
 * What the console shows about the agents (`GET /console/api/agents`): read-only, and never a secret. Built field by
 * field from the roster — never by copying a definition and deleting the dangerous parts — so a field added to the
 * agent file later stays out until someone decides it may be shown. Left out on purpose: instructions (they may hold
 * business rules), HTTP tool URLs and headers, MCP server URLs and headers, the tool signing secret.
 */
import { agentToolSpecs } from '../agents/call-settings.js';
import type { AgentDefinition, AgentRoster } from '../agents/types.js';

export interface AgentView {
  readonly name: string;
  readonly provider: string;
  readonly numbers: readonly string[];
  readonly tools: ReadonlyArray<{ readonly name: string; readonly description: string }>;
  readonly destinations: ReadonlyArray<{ readonly name: string; readonly number: string }>;
  readonly recording: boolean;
}

/**
 * A transfer target as it may be shown: E.164 numbers as they are; a SIP URI without a password in its user part and
 * without parameters or headers (`;…`, `?…`), which can carry credentials or tokens.
 */
export function displayTarget(target: string): string {
  if (!/^sips?:/i.test(target)) return target;
  const bare = target.split(/[;?]/, 1)[0] ?? '';
  return bare.replace(/^(sips?:[^:@]*):[^@]*@/i, '$1@');
}

function toolsOf(agent: AgentDefinition): AgentView['tools'] {
  const tools = agentToolSpecs(agent).map((spec) => ({ name: spec.name, description: spec.description }));
  for (const server of agent.mcpServers) {
    const which = server.allowedTools === null ? 'every tool it lists' : `only ${server.allowedTools.join(', ')}`;
    tools.push({ name: `mcp:${server.label}`, description: `Tools of the MCP server "${server.label}": ${which}.` });
  }
  return tools;
}

export function describeAgentsForConsole(roster: AgentRoster): AgentView[] {
  return roster.agents.map((agent) => ({
    name: agent.name,
    provider: agent.provider,
    numbers: [...agent.numbers],
    tools: toolsOf(agent),
    destinations: agent.transferDestinations.map((destination) => ({ name: destination.name, number: displayTarget(destination.target) })),
    recording: agent.recording,
  }));
}
