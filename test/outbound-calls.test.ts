/**
 * OutboundCalls, the owner of outbound calls, with a fake Twilio Calls API, a recording observer and a ManualClock:
 * refusals (nothing dialled), Twilio's refusal (slot freed), placement and its exact REST parameters, queueing behind
 * the rate, statuses to observers, the stream's attachment (answering-machine settings, the AMD verdict before and
 * after the call binds), the end of the call told to observers exactly once, and progress().
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadAgentRoster } from '../src/agents/load.js';
import type { AgentRoster } from '../src/agents/types.js';
import type { CallEvent } from '../src/call/call-events.js';
import type { CallSummary } from '../src/call/call-summary.js';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import { CallObservers, type CallInfo, type CallObserver } from '../src/observers/hub.js';
import { OutboundCalls, type OutboundAnswer } from '../src/outbound/outbound-calls.js';
import { TwilioRestError, type CreateCallParams, type TwilioCalls } from '../src/outbound/twilio-rest.js';

const BASE = 'https://voice.example.com';
const FROM = '+14155550100';
const T0 = Date.UTC(2026, 2, 3, 9, 30, 0);

const dir = mkdtempSync(join(tmpdir(), 'callbridge-outbound-calls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const rosterPath = join(dir, 'agents.yaml');
writeFileSync(
  rosterPath,
  [
    'agents:',
    '  - name: reminders',
    '    instructions: Remind people of their appointment.',
    '    outbound:',
    "      allowedPrefixes: ['+1555']",
    '      voicemailMessage: Hello {{custom.name}}, {{callerNumber}} calling {{calledNumber}} about {{custom.topic}}{{custom.missing}} (call {{callSid}}).',
    '  - name: collector',
    '    instructions: Collect the survey.',
    '    model: gpt-realtime-mini',
    '    outbound:',
    "      allowedPrefixes: ['+1555']",
    '  - name: survey',
    '    instructions: Ask three questions.',
    '    outbound:',
    "      allowedPrefixes: ['+44']",
    "      answeringMachine: 'off'",
    '  - name: desk',
    '    instructions: Be helpful.',
    '',
  ].join('\n'),
);
const ROSTER: AgentRoster = loadAgentRoster({ path: rosterPath, config: loadConfig({}), env: {} });

// ---------------------------------------------------------------------------------------------------------------
// Fakes

type CreateOutcome = { sid: string; status: string } | Error;

class FakeTwilio implements TwilioCalls {
  readonly created: CreateCallParams[] = [];
  /** Clock reading at each create. */
  readonly createdAtMs: number[] = [];
  readonly outcomes: CreateOutcome[] = [];
  private count = 0;
  constructor(private readonly clock: ManualClock) {}
  create(params: CreateCallParams): Promise<{ sid: string; status: string }> {
    this.created.push(params);
    this.createdAtMs.push(this.clock.now());
    this.count++;
    const outcome = this.outcomes.shift() ?? { sid: `CA${String(this.count).padStart(32, '0')}`, status: 'queued' };
    return outcome instanceof Error ? Promise.reject(outcome) : Promise.resolve(outcome);
  }
  hangUp(): Promise<void> {
    throw new Error('not used');
  }
}

const sid = (n: number) => `CA${String(n).padStart(32, '0')}`;

type Seen = ['started', CallInfo] | ['event', string, CallEvent] | ['ended', CallInfo, CallSummary] | ['notConnected', CallInfo];

function recorder(): { observer: CallObserver; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    observer: {
      name: 'recorder',
      callStarted: (call) => void seen.push(['started', call]),
      callEvent: (call, event) => void seen.push(['event', call.callSid, event]),
      callEnded: (call, summary) => void seen.push(['ended', call, summary]),
      callNotConnected: (call) => void seen.push(['notConnected', call]),
    },
  };
}

function setup(env: Record<string, string> = {}, options: { twilio?: 'none' } = {}) {
  const clock = new ManualClock(10_000);
  const config = loadConfig({ TWILIO_FROM_NUMBER: FROM, PUBLIC_BASE_URL: BASE, OUTBOUND_RING_TIMEOUT_S: '25', INSTANCE_ID: INSTANCE, ...env });
  const twilio = new FakeTwilio(clock);
  const { observer, seen } = recorder();
  const observers = new CallObservers([observer], silentLogger());
  const outbound = new OutboundCalls({ config, roster: ROSTER, logger: silentLogger(), clock, observers, twilio: options.twilio === 'none' ? null : twilio });
  return { clock, twilio, seen, outbound };
}

