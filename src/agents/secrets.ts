/**
 * Every secret an agent file brought in (`${ENV_VAR}` header values, tool signing secrets), for the logger's
 * last-chance filter: they must never reach a log line, whatever field they end up in.
 */
import type { AgentRoster, HeaderValue } from './types.js';

export function agentSecrets(roster: AgentRoster): string[] {
  const secrets = new Set<string>();
  const fromHeaders = (headers: Readonly<Record<string, HeaderValue>>): void => {
    for (const header of Object.values(headers)) {
      if (!header.secret) continue;
      secrets.add(header.value);
      // `Bearer ${TOKEN}`: an error quoting only the token must be caught too.
      for (const part of header.value.split(/\s+/)) if (part.length >= 8) secrets.add(part);
    }
  };
  for (const agent of roster.agents) {
    if (agent.toolSigningSecret !== null) secrets.add(agent.toolSigningSecret);
    for (const tool of agent.httpTools) fromHeaders(tool.headers);
    for (const server of agent.mcpServers) fromHeaders(server.headers);
  }
  return [...secrets];
}

/** What the start-up line says about the agents: names, numbers, the default; never instructions or secrets. */
export function describeRoster(roster: AgentRoster): { source: string; agents: Array<{ name: string; numbers: readonly string[]; default: boolean; tools: string[] }> } {
  return {
    source: roster.source,
    agents: roster.agents.map((agent) => ({
      name: agent.name,
      numbers: agent.numbers,
      default: agent.isDefault,
      tools: [...agent.builtinTools, ...agent.httpTools.map((tool) => tool.name), ...agent.mcpServers.map((server) => `mcp:${server.label}`)],
    })),
  };
}
