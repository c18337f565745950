import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MULAW_BYTES_PER_FRAME } from '../src/audio/frames.js';
import { decodeMulaw } from '../src/audio/mulaw.js';
import { bytesToBase64, concatBytes } from '../src/audio/pcm.js';
import { readWav } from '../src/audio/wav.js';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/logger.js';
import { CallRecording } from '../src/records/recording.js';
import { RecordingRetention, sweepRecordings } from '../src/records/retention.js';
import { renderHeardTimeline, TwilioPlaybackEmulator } from '../src/simulator/twilio-playback.js';
import { captureLogs } from './helpers/twilio-logs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'callbridge-wav-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A distinct, deterministic mu-law frame per `seed` (every byte value shows up across frames). */
function frame(seed: number, length = MULAW_BYTES_PER_FRAME): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (seed * 37 + index * 11 + 1) & 0xff);
}

/** Reads our stereo WAV by hand (readWav mixes down to mono): checks the header, splits the channels. */
function readStereo(file: Buffer): { left: Int16Array; right: Int16Array } {
  expect(file.toString('ascii', 0, 4)).toBe('RIFF');
  expect(file.readUInt32LE(4)).toBe(file.length - 8);
  expect(file.toString('ascii', 8, 16)).toBe('WAVEfmt ');
  expect([file.readUInt32LE(16), file.readUInt16LE(20), file.readUInt16LE(22), file.readUInt32LE(24), file.readUInt32LE(28), file.readUInt16LE(32), file.readUInt16LE(34)]).toEqual([
    16, 1, 2, 8_000, 32_000, 4, 16,
  ]);
  expect(file.toString('ascii', 36, 40)).toBe('data');
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

/** First index where the arrays differ (-1 when equal): exact comparison without a 5-million-line diff. */
function firstMismatch(actual: Int16Array, expected: Int16Array): number {
  if (actual.length !== expected.length) return Math.min(actual.length, expected.length);
  for (let index = 0; index < actual.length; index++) if (actual[index] !== expected[index]) return index;
  return -1;
}

/** mulberry32: a seeded PRNG, so a failing scenario replays. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value ^= value + Math.imul(value ^ (value >>> 7), 61 | value);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Simulated time runs far faster than real time here: let the disk catch up now and then, as it does between the
 * frames of a real call (the backlog is capped at 1 MiB, 32 s of audio).
 */
async function diskCaughtUp(recording: CallRecording): Promise<void> {
  for (let waits = 0; recording.backlogBytes > 0 && waits < 2_000; waits++) await new Promise((resolve) => setTimeout(resolve, 1));
}

const media = (bytes: Uint8Array) => ({ event: 'media', media: { payload: bytesToBase64(bytes) } });

describe('CallRecording', () => {
  it('writes an 8 kHz 16-bit stereo WAV with the caller frames, decoded sample for sample, on the left', async () => {
    const clock = new ManualClock(5_000);
    const recording = new CallRecording({ path: path.join(dir, 'CA1.wav'), clock, originMs: 5_000, logger: silentLogger() });
    const frames: Uint8Array[] = [];
    for (let index = 0; index < 50; index++) {
      frames.push(frame(index));
      recording.callerAudio(frames[index]!);
      clock.advance(20);
    }
    const info = await recording.close();
    expect(info).toEqual({ file: 'CA1.wav', durationMs: 1_000, bytes: 44 + 8_000 * 4 });
    expect(await recording.close()).toBe(info);

    const file = await readFile(path.join(dir, 'CA1.wav'));
    expect(file.length).toBe(32_044);
    const { left, right } = readStereo(file);
    expect(firstMismatch(left, decodeMulaw(concatBytes(frames)))).toBe(-1);
    expect(right.every((sample) => sample === 0)).toBe(true);
    const mono = readWav(file);
    expect(mono.sampleRateHz).toBe(8_000);
    expect(mono.samples.length).toBe(8_000);
    expect(mono.samples[5]).toBe(Math.round(left[5]! / 2));
  });

  it('plays agent frames at max(sent, buffered end) and cuts a clear at the exact sample', async () => {
    const clock = new ManualClock(0);
    const recording = new CallRecording({ path: path.join(dir, 'r.wav'), clock, originMs: 0, logger: silentLogger() });
    const at = (ms: number) => clock.advance(ms - clock.now());
    const [a, b, c, d, e, f, g] = [frame(1), frame(2), frame(3), frame(4), frame(5), frame(6), frame(7)];
    at(100);
    recording.agentFrame(a, 100); // plays [100, 120) ms
    at(105);
    recording.agentFrame(b, 105); // buffered behind a: [120, 140)
    at(300);
    recording.agentFrame(c, 300); // the buffer ran dry: [300, 320)
    at(400.06);
    for (const bytes of [d, e, f]) recording.agentFrame(bytes, 400.06); // from sample round(3200.48) = 3200
    at(427.3);
    recording.agentCleared(427.3); // played floor(27.24 ms × 8) = 217 samples: d whole, 57 of e
    at(430);
    recording.agentFrame(g, 430); // from sample 3440
    at(500);
    const info = await recording.close();
    expect(info).toEqual({ file: 'r.wav', durationMs: 500, bytes: 44 + 4_000 * 4 });

    const expected = new Int16Array(4_000);
    expected.set(decodeMulaw(a), 800);
    expected.set(decodeMulaw(b), 960);
    expected.set(decodeMulaw(c), 2_400);
    expected.set(decodeMulaw(d), 3_200);
    expected.set(decodeMulaw(e.subarray(0, 57)), 3_360);
    expected.set(decodeMulaw(g), 3_440);
    const { left, right } = readStereo(await readFile(path.join(dir, 'r.wav')));
    expect(firstMismatch(right, expected)).toBe(-1);
    expect(right[3_416]).toBe(decodeMulaw(e)[56]);
    expect(right[3_417]).toBe(0);
    expect(left.every((sample) => sample === 0)).toBe(true);
  });

  it.each([1, 2, 3, 4])('right channel = what the simulated caller heard, sample for sample (seed %i)', async (seed) => {
    const rand = random(seed);
    const originMs = 1_000.25;
    const clock = new ManualClock(originMs);
    const twilio = new TwilioPlaybackEmulator({ clock, originMs });
    const logs = captureLogs();
    const recording = new CallRecording({ path: path.join(dir, 'call.wav'), clock, originMs, logger: logs.logger });
    const leadMs = 200;
    let playEndMs = -Infinity;
    let answerBytesLeft = 0;
    let stallUntilMs = 0;
    let callerFrames = 0;
    let seq = 0;
    let steps = 0;
    while (clock.now() - originMs < 60_000) {
      const nowMs = clock.now();
      while (callerFrames * 20 <= nowMs - originMs) recording.callerAudio(frame(callerFrames++));
      if (answerBytesLeft === 0 && rand() < 0.02) answerBytesLeft = Math.floor(160 * (5 + rand() * 200));
      if (rand() < 0.004) stallUntilMs = nowMs + 30 + rand() * 400; // the provider is late: Twilio runs dry
      // A bridge-like pacer: at most `leadMs` ahead of playback; now and then an odd-sized payload.
      while (answerBytesLeft > 0 && nowMs >= stallUntilMs && Math.max(0, playEndMs - nowMs) + 20 <= leadMs) {
        const length = Math.min(answerBytesLeft, rand() < 0.05 ? 1 + Math.floor(rand() * 159) : 160);
        const bytes = frame(seq++, length);
        answerBytesLeft -= length;
        playEndMs = Math.max(playEndMs, nowMs) + length / 8;
        twilio.receive(media(bytes));
        recording.agentFrame(bytes, nowMs);
      }
      if (playEndMs > nowMs && rand() < 0.01) {
        twilio.receive({ event: 'clear' });
        recording.agentCleared(nowMs);
        playEndMs = -Infinity;
        answerBytesLeft = 0;
      }
      clock.advance(0.5 + rand() * 12);
      if (++steps % 1_000 === 0) await diskCaughtUp(recording);
    }
    twilio.stop();
    const info = await recording.close();
    expect(logs.lines).toEqual([]);
    expect(info).not.toBeNull();
    expect(twilio.clears.length).toBeGreaterThan(3);
    expect(twilio.underrunCount).toBeGreaterThan(3);
    const file = await readFile(path.join(dir, 'call.wav'));
    expect(file.length).toBe(info!.bytes);
    const { left, right } = readStereo(file);
    // The file's exact length (the record's durationMs is rounded to whole ms).
    const heard = decodeMulaw(renderHeardTimeline(twilio.heardSegments(), right.length / 8));
    expect(info!.durationMs).toBe(Math.round(right.length / 8));
    expect(right.length).toBe(heard.length);
    expect(firstMismatch(right, heard)).toBe(-1);
    expect(right.some((sample) => sample !== 0)).toBe(true);
    const callerAudio = decodeMulaw(concatBytes(Array.from({ length: callerFrames }, (_, index) => frame(index))));
    // The call ends up to 12 ms into the last frame's successor: the left channel ends in silence there.
    expect(left.length - callerAudio.length).toBeLessThan(12 * 8);
    expect(firstMismatch(left.subarray(0, callerAudio.length), callerAudio)).toBe(-1);
    expect(left.subarray(callerAudio.length).every((sample) => sample === 0)).toBe(true);
    expect(recording.stats).toEqual({ samplesDropped: 0, callerFilledMs: 0, failed: false });
  });

  it('keeps memory bounded over a 10-minute call, a 2-minute caller gap included, and still matches Twilio', async () => {
    const clock = new ManualClock(0);
    const twilio = new TwilioPlaybackEmulator({ clock, originMs: 0 });
    const recording = new CallRecording({ path: path.join(dir, 'long.wav'), clock, originMs: 0, logger: silentLogger() });
    const leadMs = 200;
    const bytesPerMs = 32;
    let playEndMs = -Infinity;
    let seq = 0;
    let answers = 0;
    let maxNormalBytes = 0;
    let maxGapBytes = 0;
    const gapStartMs = 240_000;
    const gapEndMs = 360_000;
    for (let nowMs = 0; nowMs < 600_000; nowMs += 20) {
      clock.advance(nowMs - clock.now());
      if (nowMs < gapStartMs || nowMs >= gapEndMs) {
        // The media stream fills a gap with at most 2 s of silence when the caller's frames come back.
        if (nowMs === gapEndMs) recording.callerAudio(new Uint8Array(16_000).fill(0xff));
        recording.callerAudio(frame(nowMs / 20));
      }
      const cycleMs = nowMs % 8_000; // 5 s of answer, 3 s of silence; every 4th answer barged in after 2.5 s
      if (cycleMs === 0) answers++;
      if (answers % 4 === 0 && cycleMs === 2_500) {
        twilio.receive({ event: 'clear' });
        recording.agentCleared(nowMs);
        playEndMs = -Infinity;
      }
      const talking = cycleMs < 5_000 && !(answers % 4 === 0 && cycleMs >= 2_500);
      while (talking && Math.max(0, playEndMs - nowMs) + 20 <= leadMs) {
        const bytes = frame(seq++);
        playEndMs = Math.max(playEndMs, nowMs) + 20;
        twilio.receive(media(bytes));
        recording.agentFrame(bytes, nowMs);
      }
      if (nowMs >= gapStartMs && nowMs < gapEndMs + 1_000) maxGapBytes = Math.max(maxGapBytes, recording.pendingBytes);
      else maxNormalBytes = Math.max(maxNormalBytes, recording.pendingBytes);
      if (nowMs % 5_000 === 0) await diskCaughtUp(recording);
    }
    clock.advance(600_000 - clock.now());
    twilio.stop();
    const info = await recording.close();
    expect(info).toEqual({ file: 'long.wav', durationMs: 600_000, bytes: 44 + 600_000 * bytesPerMs });
    // Staged audio: one 0.5 s chunk + the 200 ms lead (+ a frame); in the gap, the 2 s skew on top.
    expect(maxNormalBytes).toBeLessThanOrEqual((500 + leadMs + 20) * bytesPerMs);
    expect(maxNormalBytes).toBeGreaterThan(500 * bytesPerMs);
    expect(maxGapBytes).toBeLessThanOrEqual((2_000 + 500 + leadMs + 20) * bytesPerMs);
    expect(maxGapBytes).toBeGreaterThan(2_000 * bytesPerMs);

    const { left, right } = readStereo(await readFile(path.join(dir, 'long.wav')));
    expect(firstMismatch(right, decodeMulaw(renderHeardTimeline(twilio.heardSegments(), 600_000)))).toBe(-1);
    const expectedLeft = new Int16Array(600_000 * 8);
    for (let index = 0; index < 30_000; index++) {
      if (index * 20 < gapStartMs || index * 20 >= gapEndMs) expectedLeft.set(decodeMulaw(frame(index)), index * 160);
    }
    expect(firstMismatch(left, expectedLeft)).toBe(-1);
    expect(recording.stats.callerFilledMs).toBeGreaterThan(100_000);
  }, 60_000);

  it('stops on a stalled disk: logged once, the call is never blocked, close() resolves null', async () => {
    const logs = captureLogs();
    const clock = new ManualClock(0);
    const stuck = new Writable({ write: () => undefined, highWaterMark: 16 * 1024 }); // never calls back
    let opened = false;
    const openStream = (): Writable => {
      opened = true;
      return stuck;
    };
    const recording = new CallRecording({ path: path.join(dir, 'stuck.wav'), clock, originMs: 0, logger: logs.logger, maxPendingBytes: 64 * 1024, openStream });
    for (let waits = 0; !opened && waits < 500; waits++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(opened).toBe(true);
    for (let nowMs = 0; nowMs < 30_000; nowMs += 20) {
      clock.advance(nowMs - clock.now());
      recording.callerAudio(frame(nowMs));
      recording.agentFrame(frame(nowMs + 1), nowMs);
    }
    expect(recording.stats.failed).toBe(true);
    expect(recording.pendingBytes).toBe(0);
    expect(recording.backlogBytes).toBe(0);
    expect(logs.matching('recording stopped: the disk is not keeping up')).toHaveLength(1);
    expect(await recording.close()).toBeNull();
    expect(stuck.destroyed).toBe(true);
    expect(logs.matching('recording stopped')).toHaveLength(1);
  });

  it('resolves null, without throwing, when the file cannot be created', async () => {
    const logs = captureLogs();
    await writeFile(path.join(dir, 'not-a-dir'), 'x');
    const clock = new ManualClock(0);
    const recording = new CallRecording({ path: path.join(dir, 'not-a-dir', 'sub', 'x.wav'), clock, originMs: 0, logger: logs.logger });
    recording.callerAudio(frame(0));
    recording.agentFrame(frame(1), 0);
    clock.advance(20);
    expect(await recording.close()).toBeNull();
    expect(logs.matching('recording stopped: cannot create the directory')).toHaveLength(1);
    recording.callerAudio(frame(2)); // after close: ignored
  });
});

describe('recording retention', () => {
  const nowEpochMs = Date.UTC(2025, 0, 31);
  const dayMs = 86_400_000;

  async function file(name: string, ageDays: number): Promise<void> {
    await writeFile(path.join(dir, name), 'x');
    const mtime = new Date(nowEpochMs - ageDays * dayMs);
    await utimes(path.join(dir, name), mtime, mtime);
  }

  it('deletes only .wav files older than the retention', async () => {
    await file('old.wav', 8);
    await file('OLD2.WAV', 30);
    await file('recent.wav', 6.9);
    await file('old.txt', 30);
    await mkdir(path.join(dir, 'folder.wav'));
    const logs = captureLogs();
    expect(await sweepRecordings({ dir, retentionDays: 7, logger: logs.logger, nowEpochMs: () => nowEpochMs })).toEqual({ deleted: 2 });
    expect((await readdir(dir)).sort()).toEqual(['folder.wav', 'old.txt', 'recent.wav']);
    expect(logs.matching('deleted old recordings')).toHaveLength(1);
    expect((await stat(path.join(dir, 'recent.wav'))).isFile()).toBe(true);
  });

  it('keeps everything with retentionDays 0, and tolerates a missing directory', async () => {
    await file('ancient.wav', 3_650);
    expect(await sweepRecordings({ dir, retentionDays: 0, logger: silentLogger(), nowEpochMs: () => nowEpochMs })).toEqual({ deleted: 0 });
    const keepForever = new RecordingRetention({ dir, retentionDays: 0, logger: silentLogger(), nowEpochMs: () => nowEpochMs });
    expect(await keepForever.start()).toEqual({ deleted: 0 });
    keepForever.stop();
    expect(await readdir(dir)).toEqual(['ancient.wav']);
    expect(await sweepRecordings({ dir: path.join(dir, 'missing'), retentionDays: 1, logger: silentLogger() })).toEqual({ deleted: 0 });
  });

  it('sweeps at start and on its interval until stopped', async () => {
    await file('a.wav', 2);
    const retention = new RecordingRetention({ dir, retentionDays: 1, logger: silentLogger(), nowEpochMs: () => nowEpochMs, intervalMs: 20 });
    expect(await retention.start()).toEqual({ deleted: 1 });
    await file('b.wav', 2);
    for (let waits = 0; waits < 200 && (await readdir(dir)).length > 0; waits++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await readdir(dir)).toEqual([]);
    retention.stop();
    await file('c.wav', 2);
    await new Promise((resolve) => setTimeout(resolve, 100)); // five intervals: none sweeps any more
    expect(await readdir(dir)).toEqual(['c.wav']);
  });
});
