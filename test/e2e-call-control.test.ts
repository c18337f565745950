/**
 * Call control, end to end: `end_call` and `transfer_call` close the stream only once the agent's last words have
 * played whole, and Twilio's `<Connect action>` / `<Dial action>` requests then get exactly the next TwiML: hang up,
 * dial the configured destination (never one the model invents), or, when the transfer fails, a fresh stream back to
 * the agent, who is told why. The action routes are signed like the webhook.
 *
 * Every call: the agent greets (response 0, tone-coded), the caller speaks (a VAD turn), the model answers the turn
 * with the function call (response 1), and the follow-up (response 2) is the goodbye or the announcement.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { agentFromConfig } from '../src/agents/from-config.js';
import type { AgentDefinition } from '../src/agents/types.js';
import { loadConfig } from '../src/config.js';
import type { ScriptedResponse } from '../src/simulator/realtime/server.js';
import type { CallResult } from '../src/simulator/twilio-caller.js';
import { AUTH_TOKEN, linesWithMsg, OPENAI_KEY, PUBLIC_BASE_URL, startBridge, withTimeout, type Bridge } from './helpers/e2e.js';
import {
  actionParams,
  callerSpeech,
  connectTwimlStream,
  HANG_UP_TWIML,
  heardToneSegments,
  postAction,
  wholeResponse,
  XML_HEAD,
} from './helpers/e2e-call-flow.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

const CALLER = '+15005550006';
const NUMBER = '+15550001111';
const GREETING_MS = 400;
/** The caller asks something at 800–1200 ms; the VAD commits the turn at 1700 ms. */
const ONE_QUESTION = callerSpeech([{ atMs: 800, durationMs: 400 }], 8_000);

const agent: AgentDefinition = {
  ...agentFromConfig(loadConfig({ OPENAI_API_KEY: OPENAI_KEY, TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL, AGENT_INSTRUCTIONS: 'Desk for {{callSid}}.' })),
  name: 'desk',
  numbers: [NUMBER],
  greeting: 'Greet the caller.',
  builtinTools: ['end_call', 'transfer_call'],
  transferDestinations: [
    { name: 'billing', target: '+15550009999', description: 'Invoices and payments.' },
    { name: 'reception', target: 'sip:front@example.com', description: 'The front desk.' },
  ],
  transferTimeoutS: 20,
  transferCallerId: '+15550000001',
};

function tone(durationMs: number): ScriptedResponse {
  return { kind: 'audio', reply: { kind: 'tone-coded', durationMs } };
}

async function startDesk(script: ScriptedResponse[], speedFactor = 4): Promise<Bridge> {
  bridge = await startBridge({ agents: { agents: [agent], defaultAgent: agent, source: 'file' }, sim: { speedFactor, script } });
  return bridge;
}

/** The agent's last words were heard whole, and only then did the server close the stream. */
function expectClosedAfterLastWords(result: CallResult, reason: string): void {
  expect(result.endedBy).toBe('server');
  expect(result.closeCode).toBe(1000);
  expect(result.closeReason).toBe(reason);
  expect(result.unplayedBytesAtEnd).toBe(0);
  // No gap at any provider speed: the jitter cushion holds an answer's start until a real-time provider is ahead.
  expect(result.underrunCount).toBe(0);
  const last = result.heardSegments.at(-1)!;
  expect(last.startMs + last.bytes.length / 8).toBeLessThanOrEqual(result.durationMs + 1);
  // Closed well before the caller's own hang-up at 8 s.
  expect(result.durationMs).toBeLessThan(7_000);
}

function dialTwiml(inner: string): string {
  return `${XML_HEAD}<Response><Dial action="https://callbridge.test/dial-action" method="POST" timeout="20" callerId="+15550000001">${inner}</Dial></Response>`;
}

