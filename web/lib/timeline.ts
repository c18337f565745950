/**
 * The call page's timeline picture, laid out from a call record. Pure (no DOM): the SVG component draws what this
 * returns, and the recording player asks it which transcript line is being heard.
 *
 * One x-scale for everything: 0 ms at `plotLeft`, the end of the call (or of the recording, or of the last thing
 * drawn, whichever is latest) at `plotLeft + plotWidth`. Lanes, top to bottom: caller speech, agent speech,
 * barge-ins (markers), tool calls, turn latency, and other events (markers, only when there are any).
 *
 * The record knows when each line was *placed*, not how long it lasted, so spans are rebuilt:
 * - an agent line starts at its first audio (`atMs`) and lasts `heardMs` when measured (an interrupted answer),
 *   else an estimate from its text, cut at the next line and at the end of the call;
 * - a caller line ends where their turn ended (`atMs`); it starts at the barge-in that began it (one after the
 *   previous line started), else an estimate from its text back from the end, but not before the previous line ended.
 */
import type { CallRecord } from './api-types.js';

export type LaneId = 'caller' | 'agent' | 'barge_in' | 'tools' | 'latency' | 'events';

export interface Lane {
  readonly id: LaneId;
  readonly label: string;
  readonly y: number;
  readonly height: number;
}

export interface Segment {
  readonly lane: LaneId;
  readonly startMs: number;
  readonly endMs: number;
  readonly x: number;
  readonly width: number;
  readonly title: string;
  /** Transcript lines: the line's seq (for highlighting). */
  readonly seq?: number;
  /** A short label drawn on or next to the bar (latency). */
  readonly label?: string;
  /** Drawn differently: an interrupted agent line, a failed tool call, an estimated span. */
  readonly flags: readonly ('interrupted' | 'failed' | 'estimated')[];
}

export interface Marker {
  readonly lane: LaneId;
  readonly atMs: number;
  readonly x: number;
  readonly title: string;
  readonly label: string;
}

export interface Tick {
  readonly ms: number;
  readonly x: number;
  readonly label: string;
}

export interface TimelineLayout {
  readonly width: number;
  readonly height: number;
  readonly plotLeft: number;
  readonly plotWidth: number;
  readonly axisY: number;
  readonly durationMs: number;
  readonly lanes: readonly Lane[];
  readonly segments: readonly Segment[];
  readonly markers: readonly Marker[];
  readonly ticks: readonly Tick[];
}

export interface TimelineOptions {
  /** Total width in SVG units (default 1000). */
  readonly width?: number;
  /** Left margin for the lane labels (default 100). */
  readonly labelWidth?: number;
  /** Right margin (default 10). */
  readonly rightMargin?: number;
  /** Lane height (default 28) and gap (default 6). */
  readonly laneHeight?: number;
  readonly laneGap?: number;
}

export type TimelineRecord = Pick<CallRecord, 'durationMs' | 'transcript' | 'turns' | 'events' | 'recording'>;

/** Speech length guessed from text: 60 ms a character, at least 500 ms. */
export function estimateSpeechMs(text: string): number {
  return Math.max(500, text.trim().length * 60);
}

