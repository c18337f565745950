/**
 * TwilioPlaybackEmulator on a ManualClock: playback at exactly 8 bytes/ms, marks echoed exactly when reached (at once
 * on an empty buffer, all at once on clear), heard audio exactly the played bytes, and underruns only where a hole
 * opened in the middle of an answer (dry without a mark).
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { renderHeardTimeline, TwilioPlaybackEmulator, type MarkEcho } from '../src/simulator/twilio-playback.js';

const STREAM_SID = 'MZtest';

function media(bytes: Uint8Array): object {
  return { event: 'media', streamSid: STREAM_SID, media: { payload: Buffer.from(bytes).toString('base64') } };
}
function mark(name: string): object {
  return { event: 'mark', streamSid: STREAM_SID, mark: { name } };
}
const clear = { event: 'clear', streamSid: STREAM_SID };

/** `count` bytes counting up from `first` (mod 256), so played ranges are recognisable. */
function ramp(count: number, first = 0): Uint8Array {
  return Uint8Array.from({ length: count }, (_, index) => (first + index) & 0xff);
}

function setup(startMs = 1_000) {
  const clock = new ManualClock(startMs);
  const echoes: Array<{ name: string; atMs: number }> = [];
  const playback = new TwilioPlaybackEmulator({ clock, onMarkEcho: (name, echo) => echoes.push({ name, atMs: echo.echoedAtMs }) });
  return { clock, playback, echoes };
}

