/**
 * One scenario of the calls benchmark: the load. A simulated Realtime server in this process (timed through its
 * session observer), a fresh bridge child, its idle cost, then N simulated callers dialled one at a time over the
 * ramp, a warm-up, the steady window measured on both sides, hang-up, and the raw measurements handed to the report.
 *
 * Every call loops fixtures/greeting-question.jsonl (1 s silence, a 3 s question, 6 s of silence for the answer: a
 * 10 s turn cycle), started at a phase spread over the cycle so turns do not all coincide.
 */
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { MULAW_BYTES_PER_FRAME, PCM_BYTES_PER_FRAME } from '../src/audio/frames.js';
import { bytesToBase64 } from '../src/audio/pcm.js';
import { base64DecodedLength } from '../src/providers/openai/wire.js';
import {
  buildFixture,
  fixtureMulaw,
  readFixture,
  type FixtureMessage,
  type TwilioInboundMessage,
} from '../src/simulator/fixtures.js';
import { startSimulatedRealtimeServer, type SimulatedSessionObserver } from '../src/simulator/realtime/server.js';
import { placeCall } from '../src/simulator/twilio-caller.js';
import { startBridge, type Bridge } from './calls-bridge.js';
import { epochNowMs, FRAME_MS, OPENAI_KEY, PUBLIC_BASE_URL, AUTH_TOKEN, sleep, withTimeout } from './calls-common.js';
import type { Mode, Options } from './calls-options.js';
import { scenarioResult, type PlacedCall, type ScenarioResult, type SessionTimes } from './calls-report.js';

const FIXTURE_PATH = fileURLToPath(new URL('../fixtures/greeting-question.jsonl', import.meta.url));
/** How long the idle bridge is measured before the calls. */
const IDLE_MEASURE_MS = 2_000;

/** One turn cycle of caller audio as shared base64 frame payloads (silence 1 s, question 3 s, silence 6 s). */
const CYCLE_PAYLOADS: readonly string[] = (() => {
  const mulaw = fixtureMulaw(readFixture(FIXTURE_PATH));
  const frames = Math.floor(mulaw.length / MULAW_BYTES_PER_FRAME);
  return Array.from({ length: frames }, (_, frame) => bytesToBase64(mulaw.subarray(frame * MULAW_BYTES_PER_FRAME, (frame + 1) * MULAW_BYTES_PER_FRAME)));
})();
export const CYCLE_MS = CYCLE_PAYLOADS.length * FRAME_MS;
const START_MESSAGE = buildFixture({ mulaw: new Uint8Array(0) }).find((entry) => entry.message.event === 'start')!;

/**
 * The caller's messages for `durationMs`: the turn cycle looped, starting `phaseFrames` into it. Payload strings are
 * shared by every call (memory: hundreds of calls × minutes of frames). Timestamps keep increasing across loops.
 */
function callerMessages(phaseFrames: number, durationMs: number): FixtureMessage[] {
  const messages: FixtureMessage[] = [START_MESSAGE];
  const frames = Math.floor(durationMs / FRAME_MS);
  for (let chunk = 1; chunk <= frames; chunk++) {
    const atMs = chunk * FRAME_MS;
    const message: TwilioInboundMessage = {
      event: 'media',
      sequenceNumber: '0',
      streamSid: START_MESSAGE.message.event === 'start' ? START_MESSAGE.message.streamSid : '',
      media: { track: 'inbound', chunk: String(chunk), timestamp: String(atMs), payload: CYCLE_PAYLOADS[(chunk - 1 + phaseFrames) % CYCLE_PAYLOADS.length]! },
    };
    messages.push({ atMs, message });
  }
  return messages;
}

/**
 * Times what each session does as it happens: client events right after parsing, server events right before the
 * socket send. Only appends, deltas and the first `session.updated` are kept, by session index (= call index).
 */
function sessionTimingObserver(all: Array<SessionTimes | undefined>, frameBytes: number): SimulatedSessionObserver {
  const appendedBytes: number[] = [];
  return {
    sessionStarted(session) {
      all[session.index] = { readyAt: null, appendAt: [], firstDeltaAt: [], deltas: 0, lastResponseId: null };
      appendedBytes[session.index] = 0;
    },
    clientEvent(session, event) {
      if (event.type !== 'input_audio_buffer.append') return;
      const times = all[session.index];
      if (times === undefined) return;
      // One time per 20 ms frame the append completes (the bridge gathers APPEND_BATCH_MS of frames per append).
      // Rounded: a resampler's delay leaves the bytes of 24 kHz frames a few samples short of whole frames.
      const before = Math.round(appendedBytes[session.index]! / frameBytes);
      appendedBytes[session.index]! += base64DecodedLength(String(event.audio));
      const after = Math.round(appendedBytes[session.index]! / frameBytes);
      const atMs = epochNowMs();
      for (let frame = before; frame < after; frame++) times.appendAt.push(atMs);
    },
    serverEvent(session, event) {
      const times = all[session.index];
      if (times === undefined) return;
      if (event.type === 'response.output_audio.delta') {
        if (event.response_id !== times.lastResponseId) {
          times.lastResponseId = event.response_id;
          times.firstDeltaAt.push(epochNowMs());
        }
        times.deltas++;
        return;
      }
      if (event.type === 'session.updated' && times.readyAt === null) times.readyAt = epochNowMs();
    },
  };
}