const TOP = 8;
const AXIS_HEIGHT = 24;
const round2 = (value: number): number => Math.round(value * 100) / 100;
const MIN_WIDTH = 2;
const TICK_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s}s` : `${s.toFixed(1)}s`;
}

/** Axis ticks every 1, 2, 5, 10, 15, 30 s, … so that there are at most `maxTicks` intervals. */
export function tickStepMs(durationMs: number, maxTicks = 10): number {
  for (const step of TICK_STEPS_S) if (durationMs / (step * 1000) <= maxTicks) return step * 1000;
  return Math.ceil(durationMs / maxTicks / 3_600_000) * 3_600_000;
}

interface Span {
  seq: number;
  speaker: 'caller' | 'agent';
  startMs: number;
  endMs: number;
  estimated: boolean;
}

/** Start and end of each transcript line (see the module comment), in transcript order. */
export function lineSpans(record: TimelineRecord): Span[] {
  const lines = [...record.transcript].sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
  const bargeIns = record.events.filter((event) => event.type === 'barge_in').map((event) => event.atMs);
  const endOfCall = Math.max(record.durationMs, record.recording?.durationMs ?? 0);
  const spans: Span[] = [];
  lines.forEach((line, index) => {
    const previous = spans[spans.length - 1];
    if (line.speaker === 'agent') {
      const nextAt = lines[index + 1]?.atMs ?? Infinity;
      if (line.heardMs !== null) {
        spans.push({ seq: line.seq, speaker: 'agent', startMs: line.atMs, endMs: line.atMs + line.heardMs, estimated: false });
      } else {
        const endMs = Math.max(line.atMs, Math.min(line.atMs + estimateSpeechMs(line.fullText ?? line.text), nextAt, endOfCall || Infinity));
        spans.push({ seq: line.seq, speaker: 'agent', startMs: line.atMs, endMs, estimated: true });
      }
      return;
    }
    const after = previous?.startMs ?? -Infinity;
    const bargeIn = bargeIns.find((atMs) => atMs > after && atMs <= line.atMs);
    if (bargeIn !== undefined) {
      spans.push({ seq: line.seq, speaker: 'caller', startMs: bargeIn, endMs: line.atMs, estimated: false });
    } else {
      const floor = Math.max(0, previous === undefined ? 0 : Math.min(previous.endMs, line.atMs));
      spans.push({ seq: line.seq, speaker: 'caller', startMs: Math.max(floor, line.atMs - estimateSpeechMs(line.text)), endMs: line.atMs, estimated: true });
    }
  });
  return spans;
}

function describeHeard(data: Readonly<Record<string, unknown>>): string {
  const heard = Array.isArray(data['heard']) ? (data['heard'] as Array<Record<string, unknown>>) : [];
  return heard
    .map((share) => `heard ${formatSeconds(Number(share['heardMs']) || 0)} of ${formatSeconds(Number(share['audioMs']) || 0)}`)
    .join('; ');
}

export function layoutTimeline(record: TimelineRecord, options: TimelineOptions = {}): TimelineLayout {
  const width = options.width ?? 1000;
  const plotLeft = options.labelWidth ?? 100;
  const plotWidth = width - plotLeft - (options.rightMargin ?? 10);
  const laneHeight = options.laneHeight ?? 28;
  const laneGap = options.laneGap ?? 6;
  const spans = lineSpans(record);
  const tools = record.events.filter((event) => event.type === 'tool_call');
  const others = record.events.filter((event) => event.type !== 'tool_call' && event.type !== 'barge_in');

  const lastMs = Math.max(
    record.durationMs,
    record.recording?.durationMs ?? 0,
    ...spans.map((span) => span.endMs),
    ...record.events.map((event) => event.atMs),
    ...record.turns.map((turn) => turn.firstAudioAtMs ?? turn.callerStoppedAtMs),
  );
  const durationMs = Math.max(1000, lastMs);
  const x = (ms: number): number => round2(plotLeft + (Math.max(0, ms) / durationMs) * plotWidth);
  const w = (startMs: number, endMs: number): number => Math.max(MIN_WIDTH, round2(((endMs - startMs) / durationMs) * plotWidth));

  const laneDefs: Array<[LaneId, string]> = [
    ['caller', 'Caller'],
    ['agent', 'Agent'],
    ['barge_in', 'Barge-ins'],
    ['tools', 'Tool calls'],
    ['latency', 'Turn latency'],
  ];
  if (others.length > 0) laneDefs.push(['events', 'Events']);
  const lanes: Lane[] = laneDefs.map(([id, label], index) => ({ id, label, y: TOP + index * (laneHeight + laneGap), height: laneHeight }));
  const axisY = TOP + lanes.length * (laneHeight + laneGap);

  const segments: Segment[] = [];
  const textOf = new Map(record.transcript.map((line) => [line.seq, line]));
  for (const span of spans) {
    const line = textOf.get(span.seq)!;
    const flags: Array<'interrupted' | 'estimated'> = [];
    if (line.interrupted) flags.push('interrupted');
    if (span.estimated) flags.push('estimated');
    const when = `${formatSeconds(span.startMs)}–${formatSeconds(span.endMs)}${span.estimated ? ' (length estimated)' : ''}`;
    const said = line.interrupted && line.fullText !== null ? ` — interrupted; heard “${line.text}”, meant “${line.fullText}”` : ` — “${line.text}”`;
    segments.push({ lane: span.speaker, startMs: span.startMs, endMs: span.endMs, x: x(span.startMs), width: w(span.startMs, span.endMs), title: `${span.speaker === 'agent' ? 'Agent' : 'Caller'} ${when}${said}`, seq: span.seq, flags });
  }
  for (const tool of tools) {
    const durationMs = Number(tool.data['durationMs']) || 0;
    const name = String(tool.data['name'] ?? 'tool');
    const ok = tool.data['ok'] !== false;
    const startMs = Math.max(0, tool.atMs - durationMs);
    segments.push({ lane: 'tools', startMs, endMs: tool.atMs, x: x(startMs), width: w(startMs, tool.atMs), title: `Tool ${name}: ${ok ? 'ok' : 'failed'}, ${durationMs} ms (ended at ${formatSeconds(tool.atMs)})`, label: name, flags: ok ? [] : ['failed'] });
  }
  for (const turn of record.turns) {
    if (turn.firstAudioAtMs === null || turn.latencyMs === null) continue;
    segments.push({
      lane: 'latency',
      startMs: turn.callerStoppedAtMs,
      endMs: turn.firstAudioAtMs,
      x: x(turn.callerStoppedAtMs),
      width: w(turn.callerStoppedAtMs, turn.firstAudioAtMs),
      title: `Turn ${turn.turn}: ${turn.latencyMs} ms from the caller's last word (${formatSeconds(turn.callerStoppedAtMs)}) to the agent's first audio`,
      label: `${turn.latencyMs} ms`,
      flags: [],
    });
  }

  const markers: Marker[] = [];
  for (const turn of record.turns) {
    if (turn.firstAudioAtMs !== null) continue;
    markers.push({ lane: 'latency', atMs: turn.callerStoppedAtMs, x: x(turn.callerStoppedAtMs), title: `Turn ${turn.turn}: never answered`, label: '∅' });
  }
  for (const event of record.events) {
    if (event.type === 'barge_in') {
      const heard = describeHeard(event.data);
      markers.push({ lane: 'barge_in', atMs: event.atMs, x: x(event.atMs), title: `Barge-in at ${formatSeconds(event.atMs)}${heard === '' ? '' : `: ${heard}`}`, label: '▼' });
    } else if (event.type !== 'tool_call') {
      const detail = Object.entries(event.data)
        .filter(([, value]) => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
        .map(([name, value]) => `${name} ${String(value)}`)
        .join(', ');
      markers.push({ lane: 'events', atMs: event.atMs, x: x(event.atMs), title: `${event.type.replace('_', ' ')} at ${formatSeconds(event.atMs)}${detail === '' ? '' : `: ${detail}`}`, label: event.type === 'dtmf' ? String(event.data['digit'] ?? '#') : '●' });
    }
  }

  const step = tickStepMs(durationMs);
  const ticks: Tick[] = [];
  for (let ms = 0; ms <= durationMs; ms += step) ticks.push({ ms, x: x(ms), label: formatSeconds(ms) });

  return { width, height: axisY + AXIS_HEIGHT, plotLeft, plotWidth, axisY, durationMs, lanes, segments, markers, ticks };
}

/** The x of a time on the layout's scale (the playhead). */
export function xAt(layout: Pick<TimelineLayout, 'plotLeft' | 'plotWidth' | 'durationMs'>, ms: number): number {
  return round2(layout.plotLeft + (Math.min(Math.max(0, ms), layout.durationMs) / layout.durationMs) * layout.plotWidth);
}

/**
 * The transcript line being heard at `ms` of the recording: the latest-starting line whose span holds `ms`, or,
 * between lines, none.
 */
export function lineAt(segments: readonly Segment[], ms: number): number | null {
  let best: Segment | null = null;
  for (const segment of segments) {
    if (segment.seq === undefined || ms < segment.startMs || ms >= segment.endMs) continue;
    if (best === null || segment.startMs >= best.startMs) best = segment;
  }
  return best?.seq ?? null;
}
