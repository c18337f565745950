/**
 * Outbound calls, end to end on real sockets: `POST /api/calls` → the real `twilio` client → the simulated Twilio
 * REST server, which rings the callee, requests our signed voice URL, opens the Media Stream to the bridge, plays the
 * callee (a person, a voicemail with a beep, busy, no answer) and sends signed status and AMD callbacks back.
 *
 * A person: the agent waits for the AMD verdict (it does not greet the callee's "Hello?" as a turn), greets, answers
 * one turn with end_call, says goodbye, and the call completes. A voicemail: nothing is said over the machine's
 * greeting; the voicemail message starts after the beep and the call ends when it has played.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/records/openapi.js';
import { agentFromConfig } from '../src/agents/from-config.js';
import type { AgentDefinition } from '../src/agents/types.js';
import { HUMAN_NOTE } from '../src/call/answering-machine.js';
import type { CallEvent } from '../src/call/call-events.js';
import { loadConfig } from '../src/config.js';
import type { CallInfo, CallObserver } from '../src/observers/hub.js';
import type { ScriptedResponse } from '../src/simulator/realtime/server.js';
import { rebaseUrls, startSimulatedTwilioRest } from '../src/simulator/twilio-rest/server.js';
import type { CalleeBehaviour, SimulatedTwilioRest } from '../src/simulator/twilio-rest/types.js';
import { AUTH_TOKEN, OPENAI_KEY, PUBLIC_BASE_URL, startBridge, waitUntil, type Bridge } from './helpers/e2e.js';
import { callerSpeech, heardToneSegments, wholeResponse } from './helpers/e2e-call-flow.js';

const ACCOUNT_SID = `AC${'ab'.repeat(16)}`;
const FROM = '+15550000001';
const API_KEY = 'cb-api-key-e2e-0123456789abcdef';
const PERSON = '+15551230001';
const MACHINE = '+15551230002';
const BUSY = '+15551230003';
const NOBODY = '+15551230004';
const GREETING_MS = 400;
const GOODBYE_MS = 800;
const VOICEMAIL_MS = 1_200;

let bridge: Bridge | null = null;
let rest: SimulatedTwilioRest | null = null;
afterEach(async () => {
  await bridge?.close();
  await rest?.close();
  bridge = null;
  rest = null;
});

const callees: Record<string, CalleeBehaviour> = {
  // "Hello?" at 200–600 ms after answering, a question at 3.5 s; AMD says human at the end of the first words + 1.2 s.
  [PERSON]: { kind: 'human', answerAfterMs: 400, audio: callerSpeech([{ atMs: 200, durationMs: 400 }, { atMs: 3_500, durationMs: 400 }], 12_000) },
  // A 2 s outgoing message, a 400 ms beep, then the machine records.
  [MACHINE]: { kind: 'voicemail', answerAfterMs: 400, greeting: callerSpeech([{ atMs: 100, durationMs: 1_800 }], 2_000), beepMs: 400, recordMs: 8_000 },
  [BUSY]: { kind: 'busy' },
  [NOBODY]: { kind: 'no-answer' },
};

function agent(overrides: Partial<AgentDefinition> = {}): AgentDefinition {
  return {
    ...agentFromConfig(loadConfig({ OPENAI_API_KEY: OPENAI_KEY, TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL })),
    name: 'reminders',
    greeting: 'Say hello and remind {{custom.name}} of the appointment.',
    builtinTools: ['end_call'],
    outbound: { allowedPrefixes: ['+1555123'], answeringMachine: 'voicemail', voicemailMessage: 'Hello {{custom.name}}, please call the clinic back.' },
    ...overrides,
  };
}

function tone(durationMs: number): ScriptedResponse {
  return { kind: 'audio', reply: { kind: 'tone-coded', durationMs } };
}

interface Seen {
  events: Array<{ callSid: string; event: CallEvent }>;
  started: CallInfo[];
  ended: string[];
  notConnected: string[];
}

const API_KEY_SID = `SK${'cd'.repeat(16)}`;
const API_KEY_SECRET = 'twilio-api-key-secret-0123456789';

async function start(options: { script?: ScriptedResponse[]; env?: Record<string, string>; agents?: AgentDefinition[]; fromNumbers?: string[] } = {}): Promise<{ bridge: Bridge; rest: SimulatedTwilioRest; seen: Seen }> {
  let route = (url: string) => url;
  rest = await startSimulatedTwilioRest({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    callees: (to) => callees[to] ?? { kind: 'fail' },
    routeUrl: (url) => route(url),
    timeScale: 0.05,
    apiKeys: [{ sid: API_KEY_SID, secret: API_KEY_SECRET }],
    ...(options.fromNumbers === undefined ? {} : { fromNumbers: options.fromNumbers }),
  });
  const seen: Seen = { events: [], started: [], ended: [], notConnected: [] };
  const observer: CallObserver = {
    name: 'test',
    callStarted: (info) => void seen.started.push(info),
    callEvent: (info, event) => void seen.events.push({ callSid: info.callSid, event }),
    callEnded: (info) => void seen.ended.push(info.callSid),
    callNotConnected: (info) => void seen.notConnected.push(info.callSid),
  };
  const agents = options.agents ?? [agent()];
  bridge = await startBridge({
    agents: { agents, defaultAgent: agents[0]!, source: 'file' },
    sim: { speedFactor: 4, script: options.script ?? [] },
    observers: [observer],
    env: {
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_FROM_NUMBER: FROM,
      TWILIO_API_URL: rest.url,
      CALLBRIDGE_API_KEY: API_KEY,
      OUTBOUND_CALLS_PER_SECOND: '1000', // 1 ms between starts: back-to-back requests are never queued by the rate
      ...options.env,
    },
  });
  route = rebaseUrls(PUBLIC_BASE_URL, bridge.baseUrl);
  return { bridge, rest, seen };
}

async function postCall(body: unknown, key: string | null = API_KEY): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (key !== null) headers['Authorization'] = `Bearer ${key}`;
  const response = await fetch(`${bridge!.baseUrl}/api/calls`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function progress(id: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${bridge!.baseUrl}/api/outbound/${id}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
  return (await response.json()) as Record<string, unknown>;
}

/** The API's answers against its own OpenAPI document (the contract a client codes against). */
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
ajv.addVocabulary(['openapi', 'info', 'security', 'paths', 'components']);
ajv.addSchema(openApiDocument, 'openapi');
function violations(schemaName: string, value: unknown): string[] {
  const validate = ajv.getSchema(`openapi#/components/schemas/${schemaName}`)!;
  return validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
}

