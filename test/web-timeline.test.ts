/**
 * The call page's timeline layout (web/lib/timeline.ts): lanes, the x-scale, rebuilt speech spans and markers, and
 * which transcript line the recording is on.
 */
import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../src/records/types.js';
import { estimateSpeechMs, layoutTimeline, lineAt, lineSpans, tickStepMs, xAt, type TimelineRecord } from '../web/lib/timeline.js';

const line = (fields: Partial<CallRecord['transcript'][number]> & Pick<CallRecord['transcript'][number], 'seq' | 'atMs' | 'speaker' | 'text'>) => ({
  itemId: `item-${fields.seq}`,
  interrupted: false,
  heardMs: null,
  fullText: null,
  ...fields,
});

const record: TimelineRecord = {
  durationMs: 10_000,
  recording: null,
  transcript: [
    line({ seq: 0, atMs: 500, speaker: 'agent', text: 'Hello, how can I help?' }), // 22 chars → 1320 ms
    line({ seq: 1, atMs: 3000, speaker: 'caller', text: 'I need a taxi' }), // 13 chars → 780 ms
    line({ seq: 2, atMs: 3600, speaker: 'agent', text: 'Sure, where are', interrupted: true, heardMs: 1500, fullText: 'Sure, where are you going today?' }),
    line({ seq: 3, atMs: 6500, speaker: 'caller', text: 'To the airport' }),
  ],
  turns: [
    { turn: 1, callerStoppedAtMs: 3000, firstAudioAtMs: 3600, latencyMs: 600 },
    { turn: 2, callerStoppedAtMs: 6500, firstAudioAtMs: null, latencyMs: null },
  ],
  events: [
    { seq: 0, atMs: 4900, type: 'barge_in', data: { heard: [{ responseId: 'r2', itemId: 'item-2', heardMs: 1500, audioMs: 4000 }] } },
    { seq: 1, atMs: 7000, type: 'tool_call', data: { name: 'book_taxi', callId: 'c1', ok: true, durationMs: 400 } },
    { seq: 2, atMs: 8000, type: 'dtmf', data: { digit: '5' } },
  ],
};

// 1000 units of plot for 10 s: 0.1 unit per ms, starting at x = 100.
const options = { width: 1100, labelWidth: 100, rightMargin: 0 };

