/**
 * Provider fallback, end to end (VOICE_PROVIDER + VOICE_PROVIDER_FALLBACK). The policy (src/call/session-recovery.ts):
 * a primary that never got going (refused, unreachable, timed out) before the agent said anything puts the call on
 * the fallback provider, so the caller hears the other agent instead of an apology; a primary that fails once the
 * agent has spoken is NOT replaced by the other provider (the caller would hear a second agent mid-conversation): the
 * call re-dials the same provider or apologises, per UPSTREAM_REDIAL_ATTEMPTS.
 *
 * The bugs this guards against: a refused primary that strands the caller in silence or goes straight to the
 * apology; a hung primary that keeps the caller waiting far beyond the connect timeout; a fallback that greets twice
 * or never; a mid-call failure (even one that looks like an auth refusal) that swaps the voice mid-conversation.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MULAW_BYTES_PER_FRAME, MULAW_SILENCE_BYTE } from '../src/audio/frames.js';
import { encodeMulaw } from '../src/audio/mulaw.js';
import { readWav } from '../src/audio/wav.js';
import type { CallEvent } from '../src/call/call-events.js';
import type { SimulatedAgentConfig, SimulatedFailure } from '../src/simulator/elevenlabs/server.js';
import type { SimulatedRealtimeServerOptions } from '../src/simulator/realtime/server.js';
import { startBridge, type Bridge } from './helpers/e2e.js';
import { callerSpeech, heardToneSegments, wholeResponse } from './helpers/e2e-call-flow.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

const AGENT_ID = 'agent_e2e_fallback';
const GREETING_MS = 600;
const ANSWER_MS = 1_000;
/** One question at 1500–1900 ms; the turn ends at ~2400 ms. */
const ONE_QUESTION = callerSpeech([{ atMs: 1_500, durationMs: 400 }], 5_000);
const tone = (durationMs: number) => ({ kind: 'tone-coded', durationMs }) as const;

function elevenLabsAgent(overrides: Partial<SimulatedAgentConfig> = {}): SimulatedAgentConfig {
  return { agentId: AGENT_ID, inputFormat: 'ulaw_8000', outputFormat: 'ulaw_8000', firstMessage: 'Hello.', firstMessageReply: tone(GREETING_MS), reply: tone(ANSWER_MS), ...overrides };
}

type Fallback = Extract<CallEvent, { type: 'provider_fallback' }>;

async function start(options: {
  env: Record<string, string>;
  agent?: SimulatedAgentConfig;
  defaultAgentId?: string;
  sim?: Omit<SimulatedRealtimeServerOptions, 'apiKey'>;
  predial?: boolean;
}): Promise<{ bridge: Bridge; events: CallEvent[] }> {
  const events: CallEvent[] = [];
  bridge = await startBridge({
    env: { AGENT_GREETING: 'Say hello.', ...options.env },
    sim: { reply: tone(GREETING_MS), ...options.sim },
    elevenlabs: { agents: [options.agent ?? elevenLabsAgent()], ...(options.defaultAgentId === undefined ? {} : { defaultAgentId: options.defaultAgentId }) },
    observers: [{ name: 'e2e-events', callEvent: (_call, event) => void events.push(event) }],
    ...(options.predial === undefined ? {} : { predial: options.predial }),
  });
  return { bridge, events };
}

async function runCall(audio = ONE_QUESTION) {
  const call = await bridge!.call({ audio });
  const result = await call.closed;
  const [summary] = await bridge!.waitForSummaries(1);
  return { call, result, summary: summary! };
}

const fallbacksIn = (events: CallEvent[]): Array<Omit<Fallback, 'atMs'>> =>
  events.filter((event): event is Fallback => event.type === 'provider_fallback').map(({ atMs: _atMs, ...rest }) => rest);

/** Ms since stream start of the first agent audio the caller received. */
function firstAudioAtMs(result: { received: ReadonlyArray<{ atMs: number; message: unknown }> }): number {
  const first = result.received.find((entry) => (entry.message as { event?: string }).event === 'media');
  expect(first).toBeDefined();
  return first!.atMs;
}