/** Lets the fake create's promise and the code awaiting it run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function accepted(answer: OutboundAnswer): { requestId: string; callSid: string | null; status: string } {
  if (answer.status !== 202) throw new Error(`expected 202, got ${JSON.stringify(answer)}`);
  return answer.body;
}

/** The instance placing the calls (its id is in every call's info). */
const INSTANCE = 'instance-1';

function infoFor(callSid: string, to: string, agent: string, clockStartMs: number, startedAtEpochMs = T0, model = 'gpt-realtime'): CallInfo {
  return { callSid, streamSid: '', from: FROM, to, direction: 'outbound', agent, provider: 'openai', model, startedAtEpochMs, clockStartMs, instanceId: INSTANCE };
}

function summaryFor(callSid: string, streamSid: string): CallSummary {
  return {
    callSid,
    streamSid,
    durationMs: 41_500,
    endReason: 'agent_end_call',
    turns: 3,
    responses: 4,
    bargeIns: 0,
    truncates: 0,
    framesIn: 2_075,
    framesOut: 1_400,
    gaps: 0,
    gapMs: 0,
    underruns: 0,
    underrunMs: 0,
    sequenceErrors: 0,
    lateDeltasDropped: 0,
    upstreamFaults: 0,
    usage: { inputTokens: 9_000, outputTokens: 2_000, inputAudioTokens: 7_000, outputAudioTokens: 1_800, cachedTokens: 3_000 },
  };
}

const statusEvent = (atMs: number, status: string, durationS?: number): CallEvent => ({ type: 'call_status', atMs, status, ...(durationS === undefined ? {} : { durationS }) });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

// ---------------------------------------------------------------------------------------------------------------

describe('OutboundCalls: refusals', () => {
  it('answers 503 when Twilio is not configured', async () => {
    const { outbound, seen } = setup({}, { twilio: 'none' });
    expect(outbound.enabled).toBe(false);
    expect(await outbound.request({ to: '+15551234567', agent: 'reminders' })).toEqual({
      status: 503,
      code: 'outbound_unavailable',
      message: 'outbound calls need TWILIO_ACCOUNT_SID, TWILIO_FROM_NUMBER and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY_SID/SECRET)',
    });
    // Even a malformed request: outbound is off before anything else.
    expect(await outbound.request('nonsense')).toEqual({
      status: 503,
      code: 'outbound_unavailable',
      message: 'outbound calls need TWILIO_ACCOUNT_SID, TWILIO_FROM_NUMBER and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY_SID/SECRET)',
    });
    expect(seen).toEqual([]);
  });

  it('never dials a refused request, and a refusal takes no place in the rate', async () => {
    const { outbound, twilio, seen } = setup({ OUTBOUND_CALLS_PER_SECOND: '1', OUTBOUND_MAX_QUEUED: '0' });
    expect(outbound.enabled).toBe(true);
    expect(await outbound.request({ to: '5551234567', agent: 'reminders' })).toEqual({ status: 400, code: 'invalid_number', message: 'to must be an E.164 number like +15551234567' });
    expect(await outbound.request({ to: '+15551234567', agent: 'nobody' })).toEqual({ status: 404, code: 'unknown_agent', message: 'no agent named "nobody"' });
    expect(await outbound.request({ to: '+15551234567', agent: 'desk' })).toEqual({
      status: 403,
      code: 'destination_not_allowed',
      message: 'agent "desk" may not call +15551234567: the agent allows no destinations (set outbound.allowedPrefixes)',
    });
    expect(await outbound.request({ to: '+15551234567', agent: 'survey' })).toEqual({
      status: 403,
      code: 'destination_not_allowed',
      message: 'agent "survey" may not call +15551234567: allowed prefixes: +44',
    });
    expect(await outbound.request([])).toEqual({ status: 400, code: 'bad_request', message: 'the body must be a JSON object like {"to":"+15551234567","agent":"reminders"}' });
    expect(twilio.created).toEqual([]);
    expect(seen).toEqual([]);
    // With no queue and 1 call per second, the next valid request still goes out at once.
    expect(accepted(await outbound.request({ to: '+15551234567', agent: 'reminders' })).status).toBe('queued');
    expect(twilio.created).toHaveLength(1);
  });
});

