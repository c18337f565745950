/**
 * checkOutboundRequest: a JSON body and the agent roster in, the outbound job or one exact API refusal out. The
 * roster is loaded from a small agent file (loadAgentRoster), with `outbound.allowedPrefixes` per agent.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentRoster } from '../src/agents/load.js';
import type { AgentRoster } from '../src/agents/types.js';
import { loadConfig } from '../src/config.js';
import { checkOutboundRequest, E164, type ApiRefusal } from '../src/outbound/policy.js';

const config = loadConfig({});
const dir = mkdtempSync(join(tmpdir(), 'callbridge-outbound-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function roster(yaml: string): AgentRoster {
  const path = join(dir, `agents-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, yaml);
  return loadAgentRoster({ path, config, env: {} });
}

const ROSTER = roster(
  [
    'agents:',
    '  - name: reminders',
    '    instructions: Remind people of their appointment.',
    '    outbound:',
    "      allowedPrefixes: ['+1555', '+4420']",
    '      voicemailMessage: Hello {{custom.name}}, please call the clinic back.',
    '  - name: desk',
    '    instructions: Be helpful.',
    '  - name: survey',
    '    instructions: Ask three questions.',
    '    outbound:',
    "      allowedPrefixes: ['+44']",
    "      answeringMachine: 'off'",
    '',
  ].join('\n'),
);
const [REMINDERS, DESK, SURVEY] = ROSTER.agents;

const BODY_MESSAGE = 'the body must be a JSON object like {"to":"+15551234567","agent":"reminders"}';
const TO_MESSAGE = 'to is required: an E.164 number like +15551234567';
const AGENT_MESSAGE = 'agent is required: the name of an agent in the agent file';
const NUMBER_MESSAGE = 'to must be an E.164 number like +15551234567';
const bad = (code: string, message: string): ApiRefusal => ({ status: 400, code, message });

describe('the roster the tests run on', () => {
  it('has the outbound settings the agent file declares', () => {
    expect(ROSTER.agents.map((agent) => [agent.name, agent.outbound])).toEqual([
      ['reminders', { allowedPrefixes: ['+1555', '+4420'], answeringMachine: 'voicemail', voicemailMessage: 'Hello {{custom.name}}, please call the clinic back.' }],
      ['desk', { allowedPrefixes: [], answeringMachine: 'hang_up', voicemailMessage: null }],
      ['survey', { allowedPrefixes: ['+44'], answeringMachine: 'off', voicemailMessage: null }],
    ]);
  });
});

describe('checkOutboundRequest: accepted requests', () => {
  it('returns the destination, the roster agent itself and no variables when none are given', () => {
    const job = checkOutboundRequest({ to: '+15551234567', agent: 'reminders' }, ROSTER);
    expect(job).toEqual({ to: '+15551234567', agent: REMINDERS, variables: {} });
    expect('agent' in job && job.agent).toBe(REMINDERS);
  });

  it('keeps the variables as given (text values, up to the limits)', () => {
    const variables = Object.fromEntries(Array.from({ length: 32 }, (_, index) => [`v_${index}`, `value ${index}`]));
    variables['v_0'] = 'x'.repeat(1_000);
    variables['v_1'] = '';
    expect(checkOutboundRequest({ to: '+442071838750', agent: 'reminders', variables }, ROSTER)).toEqual({ to: '+442071838750', agent: REMINDERS, variables });
    const longName = `_${'a'.repeat(63)}`;
    expect(checkOutboundRequest({ to: '+442071838750', agent: 'survey', variables: { [longName]: 'ok', Name2: 'Ada' } }, ROSTER)).toEqual({
      to: '+442071838750',
      agent: SURVEY,
      variables: { [longName]: 'ok', Name2: 'Ada' },
    });
  });

  it('accepts E.164 numbers of 7 to 15 digits and a prefix that is the whole number', () => {
    const wide = roster("agents:\n  - name: any\n    instructions: Hi.\n    outbound:\n      allowedPrefixes: ['+1', '+9', '+1234567']\n");
    for (const to of ['+1234567', '+123456789012345', '+999999999999999']) {
      expect(checkOutboundRequest({ to, agent: 'any' }, wide)).toEqual({ to, agent: wide.agents[0], variables: {} });
    }
  });
});

describe('checkOutboundRequest: refusals', () => {
  it('refuses a body that is not a JSON object', () => {
    for (const body of [null, undefined, 'to=+15551234567', 42, true, [], [{ to: '+15551234567', agent: 'reminders' }]]) {
      expect(checkOutboundRequest(body, ROSTER)).toEqual(bad('bad_request', BODY_MESSAGE));
    }
  });

  it('refuses an unknown field before anything else, naming the first one', () => {
    expect(checkOutboundRequest({ to: 'nonsense', from: '+15550000000', agent: 'nobody', extra: 1 }, ROSTER)).toEqual(bad('bad_request', 'unknown field "from" (allowed: to, agent, variables)'));
    expect(checkOutboundRequest(JSON.parse('{"to":"+15551234567","agent":"reminders","__proto__":{}}'), ROSTER)).toEqual(bad('bad_request', 'unknown field "__proto__" (allowed: to, agent, variables)'));
  });

  it('refuses a missing or non-text destination', () => {
    expect(checkOutboundRequest({ agent: 'reminders' }, ROSTER)).toEqual(bad('bad_request', TO_MESSAGE));
    expect(checkOutboundRequest({ to: 15551234567, agent: 'reminders' }, ROSTER)).toEqual(bad('bad_request', TO_MESSAGE));
    expect(checkOutboundRequest({ to: null, agent: 'reminders' }, ROSTER)).toEqual(bad('bad_request', TO_MESSAGE));
  });

  it('refuses a destination that is not E.164 (before looking at the agent)', () => {
    for (const to of ['', '15551234567', '+05551234567', '+123456', '+1234567890123456', '+1 555 123 4567', ' +15551234567', '+15551234567 ', '+1555123456x', '00441234567']) {
      expect(E164.test(to)).toBe(false);
      expect(checkOutboundRequest({ to, agent: 'nobody' }, ROSTER)).toEqual(bad('invalid_number', NUMBER_MESSAGE));
    }
  });

  it('refuses a missing, empty or non-text agent', () => {
    expect(checkOutboundRequest({ to: '+15551234567' }, ROSTER)).toEqual(bad('bad_request', AGENT_MESSAGE));
    expect(checkOutboundRequest({ to: '+15551234567', agent: '' }, ROSTER)).toEqual(bad('bad_request', AGENT_MESSAGE));
    expect(checkOutboundRequest({ to: '+15551234567', agent: 7 }, ROSTER)).toEqual(bad('bad_request', AGENT_MESSAGE));
  });

  it('answers 404 for an agent the roster does not have (names are exact; the echo is clipped to 64 characters)', () => {
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'nobody' }, ROSTER)).toEqual({ status: 404, code: 'unknown_agent', message: 'no agent named "nobody"' });
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'Reminders' }, ROSTER)).toEqual({ status: 404, code: 'unknown_agent', message: 'no agent named "Reminders"' });
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'x'.repeat(100) }, ROSTER)).toEqual({ status: 404, code: 'unknown_agent', message: `no agent named "${'x'.repeat(64)}"` });
    // The agent is checked before the variables.
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'nobody', variables: 'bad' }, ROSTER)).toEqual({ status: 404, code: 'unknown_agent', message: 'no agent named "nobody"' });
  });

  it('refuses variables that are not an object of text values', () => {
    for (const variables of [null, 'name=Ada', 3, ['Ada']]) {
      expect(checkOutboundRequest({ to: '+15551234567', agent: 'reminders', variables }, ROSTER)).toEqual(bad('bad_request', 'variables must be an object of text values'));
    }
    const tooMany = Object.fromEntries(Array.from({ length: 33 }, (_, index) => [`v${index}`, 'x']));
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'reminders', variables: tooMany }, ROSTER)).toEqual(bad('bad_request', 'variables may have at most 32 entries'));
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'reminders', variables: { name: 'Ada', '1st': 'x' } }, ROSTER)).toEqual(
      bad('bad_request', 'variable name "1st" must be letters, digits and _'),
    );
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'reminders', variables: { 'first-name': 'Ada' } }, ROSTER)).toEqual(
      bad('bad_request', 'variable name "first-name" must be letters, digits and _'),
    );
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'reminders', variables: { '': 'Ada' } }, ROSTER)).toEqual(bad('bad_request', 'variable name "" must be letters, digits and _'));
    const longName = `a${'b'.repeat(64)}`;
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'reminders', variables: { [longName]: 'x' } }, ROSTER)).toEqual(
      bad('bad_request', `variable name "${longName.slice(0, 64)}" must be letters, digits and _`),
    );
    for (const value of [3, null, true, { first: 'Ada' }, ['Ada']]) {
      expect(checkOutboundRequest({ to: '+15551234567', agent: 'reminders', variables: { name: 'Ada', count: value } }, ROSTER)).toEqual(bad('bad_request', 'variables.count must be text'));
    }
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'reminders', variables: { note: 'x'.repeat(1_001) } }, ROSTER)).toEqual(
      bad('bad_request', 'variables.note is longer than 1000 characters'),
    );
  });

  it('answers 403 for a destination outside the agent allow-list (after the variables are checked)', () => {
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'desk' }, ROSTER)).toEqual({
      status: 403,
      code: 'destination_not_allowed',
      message: 'agent "desk" may not call +15551234567: the agent allows no destinations (set outbound.allowedPrefixes)',
    });
    expect(checkOutboundRequest({ to: '+4930123456', agent: 'reminders' }, ROSTER)).toEqual({
      status: 403,
      code: 'destination_not_allowed',
      message: 'agent "reminders" may not call +4930123456: allowed prefixes: +1555, +4420',
    });
    // A prefix matches from the start only: +1555 does not allow +1 5550… nor +44 1555….
    expect(checkOutboundRequest({ to: '+15505551234', agent: 'reminders' }, ROSTER)).toEqual({
      status: 403,
      code: 'destination_not_allowed',
      message: 'agent "reminders" may not call +15505551234: allowed prefixes: +1555, +4420',
    });
    expect(checkOutboundRequest({ to: '+441555123456', agent: 'reminders' }, ROSTER)).toEqual({
      status: 403,
      code: 'destination_not_allowed',
      message: 'agent "reminders" may not call +441555123456: allowed prefixes: +1555, +4420',
    });
    expect(checkOutboundRequest({ to: '+15551234567', agent: 'survey' }, ROSTER)).toEqual({
      status: 403,
      code: 'destination_not_allowed',
      message: 'agent "survey" may not call +15551234567: allowed prefixes: +44',
    });
    expect(checkOutboundRequest({ to: '+4930123456', agent: 'reminders', variables: { 'bad name': 'x' } }, ROSTER)).toEqual(
      bad('bad_request', 'variable name "bad name" must be letters, digits and _'),
    );
    expect(DESK?.name).toBe('desk');
  });
});
