/**
 * HTTP tools from the agent file, end to end against a real HTTP server on 127.0.0.1: arguments that break the
 * tool's schema never leave the process, valid ones arrive signed (verified with the receiver-side helper), a tool
 * that never answers times out into an error the model reads while the call goes on, and a slow tool plays the hold
 * sound to the caller only while the caller waits.
 *
 * Each call: the agent's greeting request is answered by the model with the function call (response 0), the bridge
 * runs the tool, and the model's follow-up (response 1, tone-coded 1 s) must be heard whole.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MULAW_BYTES_PER_FRAME, MULAW_SILENCE_BYTE } from '../src/audio/frames.js';
import { agentFromConfig } from '../src/agents/from-config.js';
import type { AgentDefinition, HttpToolDefinition } from '../src/agents/types.js';
import { holdCycleMulaw } from '../src/call/hold-sound.js';
import { loadConfig } from '../src/config.js';
import type { CallResult, SimulatedCall } from '../src/simulator/twilio-caller.js';
import { verifyToolSignature } from '../src/tools/signature.js';
import { AUTH_TOKEN, linesWithMsg, OPENAI_KEY, PUBLIC_BASE_URL, startBridge, type Bridge } from './helpers/e2e.js';
import { heardToneSegments, wholeResponse } from './helpers/e2e-call-flow.js';

const SECRET = 'tool-signing-secret-e2e-0001';
const FOLLOW_UP_MS = 1_000;
const SCHEMA = {
  type: 'object',
  properties: { orderId: { type: 'string', pattern: '^[0-9]{6}$' } },
  required: ['orderId'],
  additionalProperties: false,
};

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** ms since the call's stream start when the request arrived. */
  atCallMs: number;
}

/** A real receiver. `answer` decides what to do with each request (nothing at all: it never answers). */
async function startToolServer(answer: (res: ServerResponse, seen: SeenRequest) => void) {
  const requests: SeenRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), atCallMs: currentCall?.elapsedMs() ?? Number.NaN };
      requests.push(seen);
      answer(res, seen);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  closers.push(close);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, requests };
}

let bridge: Bridge | null = null;
let currentCall: SimulatedCall | null = null;
let functionCallAtCallMs = Number.NaN;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await bridge?.close();
  bridge = null;
  currentCall = null;
  functionCallAtCallMs = Number.NaN;
  for (const close of closers.splice(0)) await close();
});

const baseAgent = agentFromConfig(loadConfig({ OPENAI_API_KEY: OPENAI_KEY, TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL }));

/** Places one call to an `orders` agent whose one HTTP tool points at `url`; the model calls it with `args`. */
async function callWithTool(options: { url: string; args: string; timeoutMs?: number; holdSoundAfterMs?: number; callMs?: number }): Promise<CallResult> {
  const tool: HttpToolDefinition = {
    kind: 'http',
    name: 'lookup_order',
    description: 'Looks up an order by its six-digit id.',
    parameters: SCHEMA,
    url: options.url,
    method: 'POST',
    headers: {},
    timeoutMs: options.timeoutMs ?? 5_000,
    maxResponseBytes: 65_536,
  };
  const agent: AgentDefinition = {
    ...baseAgent,
    name: 'orders',
    greeting: 'Say hello.',
    httpTools: [tool],
    toolSigningSecret: SECRET,
    holdSoundAfterMs: options.holdSoundAfterMs ?? 1_500,
  };
  bridge = await startBridge({
    agents: { agents: [agent], defaultAgent: agent, source: 'file' },
    sim: {
      // When the model's function call leaves the Realtime server, on the caller's clock.
      observer: {
        serverEvent: (_session, event) => {
          if (event.type === 'response.function_call_arguments.done') functionCallAtCallMs = currentCall?.elapsedMs() ?? Number.NaN;
        },
      },
      script: [
        { kind: 'function_call', name: 'lookup_order', arguments: options.args, callId: 'call_order_1' },
        { kind: 'audio', reply: { kind: 'tone-coded', durationMs: FOLLOW_UP_MS } },
      ],
    },
  });
  currentCall = await bridge.call({ audio: { kind: 'silence', durationMs: options.callMs ?? 2_500 } });
  const result = await currentCall.closed;
  await bridge.waitForSummaries(1);
  // The model offered the tool, got exactly one output for the call, then asked for exactly one follow-up.
  const session = bridge.sim.sessions[0]!;
  expect((session.eventsIn('session.update')[0]!['session'] as { tools: unknown }).tools).toEqual([
    { type: 'function', name: 'lookup_order', description: 'Looks up an order by its six-digit id.', parameters: SCHEMA },
  ]);
  expect(session.functionCallOutputs.map((output) => [output.callId, output.knownCall])).toEqual([['call_order_1', true]]);
  expect(session.responses.map((response) => [response.kind, response.status])).toEqual([
    ['function_call', 'completed'],
    ['audio', 'completed'],
  ]);
  expect(session.errors()).toEqual([]);
  // The call went on: the follow-up was heard whole, and the caller hung up.
  expect(result.endedBy).toBe('caller');
  expect(result.underrunCount).toBe(0);
  return result;
}