describe("OutboundCalls: Twilio's refusal", () => {
  it('answers 400 twilio_rejected with the code, tells no observer, and frees the slot', async () => {
    const { outbound, twilio, seen, clock } = setup({ OUTBOUND_MAX_CONCURRENT: '1', OUTBOUND_CALLS_PER_SECOND: '1' });
    twilio.outcomes.push(new TwilioRestError(400, 21211, "The 'To' number +15551234567 is not a valid phone number."));
    expect(await outbound.request({ to: '+15551234567', agent: 'reminders' })).toEqual({
      status: 400,
      code: 'twilio_rejected',
      message: "failed: The 'To' number +15551234567 is not a valid phone number. (Twilio 21211)",
    });
    expect(twilio.created).toHaveLength(1);
    expect(seen).toEqual([]);
    // The one concurrent slot is free again: the next request (a second later, for the rate) is placed at once.
    clock.advance(1_000);
    const next = accepted(await outbound.request({ to: '+15551234568', agent: 'reminders' }));
    expect(next).toEqual({ requestId: next.requestId, callSid: sid(2), status: 'queued' });
    expect(twilio.createdAtMs).toEqual([10_000, 11_000]);
  });

  it('words a refusal without a Twilio code, and a network error, the same way', async () => {
    const { outbound, twilio, clock } = setup({ OUTBOUND_CALLS_PER_SECOND: '1' });
    twilio.outcomes.push(new TwilioRestError(401, null, 'Authenticate'), new Error('socket hang up'));
    expect(await outbound.request({ to: '+15551234567', agent: 'reminders' })).toEqual({ status: 400, code: 'twilio_rejected', message: 'failed: Authenticate' });
    clock.advance(1_000);
    expect(await outbound.request({ to: '+15551234567', agent: 'reminders' })).toEqual({ status: 400, code: 'twilio_rejected', message: 'failed: Error: socket hang up' });
  });

  it('a queued request Twilio refuses shows as failed and frees the slot for the next', async () => {
    const { outbound, twilio, clock, seen } = setup({ OUTBOUND_MAX_CONCURRENT: '1', OUTBOUND_CALLS_PER_SECOND: '1', OUTBOUND_MAX_QUEUED: '5' });
    const first = accepted(await outbound.request({ to: '+15551234567', agent: 'reminders' }));
    const second = accepted(await outbound.request({ to: '+15551234568', agent: 'reminders' }));
    const third = accepted(await outbound.request({ to: '+15551234569', agent: 'reminders' }));
    expect([second.status, third.status]).toEqual(['waiting', 'waiting']);
    // The first call ends (busy): the second is placed now and refused by Twilio; the third follows a second later.
    twilio.outcomes.push(new TwilioRestError(400, 21215, 'Account not authorized to call +15551234568.'));
    clock.advance(5_000);
    vi.setSystemTime(T0 + 5_000);
    outbound.statusChanged(first.requestId, sid(1), 'busy', 0);
    await settle();
    expect(outbound.progress(second.requestId)).toEqual({
      requestId: second.requestId,
      callSid: null,
      to: '+15551234568',
      agent: 'reminders',
      status: 'failed',
      answeredBy: null,
      durationS: null,
      history: [
        { atEpochMs: T0, status: 'waiting' },
        { atEpochMs: T0 + 5_000, status: 'failed: Account not authorized to call +15551234568. (Twilio 21215)' },
      ],
    });
    clock.advance(999);
    await settle();
    expect(twilio.createdAtMs).toEqual([10_000, 15_000]);
    clock.advance(1);
    await settle();
    expect(twilio.createdAtMs).toEqual([10_000, 15_000, 16_000]);
    expect(outbound.progress(third.requestId)?.callSid).toBe(sid(3));
    expect(seen.filter((entry) => entry[0] === 'started').map((entry) => (entry[1] as CallInfo).callSid)).toEqual([sid(1), sid(3)]);
    // Like a finished call, the refused request is readable for 10 minutes, then forgotten.
    clock.advance(600_000 - 1_001);
    expect(outbound.progress(second.requestId)?.status).toBe('failed');
    clock.advance(1);
    expect(outbound.progress(second.requestId)).toBeNull();
  });
});

