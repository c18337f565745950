/**
 * Call lifecycle, end to end over real sockets: function calls, hostile input mid-call, the upstream dropping
 * mid-answer, the caller hanging up (mid-answer, and while the upstream is still connecting), and pcmu pass-through.
 *
 * The bugs this guards against, each seen in simple bridges: a tool's output followed by two `response.create`s (or
 * one sent before the output, so the model answers without it), and "conversation_already_has_active_response"; a
 * stray binary frame or bad base64 that throws out of a socket listener and takes every call on the process down;
 * a dead upstream that leaves the caller in silence on an open line forever; a hang-up that leaves the OpenAI
 * session open (and billing) until it times out, worst of all when it comes while the upstream is still connecting;
 * and a pcmu mode that still "transcodes" the audio it should pass through untouched.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MULAW_BYTES_PER_FRAME, MULAW_BYTES_PER_MS, MULAW_SILENCE_BYTE } from '../src/audio/frames.js';
import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import type { ToolContext, ToolDefinition } from '../src/call/tools.js';
import { decodeToneTimeline } from '../src/simulator/realtime/server.js';
import { parseTwiml } from '../src/simulator/twilio-caller.js';
import { readWav } from '../src/audio/wav.js';
import { linesWithMsg, newCallSid, postWebhook, sleep, startBridge, startRawStream, waitUntil, withTimeout, type Bridge } from './helpers/e2e.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

/** The (responseIndex, segmentIndex) pairs heard, in order. */
function heardToneSegments(mulaw: Uint8Array): Array<[number, number]> {
  return decodeToneTimeline(decodeMulaw(mulaw)).map((segment) => [segment.responseIndex, segment.segmentIndex]);
}

