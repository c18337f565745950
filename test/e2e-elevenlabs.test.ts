/**
 * ElevenLabs Agents, end to end over real sockets: simulated Twilio caller → callbridge → simulated ElevenLabs server
 * (VOICE_PROVIDER=elevenlabs, a private agent reached through a signed URL). Judged by what the caller heard
 * (tone-coded answers) and by what the simulated server recorded.
 *
 * The bugs this guards against: caller mu-law "transcoded" when it should pass through untouched; PCM16 16 kHz agent
 * audio played at the wrong rate or cut at item boundaries; the interrupted answer's late chunks (ElevenLabs keeps
 * sending a few with the old event_id) played after the `clear`; pings left unanswered so the platform hangs up a
 * healthy call; a client tool call never answered; the API key in a log line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { agentFromConfig } from '../src/agents/from-config.js';
import type { AgentDefinition, AgentRoster } from '../src/agents/types.js';
import type { ToolContext, ToolDefinition } from '../src/call/tools.js';
import { loadConfig } from '../src/config.js';
import type { SimulatedAgentConfig } from '../src/simulator/elevenlabs/server.js';
import type { CallResult } from '../src/simulator/twilio-caller.js';
import { AUTH_TOKEN, ELEVENLABS_KEY, OPENAI_KEY, PUBLIC_BASE_URL, startBridge, waitUntil, type Bridge } from './helpers/e2e.js';
import { callerSpeech, heardToneSegments, wholeResponse } from './helpers/e2e-call-flow.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

const CALLER = '+15005550006';
const NUMBER = '+15005550001';
const AGENT_ID = 'agent_e2e_desk';
const FIRST_MESSAGE_MS = 600;
const ANSWER_MS = 1_000;
/** The caller asks one question at 1500–1900 ms (the first message has played by then); the turn ends at 2400 ms. */
const ONE_QUESTION = callerSpeech([{ atMs: 1_500, durationMs: 400 }], 5_000);

function tone(durationMs: number) {
  return { kind: 'tone-coded', durationMs } as const;
}

function agentConfig(overrides: Partial<SimulatedAgentConfig> = {}): SimulatedAgentConfig {
  return {
    agentId: AGENT_ID,
    inputFormat: 'ulaw_8000',
    outputFormat: 'ulaw_8000',
    firstMessage: 'Hello {{caller_number}}, how can I help?',
    firstMessageReply: tone(FIRST_MESSAGE_MS),
    reply: tone(ANSWER_MS),
    ...overrides,
  };
}

async function startElevenLabsBridge(
  agent: SimulatedAgentConfig,
  options: { env?: Record<string, string>; tools?: ToolDefinition[]; filterSecrets?: boolean; agents?: AgentRoster } = {},
) {
  bridge = await startBridge({
    env: { VOICE_PROVIDER: 'elevenlabs', ...options.env },
    elevenlabs: { agents: [agent] },
    ...(options.agents === undefined ? {} : { agents: options.agents }),
    ...(options.tools === undefined ? {} : { tools: options.tools }),
    ...(options.filterSecrets === undefined ? {} : { filterSecrets: options.filterSecrets }),
  });
  return bridge;
}

/** Places the call, waits for it to end, for its summary and for the ElevenLabs conversation to close. */
async function runCall(audio = ONE_QUESTION) {
  const call = await bridge!.call({ from: CALLER, to: NUMBER, audio });
  const result = await call.closed;
  const [summary] = await bridge!.waitForSummaries(1);
  const conversation = bridge!.elevenlabs!.conversations[0]!;
  await conversation.closed;
  return { call, result, summary: summary!, conversation };
}

/** The caller's media payloads, decoded and concatenated, in the order sent. */
function sentCallerAudio(result: CallResult): Buffer {
  const payloads = result.sent
    .map((sent) => sent.message as { event?: string; media?: { payload?: string } })
    .filter((message) => message.event === 'media')
    .map((message) => Buffer.from(message.media?.payload ?? '', 'base64'));
  return Buffer.concat(payloads);
}