function statusesOf(seen: Seen, callSid: string): string[] {
  return seen.events.flatMap(({ callSid: sid, event }) => (sid === callSid && event.type === 'call_status' ? [event.status] : []));
}

describe('outbound: a person answers', () => {
  it('waits for AMD, greets, answers a turn, ends the call; callbacks signed and in order; observers see it', async () => {
    const { rest, seen } = await start({
      script: [tone(GREETING_MS), { kind: 'function_call', name: 'end_call', arguments: '{"reason":"reminder delivered"}', callId: 'c1' }, tone(GOODBYE_MS)],
    });
    const answer = await postCall({ to: PERSON, agent: 'reminders', variables: { name: 'Ada' } });
    expect(answer.status).toBe(202);
    const callSid = answer.body['callSid'] as string;
    expect(answer.body).toEqual({ requestId: expect.stringMatching(/^OR[0-9a-f]{32}$/), callSid: expect.stringMatching(/^CA[0-9a-f]{32}$/), status: 'queued' });
    expect(violations('OutboundCallAccepted', answer.body)).toEqual([]);

    const call = await rest.waitForCall(callSid, (c) => c.finished, 20_000);
    expect(call.statusHistory.map((entry) => entry.status)).toEqual(['queued', 'ringing', 'in-progress', 'completed']);
    expect(call.from).toBe(FROM);
    expect(call.createParams).toMatchObject({ To: PERSON, From: FROM, MachineDetection: 'DetectMessageEnd', AsyncAmd: 'true', Timeout: '30' });
    expect(call.answeredBy).toBe('human');
    // Every request Twilio made was accepted: a bad signature would have been a 403.
    const requests = call.requests.map((request) => [request.kind, request.status, request.params['CallStatus'] ?? request.params['AnsweredBy'] ?? '']);
    expect(requests.filter(([kind]) => kind !== 'status-callback')).toEqual([
      ['voice-url', 200, 'in-progress'],
      ['amd-callback', 204, 'human'],
      ['connect-action', 200, 'in-progress'],
    ]);
    expect(requests.filter(([kind]) => kind === 'status-callback')).toEqual([
      ['status-callback', 204, 'initiated'],
      ['status-callback', 204, 'ringing'],
      ['status-callback', 204, 'in-progress'],
      ['status-callback', 204, 'completed'],
    ]);
    expect(call.verbs.map((verb) => verb.verb)).toEqual(['Connect', 'Hangup']);

    // The callee heard the greeting and the goodbye, whole, and nothing before the verdict.
    const stream = call.streams[0]!;
    expect(heardToneSegments(stream.result!.heardAudio)).toEqual([...wholeResponse(0, GREETING_MS), ...wholeResponse(2, GOODBYE_MS)]);
    const session = bridge!.sim.sessions[0]!;
    expect(session.responses.map((response) => [response.kind, response.trigger])).toEqual([
      ['audio', 'client'],
      ['function_call', 'vad'],
      ['audio', 'client'],
    ]);
    // The "Hello?" before the verdict never reached the agent: exactly one caller turn (the question).
    expect(session.eventsOut('input_audio_buffer.committed')).toHaveLength(1);
    const greeting = session.eventsIn('response.create')[0]!['response'] as { instructions: string };
    expect(greeting.instructions).toBe(`${HUMAN_NOTE}\nSay hello and remind Ada of the appointment.`);

    await waitUntil(() => seen.ended.includes(callSid), 5_000, 'observers hear the end');
    expect(seen.started.map((info) => [info.callSid, info.direction, info.from, info.to, info.agent])).toEqual([[callSid, 'outbound', FROM, PERSON, 'reminders']]);
    expect(statusesOf(seen, callSid)).toEqual(['queued', 'initiated', 'ringing', 'in-progress', 'completed']);
    expect(seen.events.find(({ event }) => event.type === 'answered_by')?.event).toMatchObject({ answeredBy: 'human', action: 'greet' });
    expect(seen.notConnected).toEqual([]);
    const finalProgress = await progress(callSid);
    expect(finalProgress).toMatchObject({ callSid, to: PERSON, agent: 'reminders', status: 'completed', answeredBy: 'human' });
    expect(violations('OutboundProgress', finalProgress)).toEqual([]);
  });
});

