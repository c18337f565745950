/**
 * `npm run demo`: one simulated phone call through the real callbridge server, on the embedded simulated Realtime
 * backend (no accounts needed). The caller (a bundled recording) asks a question, then talks over the agent's
 * answer. Prints a readable timeline from both ends, writes what the caller heard to out/demo-heard.wav, and prints
 * the call's record as read back from the embedded database (PGlite in a temporary DATA_DIR, see
 * embedded-records.ts): the transcript as heard, turn latencies, usage and cost.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { decodeMulaw } from '../src/audio/mulaw.js';
import type { CallSummary } from '../src/call/call.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import { startServer } from '../src/server/app.js';
import { startSimulatedRealtimeServer, type SimulatedSession } from '../src/simulator/realtime/server.js';
import { placeCall } from '../src/simulator/twilio-caller.js';
import { renderHeardTimeline } from '../src/simulator/twilio-playback.js';
import { writeWav } from '../src/audio/wav.js';
import { systemClock } from '../src/clock.js';
import { CallRecords } from '../src/records/service.js';
import type { CallRecord, RecordStore } from '../src/records/types.js';
import { formatCallRecord } from './dial-cli.js';
import { openEmbeddedRecords } from './embedded-records.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixture = path.join(root, 'fixtures/talk-over.jsonl');
const outFile = path.join(root, 'out/demo-heard.wav');
const apiKey = `sim-demo-${process.pid}`;
const authToken = `demo-auth-token-${process.pid}`;
const publicBaseUrl = 'https://callbridge.demo';
/** What the caller says in the fixture (fixtures/README.md): the simulated server "transcribes" each turn so. */
const callerWords = ['Can you tell me about your return policy for shoes?', 'Wait, stop, I have another question.'];

const seconds = (ms: number) => `${(ms / 1000).toFixed(2).padStart(6)} s`;

function sessionTimeline(session: SimulatedSession, offsetMs: number): Array<{ atMs: number; text: string }> {
  const lines: Array<{ atMs: number; text: string }> = [];
  for (const entry of session.log) {
    const atMs = entry.atMs + offsetMs;
    const event = entry.event as { type: string; [key: string]: unknown };
    switch (event.type) {
      case 'response.create':
        if (entry.direction === 'in') lines.push({ atMs, text: `bridge → OpenAI  response.create (${(event['response'] as { instructions?: string } | undefined)?.instructions ? 'greeting' : 'follow-up'})` });
        break;
      case 'input_audio_buffer.speech_started':
        lines.push({ atMs, text: `OpenAI → bridge  caller started speaking (audio_start_ms ${String(event['audio_start_ms'])})` });
        break;
      case 'input_audio_buffer.committed':
        lines.push({ atMs, text: 'OpenAI → bridge  caller turn committed' });
        break;
      case 'response.created':
        lines.push({ atMs, text: 'OpenAI → bridge  response started' });
        break;
      case 'response.done': {
        const response = event['response'] as { status?: string };
        lines.push({ atMs, text: `OpenAI → bridge  response done (${response.status ?? '?'})` });
        break;
      }
      case 'conversation.item.truncate':
        if (entry.direction === 'in') lines.push({ atMs, text: `bridge → OpenAI  truncate the answer at ${String(event['audio_end_ms'])} ms (what the caller heard)` });
        break;
      default:
        break;
    }
  }
  return lines;
}