describe('primary refused → the call runs on the fallback', () => {
  it('ElevenLabs primary, unknown agent (signed URL 404) → OpenAI greets and answers; one upstream fault, one provider_fallback', async () => {
    // Without pre-dial there is exactly one dial of the primary: one signed-URL request, refused.
    const { events } = await start({ env: { VOICE_PROVIDER: 'elevenlabs', VOICE_PROVIDER_FALLBACK: 'openai' }, defaultAgentId: 'agent_not_on_this_account', predial: false });
    const { result, summary } = await runCall();

    expect(bridge!.elevenlabs!.signedUrlRequests.map(({ agentId, status }) => ({ agentId, status }))).toEqual([{ agentId: 'agent_not_on_this_account', status: 404 }]);
    expect(bridge!.elevenlabs!.conversations).toHaveLength(0);
    expect(fallbacksIn(events)).toEqual([{ type: 'provider_fallback', from: 'elevenlabs', to: 'openai', fault: 'handshake_failed' }]);

    expect(bridge!.sim.sessions).toHaveLength(1);
    const session = bridge!.sim.sessions[0]!;
    expect(session.eventsIn('response.create')).toHaveLength(1);
    expect(session.eventsIn('response.create')[0]).toMatchObject({ response: { instructions: 'Say hello.' } });
    expect(session.errors()).toEqual([]);
    // The fallback's greeting, then its answer to the question: whole, in order, once each.
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, GREETING_MS), ...wholeResponse(1, GREETING_MS)]);
    expect(result.underrunCount).toBe(0);
    expect(result.endedBy).toBe('caller');
    expect(summary).toMatchObject({ endReason: 'caller hung up', upstreamFaults: 1, turns: 1, sequenceErrors: 0, underruns: 0 });
  });

  it('OpenAI primary refused (HTTP 503) → the ElevenLabs agent speaks its first message and answers', async () => {
    const { events } = await start({ env: { VOICE_PROVIDER: 'openai', VOICE_PROVIDER_FALLBACK: 'elevenlabs' }, sim: { refuseConnections: true }, predial: false });
    const { call, result, summary } = await runCall();

    expect(bridge!.sim.sessions).toHaveLength(0);
    expect(bridge!.sim.upgradeAttempts.map((attempt) => attempt.status)).toEqual([503]);
    expect(fallbacksIn(events)).toEqual([{ type: 'provider_fallback', from: 'openai', to: 'elevenlabs', fault: 'handshake_failed' }]);

    expect(bridge!.elevenlabs!.conversations).toHaveLength(1);
    const conversation = bridge!.elevenlabs!.conversations[0]!;
    expect(conversation.initiation!.dynamicVariables).toMatchObject({ call_sid: call.callSid });
    expect(conversation.responses.map(({ kind, status }) => [kind, status])).toEqual([
      ['first_message', 'completed'],
      ['audio', 'completed'],
    ]);
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, GREETING_MS), ...wholeResponse(1, ANSWER_MS)]);
    expect(result.underrunCount).toBe(0);
    expect(summary).toMatchObject({ endReason: 'caller hung up', upstreamFaults: 1, turns: 1, sequenceErrors: 0, underruns: 0 });
  });
});

describe('primary timing out → the call runs on the fallback', () => {
  const CONNECT_TIMEOUT_MS = 800;

  it('a hung ElevenLabs conversation (no metadata) → OpenAI within the connect timeout plus a margin', async () => {
    const { events } = await start({
      env: { VOICE_PROVIDER: 'elevenlabs', VOICE_PROVIDER_FALLBACK: 'openai', ELEVENLABS_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) },
      agent: elevenLabsAgent({ faults: { hang: true } }),
    });
    const { result, summary } = await runCall();

    // The primary was reached, took our initiation, and never answered; the bridge closed it.
    const hung = bridge!.elevenlabs!.conversations[0]!;
    await hung.closed;
    expect(bridge!.elevenlabs!.conversations).toHaveLength(1);
    expect(hung.eventsIn('conversation_initiation_client_data')).toHaveLength(1);
    expect(hung.metadataAtMs).toBeNull();
    expect(hung.eventsOut()).toEqual([]);
    expect(hung.serverCloseCode).toBeNull();
    expect(fallbacksIn(events)).toEqual([{ type: 'provider_fallback', from: 'elevenlabs', to: 'openai', fault: 'connect_timeout' }]);

    // The caller waited for the timeout (the primary was dialled at the webhook, just before the stream), not more.
    const firstAudioMs = firstAudioAtMs(result);
    expect(firstAudioMs).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 200);
    expect(firstAudioMs).toBeLessThanOrEqual(CONNECT_TIMEOUT_MS + 400);
    expect(bridge!.sim.sessions).toHaveLength(1);
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, GREETING_MS), ...wholeResponse(1, GREETING_MS)]);
    expect(result.underrunCount).toBe(0);
    expect(summary).toMatchObject({ upstreamFaults: 1, turns: 1, sequenceErrors: 0 });
  });
});