describe('OutboundCalls: placing a call', () => {
  it('answers 202 with the callSid, tells observers it started, and keeps the progress', async () => {
    const { outbound, twilio, seen } = setup();
    const body = accepted(await outbound.request({ to: '+15551234567', agent: 'reminders', variables: { name: 'Ada' } }));
    expect(body.requestId).toMatch(/^OR[0-9a-f]{32}$/);
    expect(body).toEqual({ requestId: body.requestId, callSid: sid(1), status: 'queued' });
    const info = infoFor(sid(1), '+15551234567', 'reminders', 10_000);
    expect(seen).toEqual([
      ['started', info],
      ['event', sid(1), statusEvent(10_000, 'queued')],
    ]);
    const progress = {
      requestId: body.requestId,
      callSid: sid(1),
      to: '+15551234567',
      agent: 'reminders',
      status: 'queued',
      answeredBy: null,
      durationS: null,
      history: [
        { atEpochMs: T0, status: 'waiting' },
        { atEpochMs: T0, status: 'queued' },
      ],
    };
    expect(outbound.progress(body.requestId)).toEqual(progress);
    expect(outbound.progress(sid(1))).toEqual(progress);
    expect(outbound.progress('ORnope')).toBeNull();
    // The voice URL's question: which agent answers, with which variables.
    expect(outbound.voiceRequest(body.requestId, sid(1))).toEqual({ agentName: 'reminders', custom: { name: 'Ada' } });
    expect(outbound.voiceRequest(body.requestId, sid(2))).toBeNull();
    expect(outbound.voiceRequest('ORnope', sid(1))).toBeNull();
    expect(twilio.created).toHaveLength(1);
  });

  it('sends the exact REST parameters: callback URLs with the request id, AMD per agent, the ring timeout', async () => {
    const { outbound, twilio, clock } = setup({ OUTBOUND_CALLS_PER_SECOND: '1' });
    const voicemail = accepted(await outbound.request({ to: '+15551234567', agent: 'reminders' }));
    clock.advance(1_000);
    const hangUp = accepted(await outbound.request({ to: '+15551234568', agent: 'collector' }));
    clock.advance(1_000);
    const off = accepted(await outbound.request({ to: '+442071838750', agent: 'survey' }));
    expect([voicemail.callSid, hangUp.callSid, off.callSid]).toEqual([sid(1), sid(2), sid(3)]);
    const query = (id: string) => `?request=${id}`;
    expect(twilio.created).toEqual([
      {
        to: '+15551234567',
        from: FROM,
        url: `${BASE}/outbound/voice${query(voicemail.requestId)}`,
        statusCallback: `${BASE}/outbound/status${query(voicemail.requestId)}`,
        asyncAmdStatusCallback: `${BASE}/outbound/amd${query(voicemail.requestId)}`,
        machineDetection: 'DetectMessageEnd',
        timeoutS: 25,
      },
      {
        to: '+15551234568',
        from: FROM,
        url: `${BASE}/outbound/voice${query(hangUp.requestId)}`,
        statusCallback: `${BASE}/outbound/status${query(hangUp.requestId)}`,
        asyncAmdStatusCallback: `${BASE}/outbound/amd${query(hangUp.requestId)}`,
        machineDetection: 'Enable',
        timeoutS: 25,
      },
      {
        to: '+442071838750',
        from: FROM,
        url: `${BASE}/outbound/voice${query(off.requestId)}`,
        statusCallback: `${BASE}/outbound/status${query(off.requestId)}`,
        asyncAmdStatusCallback: null,
        machineDetection: null,
        timeoutS: 25,
      },
    ]);
    expect(new Set([voicemail.requestId, hangUp.requestId, off.requestId]).size).toBe(3);
  });

  it('names the model of the agent in the call info', async () => {
    const { outbound, seen } = setup();
    await outbound.request({ to: '+15551234568', agent: 'collector' });
    expect(seen[0]).toEqual(['started', infoFor(sid(1), '+15551234568', 'collector', 10_000, T0, 'gpt-realtime-mini')]);
  });
});