describe('a turn through ElevenLabs', () => {
  it('ulaw_8000 both ways: caller audio passes through byte-exact, first message and answer heard whole, in order', async () => {
    await startElevenLabsBridge(agentConfig());
    const { call, result, summary, conversation } = await runCall();

    // Pass-through: every byte the caller sent, in order, and nothing else, reached ElevenLabs.
    const sent = sentCallerAudio(result);
    expect(sent.length).toBe(5_000 * 8);
    const received = Buffer.concat(conversation.eventsIn('user_audio_chunk').map((chunk) => Buffer.from(String(chunk['user_audio_chunk']), 'base64')));
    expect(conversation.audioBytesReceived).toBe(sent.length);
    expect(received.equals(sent)).toBe(true);

    expect(conversation.signed).toBe(true);
    expect(bridge!.elevenlabs!.signedUrlRequests.map(({ agentId, status }) => ({ agentId, status }))).toEqual([{ agentId: AGENT_ID, status: 200 }]);
    expect(conversation.initiation).toMatchObject({ accepted: true, overrides: null });
    expect(conversation.initiation!.dynamicVariables).toEqual({ caller_number: CALLER, called_number: NUMBER, call_sid: call.callSid });
    expect(conversation.settings.firstMessage).toBe(`Hello ${CALLER}, how can I help?`);
    expect(conversation.turns).toHaveLength(1);
    expect(conversation.responses.map(({ kind, status }) => [kind, status])).toEqual([
      ['first_message', 'completed'],
      ['audio', 'completed'],
    ]);
    expect(conversation.violations).toEqual({ invalidMessage: 0, repeatedInitiation: 0, unknownToolResult: 0, unknownPong: 0 });

    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, FIRST_MESSAGE_MS), ...wholeResponse(1, ANSWER_MS)]);
    expect(result.heardMsTotal).toBe(FIRST_MESSAGE_MS + ANSWER_MS);
    expect(result.clears).toEqual([]);
    expect(result.underrunCount).toBe(0);
    expect(result.endedBy).toBe('caller');
    expect(summary).toMatchObject({ endReason: 'caller hung up', turns: 1, responses: 2, bargeIns: 0, underruns: 0, sequenceErrors: 0, lateDeltasDropped: 0, upstreamFaults: 0 });
    expect(summary.framesOut).toBe((FIRST_MESSAGE_MS + ANSWER_MS) / 20);
  });

  it('pcm_16000 both ways (transcoded): first message and answer heard whole, in order; the caller is heard at 16 kHz', async () => {
    await startElevenLabsBridge(agentConfig({ inputFormat: 'pcm_16000', outputFormat: 'pcm_16000' }));
    const { result, summary, conversation } = await runCall();

    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, FIRST_MESSAGE_MS), ...wholeResponse(1, ANSWER_MS)]);
    expect(result.heardMsTotal).toBe(FIRST_MESSAGE_MS + ANSWER_MS);
    expect(result.clears).toEqual([]);
    expect(result.underrunCount).toBe(0);
    // 5 s of caller audio became 5 s of PCM16 at 16 kHz (resampler latency aside); the one question was one turn.
    expect(Math.abs(conversation.receivedAudioMs - 5_000)).toBeLessThanOrEqual(20);
    expect(conversation.audioBytesReceived % 2).toBe(0);
    expect(conversation.turns).toHaveLength(1);
    expect(summary).toMatchObject({ turns: 1, responses: 2, bargeIns: 0, underruns: 0, sequenceErrors: 0, upstreamFaults: 0 });
  });
});

