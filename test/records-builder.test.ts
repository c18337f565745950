/**
 * buildCallRecord, pure and exact: hand-made event lists (as a call publishes them, on a call clock that does not
 * start at 0) in, the whole CallRecord out. The transcript is the one the caller heard (an OpenAI answer they talked
 * over cut at a word boundary to the share they heard, an ElevenLabs correction kept as given, an answer never played
 * left out), turns and responses with their latencies, every other event in order with secrets redacted, usage and
 * cost from the price table, and outbound calls' Twilio statuses.
 */
import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../src/call/call-events.js';
import type { CallSummary } from '../src/call/call-summary.js';
import type { CallInfo } from '../src/observers/hub.js';
import { DEFAULT_PRICES } from '../src/records/pricing.js';
import { buildCallRecord, type RecordContext } from '../src/records/record-builder.js';
import { REDACTED, Redactor } from '../src/records/redact.js';
import type { CallRecord } from '../src/records/types.js';
import type { TokenUsage } from '../src/voice/port.js';

/** The call clock's reading at the stream's start: every event time below is CLOCK_START + ms into the call. */
const CLOCK_START = 50_000;
const T0 = Date.UTC(2025, 5, 2, 14, 0, 0, 0);
const at = (ms: number): number => CLOCK_START + ms;
const TOOL_SECRET = 'sk-tool-secret-0042';

const INFO: CallInfo = {
  callSid: 'CA0000000000000000000000000000b001',
  streamSid: 'MZ0000000000000000000000000000b001',
  from: '+14155550100',
  to: '+14155550199',
  direction: 'inbound',
  agent: 'front-desk',
  provider: 'openai',
  model: 'gpt-realtime',
  startedAtEpochMs: T0,
  clockStartMs: CLOCK_START,
};

/** 40 words; the caller heard 1 000 of its 4 000 ms. */
const LONG_ANSWER =
  'Our return policy for shoes is simple: you can bring back any unworn pair within thirty days with the receipt, and we will ' +
  'refund the full price to your card or give you store credit, whichever you prefer today. Thanks.';
/** cutAtWord(LONG_ANSWER, 0.25): the first 54 of 219 characters, back to the last whole word. */
const LONG_ANSWER_HEARD = 'Our return policy for shoes is simple: you can bring';
const CORRECTED_FULL = 'Sure, your booking is moved to Monday at ten.';
const CORRECTED_HEARD = 'Sure, your booking is';

const USAGE: TokenUsage = { inputTokens: 3_000, outputTokens: 1_500, inputAudioTokens: 2_000, outputAudioTokens: 1_200, cachedTokens: 500 };
const ZERO_USAGE: TokenUsage = { inputTokens: 0, outputTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 };

function summary(overrides: Partial<CallSummary> = {}): CallSummary {
  return {
    callSid: INFO.callSid,
    streamSid: INFO.streamSid,
    durationMs: 8_040,
    endReason: 'transfer to billing',
    turns: 3,
    responses: 4,
    bargeIns: 2,
    truncates: 1,
    framesIn: 402,
    framesOut: 151,
    gaps: 0,
    gapMs: 0,
    underruns: 1,
    underrunMs: 20,
    sequenceErrors: 0,
    lateDeltasDropped: 3,
    upstreamFaults: 1,
    usage: { ...USAGE },
    ...overrides,
  };
}

/** The counters the record keeps: the summary without its ids, end reason, duration and usage. */
const COUNTERS = {
  turns: 3,
  responses: 4,
  bargeIns: 2,
  truncates: 1,
  framesIn: 402,
  framesOut: 151,
  gaps: 0,
  gapMs: 0,
  underruns: 1,
  underrunMs: 20,
  sequenceErrors: 0,
  lateDeltasDropped: 3,
  upstreamFaults: 1,
};