describe('end_call', () => {
  it('the whole goodbye is heard before the server closes the stream; the connect-action then answers Hangup', async () => {
    await startDesk([tone(GREETING_MS), { kind: 'function_call', name: 'end_call', arguments: '{"reason":"caller is done"}', callId: 'call_end_1' }, tone(1_200)]);
    const call = await bridge!.call({ from: CALLER, to: NUMBER, audio: ONE_QUESTION });
    const result = await call.closed;
    const [summary] = await bridge!.waitForSummaries(1);
    const session = bridge!.sim.sessions[0]!;

    const tools = (session.eventsIn('session.update')[0]!['session'] as { tools: Array<{ name: string }> }).tools;
    expect(tools.map((tool) => tool.name)).toEqual(['end_call', 'transfer_call']);
    expect(session.responses.map((response) => [response.kind, response.trigger, response.status])).toEqual([
      ['audio', 'client', 'completed'],
      ['function_call', 'vad', 'completed'],
      ['audio', 'client', 'completed'],
    ]);
    expect(session.functionCallOutputs.map(({ callId, output, knownCall }) => ({ callId, output, knownCall }))).toEqual([
      {
        callId: 'call_end_1',
        output: JSON.stringify({ ok: true, note: 'The call ends as soon as you have finished speaking. If you have not said goodbye yet, say a brief goodbye now.' }),
        knownCall: true,
      },
    ]);
    expect(session.errors()).toEqual([]);

    // Greeting and goodbye, every frame, in order, nothing cut.
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, GREETING_MS), ...wholeResponse(2, 1_200)]);
    expect(result.heardMsTotal).toBe(GREETING_MS + 1_200);
    expect(result.clears).toEqual([]);
    expect(result.marks.every((mark) => mark.cause === 'played')).toBe(true);
    expectClosedAfterLastWords(result, 'caller is done');
    expect(summary).toMatchObject({ callSid: call.callSid, endReason: 'caller is done' });

    const next = await postAction(bridge!, '/connect-action', actionParams({ callSid: call.callSid, from: CALLER, to: NUMBER }));
    expect(next.status).toBe(200);
    expect(next.contentType).toMatch(/^text\/xml/);
    expect(next.body).toBe(HANG_UP_TWIML);
  });

  it('a caller who talks over the goodbye (already generated) is heard, and the call ends after the agent answers', async () => {
    await bargeInOverGoodbye(4, 'completed');
  });

  // Regression: the goodbye still being generated is cancelled by the barge-in; its `response.done` (cancelled) came
  // right after `speech_started` and once counted as the agent's last word, closing the stream on the caller.
  it('a caller who talks over the goodbye (still being generated) is heard, and the call ends after the agent answers', async () => {
    await bargeInOverGoodbye(1, 'cancelled');
  });
});

/** Greeting, question, end_call, a 2 s goodbye the caller talks over at 2.6 s, the agent's answer (800 ms). */
async function bargeInOverGoodbye(speedFactor: number, goodbyeStatus: 'completed' | 'cancelled'): Promise<void> {
  await startDesk([tone(GREETING_MS), { kind: 'function_call', name: 'end_call', arguments: '{"reason":"caller is done"}' }, tone(2_000), tone(800)], speedFactor);
  const call = await bridge!.call({ from: CALLER, to: NUMBER, audio: callerSpeech([{ atMs: 800, durationMs: 400 }, { atMs: 2_600, durationMs: 400 }], 8_000) });
  const result = await call.closed;
  const session = bridge!.sim.sessions[0]!;

  expect(session.committedTurns).toHaveLength(2);
  expect(session.responses.map((response) => [response.kind, response.trigger, response.status])).toEqual([
    ['audio', 'client', 'completed'],
    ['function_call', 'vad', 'completed'],
    ['audio', 'client', goodbyeStatus],
    ['audio', 'vad', 'completed'],
  ]);
  // One clear cut the goodbye; the truncate names what the caller heard of it.
  expect(result.clears).toHaveLength(1);
  expect(session.truncates().map((truncate) => [truncate.itemId, truncate.accepted])).toEqual([[session.responses[2]!.itemId, true]]);
  const heard = heardToneSegments(result.heardAudio);
  expect(heard.slice(0, 4)).toEqual(wholeResponse(0, GREETING_MS));
  expect(heard.slice(-8)).toEqual(wholeResponse(3, 800));
  const goodbye = heard.slice(4, -8);
  expect(goodbye.length).toBeGreaterThanOrEqual(5);
  expect(goodbye.length).toBeLessThan(20);
  expect(goodbye).toEqual(wholeResponse(2, goodbye.length * 100));
  // The answer to the interruption is heard whole, then the stream closes as end_call asked.
  expectClosedAfterLastWords(result, 'caller is done');
  const next = await postAction(bridge!, '/connect-action', actionParams({ callSid: call.callSid, from: CALLER, to: NUMBER }));
  expect(next.body).toBe(HANG_UP_TWIML);
}