describe('outbound: a voicemail answers', () => {
  it('says nothing over the greeting, leaves the message after the beep, then the call ends', async () => {
    const { rest, seen } = await start({ script: [tone(VOICEMAIL_MS)] });
    const answer = await postCall({ to: MACHINE, agent: 'reminders', variables: { name: 'Ada' } });
    const callSid = answer.body['callSid'] as string;
    const call = await rest.waitForCall(callSid, (c) => c.finished, 20_000);
    expect(call.answeredBy).toBe('machine_end_beep');
    expect(call.endReason).toBe('hangup-verb');
    expect(call.statusHistory.at(-1)!.status).toBe('completed');

    const heard = call.heardSinceAnswer();
    expect(heard.length).toBeGreaterThan(0);
    // Nothing during the machine's greeting or its beep: the first word comes after the beep ended. (The simulated
    // line's heard times and its AMD timer are measured from slightly different origins, a few ms apart: one frame
    // of slack, far below the 400 ms beep.)
    expect(heard[0]!.startMs).toBeGreaterThanOrEqual(call.greetingEndMs!);
    expect(heard[0]!.startMs).toBeGreaterThanOrEqual(call.beepEndMs! - 20);
    expect(heardToneSegments(call.streams[0]!.result!.heardAudio)).toEqual(wholeResponse(0, VOICEMAIL_MS));
    const session = bridge!.sim.sessions[0]!;
    expect(session.responses.map((response) => [response.kind, response.trigger, response.status])).toEqual([['audio', 'client', 'completed']]);
    // The machine is never a caller: not its greeting, not its beep, not the silence it records.
    expect(session.eventsOut('input_audio_buffer.speech_started')).toEqual([]);
    const creates = session.eventsIn('response.create').map((event) => (event['response'] as { instructions: string }).instructions);
    expect(creates).toHaveLength(1);
    expect(creates[0]).toMatch(/^You reached an answering machine \(answering-machine detection: machine_end_beep\).*Leave this message once, then stop talking: Hello Ada, please call the clinic back\.$/);
    // The message played whole, then the call hung up long before the machine's own 8 s limit.
    expect(call.endedAtMs! - call.answeredAtMs!).toBeLessThan(7_000);

    await waitUntil(() => seen.ended.includes(callSid), 5_000, 'observers hear the end');
    expect(seen.events.find(({ event }) => event.type === 'answered_by')?.event).toMatchObject({ answeredBy: 'machine_end_beep', action: 'leave_message' });
  });

  it('an agent set to hang up on machines asks for AMD Enable and hangs up at machine_start, saying nothing', async () => {
    const { rest } = await start({ agents: [agent({ outbound: { allowedPrefixes: ['+1555'], answeringMachine: 'hang_up', voicemailMessage: null } })] });
    const answer = await postCall({ to: MACHINE, agent: 'reminders' });
    const call = await rest.waitForCall(answer.body['callSid'] as string, (c) => c.finished, 20_000);
    expect(call.createParams['MachineDetection']).toBe('Enable');
    expect(call.answeredBy).toBe('machine_start');
    expect(call.heardSinceAnswer()).toEqual([]);
    expect(bridge!.sim.sessions[0]?.eventsIn('response.create') ?? []).toEqual([]);
    expect(call.statusHistory.at(-1)!.status).toBe('completed');
  });
});