function context(overrides: Partial<RecordContext> = {}): RecordContext {
  return {
    info: INFO,
    clockStartMs: CLOCK_START,
    model: 'gpt-realtime',
    prices: DEFAULT_PRICES,
    redactor: new Redactor([TOOL_SECRET, null, 'abc']),
    recording: { file: `${INFO.callSid}.wav`, durationMs: 8_040, bytes: 44 + 8_040 * 32 },
    endedAtEpochMs: T0 + 8_100,
    ...overrides,
  };
}

/** A whole inbound call, in the order the call publishes (ids session-tagged `0/…`). */
const EVENTS: CallEvent[] = [
  // The greeting: deltas, then the final line; its first frame went out at 350.
  { type: 'response_started', atMs: at(100), responseId: '0/resp_0' },
  { type: 'transcript', atMs: at(120), speaker: 'agent', itemId: '0/item_0', text: 'Hello, ', final: false },
  { type: 'agent_audio_started', atMs: at(350), responseId: '0/resp_0', itemId: '0/item_0' },
  { type: 'transcript', atMs: at(400), speaker: 'agent', itemId: '0/item_0', text: 'how can I help?', final: false },
  { type: 'transcript', atMs: at(900), speaker: 'agent', itemId: '0/item_0', text: 'Hello, how can I help?', final: true },
  { type: 'response_done', atMs: at(950), responseId: '0/resp_0', status: 'completed', usage: { ...USAGE } },
  // Turn 1, answered (OpenAI): the caller talks over the 4 s answer after 1 s.
  { type: 'turn_ended', atMs: at(3_000), turn: 1 },
  { type: 'response_started', atMs: at(3_100), responseId: '0/resp_1' },
  { type: 'transcript', atMs: at(3_200), speaker: 'caller', itemId: '0/item_c1', text: 'I need to move ', final: false },
  { type: 'transcript', atMs: at(3_300), speaker: 'caller', itemId: '0/item_c1', text: ' I need to move my booking. ', final: true },
  { type: 'agent_audio_started', atMs: at(3_420), responseId: '0/resp_1', itemId: '0/item_1' },
  { type: 'turn_latency', atMs: at(3_420), turn: 1, latencyMs: 420.4 },
  { type: 'transcript', atMs: at(3_500), speaker: 'agent', itemId: '0/item_1', text: LONG_ANSWER, final: true },
  { type: 'barge_in', atMs: at(4_420), heard: [{ responseId: '0/resp_1', itemId: '0/item_1', heardMs: 1_000, audioMs: 4_000 }] },
  { type: 'response_done', atMs: at(4_430), responseId: '0/resp_1', status: 'cancelled', usage: null },
  // Turn 2, answered (ElevenLabs style): a final line, then the provider's own correction to what was heard.
  { type: 'turn_ended', atMs: at(4_900), turn: 2 },
  { type: 'response_started', atMs: at(5_000), responseId: '0/resp_2' },
  { type: 'transcript', atMs: at(5_050), speaker: 'caller', itemId: '0/item_c2', text: 'Actually, a different day.', final: true },
  { type: 'agent_audio_started', atMs: at(5_400), responseId: '0/resp_2', itemId: '0/item_2' },
  { type: 'turn_latency', atMs: at(5_400), turn: 2, latencyMs: 499.6 },
  { type: 'transcript', atMs: at(5_450), speaker: 'agent', itemId: '0/item_2', text: CORRECTED_FULL, final: true },
  { type: 'dtmf', atMs: at(6_000), digit: '5' },
  { type: 'barge_in', atMs: at(6_100), heard: [{ responseId: '0/resp_2', itemId: '0/item_2', heardMs: 700, audioMs: 2_600 }] },
  { type: 'transcript', atMs: at(6_150), speaker: 'agent', itemId: '0/item_2', text: CORRECTED_HEARD, final: true, asHeard: true },
  // A late delta after the final line changes nothing.
  { type: 'transcript', atMs: at(6_160), speaker: 'agent', itemId: '0/item_2', text: ' moved', final: false },
  { type: 'response_done', atMs: at(6_200), responseId: '0/resp_2', status: 'cancelled', usage: null },
  {
    type: 'tool_call',
    atMs: at(6_500),
    name: 'lookup_booking',
    callId: 'call_1',
    ok: true,
    durationMs: 120,
    argumentsJson: JSON.stringify({ booking: 'B-77', apiKey: 'k-1234567', nested: { password: 'hunter22', keep: 'ok' }, note: `use ${TOOL_SECRET} now`, list: [TOOL_SECRET, 3] }),
    output: JSON.stringify({ status: 'moved', accessToken: 'tok-999', day: 'Monday' }),
  },
  { type: 'tool_call', atMs: at(6_600), name: 'notify', callId: 'call_2', ok: false, durationMs: 3_000, output: `upstream refused key ${TOOL_SECRET}` },
  // Turn 3, never answered: the answer was generated but none of its audio reached the caller.
  { type: 'turn_ended', atMs: at(6_900), turn: 3 },
  { type: 'response_started', atMs: at(7_000), responseId: '0/resp_3' },
  { type: 'transcript', atMs: at(7_050), speaker: 'agent', itemId: '0/item_3', text: 'Let me look that up for you.', final: true },
  { type: 'response_done', atMs: at(7_060), responseId: '0/resp_3', status: 'cancelled', usage: null },
  { type: 'fault', atMs: at(7_100), kind: 'server_error', recovery: 'redial', message: `the server said ${TOOL_SECRET} is wrong` },
  { type: 'stream_outcome', atMs: at(8_000), outcome: 'transfer', reason: 'transfer to billing', destination: 'billing' },
];