describe('transfer_call', () => {
  const transferScript = (args: string): ScriptedResponse[] => [
    tone(GREETING_MS),
    { kind: 'function_call', name: 'transfer_call', arguments: args, callId: 'call_transfer_1' },
    tone(600),
  ];
  const announced = (name: string) =>
    JSON.stringify({ ok: true, note: `Tell the caller in one short sentence that you are connecting them to ${name}. The transfer starts when you have finished speaking.` });

  it('to billing: announcement heard whole, then exactly the configured <Dial>; unsigned action requests are refused; completed hangs up', async () => {
    await startDesk(transferScript('{"destination":"billing","reason":"invoice question"}'));
    const call = await bridge!.call({ from: CALLER, to: NUMBER, audio: ONE_QUESTION });
    const result = await call.closed;
    const [summary] = await bridge!.waitForSummaries(1);
    const session = bridge!.sim.sessions[0]!;

    expect(session.functionCallOutputs.map((output) => output.output)).toEqual([announced('billing')]);
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, GREETING_MS), ...wholeResponse(2, 600)]);
    expectClosedAfterLastWords(result, 'transfer to billing');
    expect(summary).toMatchObject({ endReason: 'transfer to billing' });

    const params = actionParams({ callSid: call.callSid, from: CALLER, to: NUMBER });
    // Refused before anything is decided: the outcome stays for the genuine request.
    for (const path of ['/connect-action', '/dial-action']) {
      for (const signWith of [null, 'not-the-auth-token-0123456789abcd']) {
        const refused = await postAction(bridge!, path, { ...params, DialCallStatus: 'completed' }, { signWith });
        expect([refused.status, refused.body]).toEqual([403, 'Forbidden']);
      }
    }
    const dial = await postAction(bridge!, '/connect-action', params);
    expect(dial.status).toBe(200);
    expect(dial.body).toBe(dialTwiml('<Number>+15550009999</Number>'));
    expect(linesWithMsg(bridge!.logs, 'transferring the call').map((line) => [line['callSid'], line['target']])).toEqual([[call.callSid, '+15550009999']]);

    const done = await postAction(bridge!, '/dial-action', { ...params, DialCallStatus: 'completed', DialCallDuration: '42' });
    expect(done.body).toBe(HANG_UP_TWIML);
  });

  it('to reception (SIP), busy: a fresh stream back to the agent, who is told the transfer failed', async () => {
    await startDesk(transferScript('{"destination":"reception"}'));
    const call = await bridge!.call({ from: CALLER, to: NUMBER, audio: ONE_QUESTION });
    const result = await call.closed;
    expectClosedAfterLastWords(result, 'transfer to reception');
    const params = actionParams({ callSid: call.callSid, from: CALLER, to: NUMBER });
    expect((await postAction(bridge!, '/connect-action', params)).body).toBe(dialTwiml('<Sip>sip:front@example.com</Sip>'));

    const back = await postAction(bridge!, '/dial-action', { ...params, DialCallStatus: 'busy' });
    expect(back.status).toBe(200);
    const token = /name="streamToken" value="([^"]*)"/.exec(back.body)?.[1] ?? '';
    expect(token).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(token).not.toBe(call.parsedTwiml.parameters['streamToken']);
    expect(back.body).toBe(
      `${XML_HEAD}<Response><Connect action="https://callbridge.test/connect-action" method="POST"><Stream url="wss://callbridge.test/media-stream">` +
        `<Parameter name="callSid" value="${call.callSid}"/><Parameter name="from" value="${CALLER}"/><Parameter name="to" value="${NUMBER}"/>` +
        `<Parameter name="streamToken" value="${token}"/></Stream></Connect></Response>`,
    );

    // Twilio connects that stream: the same agent picks the call up and speaks first, told what happened.
    const resumed = await connectTwimlStream(bridge!, back.body, { callSid: call.callSid, audio: { kind: 'silence', durationMs: 1_200 } });
    const resumedResult = await resumed.closed;
    const summaries = await bridge!.waitForSummaries(2);
    const second = await withTimeout(bridge!.sim.waitForSession(1), 2_000, 'resumed session');
    expect((second.eventsIn('session.update')[0]!['session'] as { instructions?: unknown }).instructions).toBe(`Desk for ${call.callSid}.`);
    expect(second.responseCreateRequests.map((request) => [request.instructions, request.accepted])).toEqual([
      ['You tried to transfer the caller to reception, but the transfer failed (busy). Tell the caller briefly and offer to help another way.', true],
    ]);
    expect(heardToneSegments(resumedResult.heardAudio)).toEqual(wholeResponse(0, GREETING_MS));
    expect(resumedResult.endedBy).toBe('caller');
    expect(summaries[1]).toMatchObject({ callSid: call.callSid, endReason: 'caller hung up' });
    // The caller hung up on the resumed stream: nothing is left to do.
    expect((await postAction(bridge!, '/connect-action', params)).body).toBe(HANG_UP_TWIML);
  });

  it('an invented destination is refused: the model gets an error naming the allowed ones, the call goes on, nothing is dialled', async () => {
    await startDesk(transferScript('{"destination":"+15551234567"}'));
    const call = await bridge!.call({ from: CALLER, to: NUMBER, audio: ONE_QUESTION, hangUpAfterMs: 3_200 });
    const result = await call.closed;
    const [summary] = await bridge!.waitForSummaries(1);
    const session = bridge!.sim.sessions[0]!;

    expect(session.functionCallOutputs.map(({ callId, output }) => [callId, output])).toEqual([
      ['call_transfer_1', JSON.stringify({ error: 'unknown destination "+15551234567": choose one of billing, reception. You cannot transfer to any other number.' })],
    ]);
    expect(linesWithMsg(bridge!.logs, 'function call answered').map((line) => [line['tool'], line['ok']])).toEqual([['transfer_call', false]]);
    // The model's follow-up is heard whole and the line stays open until the caller hangs up.
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, GREETING_MS), ...wholeResponse(2, 600)]);
    expect(result.endedBy).toBe('caller');
    expect(result.durationMs).toBeGreaterThanOrEqual(3_200);
    expect(summary).toMatchObject({ endReason: 'caller hung up' });
    expect(linesWithMsg(bridge!.logs, 'transferring the call')).toEqual([]);

    const next = await postAction(bridge!, '/connect-action', actionParams({ callSid: call.callSid, from: CALLER, to: NUMBER }));
    expect(next.body).toBe(HANG_UP_TWIML);
  });
});
