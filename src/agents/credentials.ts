/**
 * Every provider an agent uses must be reachable for real in production: a missing key there is a configuration
 * error at start (one line per problem, exit 78), never a silent fall back to a simulated backend.
 */
import { ConfigError, type Config } from '../config.js';
import type { AgentRoster } from './types.js';

export function providersUsed(roster: AgentRoster): Set<'openai' | 'elevenlabs'> {
  const used = new Set<'openai' | 'elevenlabs'>();
  for (const agent of roster.agents) {
    used.add(agent.provider);
    if (agent.fallbackProvider !== null) used.add(agent.fallbackProvider);
  }
  return used;
}

/** Throws a ConfigError naming each agent whose provider has no credentials in production. */
export function checkProviderCredentials(config: Readonly<Config>, roster: AgentRoster): void {
  if (config.nodeEnv !== 'production') return;
  const problems: string[] = [];
  const where = (index: number) => (roster.source === 'file' ? `AGENTS_FILE agents[${index}]` : 'VOICE_PROVIDER');
  roster.agents.forEach((agent, index) => {
    const uses = [agent.provider, ...(agent.fallbackProvider === null ? [] : [agent.fallbackProvider])];
    if (uses.includes('openai') && config.openai.apiKey === null) problems.push(`${where(index)}: uses openai, which needs OPENAI_API_KEY when NODE_ENV=production`);
    if (uses.includes('elevenlabs')) {
      if ((agent.elevenLabsAgentId ?? config.elevenlabs.agentId) === null) problems.push(`${where(index)}: uses elevenlabs, which needs an ElevenLabs agent id (ELEVENLABS_AGENT_ID or elevenLabsAgentId)`);
      if (config.elevenlabs.apiKey === null && !config.elevenlabs.publicAgent) problems.push(`${where(index)}: uses elevenlabs, which needs ELEVENLABS_API_KEY when NODE_ENV=production (or ELEVENLABS_AGENT_PUBLIC=true)`);
    }
  });
  if (problems.length > 0) throw new ConfigError([...new Set(problems)].join('\n'));
}