describe('TwilioPlaybackEmulator', () => {
  it('plays 8 bytes per ms from the moment audio reaches an empty buffer and echoes a mark exactly when reached', () => {
    const { clock, playback, echoes } = setup();
    clock.advance(5);
    playback.receive(media(ramp(160))); // 20 ms, starts at 5
    playback.receive(media(ramp(80, 160))); // 10 ms more
    playback.receive(mark('item-1'));
    clock.advance(29.875);
    expect(echoes).toEqual([]);
    expect(playback.playedBytesTotal).toBe(239);
    clock.advance(0.125);
    expect(echoes).toEqual([{ name: 'item-1', atMs: 35 }]);
    expect(playback.marks).toEqual<MarkEcho[]>([{ name: 'item-1', echoedAtMs: 35, reachedAtMs: 35, cause: 'played', playedBytesBefore: 240 }]);
    expect(playback.heardSegments()).toEqual([{ startMs: 5, bytes: ramp(240) }]);
    expect(playback.heardMsTotal).toBe(30);
    expect(playback.underrunCount).toBe(0);
    expect(playback.isPlaying).toBe(false);
  });

  it('echoes a mark at once when the buffer is empty', () => {
    const { clock, playback, echoes } = setup();
    clock.advance(7);
    playback.receive(mark('nothing-queued'));
    expect(echoes).toEqual([{ name: 'nothing-queued', atMs: 7 }]);
    expect(playback.marks[0]!.cause).toBe('played');
  });

  it('on clear drops the buffer, echoes every pending mark at once and keeps only what was heard', () => {
    const { clock, playback, echoes } = setup();
    playback.receive(media(ramp(400))); // 50 ms
    playback.receive(mark('a'));
    playback.receive(media(ramp(400, 144)));
    playback.receive(mark('b'));
    playback.receive(media(ramp(160)));
    playback.receive(mark('c'));
    clock.advance(62.5); // 'a' reached at 50; 12.5 ms (100 bytes) of the second chunk heard
    expect(echoes).toEqual([{ name: 'a', atMs: 50 }]);
    playback.receive(clear);
    expect(echoes).toEqual([
      { name: 'a', atMs: 50 },
      { name: 'b', atMs: 62.5 },
      { name: 'c', atMs: 62.5 },
    ]);
    expect(playback.marks.map((echo) => [echo.name, echo.cause, echo.playedBytesBefore])).toEqual([
      ['a', 'played', 400],
      ['b', 'cleared', 500],
      ['c', 'cleared', 500],
    ]);
    expect(playback.clears).toEqual([{ atMs: 62.5, droppedBytes: 300 + 160, marksEchoed: ['b', 'c'] }]);
    const expected = new Uint8Array(500);
    expected.set(ramp(400), 0);
    expected.set(ramp(100, 144), 400);
    expect(playback.heardAudio()).toEqual(expected);
    clock.advance(1_000);
    expect(playback.playedBytesTotal).toBe(500);
    expect(playback.underrunCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('counts running dry after bare media as an underrun, with its silence until the next media', () => {
    const { clock, playback } = setup();
    playback.receive(media(ramp(160)));
    clock.advance(30); // dry at 20
    expect(playback.underruns).toEqual([{ atMs: 20, durationMs: null }]);
    playback.receive(media(ramp(160))); // resumes at 30
    playback.receive(mark('end'));
    clock.advance(100); // dry at 50, after a mark: the end of an answer
    expect(playback.underruns).toEqual([{ atMs: 20, durationMs: 10 }]);
    expect(playback.underrunMs).toBe(10);
    expect(playback.heardSegments().map((segment) => [segment.startMs, segment.bytes.length])).toEqual([
      [0, 160],
      [30, 160],
    ]);
    expect(playback.playedBytesAt(25)).toBe(160);
    expect(playback.playedBytesAt(40)).toBe(240);
    // Fresh audio after a marked end is not an underrun either.
    playback.receive(media(ramp(8)));
    playback.receive(mark('end-2'));
    clock.advance(10);
    expect(playback.underrunCount).toBe(1);
  });

  it('does not count audio that arrives exactly as the buffer empties', () => {
    const { clock, playback } = setup();
    for (let frame = 0; frame < 10; frame++) {
      playback.receive(media(ramp(160, frame)));
      clock.advance(20);
    }
    playback.receive(mark('end'));
    expect(playback.underrunCount).toBe(0);
    expect(playback.heardSegments().map((segment) => [segment.startMs, segment.bytes.length])).toEqual([[0, 1_600]]);
    // One byte late is a hole.
    playback.receive(media(ramp(160)));
    clock.advance(20.125);
    playback.receive(media(ramp(160)));
    playback.receive(mark('end'));
    clock.advance(20);
    expect(playback.underruns).toEqual([{ atMs: 220, durationMs: 0.125 }]);
  });

  it('counts invalid payloads and unknown events and ignores them', () => {
    const { playback } = setup();
    expect(playback.receive({ event: 'media', media: { payload: 'not base64!' } })).toBe('ignored');
    expect(playback.receive({ event: 'media', media: {} })).toBe('ignored');
    expect(playback.receive({ event: 'mark', mark: {} })).toBe('ignored');
    expect(playback.receive({ event: 'hello' })).toBe('ignored');
    expect(playback.counters).toEqual({ invalidPayloads: 2, invalidMarks: 1, unknownEvents: 1, afterStop: 0 });
    expect(playback.playedBytesTotal).toBe(0);
  });

  it('stop() freezes playback: what was still buffered is reported unheard', () => {
    const { clock, playback, echoes } = setup();
    playback.receive(media(ramp(800))); // 100 ms
    playback.receive(mark('never'));
    clock.advance(40);
    playback.stop();
    clock.advance(1_000);
    expect(playback.playedBytesTotal).toBe(320);
    expect(playback.bufferedBytes).toBe(480);
    expect(echoes).toEqual([]);
    expect(playback.receive(media(ramp(10)))).toBe('ignored');
    expect(playback.counters.afterStop).toBe(1);
  });

  it('renders heard segments on the call timeline with silence between them, clipped to the duration', () => {
    const timeline = renderHeardTimeline(
      [
        { startMs: 1, bytes: ramp(8, 1) },
        { startMs: 3, bytes: ramp(16, 100) },
      ],
      4,
    );
    expect(Array.from(timeline)).toEqual([...Array(8).fill(0xff), ...ramp(8, 1), ...Array(8).fill(0xff), ...ramp(8, 100)]);
  });
});
