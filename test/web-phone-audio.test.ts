/**
 * The browser phone's audio logic without an AudioContext: the playback FIFO of frames and marks
 * (web/phone/playback-fifo.ts), the capture batcher (web/phone/pcm.ts) and the socket protocol (web/phone/protocol.ts).
 */
import { describe, expect, it } from 'vitest';
import { PlaybackFifo } from '../web/phone/playback-fifo.js';
import { CaptureBatcher, floatToInt16 } from '../web/phone/pcm.js';
import { parseServerMessage, phoneSocketUrl } from '../web/phone/protocol.js';

const frame = (length: number, value = 1000): Int16Array => new Int16Array(length).fill(value);

/** Pulls `blocks` render quanta of 128 samples; returns the marks each pull posted (by block index). */
function play(fifo: PlaybackFifo, blocks: number): Array<[number, string[]]> {
  const posted: Array<[number, string[]]> = [];
  for (let block = 0; block < blocks; block++) {
    const marks = fifo.pull(new Float32Array(128));
    if (marks.length > 0) posted.push([block, marks]);
  }
  return posted;
}

describe('playback FIFO', () => {
  it('posts each mark when the playhead passes it, in arrival order', () => {
    const fifo = new PlaybackFifo();
    fifo.pushFrame(frame(480));
    fifo.pushMark('m1');
    fifo.pushFrame(frame(480));
    fifo.pushMark('m2');
    fifo.pushFrame(frame(100)); // the short last frame of an answer
    fifo.pushMark('m3');
    // m1 after sample 480 (block 3: 384–511), m2 after 960 (block 7: 896–1023), m3 after 1060 (block 8).
    expect(play(fifo, 10)).toEqual([
      [3, ['m1']],
      [7, ['m2']],
      [8, ['m3']],
    ]);
    expect(fifo.framesPlayed).toBe(3);
    expect(fifo.samplesPlayed).toBe(1060);
    expect(fifo.underrunSamples).toBe(10 * 128 - 1060);
    expect(fifo.queued).toBe(0);
  });

  it('posts a mark right away when nothing is queued before it, and several at once', () => {
    const fifo = new PlaybackFifo();
    fifo.pushMark('a');
    fifo.pushMark('b');
    const out = new Float32Array(128).fill(0.5);
    expect(fifo.pull(out)).toEqual(['a', 'b']);
    expect([...out].every((sample) => sample === 0)).toBe(true);
  });

  it('a frame that ends exactly at the end of the block releases the mark behind it in that block', () => {
    const fifo = new PlaybackFifo();
    fifo.pushFrame(frame(128));
    fifo.pushMark('edge');
    expect(fifo.pull(new Float32Array(128))).toEqual(['edge']);
  });

  it('plays samples in order as floats, PCM16 / 32768, silence after', () => {
    const fifo = new PlaybackFifo();
    fifo.pushFrame(Int16Array.from([16384, -32768, 32767]));
    fifo.pushFrame(Int16Array.from([-16384]));
    const out = new Float32Array(6).fill(9);
    fifo.pull(out);
    expect([...out]).toEqual([0.5, -1, 32767 / 32768, -0.5, 0, 0]);
  });

  it('clear drops unplayed frames (the one playing too) and returns every pending mark at once', () => {
    const fifo = new PlaybackFifo();
    fifo.pushFrame(frame(480));
    fifo.pushMark('m1');
    fifo.pushFrame(frame(480));
    fifo.pushMark('m2');
    expect(play(fifo, 1)).toEqual([]); // 128 of the first frame played
    expect(fifo.pendingMarks).toEqual(['m1', 'm2']);
    expect(fifo.clear()).toEqual(['m1', 'm2']);
    expect(fifo.queued).toBe(0);
    expect(fifo.pendingMarks).toEqual([]);
    expect(play(fifo, 4)).toEqual([]);
    expect(fifo.framesPlayed).toBe(0);
    // What comes after the clear plays normally.
    fifo.pushFrame(frame(256));
    fifo.pushMark('m3');
    expect(play(fifo, 2)).toEqual([[1, ['m3']]]);
    expect(fifo.framesPlayed).toBe(1);
  });

  it('clear with marks already played returns only those still pending', () => {
    const fifo = new PlaybackFifo();
    fifo.pushMark('done');
    fifo.pushFrame(frame(480));
    fifo.pushMark('pending');
    expect(fifo.pull(new Float32Array(128))).toEqual(['done']);
    expect(fifo.clear()).toEqual(['pending']);
  });

  it('stays correct over a long call (the queue compacts itself)', () => {
    const fifo = new PlaybackFifo();
    const posted: string[] = [];
    for (let n = 0; n < 2000; n++) {
      fifo.pushFrame(frame(480));
      fifo.pushMark(`m${n}`);
      while (fifo.queued >= 960) posted.push(...fifo.pull(new Float32Array(128)));
    }
    while (fifo.queued > 0 || fifo.pendingMarks.length > 0) posted.push(...fifo.pull(new Float32Array(128)));
    expect(posted).toEqual(Array.from({ length: 2000 }, (_, n) => `m${n}`));
    expect(fifo.framesPlayed).toBe(2000);
  });
});