/** The record is written once the call has ended (off the audio path, by the records writer): wait for it. */
async function readRecord(store: RecordStore, callSid: string, timeoutMs: number): Promise<CallRecord | null> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const record = await store.getCall(callSid);
    if (record !== null || performance.now() > deadline) return record;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function main(): Promise<void> {
  // Output piped into `head` that has closed: keep going quietly (and clean up) rather than die on EPIPE.
  process.stdout.on('error', () => undefined);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'callbridge-demo-'));
  process.once('SIGINT', () => {
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(130);
  });
  try {
    await demo(dataDir);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function demo(dataDir: string): Promise<void> {
  // The database opens before the call: opening PGlite stalls the event loop now and then, which a call would hear.
  const [opened, sim] = await Promise.all([
    openEmbeddedRecords({ root, dataDir }),
    startSimulatedRealtimeServer({ apiKey, reply: { kind: 'speech' }, speedFactor: 3, logAudio: false, callerTranscripts: callerWords }),
  ]);
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: publicBaseUrl,
    TWILIO_AUTH_TOKEN: authToken,
    OPENAI_API_KEY: apiKey,
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    RECORDINGS_DIR: path.join(dataDir, 'recordings'),
  });
  const logger = silentLogger();
  const records = new CallRecords({ config, logger, clock: systemClock, secrets: [apiKey, authToken], store: opened.store });
  let summary: CallSummary | null = null;
  const server = await startServer({
    config,
    logger,
    upstream: { url: sim.url, model: config.openai.model, apiKey, authMode: 'bearer' },
    records,
    onCallEnded: (ended) => (summary = ended),
  });
  console.log(`callbridge demo: server on 127.0.0.1:${server.port}, simulated OpenAI Realtime on ${sim.url}`);
  console.log(
    `records: PGlite in a temporary DATA_DIR, ${opened.how === 'copied' ? 'copied from out/cache and opened' : 'created (initdb; later runs copy it from out/cache)'} in ${opened.openMs.toFixed(0)} ms, before the call`,
  );
  console.log(`caller: ${path.relative(root, fixture)} (asks about returns, then says "wait, stop, I have another question")\n`);

  const sessionConnectedAt = sim.waitForSession(0).then(() => performance.now());
  const callPlacedAt = performance.now();
  const call = await placeCall({ baseUrl: `http://127.0.0.1:${server.port}`, publicBaseUrl, authToken, audio: { kind: 'fixture', path: fixture } });
  const streamStartedAt = performance.now();
  const result = await call.closed;
  for (let wait = 0; summary === null && wait < 50; wait++) await new Promise((resolve) => setTimeout(resolve, 20));
  const session = sim.sessions[0]!;
  const offsetMs = (await sessionConnectedAt) - streamStartedAt;

  const caller = [
    ...result.heardSegments.map((segment) => ({ atMs: segment.startMs, text: `caller hears agent audio for ${(segment.bytes.length / 8 / 1000).toFixed(2)} s` })),
    ...result.clears.map((clear) => ({ atMs: clear.atMs, text: `bridge → Twilio  clear (${clear.droppedBytes / 8} ms of buffered audio dropped)` })),
    { atMs: result.durationMs, text: 'caller hangs up' },
  ];
  const events = [...caller, ...sessionTimeline(session, offsetMs)].sort((a, b) => a.atMs - b.atMs);
  console.log(`timeline (0 = stream start; webhook + pre-dial took ${(streamStartedAt - callPlacedAt).toFixed(0)} ms before it)`);
  for (const event of events) console.log(`  ${seconds(event.atMs)}  ${event.text}`);

  const heard = decodeMulaw(renderHeardTimeline(result.heardSegments, result.durationMs));
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, writeWav(heard, 8_000));
  const finished: CallSummary | null = summary;
  console.log('\nresult');
  console.log(`  heard ${(result.heardMsTotal / 1000).toFixed(2)} s of agent audio, ${result.clears.length} clear(s), ${result.underrunCount} underrun(s)`);
  if (finished !== null) {
    const s: CallSummary = finished;
    console.log(`  call summary: ${s.turns} turns, ${s.responses} responses, ${s.bargeIns} barge-in(s), ${s.truncates} truncate(s), ${s.framesIn} frames in, ${s.framesOut} frames out, ${s.sequenceErrors} sequence errors`);
  }
  console.log(`  responses per caller turn (simulated OpenAI): [${session.responsesPerCommittedTurn().join(', ')}], API errors: ${session.errors().length}`);
  console.log(`  what the caller heard: ${path.relative(root, outFile)}`);

  const record = await readRecord(opened.store, call.callSid, 10_000);
  console.log('\nthe call\'s record, read back from the database');
  if (record === null) console.log('  (not written within 10 s)');
  else for (const line of formatCallRecord(record)) console.log(line);

  await server.close();
  await sim.close();
  records.close();
  await opened.store.close();
  if (record === null) throw new Error('the call record was not written');
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