export async function runScenario(mode: Mode, calls: number, seconds: number, options: Options): Promise<ScenarioResult> {
  const sessionTimes: Array<SessionTimes | undefined> = [];
  const sim = await startSimulatedRealtimeServer({
    apiKey: OPENAI_KEY,
    host: '127.0.0.1',
    reply: { kind: 'speech' },
    speedFactor: options.speedFactor,
    logAudio: false,
    // Appends and deltas are timed by the observer; kept in the log they would grow it without bound on long runs.
    logAudioEvents: false,
    retainClosedSessions: false,
    // 20 ms of what the server is asked to take: 24 kHz PCM16 (pcm) or 8 kHz mu-law.
    observer: sessionTimingObserver(sessionTimes, mode === 'pcm' ? PCM_BYTES_PER_FRAME : MULAW_BYTES_PER_FRAME),
  });
  let bridge: Bridge | null = null;
  const placed: PlacedCall[] = [];
  const setupErrors: string[] = [];
  try {
    bridge = await startBridge(mode, calls, `${sim.url}`, options);
    const baseUrl = `http://127.0.0.1:${bridge.port}`;
    await sleep(300);
    const before = await bridge.baseline();
    // Idle cost of the bridge (timers, sampler), for scale: the per-call figure below includes it, spread over N.
    const idle0 = await bridge.stats();
    await sleep(IDLE_MEASURE_MS);
    const idle1 = await bridge.stats();
    const idleCpuMsPerS = (idle1.cpuUserUs + idle1.cpuSystemUs - idle0.cpuUserUs - idle0.cpuSystemUs) / (idle1.atEpochMs - idle0.atEpochMs);

    // Ramp: call i is dialled at t0 + i·ramp/N, one at a time, so that session i on the simulated server is call i's.
    const durationMs = options.rampMs + options.warmupMs + seconds * 1_000 + 10_000 + calls * 20;
    const phaseStep = CYCLE_PAYLOADS.length / calls;
    const t0 = performance.now();
    for (let index = 0; index < calls; index++) {
      await sleep(t0 + (index * options.rampMs) / calls - performance.now());
      try {
        const call = await placeCall({
          baseUrl,
          publicBaseUrl: PUBLIC_BASE_URL,
          authToken: AUTH_TOKEN,
          audio: { kind: 'fixture', messages: callerMessages(Math.floor(index * phaseStep), durationMs) },
          hangUpAfterMs: durationMs,
          // Only times and order are read back: keeping every payload would make this process's GC the bottleneck.
          keepPayloads: false,
        });
        const originPerfMs = performance.now() - call.elapsedMs();
        if (call.outcome !== 'connected') {
          setupErrors.push(`call ${index}: busy`);
          continue;
        }
        await withTimeout(sim.waitForSession(index), 5_000, `simulated session ${index}`);
        placed.push({ index, call, originPerfMs });
      } catch (error) {
        setupErrors.push(`call ${index}: ${(error as Error).message}`);
        if (setupErrors.length > 5) throw new Error(`call setup keeps failing: ${setupErrors.join('; ')}`);
      }
    }
    const rampDoneMs = performance.now() - t0;
    await sleep(options.warmupMs);

    // Steady window.
    const generatorDelay = monitorEventLoopDelay({ resolution: 1 });
    generatorDelay.enable();
    const generatorGc = { count: 0, totalMs: 0, maxMs: 0 };
    const gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        generatorGc.count++;
        generatorGc.totalMs += entry.duration;
        generatorGc.maxMs = Math.max(generatorGc.maxMs, entry.duration);
      }
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    const generatorCpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const windowStart = epochNowMs();
    const s0 = await bridge.stats(true);
    const stopProfile = options.profileDir === null ? null : bridge.startProfile();
    await sleep(seconds * 1_000);
    const s1 = await bridge.stats(false);
    const profilePath = stopProfile === null ? null : await stopProfile();
    if (profilePath !== null) process.stderr.write(`  profile of the steady window: ${profilePath}\n`);
    const windowEnd = epochNowMs();
    const generatorCpu = process.cpuUsage(generatorCpu0);
    const generatorWallMs = performance.now() - wall0;
    generatorDelay.disable();
    gcObserver.disconnect();

    // Hang up, collect.
    const results = await Promise.all(
      placed.map((entry) => withTimeout(entry.call.hangUp(), 10_000, `hang-up of call ${entry.index}`).catch(() => null)),
    );
    // The relay sends no call summaries (the bridge does, when each call has ended).
    if (mode !== 'relay') await bridge.waitForSummaries(placed.length, 10_000);
    const summaries = bridge.summaries;
    const warnings = bridge.warnings;
    await bridge.stop();


    const result = scenarioResult({
      mode,
      calls,
      cycleMs: CYCLE_MS,
      setupErrors,
      placed,
      results,
      sessionTimes,
      windowStart,
      windowEnd,
      summaries,
      warnings,
      pinned: bridge.pinned,
      before,
      idleCpuMsPerS,
      s0,
      s1,
      generatorCpu,
      generatorWallMs,
      generatorDelay,
      generatorGc,
    });
    if (rampDoneMs > options.rampMs * 3 + 2_000) process.stderr.write(`  note: the ramp took ${Math.round(rampDoneMs)} ms (call setup is sequential)\n`);
    return result;
  } finally {
    for (const entry of placed) void entry.call.hangUp().catch(() => undefined);
    await bridge?.stop();
    await sim.close();
  }
}
