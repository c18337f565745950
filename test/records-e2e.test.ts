/**
 * Call records, end to end on real sockets: the bridge with its CallRecords observer between the simulated Twilio
 * caller and the simulated Realtime server, writing to a real store (PGlite in a temp DATA_DIR, and the same test on
 * PostgreSQL when TEST_DATABASE_URL is set; see helpers/records-db.ts for the skip/fail rule).
 *
 * One call: the agent greets, the caller asks (talk-over fixture), talks over the long answer, presses 5, hangs up.
 * The record read back from the store must say exactly that — the caller's words as the simulator transcribed them,
 * the interrupted answer cut to what was heard, a latency per turn equal to the bridge's own `turn_latency`, the
 * simulator's token usage, the key press — and name a WAV whose right channel is what the simulated caller heard and
 * whose left channel is what the caller sent.
 *
 * And: a record database that cannot be opened never touches a call; the records land once it opens.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentFromConfig } from '../src/agents/from-config.js';
import type { AgentDefinition, AgentRoster } from '../src/agents/types.js';
import { MULAW_BYTES_PER_FRAME, MULAW_BYTES_PER_MS } from '../src/audio/frames.js';
import { decodeMulaw } from '../src/audio/mulaw.js';
import { base64ToBytes, concatBytes } from '../src/audio/pcm.js';
import type { CallEvent } from '../src/call/call-events.js';
import { systemClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import type { CallInfo, CallObserver } from '../src/observers/hub.js';
import { openRecordStore } from '../src/records/db.js';
import { costOf, DEFAULT_PRICES } from '../src/records/pricing.js';
import { CallRecords } from '../src/records/service.js';
import type { CallRecord, RecordStore } from '../src/records/types.js';
import { decodeToneTimeline, generateToneTimeline, type SimulatedSession } from '../src/simulator/realtime/server.js';
import type { CallResult } from '../src/simulator/twilio-caller.js';
import { cutAtWord } from '../src/voice/transcript-cut.js';
import type { TokenUsage } from '../src/voice/port.js';
import { AUTH_TOKEN, OPENAI_KEY, PUBLIC_BASE_URL, sleep, startBridge, type Bridge } from './helpers/e2e.js';
import { createPostgresSchema, POSTGRES_MISSING, postgresMode, TEST_DATABASE_URL, warnPostgresSkipped, type PostgresSchema } from './helpers/records-db.js';

const CALLER = '+14155550100';
const AGENT_NUMBER = '+14155550199';

/** What the simulated agent says, per response index: length of its tone-coded audio and its transcript. */
const REPLIES = [
  { ms: 700, text: 'Hello, you have reached Example Shoes. How can I help?' },
  {
    ms: 6_000,
    text:
      'Our return policy for shoes is simple: you can bring back any unworn pair within thirty days with the receipt, and we ' +
      'will refund the full price to your card or give you store credit, whichever you prefer today. Thanks.',
  },
  { ms: 1_500, text: 'Of course, what is your other question?' },
  { ms: 1_200, text: 'You pressed five. One moment, please.' },
] as const;
/** What the caller says in talk-over.jsonl (fixtures/README.md), as the simulator "transcribes" it. */
const CALLER_TEXTS = ['Can you tell me about your return policy for shoes?', 'Wait, stop, I have another question.'];
/** After the interruption's answer (which ends ~10.8 s into the call). */
const DTMF_AT_MS = 11_000;

/** A fresh temp dir per use, removed after each test. */
const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

