/**
 * The fixture format round-trips exactly, buildFixture numbers and times frames as documented, and the committed
 * fixtures have the properties fixtures/README.md claims (speech where it says, dtmf digits, a 400 ms hole).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeMulaw } from '../src/audio/mulaw.js';
import {
  buildFixture,
  FixtureFormatError,
  fixtureMulaw,
  parseFixture,
  readFixture,
  writeFixture,
  type FixtureMessage,
  type TwilioMediaMessage,
} from '../src/simulator/fixtures.js';

const FIXTURES_DIR = join(import.meta.dirname, '..', 'fixtures');

function ramp(count: number): Uint8Array {
  return Uint8Array.from({ length: count }, (_, index) => index & 0xff);
}

function mediaOf(messages: readonly FixtureMessage[]): TwilioMediaMessage[] {
  return messages.flatMap((entry) => (entry.message.event === 'media' ? [entry.message] : []));
}

/** Audible stretches as [startMs, endMs] of media timestamps: frames above an RMS floor, split by ≥ 300 ms of quiet. */
function speechBursts(messages: readonly FixtureMessage[]): Array<[number, number]> {
  const bursts: Array<[number, number]> = [];
  for (const media of mediaOf(messages)) {
    const samples = decodeMulaw(Buffer.from(media.media.payload, 'base64'));
    const rms = Math.sqrt(samples.reduce((sum, sample) => sum + sample * sample, 0) / samples.length);
    if (rms < 200) continue;
    const endMs = Number(media.media.timestamp);
    const last = bursts.at(-1);
    if (last !== undefined && endMs - last[1] <= 300) last[1] = endMs;
    else bursts.push([endMs - 20, endMs]);
  }
  return bursts;
}

describe('fixture format', () => {
  it('round-trips through a file exactly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fixture-test-'));
    try {
      const messages = buildFixture({ mulaw: ramp(500), dtmf: [{ atMs: 25, digit: '#' }], customParameters: { streamToken: 't' } });
      writeFixture(join(dir, 'f.jsonl'), messages);
      expect(readFixture(join(dir, 'f.jsonl'))).toEqual(messages);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds connected/start at 0, chunk k at 20·k ms, dtmf in time order, a padded last frame and stop', () => {
    const messages = buildFixture({ mulaw: ramp(200), dtmf: [{ atMs: 20, digit: '9' }] });
    expect(messages.map((entry) => [entry.atMs, entry.message.event, 'sequenceNumber' in entry.message ? entry.message.sequenceNumber : null])).toEqual([
      [0, 'connected', null],
      [0, 'start', '1'],
      [20, 'media', '2'],
      [20, 'dtmf', '3'],
      [40, 'media', '4'],
      [40, 'stop', '5'],
    ]);
    const padded = new Uint8Array(320).fill(0xff);
    padded.set(ramp(200));
    expect(fixtureMulaw(messages)).toEqual(padded);
    expect(mediaOf(messages).map((media) => [media.media.chunk, media.media.timestamp])).toEqual([
      ['1', '20'],
      ['2', '40'],
    ]);
  });

  it('leaves a hole for a gap: no media, chunk keeps counting, the timestamp jumps by the gap', () => {
    const messages = buildFixture({ mulaw: ramp(160 * 10), gaps: [{ atMs: 60, durationMs: 100 }] });
    expect(mediaOf(messages).map((media) => [media.media.chunk, media.media.timestamp])).toEqual([
      ['1', '20'],
      ['2', '40'],
      ['3', '60'],
      ['4', '180'],
      ['5', '200'],
    ]);
  });

  it('names the bad line in a malformed fixture', () => {
    expect(() => parseFixture('{"atMs":0,"message":{"event":"connected"}}\n{"atMs":"x","message":{}}')).toThrow(new FixtureFormatError('line 2: atMs must be a number'));
    expect(() => parseFixture('{"atMs":0,"message":{"event":"clear"}}')).toThrow(/line 1: message\.event must be one of/);
  });
});