describe('outbound: calls that never connect, and refusals', () => {
  it('busy and no answer: the status reaches observers, which hear the call end without a stream', async () => {
    const { rest, seen } = await start({ env: { OUTBOUND_RING_TIMEOUT_S: '5' } });
    const busy = await postCall({ to: BUSY, agent: 'reminders' });
    const nobody = await postCall({ to: NOBODY, agent: 'reminders' });
    const busySid = busy.body['callSid'] as string;
    const nobodySid = nobody.body['callSid'] as string;
    await rest.waitForCall(busySid, (c) => c.finished, 10_000);
    await rest.waitForCall(nobodySid, (c) => c.finished, 10_000);
    await waitUntil(() => seen.notConnected.length === 2, 5_000, 'both calls end');
    expect(statusesOf(seen, busySid)).toEqual(['queued', 'initiated', 'ringing', 'busy']);
    expect(statusesOf(seen, nobodySid)).toEqual(['queued', 'initiated', 'ringing', 'no-answer']);
    expect(seen.notConnected.sort()).toEqual([busySid, nobodySid].sort());
    expect(seen.ended).toEqual([]);
    expect(await progress(busySid)).toMatchObject({ status: 'busy' });
  });

  it('bad input and a bad key get clear 4xx JSON errors, and nothing is dialled', async () => {
    const { rest } = await start();
    expect(await postCall({ to: PERSON, agent: 'reminders' }, 'wrong-key')).toEqual({ status: 401, body: { error: { code: 'unauthorized', message: expect.any(String) } } });
    expect((await postCall({ to: PERSON, agent: 'reminders' }, null)).status).toBe(401);
    expect(await postCall({ to: '5551230001', agent: 'reminders' })).toEqual({ status: 400, body: { error: { code: 'invalid_number', message: 'to must be an E.164 number like +15551234567' } } });
    expect(await postCall({ to: '+4420123456', agent: 'reminders' })).toEqual({
      status: 403,
      body: { error: { code: 'destination_not_allowed', message: 'agent "reminders" may not call +4420123456: allowed prefixes: +1555123' } },
    });
    expect(await postCall({ to: PERSON, agent: 'nobody' })).toEqual({ status: 404, body: { error: { code: 'unknown_agent', message: 'no agent named "nobody"' } } });
    expect((await postCall({ to: PERSON, agent: 'reminders', extra: 1 })).body).toEqual({ error: { code: 'bad_request', message: 'unknown field "extra" (allowed: to, agent, variables)' } });
    const raw = await fetch(`${bridge!.baseUrl}/api/calls`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' }, body: '{not json' });
    expect(raw.status).toBe(400);
    expect(rest.calls()).toEqual([]);
  });

  it('an API key pair works instead of the auth token for the REST API (callbacks are still signed with the token)', async () => {
    const { rest, seen } = await start({ env: { TWILIO_API_KEY_SID: API_KEY_SID, TWILIO_API_KEY_SECRET: API_KEY_SECRET } });
    const busy = await postCall({ to: BUSY, agent: 'reminders' });
    expect(busy.status).toBe(202);
    const call = await rest.waitForCall(busy.body['callSid'] as string, (c) => c.finished, 10_000);
    expect(call.status).toBe('busy');
    await waitUntil(() => seen.notConnected.length === 1, 5_000, 'the call ends');
    // The secret never reached a log line.
    expect(bridge!.rawLog()).not.toContain(API_KEY_SECRET);
  });

  it('Twilio refusing the call (a caller ID not on the account) is a 400 with its reason, and frees the slot', async () => {
    const { rest } = await start({ fromNumbers: ['+15559999999'], env: { OUTBOUND_MAX_CONCURRENT: '1', OUTBOUND_MAX_QUEUED: '0' } });
    const first = await postCall({ to: PERSON, agent: 'reminders' });
    expect(first.status).toBe(400);
    expect(first.body).toEqual({ error: { code: 'twilio_rejected', message: expect.stringMatching(/21210/) } });
    await new Promise((resolve) => setTimeout(resolve, 5)); // past the 1 ms between starts at 1000 calls per second
    const second = await postCall({ to: PERSON, agent: 'reminders' });
    expect(second.status).toBe(400); // not 429 (no queue at all): the first refusal gave its slot back
    expect(rest.calls()).toEqual([]);
  });

  it('over the rate: one call starts, the next waits for its second, a third beyond the queue gets 429', async () => {
    const { rest } = await start({ env: { OUTBOUND_CALLS_PER_SECOND: '1', OUTBOUND_MAX_QUEUED: '1' } });
    const first = await postCall({ to: BUSY, agent: 'reminders' });
    const second = await postCall({ to: BUSY, agent: 'reminders' });
    const third = await postCall({ to: BUSY, agent: 'reminders' });
    expect(first.status).toBe(202);
    expect(second).toEqual({ status: 202, body: { requestId: expect.stringMatching(/^OR/), callSid: null, status: 'waiting' } });
    expect(third).toEqual({ status: 429, body: { error: { code: 'rate_limited', message: 'too many outbound calls waiting (OUTBOUND_MAX_QUEUED=1)' } } });
    expect(violations('OutboundCallAccepted', second.body)).toEqual([]);
    expect(violations('Error', third.body)).toEqual([]);
    await waitUntil(() => rest.calls().length === 2, 3_000, 'the waiting call is placed');
    const [a, b] = rest.calls();
    const placed = await progress(second.body['requestId'] as string);
    expect(placed['callSid']).toBe(b!.sid);
    expect((placed['history'] as Array<{ status: string }>).map((entry) => entry.status).slice(0, 2)).toEqual(['waiting', 'queued']);
    expect(a!.sid).toBe(first.body['callSid']);
  });
});