describe('OutboundCalls: the rate gate', () => {
  it('queues the second request of the second (202 waiting, no callSid), places it exactly 1000 ms later, and refuses beyond the queue', async () => {
    const { outbound, twilio, clock, seen } = setup({ OUTBOUND_CALLS_PER_SECOND: '1', OUTBOUND_MAX_QUEUED: '1' });
    const first = accepted(await outbound.request({ to: '+15551234567', agent: 'reminders' }));
    clock.advance(250);
    const second = accepted(await outbound.request({ to: '+15551234568', agent: 'collector', variables: { slot: '2' } }));
    expect(second).toEqual({ requestId: second.requestId, callSid: null, status: 'waiting' });
    expect(await outbound.request({ to: '+15551234569', agent: 'reminders' })).toEqual({ status: 429, code: 'rate_limited', message: 'too many outbound calls waiting (OUTBOUND_MAX_QUEUED=1)' });
    expect(twilio.created.map((params) => params.to)).toEqual(['+15551234567']);
    expect(outbound.progress(second.requestId)).toEqual({
      requestId: second.requestId,
      callSid: null,
      to: '+15551234568',
      agent: 'collector',
      status: 'waiting',
      answeredBy: null,
      durationS: null,
      history: [{ atEpochMs: T0, status: 'waiting' }],
    });
    // Not ours to answer yet: no callSid.
    expect(outbound.voiceRequest(second.requestId, '')).toBeNull();

    clock.advance(749);
    await settle();
    expect(twilio.createdAtMs).toEqual([10_000]);
    vi.setSystemTime(T0 + 1_000);
    clock.advance(1);
    await settle();
    expect(twilio.createdAtMs).toEqual([10_000, 11_000]);
    expect(twilio.created[1]?.url).toBe(`${BASE}/outbound/voice?request=${second.requestId}`);
    expect(outbound.progress(second.requestId)).toEqual({
      requestId: second.requestId,
      callSid: sid(2),
      to: '+15551234568',
      agent: 'collector',
      status: 'queued',
      answeredBy: null,
      durationS: null,
      history: [
        { atEpochMs: T0, status: 'waiting' },
        { atEpochMs: T0 + 1_000, status: 'queued' },
      ],
    });
    expect(outbound.voiceRequest(second.requestId, sid(2))).toEqual({ agentName: 'collector', custom: { slot: '2' } });
    expect(seen).toEqual([
      ['started', infoFor(sid(1), '+15551234567', 'reminders', 10_000)],
      ['event', sid(1), statusEvent(10_000, 'queued')],
      ['started', infoFor(sid(2), '+15551234568', 'collector', 11_000, T0 + 1_000, 'gpt-realtime-mini')],
      ['event', sid(2), statusEvent(11_000, 'queued')],
    ]);
    // The queue has room again.
    expect(accepted(await outbound.request({ to: '+15551234569', agent: 'reminders' })).status).toBe('waiting');
    expect(first.callSid).toBe(sid(1));
  });

  it('holds a request while maxConcurrent calls are up, and places it when one ends', async () => {
    const { outbound, twilio, clock } = setup({ OUTBOUND_MAX_CONCURRENT: '1', OUTBOUND_CALLS_PER_SECOND: '10' });
    const first = accepted(await outbound.request({ to: '+15551234567', agent: 'reminders' }));
    const second = accepted(await outbound.request({ to: '+15551234568', agent: 'reminders' }));
    expect(second.status).toBe('waiting');
    clock.advance(30_000);
    outbound.statusChanged(first.requestId, sid(1), 'ringing', null);
    await settle();
    expect(twilio.createdAtMs).toEqual([10_000]);
    outbound.statusChanged(first.requestId, sid(1), 'no-answer', 0);
    await settle();
    expect(twilio.createdAtMs).toEqual([10_000, 40_000]);
  });

  it('stop() drops the waiting requests: they are never placed', async () => {
    const { outbound, twilio, clock } = setup({ OUTBOUND_CALLS_PER_SECOND: '1' });
    await outbound.request({ to: '+15551234567', agent: 'reminders' });
    const waiting = accepted(await outbound.request({ to: '+15551234568', agent: 'reminders' }));
    outbound.stop();
    clock.advance(5_000);
    await settle();
    expect(twilio.created).toHaveLength(1);
    expect(outbound.progress(waiting.requestId)?.status).toBe('waiting');
  });
});

