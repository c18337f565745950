/**
 * Which agent answers a call: the one that lists the called number, else the default agent, else nobody (the caller
 * hears a short polite refusal). Numbers are compared in E.164 form, as Twilio sends `To`.
 */
import type { AgentDefinition, AgentRoster } from './types.js';

export function agentForNumber(roster: AgentRoster, calledNumber: string): AgentDefinition | null {
  const normalized = calledNumber.replace(/[\s()-]/g, '');
  return roster.agents.find((agent) => agent.numbers.includes(normalized)) ?? roster.defaultAgent;
}

export function agentByName(roster: AgentRoster, name: string): AgentDefinition | null {
  return roster.agents.find((agent) => agent.name === name) ?? null;
}