let bridge: Bridge | null = null;
let stores: RecordStore[] = [];
let schemas: PostgresSchema[] = [];
afterEach(async () => {
  await bridge?.close();
  bridge = null;
  for (const store of stores) await store.close();
  stores = [];
  for (const schema of schemas) await schema.drop();
  schemas = [];
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The env of the bridge under test: records on, recordings and data in temp dirs, transcription at its default. */
function recordsEnv(): Record<string, string> {
  return { RECORDS: 'on', RECORDINGS_DIR: tempDir('cb-rec-wav-'), DATA_DIR: tempDir('cb-rec-data-') };
}

/** One agent on AGENT_NUMBER that records its calls (everything else from the same environment as the bridge). */
function recordingRoster(env: Record<string, string>): AgentRoster {
  const agent: AgentDefinition = {
    ...agentFromConfig(loadConfig({ OPENAI_API_KEY: OPENAI_KEY, TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL, ...env })),
    name: 'front-desk',
    numbers: [AGENT_NUMBER],
    recording: true,
  };
  expect(agent.transcriptionModel).not.toBeNull(); // records on: the caller's words are transcribed by default
  return { agents: [agent], defaultAgent: agent, source: 'file' };
}

/** Every live event per call, in order, as any observer sees them. */
function eventLog(): { observer: CallObserver; events: Map<string, CallEvent[]>; infos: Map<string, CallInfo> } {
  const events = new Map<string, CallEvent[]>();
  const infos = new Map<string, CallInfo>();
  const observer: CallObserver = {
    name: 'test-events',
    callStarted: (info) => void infos.set(info.callSid, info),
    callEvent: (info, event) => {
      const list = events.get(info.callSid) ?? [];
      list.push(event);
      events.set(info.callSid, list);
    },
  };
  return { observer, events, infos };
}

async function waitForRecord(store: RecordStore, callSid: string, timeoutMs: number): Promise<{ record: CallRecord; waitedMs: number }> {
  const startedAt = Date.now();
  for (;;) {
    const record = await store.getCall(callSid);
    if (record !== null) return { record, waitedMs: Date.now() - startedAt };
    if (Date.now() - startedAt > timeoutMs) throw new Error(`no record for ${callSid} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The simulator's usage, summed over every `response.done` it sent (mapped as the OpenAI adapter maps it). */
function simulatorUsage(session: SimulatedSession): TokenUsage {
  const total: TokenUsage = { inputTokens: 0, outputTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 };
  for (const entry of session.log) {
    if (entry.direction !== 'out' || entry.event.type !== 'response.done') continue;
    const usage = entry.event.response.usage;
    if (usage === undefined) continue;
    total.inputTokens += usage.input_tokens ?? 0;
    total.outputTokens += usage.output_tokens ?? 0;
    total.inputAudioTokens += usage.input_token_details?.audio_tokens ?? 0;
    total.outputAudioTokens += usage.output_token_details?.audio_tokens ?? 0;
    total.cachedTokens += usage.input_token_details?.cached_tokens ?? 0;
  }
  return total;
}

/** Our stereo WAV split into its channels (the header checked: 8 kHz, 16-bit, 2 channels, sizes filled in). */
function readStereo(file: Buffer): { left: Int16Array; right: Int16Array } {
  expect(file.toString('ascii', 0, 4)).toBe('RIFF');
  expect(file.readUInt32LE(4)).toBe(file.length - 8);
  expect([file.readUInt16LE(22), file.readUInt32LE(24), file.readUInt16LE(34)]).toEqual([2, 8_000, 16]);
  expect(file.readUInt32LE(40)).toBe(file.length - 44);
  const samples = new Int16Array(file.buffer.slice(file.byteOffset + 44, file.byteOffset + file.length));
  const left = new Int16Array(samples.length / 2);
  const right = new Int16Array(samples.length / 2);
  for (let index = 0; index < left.length; index++) {
    left[index] = samples[index * 2]!;
    right[index] = samples[index * 2 + 1]!;
  }
  return { left, right };
}

/** First index where the arrays differ, -1 when equal (an exact comparison without a million-line diff). */
function firstMismatch(actual: Int16Array, expected: Int16Array): number {
  const length = Math.min(actual.length, expected.length);
  for (let index = 0; index < length; index++) if (actual[index] !== expected[index]) return index;
  return actual.length === expected.length ? -1 : length;
}

/** Runs of non-zero samples, joined across gaps shorter than `joinGap` (a tone crosses zero; answers are seconds apart). */
function nonSilentSpans(samples: Int16Array, joinGap: number): Array<{ start: number; end: number }> {
  const spans: Array<{ start: number; end: number }> = [];
  for (let index = 0; index < samples.length; index++) {
    if (samples[index] === 0) continue;
    const last = spans.at(-1);
    if (last !== undefined && index - last.end < joinGap) last.end = index + 1;
    else spans.push({ start: index, end: index + 1 });
  }
  return spans;
}

/** `samples` without its leading and trailing zeros, and where it began. */
function trimSilence(samples: Int16Array): { offset: number; samples: Int16Array } {
  let start = 0;
  let end = samples.length;
  while (start < end && samples[start] === 0) start++;
  while (end > start && samples[end - 1] === 0) end--;
  return { offset: start, samples: samples.subarray(start, end) };
}

interface PlayedRun {
  /** Sample position of the run's first non-silent sample on its own timeline. */
  at: number;
  samples: Int16Array;
}

/**
 * The recording's right channel against what the simulated caller heard, run by run (one run per answer played).
 *
 * Why not one array comparison: the two sides put the same audio on two clocks. The recording places a run where the
 * bridge SENT its first frame and cuts it where the bridge SENT `clear` (bridge clock, time 0 = the stream's `start`
 * as the bridge accepted it); the simulated caller plays it from where the frame ARRIVED and stops it where `clear`
 * arrived (its clock, time 0 = `start` as sent). So the whole caller timeline is later by the start's delivery and
 * handling (13–37 ms seen on a loaded 2-core machine), each run a few ms more or less (its own delivery: same process,
 * one event loop), and the interrupted run is longer on the caller's side by the clear's delivery (~1 ms = 8 samples).
 * An exact whole-array equality is therefore not achievable. What is: the timelines aligned once by the first
 * non-silent sample, every run's audio identical sample for sample (the cut run over the part both have, the cut
 * within one 20 ms frame), and every run where the caller heard it, to within two frames.
 */
function compareRightChannel(right: Int16Array, result: CallResult, interruptedRun: number): { offsets: number[]; cutDiff: number } {
  const heard: PlayedRun[] = result.heardSegments.map((segment) => {
    const trimmed = trimSilence(decodeMulaw(segment.bytes));
    return { at: Math.round(segment.startMs * MULAW_BYTES_PER_MS) + trimmed.offset, samples: trimmed.samples };
  });
  const recorded: PlayedRun[] = nonSilentSpans(right, 50 * MULAW_BYTES_PER_MS).map((span) => ({ at: span.start, samples: right.subarray(span.start, span.end) }));
  expect(recorded.map((run) => run.samples.length > 0)).toEqual(heard.map(() => true));
  expect(recorded).toHaveLength(heard.length);
  const offsets = heard.map((run, index) => run.at - recorded[index]!.at);
  let cutDiff = 0;
  heard.forEach((run, index) => {
    const mine = recorded[index]!.samples;
    if (index === interruptedRun) {
      cutDiff = run.samples.length - mine.length;
      const common = Math.min(run.samples.length, mine.length);
      expect(firstMismatch(mine.subarray(0, common), run.samples.subarray(0, common))).toBe(-1);
      expect(Math.abs(cutDiff)).toBeLessThanOrEqual(MULAW_BYTES_PER_FRAME);
    } else {
      expect(firstMismatch(mine, run.samples)).toBe(-1);
    }
  });
  // One alignment for the whole call, by the first non-silent sample (the greeting's): the caller's timeline runs
  // behind the recording's by the time from `start` sent to the stream accepted (never ahead, up to a sample of
  // rounding; tens of ms on a loaded machine). Every later run then sits where the caller heard it, to within two
  // frames: the runs' own deliveries differ by a few ms, up to 12 ms seen for the greeting (the first frame of the call,
  // sent while the process is still busy setting the call up).
  const aligned = offsets[0]!;
  expect(aligned).toBeGreaterThanOrEqual(-1);
  expect(aligned).toBeLessThanOrEqual(200 * MULAW_BYTES_PER_MS);
  for (const offset of offsets) expect(Math.abs(offset - aligned)).toBeLessThanOrEqual(2 * MULAW_BYTES_PER_FRAME);
  return { offsets, cutDiff };
}

async function fullCallScenario(openStore: (dataDir: string) => Promise<RecordStore>): Promise<void> {
  const env = recordsEnv();
  const store = await openStore(env['DATA_DIR']!);
  stores.push(store);
  const log = eventLog();
  bridge = await startBridge({
    env,
    agents: recordingRoster(env),
    observers: [log.observer],
    sim: {
      // 8× real time: the 6 s answer is all generated (response completed, whole transcript) long before the caller
      // talks over it ~2 s into its playback.
      speedFactor: 8,
      callerTranscripts: CALLER_TEXTS,
      reply: {
        kind: 'custom',
        generate: (index) => generateToneTimeline(index, REPLIES[index]?.ms ?? 500),
        transcript: (index) => REPLIES[index]?.text ?? `Extra response ${index}.`,
      },
    },
    records: (config, logger) => new CallRecords({ config, logger, clock: systemClock, secrets: [OPENAI_KEY, AUTH_TOKEN], store }),
  });
  const callStartedAt = Date.now();
  const call = await bridge.call({
    from: CALLER,
    to: AGENT_NUMBER,
    audio: { kind: 'fixture', path: 'fixtures/talk-over.jsonl' },
    dtmf: [{ atMs: DTMF_AT_MS, digit: '5' }],
    trailingSilenceMs: 1_500,
  });
  const result = await call.closed;
  const [summary] = await bridge.waitForSummaries(1);
  const callMs = Date.now() - callStartedAt;
  const { record, waitedMs } = await waitForRecord(store, call.callSid, 10_000);
  const session = bridge.sim.sessions[0]!;
  const events = log.events.get(call.callSid) ?? [];
  const info = log.infos.get(call.callSid)!;

  // The call itself went as scripted: four answers, one barge-in, nothing lost.
  expect(result.endedBy).toBe('caller');
  expect(session.responses.map((response) => response.transcript)).toEqual(REPLIES.map((reply) => reply.text));
  expect(summary).toMatchObject({ bargeIns: 1, responses: 4, turns: 2, underruns: 0, sequenceErrors: 0, upstreamFaults: 0 });
  expect(result.clears).toHaveLength(1);
  expect(result.unplayedBytesAtEnd).toBe(0);

  // Who, where, what.
  expect(record).toMatchObject({
    callSid: call.callSid,
    streamSid: call.streamSid,
    direction: 'inbound',
    from: CALLER,
    to: AGENT_NUMBER,
    agent: 'front-desk',
    provider: 'openai',
    model: 'gpt-realtime',
    startedAtEpochMs: info.startedAtEpochMs,
    answeredAtEpochMs: info.startedAtEpochMs,
    durationMs: summary!.durationMs,
    endReason: 'caller hung up',
    finalStatus: null,
    answeredBy: null,
  });
  expect(record.endedAtEpochMs).toBeGreaterThanOrEqual(record.startedAtEpochMs + record.durationMs);

  // The transcript as the caller heard it, in time order.
  const heardShare = (record.events.find((event) => event.type === 'barge_in')?.data['heard'] as Array<{ itemId: string; heardMs: number; audioMs: number }>)[0]!;
  const answerItem = `0/${session.responses[1]!.itemId}`;
  expect(heardShare.itemId).toBe(answerItem);
  expect(record.transcript.map(({ speaker, text, interrupted }) => ({ speaker, text, interrupted }))).toStrictEqual([
    { speaker: 'agent', text: REPLIES[0].text, interrupted: false },
    { speaker: 'caller', text: CALLER_TEXTS[0], interrupted: false },
    { speaker: 'agent', text: cutAtWord(REPLIES[1].text, heardShare.heardMs / heardShare.audioMs), interrupted: true },
    { speaker: 'caller', text: CALLER_TEXTS[1], interrupted: false },
    { speaker: 'agent', text: REPLIES[2].text, interrupted: false },
    { speaker: 'agent', text: REPLIES[3].text, interrupted: false },
  ]);
  expect(record.transcript.map((line) => line.seq)).toEqual([0, 1, 2, 3, 4, 5]);
  const atMs = record.transcript.map((line) => line.atMs);
  expect([...atMs].sort((a, b) => a - b)).toEqual(atMs);
  const cut = record.transcript[2]!;
  expect(cut).toMatchObject({ itemId: answerItem, fullText: REPLIES[1].text, heardMs: heardShare.heardMs });
  expect(cut.text.length).toBeGreaterThan(0);
  expect(cut.text.length).toBeLessThan(REPLIES[1].text.length);
  expect(REPLIES[1].text.startsWith(cut.text)).toBe(true);
  // heardMs is what the caller really heard of that answer (the run the clear cut), to a frame or two.
  const interruptedRun = 1;
  const heardOfAnswerMs = result.heardSegments[interruptedRun]!.bytes.length / MULAW_BYTES_PER_MS;
  expect(Math.abs(cut.heardMs! - heardOfAnswerMs)).toBeLessThanOrEqual(40);
  expect(heardShare.audioMs).toBe(REPLIES[1].ms); // the whole answer had reached the bridge (simulator at 8× real time)

  // One latency per turn, each the bridge's own turn_latency.
  const latencies = events.filter((event): event is Extract<CallEvent, { type: 'turn_latency' }> => event.type === 'turn_latency');
  expect(latencies.map((event) => event.turn)).toEqual([1, 2]);
  expect(record.turns.map((turn) => turn.turn)).toEqual([1, 2]);
  expect(record.turns.map((turn) => turn.latencyMs)).toEqual(latencies.map((event) => Math.round(event.latencyMs)));
  for (const turn of record.turns) {
    expect(turn.latencyMs).toBeGreaterThan(0);
    expect(turn.firstAudioAtMs).toBeGreaterThan(turn.callerStoppedAtMs);
    expect(Math.abs(turn.firstAudioAtMs! - turn.callerStoppedAtMs - turn.latencyMs!)).toBeLessThanOrEqual(1);
  }
  expect(record.responses).toHaveLength(4);
  for (const response of record.responses) {
    expect(response.firstAudioLatencyMs).toBeGreaterThanOrEqual(0);
    expect(response.status).toBe('completed'); // the simulator finished generating each before the caller spoke over it
  }

  // Usage and cost: the simulator's own numbers, priced as gpt-realtime.
  const usage = simulatorUsage(session);
  expect(usage.outputAudioTokens).toBeGreaterThan(0);
  expect(record.usage).toStrictEqual(usage);
  expect(summary!.usage).toStrictEqual(usage);
  expect(record.cost.priceModel).toBe('gpt-realtime');
  expect(record.cost.totalUsd).toBeGreaterThan(0);
  expect(record.cost.totalUsd).toBe(costOf(DEFAULT_PRICES['gpt-realtime']!, usage, record.durationMs));

  // The key press, on the call's time axis (when the bridge got it: sent at 11 s, a few ms of delivery).
  const dtmf = record.events.filter((event) => event.type === 'dtmf');
  expect(dtmf.map((event) => event.data)).toEqual([{ digit: '5' }]);
  expect(dtmf[0]!.atMs).toBeGreaterThanOrEqual(DTMF_AT_MS - 20);
  expect(dtmf[0]!.atMs).toBeLessThan(DTMF_AT_MS + 200);
  expect(record.events.map((event) => event.type)).toEqual(['barge_in', 'dtmf']);
  expect(record.counters).toMatchObject({ bargeIns: 1, turns: 2, responses: 4, underruns: 0, framesOut: summary!.framesOut });

  // The recording: a complete WAV in RECORDINGS_DIR, named by the record.
  const recordingsDir = bridge.config.records.recordingsDir;
  expect(record.recording).not.toBeNull();
  const { file, bytes, durationMs } = record.recording!;
  expect(file).toBe(`${call.callSid}.wav`);
  const wav = readFileSync(join(recordingsDir, file));
  expect(statSync(join(recordingsDir, file)).size).toBe(bytes);
  const { left, right } = readStereo(wav);
  // The recording ends on a sample, not on a ms: the store keeps whole ms (rounded).
  expect(durationMs).toBe(Math.round(left.length / MULAW_BYTES_PER_MS));

  // LEFT = the caller's audio exactly as sent, frame after frame from time 0; silence after the last frame.
  const sentAudio = concatBytes(
    result.sent.flatMap(({ message }) => (message.event === 'media' ? [base64ToBytes(message.media.payload)] : [])),
  );
  const sentPcm = decodeMulaw(sentAudio);
  expect(sentPcm.length).toBeGreaterThan(12_000 * MULAW_BYTES_PER_MS);
  expect(firstMismatch(left.subarray(0, sentPcm.length), sentPcm)).toBe(-1);
  expect(left.subarray(sentPcm.length).every((sample) => sample === 0)).toBe(true);

  // RIGHT = what the caller heard: the same four runs, identical sample for sample, where the caller heard them.
  expect(result.heardSegments).toHaveLength(4);
  expect(decodeMulaw(result.heardAudio)).toStrictEqual(decodeMulaw(concatBytes(result.heardSegments.map((segment) => segment.bytes))));
  const heardTones = result.heardSegments.map((segment) => new Set(decodeToneTimeline(decodeMulaw(segment.bytes)).map((tone) => tone.responseIndex)));
  expect(heardTones).toEqual([new Set([0]), new Set([1]), new Set([2]), new Set([3])]);
  const alignment = compareRightChannel(right, result, interruptedRun);
  console.info(
    `records e2e: call ${callMs} ms, record in the store ${waitedMs} ms after the call ended; ` +
      `right channel: per-run offset caller−recording ${alignment.offsets.join(', ')} samples, cut differs by ${alignment.cutDiff} samples`,
  );
}

describe('call records end to end (PGlite)', () => {
  it('a greeted call with a turn, a barge-in and a key press lands in the store as it happened, with its recording', { timeout: 60_000 }, async () => {
    await fullCallScenario((dataDir) => openRecordStore({ databaseUrl: null, dataDir, logger: silentLogger() }));
  });
});

const mode = postgresMode();
if (mode === 'skip') warnPostgresSkipped('records-e2e.test.ts');

describe('call records end to end (PostgreSQL)', () => {
  if (mode === 'fail') {
    it('needs TEST_DATABASE_URL on CI', () => {
      throw new Error(POSTGRES_MISSING);
    });
    return;
  }
  it.skipIf(mode === 'skip')('the same call lands in PostgreSQL the same way', { timeout: 60_000 }, async () => {
    const schema = await createPostgresSchema(TEST_DATABASE_URL!);
    schemas.push(schema);
    await fullCallScenario((dataDir) => openRecordStore({ databaseUrl: schema.url, dataDir, logger: silentLogger() }));
  });
});

describe('call records while the database is unavailable', () => {
  it('a record store that cannot be opened never touches a call; the records land once it opens', { timeout: 60_000 }, async () => {
    const env = recordsEnv();
    const GREETING_MS = 700;
    /** Date.now() of every open attempt the writer made. */
    const attempts: number[] = [];
    let reachable = false;
    let opens = 0;
    let opened: RecordStore | null = null;
    // The production form of the source: a factory the writer calls at start and again after each failed open.
    const source = (): Promise<RecordStore> => {
      attempts.push(Date.now());
      if (!reachable) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
      opens += 1;
      return openRecordStore({ databaseUrl: null, dataDir: env['DATA_DIR']!, logger: silentLogger() }).then((store) => {
        stores.push(store);
        opened = store;
        return store;
      });
    };
    bridge = await startBridge({
      env,
      agents: recordingRoster(env),
      sim: { reply: { kind: 'tone-coded', durationMs: GREETING_MS } },
      records: (config, logger) => new CallRecords({ config, logger, clock: systemClock, secrets: [OPENAI_KEY, AUTH_TOKEN], store: source }),
    });
    const callOptions = { from: CALLER, to: AGENT_NUMBER, audio: { kind: 'silence', durationMs: 2_000 } } as const;

    // Call 1: the database has been unreachable since start (the writer keeps trying to open it).
    const first = await bridge.call(callOptions);
    const firstResult = await first.closed;
    await bridge.waitForSummaries(1);
    // Call 2 runs while the writer still fails to open the store, with call 1's record waiting.
    const secondStartedAt = Date.now();
    const second = await bridge.call(callOptions);
    const secondResult = await second.closed;
    const secondEndedAt = Date.now();
    const [firstSummary, secondSummary] = await bridge.waitForSummaries(2);
    expect(attempts.filter((at) => at >= secondStartedAt && at <= secondEndedAt).length).toBeGreaterThanOrEqual(1);

    // Both calls went normally: the whole greeting heard, no underrun, the same counters with or without the outage.
    for (const [result, summary] of [
      [firstResult, firstSummary!],
      [secondResult, secondSummary!],
    ] as const) {
      expect(result.endedBy).toBe('caller');
      expect(result.underrunCount).toBe(0);
      expect(result.heardMsTotal).toBe(GREETING_MS);
      expect(decodeToneTimeline(decodeMulaw(result.heardAudio)).map((tone) => [tone.responseIndex, tone.segmentIndex])).toEqual(
        Array.from({ length: GREETING_MS / 100 }, (_, index) => [0, index]),
      );
      expect(summary).toMatchObject({ endReason: 'caller hung up', underruns: 0, underrunMs: 0, sequenceErrors: 0, upstreamFaults: 0, framesOut: GREETING_MS / 20 });
    }
    const { callSid: _a, streamSid: _b, durationMs: _c, framesIn: _d, ...firstCounters } = firstSummary!;
    const { callSid: _e, streamSid: _f, durationMs: _g, framesIn: _h, ...secondCounters } = secondSummary!;
    expect(secondCounters).toStrictEqual(firstCounters);
    expect(Math.abs(secondSummary!.framesIn - firstSummary!.framesIn)).toBeLessThanOrEqual(1);

    // The database comes back: the store opens once, both records land, none lost, none twice.
    const queuedDeadline = Date.now() + 5_000; // call 2's record is queued once its recording is closed
    while (bridge.records!.stats().pending < 2 && Date.now() < queuedDeadline) await sleep(20);
    expect(bridge.records!.stats()).toMatchObject({ written: 0, pending: 2, dropped: 0 });
    reachable = true;
    const openDeadline = Date.now() + 20_000;
    while (opened === null && Date.now() < openDeadline) await sleep(50);
    expect(opened).not.toBeNull();
    const store: RecordStore = opened!;
    const [firstRecord, secondRecord] = [(await waitForRecord(store, first.callSid, 10_000)).record, (await waitForRecord(store, second.callSid, 10_000)).record];
    expect(opens).toBe(1);
    expect(bridge.records!.stats()).toMatchObject({ written: 2, pending: 0, dropped: 0 });
    expect(bridge.records!.stats().failedAttempts).toBeGreaterThanOrEqual(1);
    expect(bridge.records!.stats().lastError).toContain('ECONNREFUSED');
    for (const [record, summary] of [
      [firstRecord, firstSummary!],
      [secondRecord, secondSummary!],
    ] as const) {
      expect(record).toMatchObject({ endReason: 'caller hung up', durationMs: summary.durationMs, usage: summary.usage, agent: 'front-desk' });
      expect(record.transcript.map(({ speaker, interrupted }) => ({ speaker, interrupted }))).toEqual([{ speaker: 'agent', interrupted: false }]);
      expect(record.recording?.file).toBe(`${record.callSid}.wav`);
    }
    expect((await store.listCalls({})).calls.map((call) => call.callSid).sort()).toEqual([first.callSid, second.callSid].sort());
    console.info(
      `records e2e (outage): open attempts at +${attempts.map((at) => at - attempts[0]!).join(', +')} ms; call 2 live ` +
        `${secondStartedAt - attempts[0]!}..${secondEndedAt - attempts[0]!} ms`,
    );
  });
});
