/**
 * Agents, end to end: the called number (`To`) picks the agent, and the agent's own instructions (with the call's
 * variables filled in exactly) and voice reach the Realtime session; numbers nobody claims go to the default agent,
 * or, with no default agent, hear a polite refusal and cost nothing upstream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { agentFromConfig } from '../src/agents/from-config.js';
import type { AgentDefinition, AgentRoster } from '../src/agents/types.js';
import { loadConfig } from '../src/config.js';
import type { CallInfo } from '../src/observers/hub.js';
import { NO_AGENT_MESSAGE } from '../src/twilio/webhook.js';
import { AUTH_TOKEN, linesWithMsg, OPENAI_KEY, PUBLIC_BASE_URL, startBridge, withTimeout, type Bridge } from './helpers/e2e.js';
import { XML_HEAD } from './helpers/e2e-call-flow.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

const CALLER = '+15005550006';
const SALES_NUMBER = '+15550001111';
const SUPPORT_NUMBER = '+15550002222';
const UNKNOWN_NUMBER = '+15557770000';

const baseAgent = agentFromConfig(
  loadConfig({
    OPENAI_API_KEY: OPENAI_KEY,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    PUBLIC_BASE_URL,
    AGENT_GREETING: '',
    AGENT_INSTRUCTIONS: 'You are the front desk. Caller {{callerNumber}} rang {{calledNumber}}.',
  }),
);
const sales: AgentDefinition = {
  ...baseAgent,
  name: 'sales',
  numbers: [SALES_NUMBER],
  isDefault: false,
  voice: 'coral',
  instructions: 'You sell boats. Caller: {{callerNumber}}. Dialled: {{calledNumber}}. Call: {{callSid}}. Unknown: {{nope}}.',
};
const support: AgentDefinition = {
  ...baseAgent,
  name: 'support',
  numbers: [SUPPORT_NUMBER],
  isDefault: false,
  voice: 'sage',
  instructions: 'You fix boats for {{ callerNumber }} on {{callSid}} (line {{calledNumber}}){{custom.missing}}.',
};

function roster(withDefault: boolean): AgentRoster {
  const agents = withDefault ? [sales, support, baseAgent] : [sales, support];
  return { agents, defaultAgent: withDefault ? baseAgent : null, source: 'file' };
}

/** The exact stream TwiML for a call (no prelude), with the `<Connect action>` Twilio asks when the stream ends. */
function streamTwiml(callSid: string, to: string, token: string): string {
  return (
    `${XML_HEAD}<Response><Connect action="https://callbridge.test/connect-action" method="POST"><Stream url="wss://callbridge.test/media-stream">` +
    `<Parameter name="callSid" value="${callSid}"/><Parameter name="from" value="${CALLER}"/><Parameter name="to" value="${to}"/>` +
    `<Parameter name="streamToken" value="${token}"/></Stream></Connect></Response>`
  );
}