describe('barge-in through ElevenLabs', () => {
  const LONG_MS = 6_000;
  const SHORT_MS = 1_500;

  it('one clear; none of the interrupted answer after it (even its late old-event_id chunks); the next answer whole', async () => {
    await startElevenLabsBridge(
      agentConfig({
        firstMessageReply: tone(400),
        script: [
          { kind: 'audio', reply: tone(LONG_MS) },
          { kind: 'audio', reply: tone(SHORT_MS) },
        ],
        keepSendingAfterInterruption: 5,
      }),
    );
    // A question at 1000 ms (answered from ~1900 ms with 6 s of audio), then the caller talks over it at 4000 ms.
    const { result, summary, conversation } = await runCall(
      callerSpeech(
        [
          { atMs: 1_000, durationMs: 400 },
          { atMs: 4_000, durationMs: 400 },
        ],
        8_000,
      ),
    );

    expect(conversation.interruptions).toHaveLength(1);
    expect(conversation.interruptions[0]).toMatchObject({ responseIndex: 1, staleChunksSent: 5 });
    expect(conversation.responses.map(({ kind, status }) => [kind, status])).toEqual([
      ['first_message', 'completed'],
      ['audio', 'interrupted'],
      ['audio', 'completed'],
    ]);

    expect(result.clears).toHaveLength(1);
    const clearAtMs = result.clears[0]!.atMs;
    const before = result.heardSegments.filter((segment) => segment.startMs < clearAtMs);
    const after = result.heardSegments.filter((segment) => segment.startMs >= clearAtMs);
    const heardBefore = heardToneSegments(new Uint8Array(Buffer.concat(before.map((segment) => segment.bytes))));
    const heardAfter = heardToneSegments(new Uint8Array(Buffer.concat(after.map((segment) => segment.bytes))));
    // Before the clear: the first message whole, then a prefix of the long answer from its start.
    const cut = heardBefore.length - 4;
    expect(heardBefore.slice(0, 4)).toEqual(wholeResponse(0, 400));
    expect(cut).toBeGreaterThan(5);
    expect(cut).toBeLessThan(LONG_MS / 100);
    expect(heardBefore.slice(4)).toEqual(wholeResponse(1, cut * 100));
    // After it: only the next answer, whole.
    expect(heardAfter).toEqual(wholeResponse(2, SHORT_MS));
    expect(result.underrunCount).toBe(0);
    expect(summary).toMatchObject({ bargeIns: 1, turns: 2, sequenceErrors: 0, upstreamFaults: 0 });
    expect(summary.lateDeltasDropped).toBeGreaterThanOrEqual(5);
  });
});

describe('keep-alive', () => {
  it('answers every ping with a pong naming its event_id; closeOnMissedPongs: 2 never closes a healthy call', async () => {
    await startElevenLabsBridge(agentConfig({ pingIntervalMs: 300, closeOnMissedPongs: 2 }));
    const call = await bridge!.call({ from: CALLER, to: NUMBER, audio: { kind: 'silence', durationMs: 10_000 } });
    const conversation = await bridge!.elevenlabs!.waitForConversation(0);
    // Hang up right after the 8th pong: the next ping is ~300 ms away, so every ping sent has had its answer.
    await waitUntil(() => conversation.pongs.length >= 8, 5_000, '8 pongs');
    const result = await call.hangUp();
    const [summary] = await bridge!.waitForSummaries(1);
    await conversation.closed;

    const pingIds = conversation.pings.map((ping) => ping.eventId);
    expect(pingIds.length).toBe(8);
    expect(conversation.pongs.map((pong) => pong.eventId)).toEqual(pingIds);
    expect(conversation.pongs.every((pong) => pong.rttMs !== null)).toBe(true);
    expect(conversation.pings.every((ping) => ping.pongAtMs !== null)).toBe(true);
    expect(conversation.eventsIn('pong')).toEqual(pingIds.map((eventId) => ({ type: 'pong', event_id: eventId })));
    expect(conversation.violations.unknownPong).toBe(0);
    // The server never closed the conversation: the caller hung up, and the bridge closed it normally.
    expect(conversation.serverCloseCode).toBeNull();
    expect(conversation.bodiesOut('error')).toEqual([]);
    expect(result.endedBy).toBe('caller');
    expect(summary).toMatchObject({ endReason: 'caller hung up', upstreamFaults: 0 });
  });
});