describe('OutboundCalls: statuses', () => {
  it('sends each new status to observers in order, ignores a wrong callSid, a wrong request and a repeat, and ends unconnected', async () => {
    const { outbound, clock, seen } = setup();
    const call = accepted(await outbound.request({ to: '+15551234567', agent: 'reminders' }));
    const info = infoFor(sid(1), '+15551234567', 'reminders', 10_000);
    clock.advance(100);
    vi.setSystemTime(T0 + 100);
    outbound.statusChanged(call.requestId, sid(1), 'initiated', null);
    outbound.statusChanged(call.requestId, sid(2), 'ringing', null);
    outbound.statusChanged('ORother', sid(1), 'ringing', null);
    clock.advance(900);
    vi.setSystemTime(T0 + 1_000);
    outbound.statusChanged(call.requestId, sid(1), 'ringing', null);
    outbound.statusChanged(call.requestId, sid(1), 'ringing', null);
    clock.advance(25_000);
    vi.setSystemTime(T0 + 26_000);
    outbound.statusChanged(call.requestId, sid(1), 'no-answer', 0);
    // After the end nothing more is told.
    outbound.statusChanged(call.requestId, sid(1), 'completed', 0);
    expect(seen).toEqual([
      ['started', info],
      ['event', sid(1), statusEvent(10_000, 'queued')],
      ['event', sid(1), statusEvent(10_100, 'initiated')],
      ['event', sid(1), statusEvent(11_000, 'ringing')],
      ['event', sid(1), statusEvent(36_000, 'no-answer', 0)],
      ['notConnected', info],
    ]);
    expect(outbound.progress(call.requestId)).toEqual({
      requestId: call.requestId,
      callSid: sid(1),
      to: '+15551234567',
      agent: 'reminders',
      status: 'no-answer',
      answeredBy: null,
      durationS: 0,
      history: [
        { atEpochMs: T0, status: 'waiting' },
        { atEpochMs: T0, status: 'queued' },
        { atEpochMs: T0 + 100, status: 'initiated' },
        { atEpochMs: T0 + 1_000, status: 'ringing' },
        { atEpochMs: T0 + 26_000, status: 'no-answer' },
      ],
    });
  });

  it('ends unconnected on every final status without a stream', async () => {
    for (const final of ['completed', 'busy', 'no-answer', 'failed', 'canceled']) {
      const { outbound, seen } = setup();
      const call = accepted(await outbound.request({ to: '+15551234567', agent: 'reminders' }));
      outbound.statusChanged(call.requestId, sid(1), final, null);
      expect(seen.slice(2)).toEqual([
        ['event', sid(1), statusEvent(10_000, final)],
        ['notConnected', infoFor(sid(1), '+15551234567', 'reminders', 10_000)],
      ]);
    }
  });

  it('keeps the progress 10 minutes after the end, then forgets the request', async () => {
    const { outbound, clock } = setup();
    const call = accepted(await outbound.request({ to: '+15551234567', agent: 'reminders' }));
    outbound.statusChanged(call.requestId, sid(1), 'busy', null);
    clock.advance(599_999);
    expect(outbound.progress(call.requestId)?.status).toBe('busy');
    expect(outbound.progress(sid(1))?.status).toBe('busy');
    clock.advance(1);
    expect(outbound.progress(call.requestId)).toBeNull();
    expect(outbound.progress(sid(1))).toBeNull();
  });
});