/** Every segment of one response, once each, in order. */
function wholeResponse(responseIndex: number, durationMs: number): Array<[number, number]> {
  return Array.from({ length: durationMs / 100 }, (_, index) => [responseIndex, index]);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

/** What the bridge plays on upstream loss: assets/apology.wav as mu-law, its last frame padded with silence. */
function paddedApology(): Uint8Array {
  const wav = readWav(readFileSync('assets/apology.wav'));
  expect(wav.sampleRateHz).toBe(8_000);
  const mulaw = encodeMulaw(wav.samples);
  const padded = new Uint8Array(Math.ceil(mulaw.length / MULAW_BYTES_PER_FRAME) * MULAW_BYTES_PER_FRAME).fill(MULAW_SILENCE_BYTE);
  padded.set(mulaw);
  return padded;
}

describe('function calls', () => {
  const ARGUMENTS = '{"department":"pharmacy","day":"today"}';
  const PARAMETERS = {
    type: 'object',
    properties: { department: { type: 'string' }, day: { type: 'string' } },
    required: ['department', 'day'],
  };

  it.each([
    { name: 'a tool that answers', fails: false, output: '{"department":"pharmacy","closes":"21:00"}' },
    { name: 'a tool that throws', fails: true, output: '{"error":"inventory database unavailable"}' },
  ])('$name: one function_call_output, then exactly one response.create after it, and the follow-up heard whole', async ({ fails, output }) => {
    const invocations: Array<{ args: unknown; context: ToolContext }> = [];
    const tool: ToolDefinition = {
      name: 'lookup_hours',
      description: 'Opening hours of a store department.',
      parameters: PARAMETERS,
      handler: (args, context) => {
        invocations.push({ args, context });
        if (fails) throw new Error('inventory database unavailable');
        return { department: 'pharmacy', closes: '21:00' };
      },
    };
    bridge = await startBridge({
      env: { AGENT_GREETING: 'Say hello.' },
      tools: [tool],
      sim: {
        script: [
          { kind: 'function_call', name: 'lookup_hours', arguments: ARGUMENTS, callId: 'call_hours_1' },
          { kind: 'audio', reply: { kind: 'tone-coded', durationMs: 800 } },
        ],
      },
    });
    const call = await bridge.call({ audio: { kind: 'silence', durationMs: 1_800 } });
    const result = await call.closed;
    const [summary] = await bridge.waitForSummaries(1);
    const session = bridge.sim.sessions[0]!;

    expect(session.eventsIn('session.update')[0]!['session']).toMatchObject({
      tools: [{ type: 'function', name: 'lookup_hours', description: 'Opening hours of a store department.', parameters: PARAMETERS }],
    });
    expect(invocations).toEqual([
      { args: { department: 'pharmacy', day: 'today' }, context: { callSid: call.callSid, streamSid: call.streamSid, callerNumber: '+15005550006', calledNumber: '+15005550001' } },
    ]);

    expect(session.functionCallOutputs).toHaveLength(1);
    const [functionOutput] = session.functionCallOutputs;
    expect(functionOutput).toMatchObject({ callId: 'call_hours_1', output, knownCall: true });
    // The greeting's create comes before the output; exactly one create follows it, and the server accepted it.
    const creates = session.responseCreateRequests;
    expect(creates.map((create) => create.instructions)).toEqual(['Say hello.', null]);
    expect(creates[0]!.logIndex).toBeLessThan(functionOutput!.logIndex);
    const after = creates.filter((create) => create.logIndex > functionOutput!.logIndex);
    expect(after).toHaveLength(1);
    expect(after[0]!.accepted).toBe(true);
    expect(session.errors('conversation_already_has_active_response')).toHaveLength(0);
    expect(session.errors()).toEqual([]);
    expect(session.responses.map((response) => [response.kind, response.trigger, response.status])).toEqual([
      ['function_call', 'client', 'completed'],
      ['audio', 'client', 'completed'],
    ]);

    // The function call has no audio; the follow-up (response 1) is heard whole, once, in order.
    expect(heardToneSegments(result.heardAudio)).toEqual(wholeResponse(1, 800));
    expect(result.heardMsTotal).toBe(800);
    expect(result.underrunCount).toBe(0);
    expect(result.endedBy).toBe('caller');

    const answered = linesWithMsg(bridge.logs, 'function call answered');
    expect(answered).toHaveLength(1);
    expect(answered[0]).toMatchObject({ callSid: call.callSid, tool: 'lookup_hours', callId: 'call_hours_1', ok: !fails });
    expect(summary).toMatchObject({ callSid: call.callSid, endReason: 'caller hung up', responses: 2, upstreamFaults: 0, underruns: 0 });
  });
});

describe('malformed caller input mid-call', () => {
  it('is counted per class and ignored: the bad call keeps its agent audio until its own stop, a parallel call is untouched', async () => {
    const GREETING_MS = 1_500;
    bridge = await startBridge({ env: { AGENT_GREETING: 'Say hello.' }, sim: { reply: { kind: 'tone-coded', durationMs: GREETING_MS } } });
    const healthy = await bridge.call({ audio: { kind: 'silence', durationMs: 2_200 } });

    const callSid = newCallSid();
    const webhook = await postWebhook(bridge, { callSid });
    expect(webhook.status).toBe(200);
    const bad = await startRawStream(bridge, { callSid, customParameters: parseTwiml(webhook.body).parameters });

    const silence = new Uint8Array(MULAW_BYTES_PER_FRAME).fill(MULAW_SILENCE_BYTE);
    const injectedAt: number[] = [];
    const injectGarbage = (): void => {
      bad.send('{"event":"media","streamSid":'); // INVALID_JSON
      bad.send(Buffer.from([0x7b, 0x00, 0xff, 0x10])); // BINARY_FRAME
      bad.sendMedia('%%not*base64%%'); // INVALID_BASE64
      bad.send({ event: 'transcription', sequenceNumber: bad.nextSequenceNumber(), streamSid: bad.streamSid }); // UNKNOWN_EVENT
      bad.sendMedia(silence, 'MZffffffffffffffffffffffffffffffff'); // STREAM_SID_MISMATCH
      injectedAt.push(Date.now());
    };
    const GOOD_FRAMES = 100;
    const startedAt = Date.now();
    for (let frameIndex = 0; frameIndex < GOOD_FRAMES; frameIndex++) {
      await sleep(startedAt + frameIndex * 20 - Date.now());
      bad.sendMedia(silence);
      if (frameIndex === 10 || frameIndex === 30) injectGarbage();
    }
    // Still open right up to our own stop: nothing we sent made the server drop the call.
    expect(bad.socket.readyState).toBe(bad.socket.OPEN);
    bad.hangUp();
    const badClose = await withTimeout(bad.closed, 2_000, 'bad call close');
    const healthyResult = await healthy.closed;
    const summaries = await bridge.waitForSummaries(2);

    expect(badClose.code).toBe(1000);
    // The whole greeting reached the bad call, and agent audio kept coming after the last injection.
    expect(heardToneSegments(bad.agentAudio())).toEqual(wholeResponse(0, GREETING_MS));
    const lastMediaAt = Math.max(...bad.received.filter((entry) => entry.message['event'] === 'media').map((entry) => entry.at));
    expect(lastMediaAt).toBeGreaterThan(injectedAt[1]!);

    expect(heardToneSegments(healthyResult.heardAudio)).toEqual(wholeResponse(0, GREETING_MS));
    expect(healthyResult.heardMsTotal).toBe(GREETING_MS);
    expect(healthyResult.underrunCount).toBe(0);
    expect(healthyResult.clears).toHaveLength(0);
    expect(healthyResult.endedBy).toBe('caller');

    const badSummary = summaries.find((summary) => summary.callSid === callSid);
    const healthySummary = summaries.find((summary) => summary.callSid === healthy.callSid);
    expect(badSummary).toMatchObject({ endReason: 'caller hung up', framesIn: GOOD_FRAMES, gaps: 0, sequenceErrors: 0, upstreamFaults: 0 });
    expect(healthySummary).toMatchObject({ endReason: 'caller hung up', gaps: 0, underruns: 0, sequenceErrors: 0, upstreamFaults: 0 });

    const streamClosed = (sid: string) => linesWithMsg(bridge!.logs, 'Twilio stream closed').filter((line) => line['callSid'] === sid);
    // The server sees each socket close on its own schedule (the summaries come from the `stop` before it).
    await waitUntil(() => streamClosed(callSid).length > 0 && streamClosed(healthy.callSid).length > 0, 2_000, 'server-side stream close');
    expect(streamClosed(callSid)).toHaveLength(1);
    expect((streamClosed(callSid)[0]!['stats'] as { malformed: unknown }).malformed).toEqual({
      BINARY_FRAME: 2,
      INVALID_JSON: 2,
      NOT_AN_OBJECT: 0,
      UNKNOWN_EVENT: 2,
      MISSING_FIELD: 0,
      INVALID_FIELD: 0,
      INVALID_BASE64: 2,
      EVENT_BEFORE_START: 0,
      UNEXPECTED_EVENT: 0,
      STREAM_SID_MISMATCH: 2,
    });
    const healthyMalformed = (streamClosed(healthy.callSid)[0]!['stats'] as { malformed: Record<string, number> }).malformed;
    expect(Object.values(healthyMalformed).every((count) => count === 0)).toBe(true);
    const ignored = linesWithMsg(bridge.logs, 'ignored Twilio message (logged once per code per call)');
    expect(ignored.filter((line) => line['callSid'] === healthy.callSid)).toEqual([]);
    expect(
      ignored
        .filter((line) => line['callSid'] === callSid && line['streamSid'] === bad.streamSid)
        .map((line) => line['code'])
        .sort(),
    ).toEqual(['BINARY_FRAME', 'INVALID_BASE64', 'INVALID_JSON', 'STREAM_SID_MISMATCH', 'UNKNOWN_EVENT']);
    expect(linesWithMsg(bridge.logs, 'media stream handler threw (further throws at debug)')).toEqual([]);

    // Nothing malformed went upstream for either call, and the process is fine.
    expect(bridge.sim.sessions.map((session) => session.errors())).toEqual([[], []]);
    const health = await fetch(`${bridge.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', activeCalls: 0 });
  });
});

describe('upstream lost mid-answer', () => {
  it('plays the whole apology after the partial answer, then the server closes the stream; the next call is normal', async () => {
    bridge = await startBridge({
      env: { AGENT_GREETING: 'Say hello.' },
      sim: { speedFactor: 1, reply: { kind: 'tone-coded', durationMs: 1_000 }, faults: { closeMidResponseAfterDeltas: 3 } },
    });
    const call = await bridge.call({ audio: { kind: 'silence', durationMs: 10_000 } });
    const result = await call.closed;
    const [summary] = await bridge.waitForSummaries(1);

    expect(result.serverClosedFirst).toBe(true);
    expect(result.closeCode).toBe(1000);
    expect(result.closeReason).toBe('upstream lost');
    expect(result.durationMs).toBeLessThan(8_000);
    // The partial answer was cut by one clear, then the apology was heard to its last byte.
    expect(result.clears).toHaveLength(1);
    const apology = paddedApology();
    const heard = result.heardAudio;
    expect(heard.length).toBeGreaterThan(apology.length);
    expect(Buffer.from(heard.subarray(heard.length - apology.length)).equals(Buffer.from(apology))).toBe(true);
    const partial = heard.subarray(0, heard.length - apology.length);
    // 3 deltas of 4 801 bytes = 300 ms of 24 kHz PCM reached the bridge; the caller heard a prefix of them.
    expect(partial.length / MULAW_BYTES_PER_MS).toBeGreaterThan(0);
    expect(partial.length / MULAW_BYTES_PER_MS).toBeLessThanOrEqual(300);
    const partialSegments = heardToneSegments(partial);
    expect(partialSegments.length).toBeGreaterThanOrEqual(1);
    expect(partialSegments).toEqual(wholeResponse(0, partialSegments.length * 100));

    const session = bridge.sim.sessions[0]!;
    expect(session.responses[0]).toMatchObject({ status: 'aborted', deltasSent: 3 });
    expect(summary).toMatchObject({ callSid: call.callSid, endReason: 'upstream lost', upstreamFaults: 1 });
    expect(bridge.server.activeCalls).toBe(0);

    bridge.sim.faults.closeMidResponseAfterDeltas = undefined;
    const second = await bridge.call({ audio: { kind: 'silence', durationMs: 1_600 } });
    const secondResult = await second.closed;
    const summaries = await bridge.waitForSummaries(2);
    expect(secondResult.endedBy).toBe('caller');
    expect(heardToneSegments(secondResult.heardAudio)).toEqual(wholeResponse(0, 1_000));
    expect(secondResult.heardMsTotal).toBe(1_000);
    expect(secondResult.clears).toHaveLength(0);
    expect(bridge.sim.sessions[1]!.responses[0]).toMatchObject({ status: 'completed' });
    expect(summaries[1]).toMatchObject({ callSid: second.callSid, endReason: 'caller hung up', upstreamFaults: 0 });
    expect(bridge.server.activeCalls).toBe(0);
  });
});

describe('caller hangs up', () => {
  it('mid-answer: the upstream session is closed within a second, mid-response, and no call is left', async () => {
    bridge = await startBridge({ env: { AGENT_GREETING: 'Say hello.' }, sim: { speedFactor: 1, reply: { kind: 'tone-coded', durationMs: 6_000 } } });
    const call = await bridge.call({ audio: { kind: 'silence', durationMs: 6_000 }, hangUpAfterMs: 1_500 });
    const session = await bridge.sim.waitForSession(0);
    let sessionClosedAt = 0;
    const sessionClosed = session.closed.then((close) => {
      sessionClosedAt = Date.now();
      return close;
    });
    const result = await call.closed;
    const callClosedAt = Date.now();
    const close = await withTimeout(sessionClosed, 1_000, 'upstream session close');
    const [summary] = await bridge.waitForSummaries(1);

    expect(result.endedBy).toBe('caller');
    expect(close).toEqual({ code: 1000, reason: 'client closing' });
    expect(sessionClosedAt - callClosedAt).toBeLessThan(1_000);
    // Closed while the 6 s answer was still being generated (real time): not at its natural end.
    expect(session.responses[0]!.status).toBe('aborted');
    expect(session.responses[0]!.audioMsSent[session.responses[0]!.itemId]).toBeLessThan(3_000);
    const heard = heardToneSegments(result.heardAudio);
    expect(heard.length).toBeGreaterThanOrEqual(10);
    expect(heard).toEqual(wholeResponse(0, heard.length * 100));
    expect(summary).toMatchObject({ callSid: call.callSid, endReason: 'caller hung up', upstreamFaults: 0 });
    expect(bridge.server.activeCalls).toBe(0);
  });

  it.each([{ predial: false }, { predial: true }])(
    'while the upstream is still connecting (predial $predial): the dial is abandoned, no upstream session is left open',
    async ({ predial }) => {
      const HANDSHAKE_DELAY_MS = 2_000;
      bridge = await startBridge({ predial, env: { AGENT_GREETING: 'Say hello.' }, sim: { handshakeDelayMs: HANDSHAKE_DELAY_MS } });
      const call = await bridge.call({ audio: { kind: 'silence', durationMs: 300 } });
      const result = await call.closed;
      const [summary] = await bridge.waitForSummaries(1);

      expect(result.endedBy).toBe('caller');
      expect(result.heardMsTotal).toBe(0);
      expect(summary).toMatchObject({ callSid: call.callSid, endReason: 'caller hung up', responses: 0, upstreamFaults: 0 });
      expect(bridge.server.activeCalls).toBe(0);
      expect(bridge.sim.upgradeAttempts).toHaveLength(1);
      // Past the simulated handshake delay: a dial left running would now be accepted and sit open.
      await sleep(HANDSHAKE_DELAY_MS + 300);
      expect(bridge.sim.upgradeAttempts).toHaveLength(1);
      expect(bridge.sim.sessions.filter((session) => session.isOpen)).toEqual([]);
    },
  );
});

describe('audio/pcmu pass-through', () => {
  it('asks for pcmu both ways, forwards the caller bytes untouched, and plays the answer byte for byte', async () => {
    bridge = await startBridge({
      env: { AGENT_GREETING: '', OPENAI_AUDIO_FORMAT: 'pcmu' },
      sim: { reply: { kind: 'tone-coded', durationMs: 1_000 } },
    });
    // The question ends at ~4.0 s; VAD commits ~0.5 s later; the 1 s answer has been heard by ~5.7 s.
    const call = await bridge.call({ audio: { kind: 'fixture', path: 'fixtures/greeting-question.jsonl' }, hangUpAfterMs: 6_300 });
    const result = await call.closed;
    const [summary] = await bridge.waitForSummaries(1);
    const session = bridge.sim.sessions[0]!;

    const sessionUpdate = session.eventsIn('session.update')[0]!['session'] as { audio: { input: { format: unknown }; output: { format: unknown } } };
    expect(sessionUpdate.audio.input.format).toEqual({ type: 'audio/pcmu' });
    expect(sessionUpdate.audio.output.format).toEqual({ type: 'audio/pcmu' });

    expect(session.committedTurns).toHaveLength(1);
    expect(session.responsesPerCommittedTurn()).toEqual([1]);
    expect(session.eventsIn('response.create')).toHaveLength(0);
    expect(session.errors()).toEqual([]);

    // Caller → agent: the appended audio is the caller's mu-law, byte for byte.
    const sentMedia = result.sent.filter((sent) => sent.message.event === 'media');
    const callerBytes = concat(sentMedia.map((sent) => Buffer.from((sent.message as { media: { payload: string } }).media.payload, 'base64')));
    const appended = concat(session.eventsIn('input_audio_buffer.append').map((event) => Buffer.from(String(event['audio']), 'base64')));
    expect(appended.length).toBe(callerBytes.length);
    expect(Buffer.from(appended).equals(Buffer.from(callerBytes))).toBe(true);

    // Agent → caller: what was heard is exactly what the model sent (1 000 ms = 50 whole frames, no padding).
    const modelBytes = concat(session.eventsOut('response.output_audio.delta').map((event) => Buffer.from(event.delta, 'base64')));
    expect(modelBytes.length).toBe(8_000);
    expect(Buffer.from(result.heardAudio).equals(Buffer.from(modelBytes))).toBe(true);
    expect(heardToneSegments(result.heardAudio)).toEqual(wholeResponse(0, 1_000));
    expect(result.underrunCount).toBe(0);

    expect(summary).toMatchObject({ turns: 1, responses: 1, framesIn: sentMedia.length, framesOut: 50, underruns: 0, sequenceErrors: 0 });
  });
});