describe('client tools', () => {
  it('a client_tool_call runs the code tool; the server gets its exact output, and the follow-up answer is heard whole', async () => {
    const calls: Array<{ args: unknown; context: ToolContext }> = [];
    const lookupOrder: ToolDefinition = {
      name: 'lookup_order',
      description: 'Looks up an order.',
      parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
      handler: (args, context) => {
        calls.push({ args, context });
        return { order: (args as { order_id: string }).order_id, status: 'shipped', eta_days: 2 };
      },
    };
    await startElevenLabsBridge(
      agentConfig({
        script: [
          { kind: 'client_tool_call', toolName: 'lookup_order', parameters: { order_id: 'A-17' }, toolCallId: 'toolu_e2e_1' },
          { kind: 'audio', reply: tone(800) },
        ],
      }),
      { tools: [lookupOrder] },
    );
    const { call, result, summary, conversation } = await runCall();

    expect(calls).toHaveLength(1);
    expect(calls[0]!.args).toEqual({ order_id: 'A-17' });
    expect(calls[0]!.context.callSid).toBe(call.callSid);
    expect(conversation.toolResults.map(({ toolCallId, result: output, isError, knownCall }) => ({ toolCallId, output, isError, knownCall }))).toEqual([
      { toolCallId: 'toolu_e2e_1', output: '{"order":"A-17","status":"shipped","eta_days":2}', isError: false, knownCall: true },
    ]);
    expect(conversation.eventsIn('client_tool_result')).toHaveLength(1);
    expect(conversation.responses.map(({ kind, status }) => [kind, status])).toEqual([
      ['first_message', 'completed'],
      ['client_tool_call', 'completed'],
      ['audio', 'completed'],
    ]);
    expect(conversation.responses[2]!.transcript.startsWith('Tool lookup_order returned: {"order":"A-17","status":"shipped","eta_days":2}.')).toBe(true);
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, FIRST_MESSAGE_MS), ...wholeResponse(2, 800)]);
    expect(result.underrunCount).toBe(0);
    expect(summary).toMatchObject({ turns: 1, upstreamFaults: 0 });
  });
});

describe('secrets', () => {
  it('the ElevenLabs API key is in no log line at any level (no last-chance filter, LOG_LEVEL=trace), on success and failure', async () => {
    // Two agents: the desk (a normal call) and one naming an agent this account lacks (signed URL 404, apology).
    const env = { VOICE_PROVIDER: 'elevenlabs', OPENAI_API_KEY: OPENAI_KEY, TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL };
    const desk: AgentDefinition = { ...agentFromConfig(loadConfig(env)), name: 'desk', numbers: [NUMBER], elevenLabsAgentId: AGENT_ID };
    const ghost: AgentDefinition = { ...desk, name: 'ghost', isDefault: false, numbers: ['+15005550002'], elevenLabsAgentId: 'agent_not_on_this_account' };
    await startElevenLabsBridge(agentConfig(), { env: { LOG_LEVEL: 'trace' }, filterSecrets: false, agents: { agents: [desk, ghost], defaultAgent: desk, source: 'file' } });
    const [good, bad] = await Promise.all([
      bridge!.call({ from: CALLER, to: NUMBER, audio: ONE_QUESTION }).then((call) => call.closed),
      bridge!.call({ from: CALLER, to: '+15005550002', audio: { kind: 'silence', durationMs: 5_000 } }).then((call) => call.closed),
    ]);
    const summaries = await bridge!.waitForSummaries(2);

    expect(heardToneSegments(good.heardAudio)).toEqual([...wholeResponse(0, FIRST_MESSAGE_MS), ...wholeResponse(1, ANSWER_MS)]);
    expect(bad.endedBy).toBe('server');
    expect(summaries.map((summary) => summary.upstreamFaults).sort()).toEqual([0, 1]);
    // The key was used (signed-URL requests, granted and refused) and the logs are verbose…
    const statuses = bridge!.elevenlabs!.signedUrlRequests.map((request) => request.status);
    expect([...new Set(statuses)].sort()).toEqual([200, 404]);
    const raw = bridge!.rawLog();
    expect(raw).toContain('requesting elevenlabs signed URL');
    expect(raw).toContain('upstream session lost');
    expect(bridge!.logs.some((line) => line['level'] === 10)).toBe(true);
    // …and the key is in none of them, whole or in part.
    expect(raw).not.toContain(ELEVENLABS_KEY);
    expect(raw).not.toContain(ELEVENLABS_KEY.slice(-12));
    expect(raw).not.toContain(Buffer.from(ELEVENLABS_KEY).toString('base64'));
  });
});