describe('timeline layout', () => {
  it('estimates speech from text: 60 ms a character, at least 500 ms', () => {
    expect(estimateSpeechMs('Hello, how can I help?')).toBe(1320);
    expect(estimateSpeechMs('ok')).toBe(500);
  });

  it('rebuilds line spans: measured heard ms, barge-in starts, estimates cut by neighbours', () => {
    expect(lineSpans(record)).toEqual([
      { seq: 0, speaker: 'agent', startMs: 500, endMs: 1820, estimated: true },
      { seq: 1, speaker: 'caller', startMs: 2220, endMs: 3000, estimated: true },
      { seq: 2, speaker: 'agent', startMs: 3600, endMs: 5100, estimated: false },
      { seq: 3, speaker: 'caller', startMs: 4900, endMs: 6500, estimated: false },
    ]);
  });

  it('lays out lanes top to bottom with the events lane only when there are other events', () => {
    const layout = layoutTimeline(record, options);
    expect(layout.lanes.map((lane) => [lane.id, lane.y])).toEqual([
      ['caller', 8],
      ['agent', 42],
      ['barge_in', 76],
      ['tools', 110],
      ['latency', 144],
      ['events', 178],
    ]);
    expect(layout.axisY).toBe(212);
    expect(layout.height).toBe(236);
    expect(layout.durationMs).toBe(10_000);
    const without = layoutTimeline({ ...record, events: record.events.filter((event) => event.type !== 'dtmf') }, options);
    expect(without.lanes.map((lane) => lane.id)).not.toContain('events');
  });

  it('places every segment on one x-scale', () => {
    const layout = layoutTimeline(record, options);
    const rows = layout.segments.map((segment) => ({ lane: segment.lane, x: segment.x, width: segment.width, seq: segment.seq, flags: segment.flags, label: segment.label }));
    expect(rows).toEqual([
      { lane: 'agent', x: 150, width: 132, seq: 0, flags: ['estimated'], label: undefined },
      { lane: 'caller', x: 322, width: 78, seq: 1, flags: ['estimated'], label: undefined },
      { lane: 'agent', x: 460, width: 150, seq: 2, flags: ['interrupted'], label: undefined },
      { lane: 'caller', x: 590, width: 160, seq: 3, flags: [], label: undefined },
      { lane: 'tools', x: 760, width: 40, seq: undefined, flags: [], label: 'book_taxi' },
      { lane: 'latency', x: 400, width: 60, seq: undefined, flags: [], label: '600 ms' },
    ]);
    const interrupted = layout.segments[2]!;
    expect(interrupted.title).toContain('interrupted; heard “Sure, where are”, meant “Sure, where are you going today?”');
    expect(layout.segments[5]!.title).toBe("Turn 1: 600 ms from the caller's last word (3s) to the agent's first audio");
  });

  it('draws barge-ins, unanswered turns and other events as markers with titles', () => {
    const layout = layoutTimeline(record, options);
    expect(layout.markers.map((marker) => ({ lane: marker.lane, x: marker.x, label: marker.label }))).toEqual([
      { lane: 'latency', x: 750, label: '∅' },
      { lane: 'barge_in', x: 590, label: '▼' },
      { lane: 'events', x: 900, label: '5' },
    ]);
    expect(layout.markers[1]!.title).toBe('Barge-in at 4.9s: heard 1.5s of 4s');
    expect(layout.markers[2]!.title).toBe('dtmf at 8s: digit 5');
  });

  it('puts an axis tick every second for 10 s, and wider steps for longer calls', () => {
    const layout = layoutTimeline(record, options);
    expect(layout.ticks.map((tick) => tick.label)).toEqual(['0s', '1s', '2s', '3s', '4s', '5s', '6s', '7s', '8s', '9s', '10s']);
    expect(layout.ticks[5]).toEqual({ ms: 5000, x: 600, label: '5s' });
    expect(tickStepMs(10_000)).toBe(1000);
    expect(tickStepMs(45_000)).toBe(5000);
    expect(tickStepMs(200_000)).toBe(30_000);
    expect(tickStepMs(30 * 60_000)).toBe(300_000);
  });

  it('stretches the scale to the recording or the last event when they outlast the call', () => {
    const layout = layoutTimeline({ ...record, recording: { file: 'x.wav', durationMs: 20_000, bytes: 1 } }, options);
    expect(layout.durationMs).toBe(20_000);
    expect(layout.segments[0]!.x).toBe(125);
    expect(xAt(layout, 30_000)).toBe(1100);
    expect(xAt(layout, -5)).toBe(100);
  });

  it('keeps tiny segments visible (2 units at least)', () => {
    const layout = layoutTimeline({ ...record, events: [{ seq: 0, atMs: 100, type: 'tool_call', data: { name: 't', ok: false, durationMs: 1 } }] }, options);
    const tool = layout.segments.find((segment) => segment.lane === 'tools')!;
    expect(tool.width).toBe(2);
    expect(tool.flags).toEqual(['failed']);
  });

  it('finds the line being heard at a recording position', () => {
    const { segments } = layoutTimeline(record, options);
    expect(lineAt(segments, 600)).toBe(0);
    expect(lineAt(segments, 2000)).toBeNull(); // between lines
    expect(lineAt(segments, 4000)).toBe(2);
    expect(lineAt(segments, 5000)).toBe(3); // overlap: the later line (the caller talking over the agent)
    expect(lineAt(segments, 6500)).toBeNull(); // end is exclusive
  });

  it('lays out an empty call on a 1 s axis', () => {
    const layout = layoutTimeline({ durationMs: 0, recording: null, transcript: [], turns: [], events: [] }, options);
    expect(layout.durationMs).toBe(1000);
    expect(layout.segments).toEqual([]);
    expect(layout.ticks.map((tick) => tick.x)).toEqual([100, 1100]);
  });
});