/** What the bridge plays on upstream loss: assets/apology.wav as mu-law, its last frame padded with silence. */
function paddedApology(): Buffer {
  const wav = readWav(readFileSync('assets/apology.wav'));
  const mulaw = encodeMulaw(wav.samples);
  const padded = Buffer.alloc(Math.ceil(mulaw.length / MULAW_BYTES_PER_FRAME) * MULAW_BYTES_PER_FRAME, MULAW_SILENCE_BYTE);
  padded.set(mulaw);
  return padded;
}

describe('primary failing after the agent has spoken → no fallback', () => {
  // A generic server error, and one that reads as an auth refusal (a connect-kind fault): neither swaps providers.
  const FAILURES: Array<[string, SimulatedFailure, string]> = [
    ['an internal error (1011)', { code: 1011, errorType: 'unknown', message: 'Internal server error.' }, 'closed'],
    ['an auth refusal mid-call (1008)', { code: 1008, errorType: 'unknown', message: 'Unauthorized: invalid api key.' }, 'unauthorized'],
  ];

  it.each(FAILURES)('%s with UPSTREAM_REDIAL_ATTEMPTS=0: the caller hears the apology, the stream ends, OpenAI is never dialled', async (_name, failure) => {
    const { events } = await start({
      env: { VOICE_PROVIDER: 'elevenlabs', VOICE_PROVIDER_FALLBACK: 'openai', UPSTREAM_REDIAL_ATTEMPTS: '0' },
      agent: elevenLabsAgent({ faults: { midResponse: { responseIndex: 0, afterChunks: 2, action: failure } } }),
    });
    const { result, summary } = await runCall();

    expect(bridge!.sim.sessions).toHaveLength(0);
    expect(bridge!.sim.upgradeAttempts).toHaveLength(0);
    expect(fallbacksIn(events)).toEqual([]);
    expect(bridge!.elevenlabs!.conversations).toHaveLength(1);
    expect(bridge!.elevenlabs!.conversations[0]!.serverCloseCode).toBe(failure.code);

    // What had played of the first message (the fault came ~30 ms after its first audio), the rest cleared
    // for the apology, then the apology whole; then the server closed the stream.
    const heard = Buffer.from(result.heardAudio);
    const apology = paddedApology();
    expect(heard.subarray(heard.length - apology.length).equals(apology)).toBe(true);
    const before = new Uint8Array(heard.subarray(0, heard.length - apology.length));
    expect(before.length).toBeLessThanOrEqual(250 * 8);
    const prefix = heardToneSegments(before);
    expect(prefix).toEqual(wholeResponse(0, prefix.length * 100));
    expect(result.clears).toHaveLength(1);
    expect(result.endedBy).toBe('server');
    expect(result.closeReason).toBe('upstream lost');
    expect(summary).toMatchObject({ endReason: 'upstream lost', upstreamFaults: 1 });
  });

  it.each(FAILURES)('%s with UPSTREAM_REDIAL_ATTEMPTS=1: a new ElevenLabs conversation carries the call, OpenAI is never dialled', async (_name, failure) => {
    const { events } = await start({
      env: { VOICE_PROVIDER: 'elevenlabs', VOICE_PROVIDER_FALLBACK: 'openai', UPSTREAM_REDIAL_ATTEMPTS: '1' },
      agent: elevenLabsAgent({ faults: { midResponse: { responseIndex: 0, afterChunks: 2, action: failure } } }),
    });
    // Only the first conversation fails (each conversation snapshots the agent's config when it connects).
    const elevenlabs = bridge!.elevenlabs!;
    void elevenlabs.waitForConversation(0).then(() => delete elevenlabs.agents.get(AGENT_ID)!.faults);
    const { result, summary } = await runCall();

    expect(bridge!.sim.sessions).toHaveLength(0);
    expect(fallbacksIn(events)).toEqual([]);
    expect(elevenlabs.conversations).toHaveLength(2);
    const [first, second] = elevenlabs.conversations as [(typeof elevenlabs.conversations)[number], (typeof elevenlabs.conversations)[number]];
    expect(first.serverCloseCode).toBe(failure.code);
    expect(second.serverCloseCode).toBeNull();
    expect(second.turns).toHaveLength(1);
    expect(result.endedBy).toBe('caller');
    expect(result.underrunCount).toBe(0);
    expect(summary).toMatchObject({ endReason: 'caller hung up', upstreamFaults: 1, sequenceErrors: 0 });

    // The caller heard a prefix of the first message, then the new conversation's answer to the question, whole.
    // (Not its first message again. Today that holds only by accident: it is dropped as late audio, see the bug below.)
    const heard = heardToneSegments(result.heardAudio);
    const answer = second.responses.find((response) => response.kind === 'audio')!;
    const cut = heard.length - ANSWER_MS / 100;
    expect(cut).toBeGreaterThanOrEqual(1);
    expect(heard.slice(0, cut)).toEqual(wholeResponse(0, cut * 100));
    expect(heard.slice(cut)).toEqual(wholeResponse(answer.index, ANSWER_MS));
  });

  // Regression: event ids restart at 1 in every ElevenLabs conversation, so the re-dialled conversation's items (its
  // answer el_4, as the lost one's) were refused as late by the out-queue, which had closed the lost ones: the caller
  // heard silence. The call now names out-queue items per session; the re-dial also skips the new first message.
  it('fails mid-answer with UPSTREAM_REDIAL_ATTEMPTS=1: the re-dialled conversation answers the next question, heard whole', async () => {
    const { events } = await start({
      env: { VOICE_PROVIDER: 'elevenlabs', VOICE_PROVIDER_FALLBACK: 'openai', UPSTREAM_REDIAL_ATTEMPTS: '1' },
      agent: elevenLabsAgent({ faults: { midResponse: { responseIndex: 1, afterChunks: 2, action: { code: 1011, message: 'Internal server error.' } } } }),
    });
    // The new conversation does not fail, and answers with 1.2 s (told apart from the first conversation's 1 s).
    const elevenlabs = bridge!.elevenlabs!;
    void elevenlabs.waitForConversation(0).then(() => {
      const config = elevenlabs.agents.get(AGENT_ID)!;
      delete config.faults;
      config.reply = tone(1_200);
    });
    const { result, summary } = await runCall(
      callerSpeech(
        [
          { atMs: 1_500, durationMs: 400 },
          { atMs: 4_500, durationMs: 400 },
        ],
        8_000,
      ),
    );

    expect(bridge!.sim.sessions).toHaveLength(0);
    expect(fallbacksIn(events)).toEqual([]);
    expect(elevenlabs.conversations).toHaveLength(2);
    const second = elevenlabs.conversations[1]!;
    expect(second.turns).toHaveLength(1);
    expect(second.responses.at(-1)).toMatchObject({ kind: 'audio', status: 'completed', audioMsTotal: 1_200 });
    expect(result.underrunCount).toBe(0);
    expect(summary).toMatchObject({ endReason: 'caller hung up', upstreamFaults: 1, sequenceErrors: 0 });

    // The greeting whole, a prefix of the cut answer, then the new conversation's answer whole (and no second greeting).
    const heard = heardToneSegments(result.heardAudio);
    expect(heard.slice(0, GREETING_MS / 100)).toEqual(wholeResponse(0, GREETING_MS));
    expect(heard.slice(-12)).toEqual(wholeResponse(1, 1_200));
    const cut = heard.slice(GREETING_MS / 100, -12);
    expect(cut.length).toBeGreaterThanOrEqual(1);
    expect(cut).toEqual(wholeResponse(1, cut.length * 100));
  });
});
