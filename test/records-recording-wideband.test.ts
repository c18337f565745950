/**
 * The recording of a wideband call (the browser phone: PCM16 little-endian at 16 or 24 kHz): the WAV keeps the
 * channel's rate, the timeline counts the channel's samples, and frames are read as little-endian Int16 whatever
 * their alignment. The 8 kHz mu-law path is covered by records-recording.test.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/types.js';
import { pcm16ChannelAudio, TWILIO_AUDIO, type ChannelAudio } from '../src/audio/channel-audio.js';
import { concatBytes, pcm16ToBytes } from '../src/audio/pcm.js';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import type { CallInfo } from '../src/observers/hub.js';
import { CallRecording } from '../src/records/recording.js';
import { CallRecords } from '../src/records/service.js';
import type { RecordStore } from '../src/records/types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'callbridge-wav-wide-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A distinct, deterministic PCM16 frame per `seed`: its samples, and their little-endian bytes as the channel carries them. */
function pcmFrame(seed: number, sampleCount: number): { samples: Int16Array; bytes: Uint8Array } {
  const samples = new Int16Array(sampleCount);
  for (let index = 0; index < sampleCount; index++) samples[index] = ((seed * 7_919 + index * 1_237 + 1) % 65_536) - 32_768;
  // The extremes, so the sign of the high byte is exercised both ways.
  samples[0] = -32_768;
  samples[1] = 32_767;
  samples[2] = -1;
  const bytes = new Uint8Array(sampleCount * 2);
  const view = new DataView(bytes.buffer);
  samples.forEach((sample, index) => view.setInt16(index * 2, sample, true));
  return { samples, bytes };
}

/** The same bytes at an odd byteOffset in a larger ArrayBuffer, as a ws Buffer may come (no Int16Array view possible). */
function unaligned(bytes: Uint8Array): Buffer {
  const backing = new ArrayBuffer(bytes.length + 3);
  const buffer = Buffer.from(backing, 1, bytes.length);
  buffer.set(bytes);
  return buffer;
}

/** `count` frames of `sampleCount` samples, seeds `firstSeed`, `firstSeed + 1`, …. */
function pcmFrames(count: number, sampleCount: number, firstSeed = 0): Array<{ samples: Int16Array; bytes: Uint8Array }> {
  return Array.from({ length: count }, (_, index) => pcmFrame(firstSeed + index, sampleCount));
}

/** The samples end to end (their bytes joined in memory order, viewed as samples again). */
function concat(parts: Int16Array[]): Int16Array {
  return new Int16Array(concatBytes(parts.map(pcm16ToBytes)).buffer);
}

/** Reads our stereo WAV by hand: checks the header (at `rateHz`), splits the channels. */
function readStereo(file: Buffer, rateHz: number): { left: Int16Array; right: Int16Array } {
  expect(file.toString('ascii', 0, 4)).toBe('RIFF');
  expect(file.readUInt32LE(4)).toBe(file.length - 8);
  expect(file.toString('ascii', 8, 16)).toBe('WAVEfmt ');
  expect([file.readUInt32LE(16), file.readUInt16LE(20), file.readUInt16LE(22), file.readUInt32LE(24), file.readUInt32LE(28), file.readUInt16LE(32), file.readUInt16LE(34)]).toEqual([
    16,
    1,
    2,
    rateHz,
    rateHz * 4,
    4,
    16,
  ]);
  expect(file.toString('ascii', 36, 40)).toBe('data');
  expect(file.readUInt32LE(40)).toBe(file.length - 44);
  const stereoSamples = (file.length - 44) / 4;
  const left = new Int16Array(stereoSamples);
  const right = new Int16Array(stereoSamples);
  for (let index = 0; index < stereoSamples; index++) {
    left[index] = file.readInt16LE(44 + index * 4);
    right[index] = file.readInt16LE(44 + index * 4 + 2);
  }
  return { left, right };
}

/** First index where the arrays differ (-1 when equal). */
function firstMismatch(actual: Int16Array, expected: Int16Array): number {
  if (actual.length !== expected.length) return Math.min(actual.length, expected.length);
  for (let index = 0; index < actual.length; index++) if (actual[index] !== expected[index]) return index;
  return -1;
}