describe('buildCallRecord: an inbound call', () => {
  it('builds the exact record: transcript as heard, turns, responses, redacted events, usage, cost, counters', () => {
    const record = buildCallRecord(context(), EVENTS, summary());
    const expected: CallRecord = {
      callSid: INFO.callSid,
      streamSid: INFO.streamSid,
      direction: 'inbound',
      from: '+14155550100',
      to: '+14155550199',
      agent: 'front-desk',
      provider: 'openai',
      model: 'gpt-realtime',
      startedAtEpochMs: T0,
      answeredAtEpochMs: T0,
      endedAtEpochMs: T0 + 8_100,
      durationMs: 8_040,
      endReason: 'transfer to billing',
      finalStatus: null,
      answeredBy: null,
      transcript: [
        { seq: 0, atMs: 350, speaker: 'agent', itemId: '0/item_0', text: 'Hello, how can I help?', interrupted: false, heardMs: null, fullText: null },
        // A caller's line sits where their turn ended (3 000), not where the transcript arrived (3 300).
        { seq: 1, atMs: 3_000, speaker: 'caller', itemId: '0/item_c1', text: 'I need to move my booking.', interrupted: false, heardMs: null, fullText: null },
        { seq: 2, atMs: 3_420, speaker: 'agent', itemId: '0/item_1', text: LONG_ANSWER_HEARD, interrupted: true, heardMs: 1_000, fullText: LONG_ANSWER },
        { seq: 3, atMs: 4_900, speaker: 'caller', itemId: '0/item_c2', text: 'Actually, a different day.', interrupted: false, heardMs: null, fullText: null },
        { seq: 4, atMs: 5_400, speaker: 'agent', itemId: '0/item_2', text: CORRECTED_HEARD, interrupted: true, heardMs: 700, fullText: CORRECTED_FULL },
        // 0/item_3 was never played: not in the transcript.
      ],
      turns: [
        { turn: 1, callerStoppedAtMs: 3_000, firstAudioAtMs: 3_420, latencyMs: 420 },
        { turn: 2, callerStoppedAtMs: 4_900, firstAudioAtMs: 5_400, latencyMs: 500 },
        { turn: 3, callerStoppedAtMs: 6_900, firstAudioAtMs: null, latencyMs: null },
      ],
      responses: [
        { responseId: '0/resp_0', startedAtMs: 100, firstAudioAtMs: 350, firstAudioLatencyMs: 250, status: 'completed' },
        { responseId: '0/resp_1', startedAtMs: 3_100, firstAudioAtMs: 3_420, firstAudioLatencyMs: 320, status: 'cancelled' },
        { responseId: '0/resp_2', startedAtMs: 5_000, firstAudioAtMs: 5_400, firstAudioLatencyMs: 400, status: 'cancelled' },
        { responseId: '0/resp_3', startedAtMs: 7_000, firstAudioAtMs: null, firstAudioLatencyMs: null, status: 'cancelled' },
      ],
      events: [
        { seq: 0, atMs: 4_420, type: 'barge_in', data: { heard: [{ responseId: '0/resp_1', itemId: '0/item_1', heardMs: 1_000, audioMs: 4_000 }] } },
        { seq: 1, atMs: 6_000, type: 'dtmf', data: { digit: '5' } },
        { seq: 2, atMs: 6_100, type: 'barge_in', data: { heard: [{ responseId: '0/resp_2', itemId: '0/item_2', heardMs: 700, audioMs: 2_600 }] } },
        {
          seq: 3,
          atMs: 6_500,
          type: 'tool_call',
          data: {
            name: 'lookup_booking',
            callId: 'call_1',
            ok: true,
            durationMs: 120,
            arguments: { booking: 'B-77', apiKey: REDACTED, nested: { password: REDACTED, keep: 'ok' }, note: `use ${REDACTED} now`, list: [REDACTED, 3] },
            result: { status: 'moved', accessToken: REDACTED, day: 'Monday' },
          },
        },
        // Output that is not JSON stays text, the secret replaced; no arguments = null.
        { seq: 4, atMs: 6_600, type: 'tool_call', data: { name: 'notify', callId: 'call_2', ok: false, durationMs: 3_000, arguments: null, result: `upstream refused key ${REDACTED}` } },
        { seq: 5, atMs: 7_100, type: 'fault', data: { kind: 'server_error', recovery: 'redial', message: `the server said ${REDACTED} is wrong` } },
        { seq: 6, atMs: 8_000, type: 'transfer', data: { outcome: 'transfer', reason: 'transfer to billing', destination: 'billing' } },
      ],
      usage: USAGE,
      // gpt-realtime per 1M: audio in 1 500 × 32 + text in 1 000 × 4 + cached 500 × 0.4 + audio out 1 200 × 64 + text out 300 × 16.
      cost: { totalUsd: 0.1338, priceModel: 'gpt-realtime' },
      recording: { file: `${INFO.callSid}.wav`, durationMs: 8_040, bytes: 44 + 8_040 * 32 },
      counters: COUNTERS,
    };
    expect(record).toStrictEqual(expected);
    expect(JSON.stringify(record)).not.toContain(TOOL_SECRET);
    expect(JSON.stringify(record)).not.toContain('hunter22');
  });

  it('cuts an interrupted answer at a word boundary to about the share heard, never mid-word', () => {
    const [, , cut] = buildCallRecord(context(), EVENTS, summary()).transcript;
    expect(cut!.text.split(' ')).toHaveLength(10); // a quarter of the 40 words (the cut fell inside "back": back to the space)
    expect(LONG_ANSWER.startsWith(`${cut!.text} `)).toBe(true);
    expect(cut!.text.length).toBeLessThanOrEqual(LONG_ANSWER.length / 4);
  });

  it('an answer heard to its end (heardMs = audioMs) is whole and not marked interrupted', () => {
    const events: CallEvent[] = [
      { type: 'response_started', atMs: at(10), responseId: '0/r' },
      { type: 'agent_audio_started', atMs: at(200), responseId: '0/r', itemId: '0/i' },
      { type: 'transcript', atMs: at(300), speaker: 'agent', itemId: '0/i', text: 'All done.', final: true },
      { type: 'barge_in', atMs: at(900), heard: [{ responseId: '0/r', itemId: '0/i', heardMs: 600, audioMs: 600 }] },
    ];
    expect(buildCallRecord(context(), events, summary()).transcript).toStrictEqual([
      { seq: 0, atMs: 200, speaker: 'agent', itemId: '0/i', text: 'All done.', interrupted: false, heardMs: null, fullText: null },
    ]);
  });

  it('an empty stream id is null; no summary on an inbound call: not answered, counters zero', () => {
    const record = buildCallRecord(context({ info: { ...INFO, streamSid: '' }, recording: null, endedAtEpochMs: T0 + 1_234 }), [], null);
    expect(record).toMatchObject({
      streamSid: null,
      answeredAtEpochMs: null,
      durationMs: 1_234,
      endReason: 'not answered',
      transcript: [],
      turns: [],
      responses: [],
      events: [],
      usage: ZERO_USAGE,
      cost: { totalUsd: 0, priceModel: 'gpt-realtime' },
      recording: null,
    });
    expect(Object.values(record.counters).every((value) => value === 0)).toBe(true);
  });
});