describe('routing by called number', () => {
  it('two numbers reach two agents with their own filled instructions and voice; an unknown number reaches the default agent', async () => {
    const started: CallInfo[] = [];
    bridge = await startBridge({
      agents: roster(true),
      observers: [{ name: 'test', callStarted: (info) => void started.push(info) }],
      sim: { reply: { kind: 'tone-coded', durationMs: 400 } },
    });
    const cases = [
      {
        to: SALES_NUMBER,
        agent: 'sales',
        voice: 'coral',
        instructions: (sid: string) => `You sell boats. Caller: ${CALLER}. Dialled: ${SALES_NUMBER}. Call: ${sid}. Unknown: {{nope}}.`,
      },
      {
        to: SUPPORT_NUMBER,
        agent: 'support',
        voice: 'sage',
        instructions: (sid: string) => `You fix boats for ${CALLER} on ${sid} (line ${SUPPORT_NUMBER}).`,
      },
      {
        to: UNKNOWN_NUMBER,
        agent: 'default',
        voice: 'marin',
        instructions: () => `You are the front desk. Caller ${CALLER} rang ${UNKNOWN_NUMBER}.`,
      },
    ];
    for (const [index, expected] of cases.entries()) {
      const call = await bridge.call({ from: CALLER, to: expected.to, audio: { kind: 'silence', durationMs: 300 } });
      expect(call.outcome).toBe('connected');
      const result = await call.closed;
      await bridge.waitForSummaries(index + 1);
      const token = call.parsedTwiml.parameters['streamToken']!;
      expect(token).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(result.twiml).toBe(streamTwiml(call.callSid, expected.to, token));

      // One session per call, pre-dialled in call order, configured for this call's agent.
      const session = await withTimeout(bridge.sim.waitForSession(index), 2_000, `session ${index}`);
      const updates = session.eventsIn('session.update');
      expect(updates).toHaveLength(1);
      const configured = updates[0]!['session'] as { instructions?: unknown; audio?: { output?: { voice?: unknown } } };
      expect(configured.instructions).toBe(expected.instructions(call.callSid));
      expect(configured.audio?.output?.voice).toBe(expected.voice);
      // No greeting configured: the agent waits for the caller.
      expect(session.responseCreateRequests).toEqual([]);
      expect(started[index]).toMatchObject({ callSid: call.callSid, from: CALLER, to: expected.to, agent: expected.agent });
    }
    expect(bridge.sim.sessions).toHaveLength(3);
    expect(bridge.summaries.map((summary) => summary.endReason)).toEqual(['caller hung up', 'caller hung up', 'caller hung up']);
    expect(linesWithMsg(bridge.logs, 'incoming call accepted; stream TwiML sent').map((line) => line['agent'])).toEqual(['sales', 'support', 'default']);
  });

  it('a number written with spaces, dashes and brackets still reaches its agent', async () => {
    bridge = await startBridge({ agents: roster(true) });
    const dialled = '+1 (555) 000-2222';
    const call = await bridge.call({ from: CALLER, to: dialled, audio: { kind: 'silence', durationMs: 200 } });
    await call.closed;
    const session = await withTimeout(bridge.sim.waitForSession(0), 2_000, 'session');
    const configured = session.eventsIn('session.update')[0]!['session'] as { instructions?: unknown; audio?: { output?: { voice?: unknown } } };
    expect(configured.instructions).toBe(`You fix boats for ${CALLER} on ${call.callSid} (line ${dialled}).`);
    expect(configured.audio?.output?.voice).toBe('sage');
  });
});

describe('no default agent', () => {
  it('an unknown number gets exactly the refusal TwiML (Say, Hangup, no Stream) and nothing is dialled upstream', async () => {
    bridge = await startBridge({ agents: roster(false) });
    const refused = await bridge.call({ from: CALLER, to: UNKNOWN_NUMBER, audio: { kind: 'silence', durationMs: 200 } });
    expect(refused.outcome).toBe('busy');
    const result = await refused.closed;
    expect(result.twiml).toBe(`${XML_HEAD}<Response><Say>${NO_AGENT_MESSAGE}</Say><Hangup/></Response>`);
    expect(NO_AGENT_MESSAGE).toBe('Sorry, this number is not in service. Goodbye.');
    expect(result.parsedTwiml).toEqual({ streamUrl: null, parameters: {}, says: [NO_AGENT_MESSAGE], hangup: true });
    expect(result.twiml).not.toContain('<Connect');
    expect(linesWithMsg(bridge.logs, 'no agent answers this number and there is no default agent: refused').map((line) => [line['callSid'], line['to']])).toEqual([
      [refused.callSid, UNKNOWN_NUMBER],
    ]);
    // Neither capacity nor an upstream session was spent on it.
    expect(linesWithMsg(bridge.logs, 'incoming call accepted; stream TwiML sent')).toEqual([]);
    expect(bridge.server.activeCalls).toBe(0);

    // A known number right after is served, and its session is the only one ever dialled.
    const served = await bridge.call({ from: CALLER, to: SALES_NUMBER, audio: { kind: 'silence', durationMs: 200 } });
    expect(served.outcome).toBe('connected');
    await served.closed;
    await bridge.waitForSummaries(1);
    expect(bridge.sim.upgradeAttempts.map((attempt) => attempt.status)).toEqual([101]);
    expect(bridge.sim.sessions).toHaveLength(1);
    const configured = bridge.sim.sessions[0]!.eventsIn('session.update')[0]!['session'] as { instructions?: unknown };
    expect(configured.instructions).toBe(`You sell boats. Caller: ${CALLER}. Dialled: ${SALES_NUMBER}. Call: ${served.callSid}. Unknown: {{nope}}.`);
    expect(bridge.summaries.map((summary) => summary.callSid)).toEqual([served.callSid]);
  });
});
