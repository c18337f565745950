import { describe, expect, it } from 'vitest';
import { agentFromConfig } from '../src/agents/from-config.js';
import { agentByName, agentForNumber } from '../src/agents/routing.js';
import { fillTemplate, localTimeText } from '../src/agents/template.js';
import type { AgentRoster } from '../src/agents/types.js';
import { loadConfig } from '../src/config.js';

const base = agentFromConfig(loadConfig({ NODE_ENV: 'test' }));
const sales = { ...base, name: 'sales', numbers: ['+15550001111'], isDefault: false };
const support = { ...base, name: 'support', numbers: ['+15550002222'], isDefault: true };

describe('routing by called number', () => {
  const roster: AgentRoster = { agents: [sales, support], defaultAgent: support, source: 'file' };

  it('picks the agent that lists the number, else the default', () => {
    expect(agentForNumber(roster, '+15550001111')?.name).toBe('sales');
    expect(agentForNumber(roster, '+1 (555) 000-1111')?.name).toBe('sales');
    expect(agentForNumber(roster, '+15559999999')?.name).toBe('support');
    expect(agentByName(roster, 'sales')).toBe(sales);
    expect(agentByName(roster, 'nobody')).toBeNull();
  });

  it('without a default an unknown number has no agent', () => {
    expect(agentForNumber({ agents: [sales], defaultAgent: null, source: 'file' }, '+15559999999')).toBeNull();
  });
});

describe('instruction variables', () => {
  const variables = { callerNumber: '+15551230000', calledNumber: '+15550001111', callSid: 'CA42', startedAtEpochMs: Date.UTC(2026, 10, 29, 15, 32), custom: { plan: 'gold' } };

  it('fills every known variable, empties unset custom ones, leaves unknown names as written', () => {
    const text = 'From {{callerNumber}} to {{ calledNumber }} ({{callSid}}), plan {{custom.plan}}{{custom.missing}}, {{unknown}}; now {{localTime}}.';
    expect(fillTemplate(text, variables, 'UTC')).toBe('From +15551230000 to +15550001111 (CA42), plan gold, {{unknown}}; now Sunday, 29 November 2026 at 15:32.');
  });

  it('local time is read as people say it, in the given time zone', () => {
    expect(localTimeText(variables.startedAtEpochMs, 'America/New_York')).toBe('Sunday, 29 November 2026 at 10:32');
  });
});