function recordingAt(audio: ChannelAudio, name: string, clock: ManualClock, originMs: number): CallRecording {
  return new CallRecording({ path: path.join(dir, name), clock, originMs, logger: silentLogger(), audio });
}

describe('CallRecording on a wideband channel', () => {
  it('records a 24 kHz PCM16 call at 24 kHz: caller exact on the left, agent played and cut to the sample on the right', async () => {
    const audio = pcm16ChannelAudio(24_000);
    expect(audio.bytesPerFrame).toBe(960);
    const originMs = 1_000;
    const clock = new ManualClock(originMs);
    const at = (ms: number) => clock.advance(originMs + ms - clock.now());
    const recording = recordingAt(audio, 'wide.wav', clock, originMs);
    const caller = pcmFrames(100, 480);
    const agent = pcmFrames(20, 480, 1_000);

    for (let index = 0; index < caller.length; index++) {
      const ms = index * 20;
      at(ms);
      recording.callerAudio(caller[index]!.bytes);
      // Five frames at once at 100 ms: they play [100, 200) ms, samples [2400, 4800).
      if (ms === 100) for (const frame of agent.slice(0, 5)) recording.agentFrame(frame.bytes, clock.now());
      // A clear at 150.5 ms: floor(50.5 ms × 24) = 1212 samples were played, the rest is gone.
      if (ms === 140) {
        at(150.5);
        recording.agentCleared(clock.now());
      }
      // The buffer was empty: a new run from sample round(300.02 × 24) = round(7200.48) = 7200.
      if (ms === 300) {
        at(300.02);
        for (const frame of agent.slice(5, 7)) recording.agentFrame(frame.bytes, clock.now());
      }
      // Sent 40 ms apart with a 60 ms lead: back to back from 1500 ms (sample 36000), the later one behind the first three.
      if (ms === 1_500) for (const frame of agent.slice(7, 10)) recording.agentFrame(frame.bytes, clock.now());
      if (ms === 1_540) recording.agentFrame(agent[10]!.bytes, clock.now());
    }
    at(2_000);
    const info = await recording.close();
    expect(info).toEqual({ file: 'wide.wav', durationMs: 2_000, bytes: 44 + 48_000 * 4 });
    expect(recording.stats).toEqual({ samplesDropped: 0, callerFilledMs: 0, failed: false });

    const file = await readFile(path.join(dir, 'wide.wav'));
    expect(file.length).toBe(44 + 48_000 * 4);
    const { left, right } = readStereo(file, 24_000);
    expect(firstMismatch(left, concat(caller.map((frame) => frame.samples)))).toBe(-1);

    const expected = new Int16Array(48_000);
    expected.set(concat(agent.slice(0, 5).map((frame) => frame.samples)).subarray(0, 1_212), 2_400);
    expected.set(concat(agent.slice(5, 7).map((frame) => frame.samples)), 7_200);
    expected.set(concat(agent.slice(7, 11).map((frame) => frame.samples)), 36_000);
    expect(firstMismatch(right, expected)).toBe(-1);
    // The cut, to the sample: the last one played, then silence until the next run.
    expect(right[2_400 + 1_211]).toBe(agent[2]!.samples[1_211 - 960]);
    expect(right.subarray(2_400 + 1_212, 7_200).every((sample) => sample === 0)).toBe(true);
    expect(right.subarray(36_000 + 4 * 480).every((sample) => sample === 0)).toBe(true);
    expect(right[7_200]).toBe(-32_768);
    expect(right[7_201]).toBe(32_767);
  });

  it('records a 16 kHz channel at 16 kHz, and the end of the call cuts what was still buffered', async () => {
    const audio = pcm16ChannelAudio(16_000);
    expect(audio.bytesPerFrame).toBe(640);
    const clock = new ManualClock(0);
    const at = (ms: number) => clock.advance(ms - clock.now());
    const recording = recordingAt(audio, 'narrow.wav', clock, 0);
    const caller = pcmFrames(30, 320);
    const agent = pcmFrames(11, 320, 500);

    for (let index = 0; index < caller.length; index++) {
      const ms = index * 20;
      at(ms);
      recording.callerAudio(caller[index]!.bytes);
      if (ms === 40) for (const frame of agent.slice(0, 3)) recording.agentFrame(frame.bytes, 40); // [40, 100) ms: samples [640, 1600)
      if (ms === 60) {
        at(70);
        recording.agentFrame(agent[3]!.bytes, 70); // buffered behind: [100, 120) ms, samples [1600, 1920)
      }
      if (ms === 200) {
        at(200.03);
        for (const frame of agent.slice(4, 6)) recording.agentFrame(frame.bytes, 200.03); // from round(3200.48) = 3200
      }
      if (ms === 220) {
        at(230.01);
        recording.agentCleared(230.01); // floor(29.98 ms × 16) = 479 samples played
      }
      if (ms === 580) {
        at(590);
        for (const frame of agent.slice(6, 11)) recording.agentFrame(frame.bytes, 590); // from sample 9440, 100 ms of it
      }
    }
    at(600);
    const info = await recording.close(); // 10 ms of the last run played: 160 samples
    expect(info).toEqual({ file: 'narrow.wav', durationMs: 600, bytes: 44 + 9_600 * 4 });

    const { left, right } = readStereo(await readFile(path.join(dir, 'narrow.wav')), 16_000);
    expect(firstMismatch(left, concat(caller.map((frame) => frame.samples)))).toBe(-1);
    const expected = new Int16Array(9_600);
    expected.set(concat(agent.slice(0, 4).map((frame) => frame.samples)), 640);
    expected.set(concat(agent.slice(4, 6).map((frame) => frame.samples)).subarray(0, 479), 3_200);
    expected.set(agent[6]!.samples.subarray(0, 160), 9_440);
    expect(firstMismatch(right, expected)).toBe(-1);
    expect(right[3_200 + 478]).not.toBe(0);
    expect(right[3_200 + 479]).toBe(0);
  });

  it('reads PCM16 frames at an odd byteOffset (unaligned ws Buffers) as little-endian samples', async () => {
    const audio = pcm16ChannelAudio(24_000);
    const clock = new ManualClock(0);
    const recording = recordingAt(audio, 'odd.wav', clock, 0);
    const caller = pcmFrames(25, 480);
    const agent = pcmFrames(3, 480, 90);
    const sample = unaligned(caller[0]!.bytes);
    expect(sample.byteOffset % 2).toBe(1);
    expect(() => new Int16Array(sample.buffer, sample.byteOffset, 480)).toThrow(RangeError);

    for (let index = 0; index < caller.length; index++) {
      clock.advance(index * 20 - clock.now());
      // Aligned and unaligned frames mixed, as they come.
      const bytes = index % 2 === 0 ? unaligned(caller[index]!.bytes) : Buffer.from(caller[index]!.bytes);
      recording.callerAudio(bytes);
      if (index === 5) for (const frame of agent) recording.agentFrame(unaligned(frame.bytes), clock.now()); // from sample 2400
    }
    clock.advance(500 - clock.now());
    expect(await recording.close()).toEqual({ file: 'odd.wav', durationMs: 500, bytes: 44 + 12_000 * 4 });

    const { left, right } = readStereo(await readFile(path.join(dir, 'odd.wav')), 24_000);
    expect(firstMismatch(left, concat(caller.map((frame) => frame.samples)))).toBe(-1);
    const expected = new Int16Array(12_000);
    expected.set(concat(agent.map((frame) => frame.samples)), 2_400);
    expect(firstMismatch(right, expected)).toBe(-1);
  });

  it('never throws on a PCM16 frame of an odd length: the stray byte is no sample', async () => {
    const clock = new ManualClock(0);
    const recording = recordingAt(pcm16ChannelAudio(16_000), 'stray.wav', clock, 0);
    const first = pcmFrame(1, 320);
    const second = pcmFrame(2, 320);
    const withStray = new Uint8Array(641);
    withStray.set(first.bytes);
    withStray[640] = 0x7f;
    recording.callerAudio(unaligned(withStray));
    clock.advance(20);
    recording.callerAudio(second.bytes);
    clock.advance(20);
    expect(await recording.close()).toEqual({ file: 'stray.wav', durationMs: 40, bytes: 44 + 640 * 4 });
    const { left } = readStereo(await readFile(path.join(dir, 'stray.wav')), 16_000);
    expect(firstMismatch(left, concat([first.samples, second.samples]))).toBe(-1);
  });

  it('keeps its staging bounded in time: 0.5 s chunks and the lead, at 24 kHz as at 8 kHz', async () => {
    const audio = pcm16ChannelAudio(24_000);
    const clock = new ManualClock(0);
    const recording = recordingAt(audio, 'bounded.wav', clock, 0);
    const bytesPerMs = 24 * 4; // stereo 16-bit in the file
    const leadMs = 200;
    const callerFrame = pcmFrame(3, 480).bytes;
    const agentFrame = pcmFrame(4, 480).bytes;
    let playEndMs = -Infinity;
    let maxPendingBytes = 0;
    for (let nowMs = 0; nowMs < 30_000; nowMs += 20) {
      clock.advance(nowMs - clock.now());
      recording.callerAudio(callerFrame);
      if (nowMs % 4_000 < 3_000) {
        while (Math.max(0, playEndMs - nowMs) + 20 <= leadMs) {
          playEndMs = Math.max(playEndMs, nowMs) + 20;
          recording.agentFrame(agentFrame, nowMs);
        }
      }
      maxPendingBytes = Math.max(maxPendingBytes, recording.pendingBytes);
      if (nowMs % 2_000 === 0) for (let waits = 0; recording.backlogBytes > 0 && waits < 500; waits++) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    clock.advance(30_000 - clock.now());
    expect(await recording.close()).toEqual({ file: 'bounded.wav', durationMs: 30_000, bytes: 44 + 30_000 * bytesPerMs });
    expect(maxPendingBytes).toBeLessThanOrEqual((500 + leadMs + 20) * bytesPerMs);
    expect(maxPendingBytes).toBeGreaterThan(500 * bytesPerMs);
    expect(recording.stats).toEqual({ samplesDropped: 0, callerFilledMs: 0, failed: false });
  });
});

describe('CallRecords.recordingFor', () => {
  const info: CallInfo = {
    callSid: 'CAwide',
    streamSid: 'MZwide',
    from: 'browser',
    to: 'browser',
    direction: 'browser',
    agent: 'front-desk',
    provider: 'openai',
    model: null,
    startedAtEpochMs: 0,
    clockStartMs: 0,
  };
  const agent = { recording: true } as AgentDefinition;

  it.each([
    ['the channel it is given', pcm16ChannelAudio(24_000), 24_000],
    ['Twilio 8 kHz by default', undefined, 8_000],
  ] as const)('records at the rate of %s', async (_, audio, rateHz) => {
    const config = loadConfig({ RECORDS: 'on', RECORDINGS_DIR: dir, DATA_DIR: path.join(dir, 'data') });
    const never = new Promise<RecordStore>(() => undefined);
    const records = new CallRecords({ config, logger: silentLogger(), clock: new ManualClock(0), secrets: [], store: never });
    try {
      const tap = audio === undefined ? records.recordingFor(info, agent) : records.recordingFor(info, agent, audio);
      expect(tap).toBeInstanceOf(CallRecording);
      tap!.callerAudio(new Uint8Array((audio ?? TWILIO_AUDIO).bytesPerFrame));
      expect(await (tap as CallRecording).close()).toEqual({ file: 'CAwide.wav', durationMs: 20, bytes: 44 + (rateHz / 50) * 4 });
      const file = await readFile(path.join(dir, 'CAwide.wav'));
      expect(file.readUInt32LE(24)).toBe(rateHz);
      expect(records.recordingFor(info, { recording: false } as AgentDefinition, audio)).toBeUndefined();
    } finally {
      records.close();
    }
  });
});