describe('buildCallRecord: cost', () => {
  it('prices a dated model by its family (longest prefix)', () => {
    const record = buildCallRecord(context({ model: 'gpt-realtime-2025-08-28' }), [], summary());
    expect(record.cost).toStrictEqual({ totalUsd: 0.1338, priceModel: 'gpt-realtime' });
    expect(record.model).toBe('gpt-realtime-2025-08-28');
  });

  it('an unknown model costs 0 with priceModel null, and so does no model at all', () => {
    expect(buildCallRecord(context({ model: 'acme-voice-1' }), [], summary()).cost).toStrictEqual({ totalUsd: 0, priceModel: null });
    const unnamed = buildCallRecord(context({ model: null }), [], summary());
    expect(unnamed.cost).toStrictEqual({ totalUsd: 0, priceModel: null });
    expect(unnamed.model).toBeNull();
    expect(unnamed.usage).toStrictEqual(USAGE);
  });

  it('ElevenLabs is billed per minute of the call (0.10 USD/min), whatever the tokens', () => {
    const info: CallInfo = { ...INFO, provider: 'elevenlabs', model: 'elevenlabs' };
    const record = buildCallRecord(context({ info, model: 'elevenlabs' }), [], summary({ durationMs: 90_000, usage: { ...ZERO_USAGE } }));
    expect(record).toMatchObject({ provider: 'elevenlabs', model: 'elevenlabs', durationMs: 90_000, usage: ZERO_USAGE, cost: { totalUsd: 0.15, priceModel: 'elevenlabs' } });
  });
});

