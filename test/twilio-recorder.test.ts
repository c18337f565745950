import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { CallRecorder, sanitizeFileComponent } from '../src/twilio/recorder.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'callbridge-rec-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lines(file: string): Promise<unknown[]> {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as unknown);
}

describe('CallRecorder', () => {
  it('writes one {atMs, message} line per message, named after the call, ms since it opened', async () => {
    const clock = new ManualClock(5_000);
    const recorder = new CallRecorder({ dir, clock });
    recorder.record('{"event":"connected","protocol":"Call","version":"1.0.0"}', true);
    clock.advance(12);
    recorder.record('{"event":"start","sequenceNumber":"1"}', true);
    recorder.identify({ callSid: 'CA1', streamSid: 'MZ1' });
    clock.advance(20.4);
    recorder.record('not json', false);
    await recorder.close();

    expect(recorder.path).toBe(path.join(dir, 'CA1_MZ1.jsonl'));
    expect(await readFile(recorder.path!, 'utf8')).toBe(
      '{"atMs":0,"message":{"event":"connected","protocol":"Call","version":"1.0.0"}}\n' +
        '{"atMs":12,"message":{"event":"start","sequenceNumber":"1"}}\n' +
        '{"atMs":32,"message":"not json"}\n',
    );
    expect(recorder.stats).toEqual({ recordedLines: 3, droppedLines: 0 });
  });

  it('keeps one line per message when the JSON text contains newlines', async () => {
    const recorder = new CallRecorder({ dir, clock: new ManualClock() });
    recorder.identify({ callSid: 'CA1', streamSid: 'MZ1' });
    recorder.record('{\n"event":\r\n"mark"}', true);
    recorder.record('line1\nline2', false);
    await recorder.close();
    expect(await lines(recorder.path!)).toEqual([
      { atMs: 0, message: { event: 'mark' } },
      { atMs: 0, message: 'line1\nline2' },
    ]);
  });

  it('sanitises hostile SIDs into a file name inside the directory', async () => {
    const recorder = new CallRecorder({ dir, clock: new ManualClock() });
    recorder.identify({ callSid: '../../etc/passwd', streamSid: 'MZ/1' });
    recorder.record('{}', true);
    await recorder.close();
    expect(await readdir(dir)).toEqual(['______etc_passwd_MZ_1.jsonl']);
    expect(sanitizeFileComponent('')).toBe('_');
  });

  it('creates a missing directory', async () => {
    const nested = path.join(dir, 'a', 'b');
    const recorder = new CallRecorder({ dir: nested, clock: new ManualClock() });
    recorder.identify({ callSid: 'CA1', streamSid: 'MZ1' });
    recorder.record('{}', true);
    await recorder.close();
    expect(await lines(path.join(nested, 'CA1_MZ1.jsonl'))).toEqual([{ atMs: 0, message: {} }]);
  });

  it('keeps a stream that never started under an "unstarted_" name', async () => {
    const recorder = new CallRecorder({ dir, clock: new ManualClock() });
    recorder.record('{"event":"connected"}', true);
    await recorder.close();
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^unstarted_[0-9a-f]{12}\.jsonl$/);
  });

  it('writes no file when nothing was recorded and ignores records after close', async () => {
    const recorder = new CallRecorder({ dir, clock: new ManualClock() });
    await recorder.close();
    recorder.record('{}', true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('bounds lines held before identify and counts the dropped ones', async () => {
    const recorder = new CallRecorder({ dir, clock: new ManualClock(), maxPendingLines: 2 });
    for (let i = 0; i < 5; i++) recorder.record(`{"n":${i}}`, true);
    recorder.identify({ callSid: 'CA1', streamSid: 'MZ1' });
    recorder.record('{"n":5}', true);
    await recorder.close();
    expect(await lines(recorder.path!)).toEqual([
      { atMs: 0, message: { n: 0 } },
      { atMs: 0, message: { n: 1 } },
      { atMs: 0, message: { n: 5 } },
    ]);
    expect(recorder.stats).toEqual({ recordedLines: 3, droppedLines: 3 });
  });

  it('close is idempotent and resolves (does not reject) when the directory cannot be created', async () => {
    const notADirectory = path.join(dir, 'file');
    await writeFile(notADirectory, '');
    const recorder = new CallRecorder({ dir: path.join(notADirectory, 'sub'), clock: new ManualClock() });
    recorder.identify({ callSid: 'CA1', streamSid: 'MZ1' });
    recorder.record('{}', true);
    const first = recorder.close();
    expect(recorder.close()).toBe(first);
    await expect(first).resolves.toBeUndefined();
    recorder.record('{}', true);
  });
});