function modelOutput(): string {
  return bridge!.sim.sessions[0]!.functionCallOutputs[0]!.output;
}

describe('HTTP tool arguments and signature', () => {
  it('schema-invalid arguments never reach the server; the model gets an error listing the problems', async () => {
    const receiver = await startToolServer((res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"shipped"}'));
    const result = await callWithTool({ url: receiver.url, args: '{"orderId":42,"coupon":"FREE"}' });

    expect(receiver.requests).toEqual([]);
    expect(modelOutput()).toBe(
      JSON.stringify({ error: 'invalid arguments for tool lookup_order: arguments must not have property "coupon"; /orderId must be string' }),
    );
    expect(linesWithMsg(bridge!.logs, 'http tool call failed').map((line) => [line['tool'], line['agent'], line['reason']])).toEqual([
      ['lookup_order', 'orders', 'invalid_arguments'],
    ]);
    expect(heardToneSegments(result.heardAudio)).toEqual(wholeResponse(1, FOLLOW_UP_MS));
  });

  it('valid arguments reach the server once, signed with the agent secret over the exact body; its answer is the output', async () => {
    const receiver = await startToolServer((res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"shipped","eta":"Tuesday"}'));
    const result = await callWithTool({ url: receiver.url, args: '{"orderId":"123456"}' });

    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect([request!.method, request!.url, request!.headers['content-type']]).toEqual(['POST', '/orders', 'application/json']);
    expect(request!.body).toBe(
      JSON.stringify({
        arguments: { orderId: '123456' },
        call: { callSid: result.callSid, streamSid: result.streamSid, agent: 'orders', callerNumber: '+15005550006', calledNumber: '+15005550001' },
      }),
    );
    const signed = { timestampHeader: request!.headers['x-callbridge-timestamp'], signatureHeader: request!.headers['x-callbridge-signature'], body: request!.body };
    expect(verifyToolSignature({ secret: SECRET, ...signed })).toBe(true);
    expect(verifyToolSignature({ secret: 'another-secret-0001', ...signed })).toBe(false);
    expect(verifyToolSignature({ secret: SECRET, ...signed, body: request!.body.replace('123456', '123457') })).toBe(false);

    expect(modelOutput()).toBe('{"status":"shipped","eta":"Tuesday"}');
    expect(heardToneSegments(result.heardAudio)).toEqual(wholeResponse(1, FOLLOW_UP_MS));
    // The secret is never logged.
    expect(bridge!.rawLog()).not.toContain(SECRET);
  });

  it('a server that never answers times out after timeoutMs: the model gets an error and the call goes on', async () => {
    const receiver = await startToolServer(() => undefined);
    const result = await callWithTool({ url: receiver.url, args: '{"orderId":"123456"}', timeoutMs: 300 });

    expect(receiver.requests).toHaveLength(1);
    expect(modelOutput()).toBe(JSON.stringify({ error: 'tool lookup_order timed out after 300 ms' }));
    const session = bridge!.sim.sessions[0]!;
    const waitedMs = session.functionCallOutputs[0]!.atMs - session.responses[0]!.doneAtMs!;
    expect(waitedMs).toBeGreaterThanOrEqual(290);
    expect(waitedMs).toBeLessThan(1_000);
    expect(linesWithMsg(bridge!.logs, 'http tool call failed').map((line) => line['reason'])).toEqual(['timeout']);
    expect(heardToneSegments(result.heardAudio)).toEqual(wholeResponse(1, FOLLOW_UP_MS));
    expect(result.heardMsTotal).toBe(FOLLOW_UP_MS);
  });
});

/** The hold cycle as the 20 ms frames the bridge sends; which of them are beeps (not silence). */
const HOLD_FRAMES = Array.from({ length: holdCycleMulaw().length / MULAW_BYTES_PER_FRAME }, (_, index) =>
  Buffer.from(holdCycleMulaw().subarray(index * MULAW_BYTES_PER_FRAME, (index + 1) * MULAW_BYTES_PER_FRAME)),
);
const isBeep = (frame: Buffer) => frame.some((byte) => byte !== MULAW_SILENCE_BYTE);
const BEEP_FRAMES = HOLD_FRAMES.filter(isBeep);

/** Media payloads and clears the caller received, in order. */
interface ReceivedAudio {
  atMs: number;
  clear: boolean;
  payload: Buffer;
}
function receivedAudio(result: CallResult): ReceivedAudio[] {
  return result.received.flatMap(({ atMs, message }): ReceivedAudio[] => {
    const { event, media } = message as { event?: string; media?: { payload?: string } };
    if (event === 'clear') return [{ atMs, clear: true, payload: Buffer.alloc(0) }];
    if (event !== 'media') return [];
    // The bridge joins the frames it sends in one tick into one message: one entry per 20 ms frame, in order.
    const bytes = Buffer.from(media?.payload ?? '', 'base64');
    return Array.from({ length: Math.ceil(bytes.length / 160) }, (_, frame) => ({ atMs, clear: false, payload: bytes.subarray(frame * 160, (frame + 1) * 160) }));
  });
}

describe('hold sound', () => {
  it('a slow tool (1.5 s, hold after 200 ms): the caller hears the hold beeps only while waiting, none once the answer starts', async () => {
    let answeredAtCallMs = Number.NaN;
    const receiver = await startToolServer((res) => {
      setTimeout(() => {
        answeredAtCallMs = currentCall?.elapsedMs() ?? Number.NaN;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"shipped"}');
      }, 1_500);
    });
    const result = await callWithTool({ url: receiver.url, args: '{"orderId":"123456"}', holdSoundAfterMs: 200, callMs: 3_600 });
    expect(HOLD_FRAMES).toHaveLength(50);
    expect(BEEP_FRAMES).toHaveLength(12); // two 120 ms beeps per second

    const audio = receivedAudio(result);
    const clears = audio.filter((entry) => entry.clear);
    expect(clears).toHaveLength(1);
    const clearIndex = audio.indexOf(clears[0]!);
    const hold = audio.slice(0, clearIndex);
    const answer = audio.slice(clearIndex + 1);
    // Before the clear: nothing but the hold cycle, frame after frame from its start, beginning ~200 ms into the tool.
    expect(hold.length).toBeGreaterThan(0);
    expect(hold.every((entry, index) => entry.payload.equals(HOLD_FRAMES[index % HOLD_FRAMES.length]!))).toBe(true);
    expect(hold[0]!.atMs - functionCallAtCallMs).toBeGreaterThanOrEqual(195);
    expect(hold[0]!.atMs - functionCallAtCallMs).toBeLessThan(450);
    expect(receiver.requests[0]!.atCallMs).toBeLessThan(hold[0]!.atMs);
    // The hold stopped (one clear) only once the tool had answered and the agent spoke again.
    expect(clears[0]!.atMs).toBeGreaterThanOrEqual(answeredAtCallMs - 5);
    // After the clear: the follow-up only, exactly 1 s of it, and no hold frame among it.
    const answerBytes = Buffer.concat(answer.map((entry) => entry.payload));
    expect(answerBytes.length).toBe(FOLLOW_UP_MS * 8);
    expect(heardToneSegments(answerBytes)).toEqual(wholeResponse(1, FOLLOW_UP_MS));
    expect(answer.some((entry) => HOLD_FRAMES.some((frame) => isBeep(frame) && frame.equals(entry.payload)))).toBe(false);

    // What the caller heard: a prefix of the hold audio (the rest was cleared), then the follow-up whole.
    const heard = Buffer.from(result.heardAudio);
    const heardHoldBytes = heard.length - answerBytes.length;
    expect(heard.equals(Buffer.concat([Buffer.concat(hold.map((entry) => entry.payload)).subarray(0, heardHoldBytes), answerBytes]))).toBe(true);
    const heardHoldMs = heardHoldBytes / 8;
    expect(heardHoldMs).toBeGreaterThanOrEqual(1_000);
    expect(heardHoldMs).toBeLessThanOrEqual(1_700);
    // At least one whole cycle (both beeps) was heard before the answer.
    const beepFramesHeard = hold.slice(0, Math.floor(heardHoldBytes / MULAW_BYTES_PER_FRAME)).filter((entry) => isBeep(entry.payload)).length;
    expect(beepFramesHeard).toBeGreaterThanOrEqual(12);
    // The hold audio is not tone-coded: only the follow-up decodes.
    expect(heardToneSegments(result.heardAudio)).toEqual(wholeResponse(1, FOLLOW_UP_MS));
    expect(modelOutput()).toBe('{"status":"shipped"}');
  });

  it('a fast tool (answers at once, hold after 200 ms): no hold audio at all', async () => {
    const receiver = await startToolServer((res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"shipped"}'));
    const result = await callWithTool({ url: receiver.url, args: '{"orderId":"123456"}', holdSoundAfterMs: 200 });

    expect(receiver.requests).toHaveLength(1);
    const audio = receivedAudio(result);
    expect(audio.filter((entry) => entry.clear)).toEqual([]);
    expect(audio.some((entry) => BEEP_FRAMES.some((frame) => frame.equals(entry.payload)))).toBe(false);
    expect(Buffer.concat(audio.map((entry) => entry.payload)).length).toBe(FOLLOW_UP_MS * 8);
    expect(heardToneSegments(result.heardAudio)).toEqual(wholeResponse(1, FOLLOW_UP_MS));
    expect(result.heardMsTotal).toBe(FOLLOW_UP_MS);
    expect(result.clears).toEqual([]);
  });
});