describe('capture batching', () => {
  it('converts floats to PCM16 with clipping', () => {
    expect([1, -1, 0.5, -0.5, 0, 2, -3, Number.NaN].map(floatToInt16)).toEqual([32767, -32768, 16384, -16384, 0, 32767, -32768, 0]);
  });

  it('batches 128-sample blocks into 480-sample frames (20 ms at 24 kHz), silence for missing input', () => {
    const batcher = new CaptureBatcher(480);
    const block = new Float32Array(128).fill(0.5);
    expect(batcher.push(block)).toEqual([]);
    expect(batcher.push(block)).toEqual([]);
    expect(batcher.push(block)).toEqual([]);
    const [first, ...rest] = batcher.push(block); // 512 samples in: one frame out, 32 carried
    expect(rest).toEqual([]);
    expect(first!.length).toBe(480);
    expect(first!.every((sample) => sample === 16384)).toBe(true);
    const [second] = batcher.push(null, 448); // muted: 32 carried + 448 of silence
    expect(second!.slice(0, 32).every((sample) => sample === 16384)).toBe(true);
    expect(second!.slice(32).every((sample) => sample === 0)).toBe(true);
    expect(second!.buffer).not.toBe(first!.buffer); // each batch is its own (transferable) buffer
    expect(batcher.push(new Float32Array(1440))).toHaveLength(3);
  });

  it('refuses a batch size that is not a positive integer', () => {
    expect(() => new CaptureBatcher(0)).toThrow(RangeError);
  });
});

describe('phone socket protocol', () => {
  it('builds the socket URL with the ws scheme and the rate', () => {
    expect(phoneSocketUrl('/phone/ws?token=abc', 'https://cb.example.com/console/phone')).toBe('wss://cb.example.com/phone/ws?token=abc&rate=24000');
    expect(phoneSocketUrl('/phone/ws?token=abc', 'http://localhost:8080/console/phone')).toBe('ws://localhost:8080/phone/ws?token=abc&rate=24000');
  });

  it('reads the server’s text messages and ignores junk', () => {
    expect(parseServerMessage('{"type":"start","callSid":"WB1","agent":"desk","format":{"encoding":"pcm16","sampleRateHz":24000},"frameMs":20}')).toEqual({ type: 'start', callSid: 'WB1', agent: 'desk' });
    expect(parseServerMessage('{"type":"mark","name":"r1:3"}')).toEqual({ type: 'mark', name: 'r1:3' });
    expect(parseServerMessage('{"type":"clear"}')).toEqual({ type: 'clear' });
    expect(parseServerMessage('{"type":"transcript","speaker":"agent","itemId":"i","text":"Hi","final":true}')).toEqual({ type: 'transcript', speaker: 'agent', itemId: 'i', text: 'Hi', final: true });
    expect(parseServerMessage('{"type":"end","reason":"agent_hung_up"}')).toEqual({ type: 'end', reason: 'agent_hung_up' });
    expect(parseServerMessage('not json')).toBeNull();
    expect(parseServerMessage('{"type":"mark"}')).toBeNull();
    expect(parseServerMessage('{"type":"transcript","speaker":"bot","itemId":"i","text":"x"}')).toBeNull();
    expect(parseServerMessage('[1]')).toBeNull();
  });
});