describe('buildCallRecord: outbound calls', () => {
  const OUTBOUND: CallInfo = { ...INFO, direction: 'outbound', from: '+14155550199', to: '+14155550123' };

  it('answered: Twilio statuses and the AMD verdict in the events, the final status, answeredAt from in-progress', () => {
    const events: CallEvent[] = [
      { type: 'call_status', atMs: at(0), status: 'queued' },
      { type: 'call_status', atMs: at(250), status: 'ringing' },
      { type: 'call_status', atMs: at(6_000), status: 'in-progress' },
      { type: 'answered_by', atMs: at(6_800), answeredBy: 'human', action: 'greet' },
      { type: 'response_started', atMs: at(6_900), responseId: '0/resp_0' },
      { type: 'agent_audio_started', atMs: at(7_300), responseId: '0/resp_0', itemId: '0/item_0' },
      { type: 'transcript', atMs: at(7_400), speaker: 'agent', itemId: '0/item_0', text: 'Hi, this is the clinic calling.', final: true },
      { type: 'response_done', atMs: at(8_000), responseId: '0/resp_0', status: 'completed', usage: null },
      { type: 'stream_outcome', atMs: at(20_000), outcome: 'hang_up', reason: 'agent ended the call' },
      { type: 'call_status', atMs: at(20_400), status: 'completed', durationS: 14 },
    ];
    const record = buildCallRecord(context({ info: OUTBOUND, endedAtEpochMs: T0 + 20_500 }), events, summary({ endReason: 'agent ended the call', durationMs: 14_200 }));
    expect(record).toMatchObject({
      direction: 'outbound',
      from: '+14155550199',
      to: '+14155550123',
      answeredAtEpochMs: T0 + 6_000,
      endReason: 'agent ended the call',
      finalStatus: 'completed',
      answeredBy: 'human',
      transcript: [{ seq: 0, atMs: 7_300, speaker: 'agent', itemId: '0/item_0', text: 'Hi, this is the clinic calling.', interrupted: false, heardMs: null, fullText: null }],
      responses: [{ responseId: '0/resp_0', startedAtMs: 6_900, firstAudioAtMs: 7_300, firstAudioLatencyMs: 400, status: 'completed' }],
    });
    expect(record.events).toStrictEqual([
      { seq: 0, atMs: 0, type: 'call_status', data: { status: 'queued' } },
      { seq: 1, atMs: 250, type: 'call_status', data: { status: 'ringing' } },
      { seq: 2, atMs: 6_000, type: 'call_status', data: { status: 'in-progress' } },
      { seq: 3, atMs: 6_800, type: 'answered_by', data: { answeredBy: 'human', action: 'greet' } },
      { seq: 4, atMs: 20_000, type: 'hang_up', data: { outcome: 'hang_up', reason: 'agent ended the call' } },
      { seq: 5, atMs: 20_400, type: 'call_status', data: { status: 'completed', durationS: 14 } },
    ]);
  });

  it('no in-progress status: answered at the first agent audio', () => {
    const events: CallEvent[] = [
      { type: 'call_status', atMs: at(0), status: 'ringing' },
      { type: 'agent_audio_started', atMs: at(4_321), responseId: '0/r', itemId: '0/i' },
    ];
    expect(buildCallRecord(context({ info: OUTBOUND }), events, summary()).answeredAtEpochMs).toBe(T0 + 4_321);
  });

  it('never answered (no stream, no summary): the end reason is the final status, answeredAt null, nothing else', () => {
    const events: CallEvent[] = [
      { type: 'call_status', atMs: at(0), status: 'queued' },
      { type: 'call_status', atMs: at(300), status: 'ringing' },
      { type: 'call_status', atMs: at(30_300), status: 'no-answer', durationS: 0 },
    ];
    const info: CallInfo = { ...OUTBOUND, streamSid: '' };
    const record = buildCallRecord(context({ info, recording: null, endedAtEpochMs: T0 + 30_400 }), events, null);
    expect(record).toStrictEqual({
      callSid: INFO.callSid,
      streamSid: null,
      direction: 'outbound',
      from: '+14155550199',
      to: '+14155550123',
      agent: 'front-desk',
      provider: 'openai',
      model: 'gpt-realtime',
      startedAtEpochMs: T0,
      answeredAtEpochMs: null,
      endedAtEpochMs: T0 + 30_400,
      durationMs: 30_400,
      endReason: 'no-answer',
      finalStatus: 'no-answer',
      answeredBy: null,
      transcript: [],
      turns: [],
      responses: [],
      events: [
        { seq: 0, atMs: 0, type: 'call_status', data: { status: 'queued' } },
        { seq: 1, atMs: 300, type: 'call_status', data: { status: 'ringing' } },
        { seq: 2, atMs: 30_300, type: 'call_status', data: { status: 'no-answer', durationS: 0 } },
      ],
      usage: ZERO_USAGE,
      cost: { totalUsd: 0, priceModel: 'gpt-realtime' },
      recording: null,
      counters: Object.fromEntries(Object.keys(COUNTERS).map((key) => [key, 0])),
    } satisfies CallRecord);
  });

  it('never answered and no status at all: "not answered"', () => {
    const record = buildCallRecord(context({ info: { ...OUTBOUND, streamSid: '' }, recording: null }), [], null);
    expect(record).toMatchObject({ endReason: 'not answered', finalStatus: null, answeredAtEpochMs: null, answeredBy: null });
  });
});