describe('committed fixtures', () => {
  const load = (name: string) => readFixture(join(FIXTURES_DIR, name));

  it('are well-formed streams: connected, start, consecutive sequence numbers, 160-byte frames, stop last, < 400 KB', () => {
    for (const name of ['greeting-question.jsonl', 'talk-over.jsonl', 'dtmf.jsonl', 'gap.jsonl']) {
      const messages = load(name);
      expect(statSync(join(FIXTURES_DIR, name)).size).toBeLessThan(400 * 1024);
      expect(messages[0]!.message.event).toBe('connected');
      expect(messages[1]!.message.event).toBe('start');
      expect(messages.at(-1)!.message.event).toBe('stop');
      const sequence = messages.slice(1).map((entry) => ('sequenceNumber' in entry.message ? Number(entry.message.sequenceNumber) : NaN));
      expect(sequence).toEqual(sequence.map((_, index) => index + 1));
      expect(mediaOf(messages).every((media) => Buffer.from(media.media.payload, 'base64').length === 160)).toBe(true);
      for (let index = 1; index < messages.length; index++) expect(messages[index]!.atMs).toBeGreaterThanOrEqual(messages[index - 1]!.atMs);
    }
  });

  it('greeting-question: 1 s of silence, one question, then ≥ 6 s of silence', () => {
    const messages = load('greeting-question.jsonl');
    const bursts = speechBursts(messages);
    expect(bursts).toHaveLength(1);
    const [startMs, endMs] = bursts[0]!;
    expect(startMs).toBeGreaterThanOrEqual(1_000);
    expect(startMs).toBeLessThan(1_100);
    expect(endMs - startMs).toBeGreaterThan(1_500);
    expect(Number(mediaOf(messages).at(-1)!.media.timestamp) - endMs).toBeGreaterThanOrEqual(5_980);
  });

  it('talk-over: a question, then ~2.5 s later a second utterance, then silence', () => {
    const bursts = speechBursts(load('talk-over.jsonl'));
    expect(bursts).toHaveLength(2);
    const pauseMs = bursts[1]![0] - bursts[0]![1];
    expect(pauseMs).toBeGreaterThanOrEqual(2_400);
    expect(pauseMs).toBeLessThanOrEqual(2_700);
  });

  it('dtmf: speech, then digits 1 and 5 on inbound_track while media keeps flowing', () => {
    const messages = load('dtmf.jsonl');
    const presses = messages.flatMap((entry) => (entry.message.event === 'dtmf' ? [{ atMs: entry.atMs, ...entry.message.dtmf }] : []));
    expect(presses.map((press) => [press.digit, press.track])).toEqual([
      ['1', 'inbound_track'],
      ['5', 'inbound_track'],
    ]);
    expect(presses[0]!.atMs).toBeGreaterThan(speechBursts(messages)[0]![1]);
    expect(mediaOf(messages).some((media) => Number(media.media.timestamp) > presses[1]!.atMs)).toBe(true);
  });

  it('gap: exactly one hole of 400 ms where no media is sent and the timestamp jumps, inside the speech', () => {
    const messages = load('gap.jsonl');
    const media = mediaOf(messages);
    const jumps = media.slice(1).flatMap((current, index) => {
      const deltaMs = Number(current.media.timestamp) - Number(media[index]!.media.timestamp);
      return deltaMs === 20 ? [] : [{ atMs: Number(media[index]!.media.timestamp), holeMs: deltaMs - 20 }];
    });
    expect(jumps.map((jump) => jump.holeMs)).toEqual([400]);
    // The hole cuts the sentence in two audible parts.
    const bursts = speechBursts(messages);
    expect(bursts).toHaveLength(2);
    expect(bursts[0]![1]).toBe(jumps[0]!.atMs);
    expect(bursts[1]![0]).toBe(jumps[0]!.atMs + 400);
    expect(media.map((frame) => Number(frame.media.chunk))).toEqual(media.map((_, index) => index + 1));
  });
});