describe('OutboundCalls: the stream of a call', () => {
  async function answered(env: Record<string, string> = {}, agent = 'reminders', to = '+15551234567') {
    const context = setup(env);
    const call = accepted(await context.outbound.request({ to, agent, variables: { name: 'Ada', topic: 'Tuesday' } }));
    context.outbound.statusChanged(call.requestId, call.callSid!, 'in-progress', null);
    return { ...context, call };
  }

  it('attaches once: the call info with its streamSid, and the voicemail message filled in', async () => {
    const { outbound, call } = await answered();
    const attachment = outbound.attach(sid(1), 'MZ0001');
    expect(attachment === null ? null : { info: attachment.info, answeringMachine: attachment.answeringMachine }).toEqual({
      info: { ...infoFor(sid(1), '+15551234567', 'reminders', 10_000), streamSid: 'MZ0001' },
      answeringMachine: { mode: 'voicemail', voicemailMessage: `Hello Ada, ${FROM} calling +15551234567 about Tuesday (call ${sid(1)}).` },
    });
    expect(outbound.attach(sid(1), 'MZ0002')).toBeNull();
    expect(outbound.attach(sid(9), 'MZ0003')).toBeNull();
    expect(call.callSid).toBe(sid(1));
  });

  it('gives hang_up settings for a hang_up agent and none for an agent without detection', async () => {
    const collector = await answered({}, 'collector');
    expect(collector.outbound.attach(sid(1), 'MZ1')?.answeringMachine).toEqual({ mode: 'hang_up', voicemailMessage: null });
    const survey = await answered({}, 'survey', '+442071838750');
    const attachment = survey.outbound.attach(sid(1), 'MZ1');
    expect(attachment?.info).toEqual({ ...infoFor(sid(1), '+442071838750', 'survey', 10_000), streamSid: 'MZ1' });
    expect(attachment?.answeringMachine).toBeUndefined();
  });

  it('does not attach a call that was never placed', async () => {
    const { outbound } = setup();
    expect(outbound.attach(sid(1), 'MZ1')).toBeNull();
  });

  it('delivers a verdict that came before the call bound at bind, and later ones directly', async () => {
    const { outbound, call } = await answered();
    outbound.machineVerdict(call.requestId, sid(2), 'human');
    outbound.machineVerdict('ORother', sid(1), 'human');
    outbound.machineVerdict(call.requestId, sid(1), '');
    expect(outbound.progress(call.requestId)?.answeredBy).toBeNull();
    outbound.machineVerdict(call.requestId, sid(1), 'machine_end_beep');
    expect(outbound.progress(call.requestId)?.answeredBy).toBe('machine_end_beep');
    const attachment = outbound.attach(sid(1), 'MZ1')!;
    const verdicts: string[] = [];
    attachment.bindVerdict((answeredBy) => verdicts.push(answeredBy));
    expect(verdicts).toEqual(['machine_end_beep']);
    outbound.machineVerdict(call.requestId, sid(1), 'machine_end_other');
    expect(verdicts).toEqual(['machine_end_beep', 'machine_end_other']);
    expect(outbound.progress(call.requestId)?.answeredBy).toBe('machine_end_other');
  });

  it('delivers a verdict after bind directly, and nothing at bind when there is none yet', async () => {
    const { outbound, call } = await answered();
    const attachment = outbound.attach(sid(1), 'MZ1')!;
    const verdicts: string[] = [];
    attachment.bindVerdict((answeredBy) => verdicts.push(answeredBy));
    expect(verdicts).toEqual([]);
    outbound.machineVerdict(call.requestId, sid(1), 'human');
    expect(verdicts).toEqual(['human']);
    // Once the stream ended, nothing reaches the ended call.
    attachment.streamEnded(summaryFor(sid(1), 'MZ1'));
    outbound.machineVerdict(call.requestId, sid(1), 'fax');
    expect(verdicts).toEqual(['human']);
  });

  it('ends with the summary once: the final status first, then the stream', async () => {
    const { outbound, call, seen, clock, twilio } = await answered({ OUTBOUND_MAX_CONCURRENT: '1' });
    const attachment = outbound.attach(sid(1), 'MZ1')!;
    const info = { ...infoFor(sid(1), '+15551234567', 'reminders', 10_000), streamSid: 'MZ1' };
    clock.advance(40_000);
    outbound.statusChanged(call.requestId, sid(1), 'completed', 41);
    const waiting = accepted(await outbound.request({ to: '+15551234568', agent: 'reminders' }));
    expect(waiting.status).toBe('waiting');
    attachment.streamEnded(summaryFor(sid(1), 'MZ1'));
    attachment.streamEnded(summaryFor(sid(1), 'MZ1'));
    await settle();
    outbound.statusChanged(call.requestId, sid(1), 'completed', 41);
    clock.advance(120_000);
    expect(seen.slice(0, 6)).toEqual([
      ['started', infoFor(sid(1), '+15551234567', 'reminders', 10_000)],
      ['event', sid(1), statusEvent(10_000, 'queued')],
      ['event', sid(1), statusEvent(10_000, 'in-progress')],
      ['event', sid(1), statusEvent(50_000, 'completed', 41)],
      ['ended', info, summaryFor(sid(1), 'MZ1')],
      ['started', infoFor(sid(2), '+15551234568', 'reminders', 50_000)],
    ]);
    expect(seen.filter((entry) => entry[0] === 'ended' || entry[0] === 'notConnected')).toHaveLength(1);
    // The slot came free when the call ended (not at the final status alone).
    expect(twilio.createdAtMs).toEqual([10_000, 50_000]);
    expect(outbound.progress(call.requestId)).toEqual({
      requestId: call.requestId,
      callSid: sid(1),
      to: '+15551234567',
      agent: 'reminders',
      status: 'completed',
      answeredBy: null,
      durationS: 41,
      history: [
        { atEpochMs: T0, status: 'waiting' },
        { atEpochMs: T0, status: 'queued' },
        { atEpochMs: T0, status: 'in-progress' },
        { atEpochMs: T0, status: 'completed' },
      ],
    });
  });

  it('ends with the summary once: the stream first, then the final status', async () => {
    const { outbound, call, seen, clock } = await answered();
    const attachment = outbound.attach(sid(1), 'MZ1')!;
    const info = { ...infoFor(sid(1), '+15551234567', 'reminders', 10_000), streamSid: 'MZ1' };
    clock.advance(30_000);
    attachment.streamEnded(summaryFor(sid(1), 'MZ1'));
    expect(seen).toHaveLength(3);
    clock.advance(2_000);
    outbound.statusChanged(call.requestId, sid(1), 'completed', 32);
    // The grace timer is cancelled: nothing more, however long we wait.
    clock.advance(120_000);
    expect(seen).toEqual([
      ['started', infoFor(sid(1), '+15551234567', 'reminders', 10_000)],
      ['event', sid(1), statusEvent(10_000, 'queued')],
      ['event', sid(1), statusEvent(10_000, 'in-progress')],
      ['event', sid(1), statusEvent(42_000, 'completed', 32)],
      ['ended', info, summaryFor(sid(1), 'MZ1')],
    ]);
  });

  it('ends with the summary 60 s after the stream when the final status never comes', async () => {
    const { outbound, call, seen, clock } = await answered({ OUTBOUND_MAX_CONCURRENT: '1' });
    const attachment = outbound.attach(sid(1), 'MZ1')!;
    const info = { ...infoFor(sid(1), '+15551234567', 'reminders', 10_000), streamSid: 'MZ1' };
    attachment.streamEnded(summaryFor(sid(1), 'MZ1'));
    clock.advance(59_999);
    expect(seen).toHaveLength(3);
    clock.advance(1);
    expect(seen.slice(3)).toEqual([['ended', info, summaryFor(sid(1), 'MZ1')]]);
    // A late final status changes nothing.
    outbound.statusChanged(call.requestId, sid(1), 'completed', 61);
    expect(seen).toHaveLength(4);
    expect(outbound.progress(call.requestId)?.status).toBe('in-progress');
    // The slot is free.
    expect(accepted(await outbound.request({ to: '+15551234568', agent: 'reminders' })).callSid).toBe(sid(2));
  });

  it('does not end while the stream is live, whatever the final status says', async () => {
    const { outbound, call, seen, clock } = await answered();
    outbound.attach(sid(1), 'MZ1');
    outbound.statusChanged(call.requestId, sid(1), 'completed', 12);
    clock.advance(600_000);
    expect(seen.map((entry) => entry[0])).toEqual(['started', 'event', 'event', 'event']);
    expect(outbound.progress(call.requestId)?.status).toBe('completed');
  });
});
