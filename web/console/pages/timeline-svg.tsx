/**
 * The call's timeline picture in plain SVG, drawn from `layoutTimeline` (web/lib/timeline.ts): one time axis in
 * seconds, a lane per kind of thing, a <title> on every element (hover / screen readers), and the recording's
 * playhead. Clicking a transcript segment (or Enter on it) seeks the recording there.
 */
import type { TimelineLayout } from '../../lib/timeline.js';
import { xAt } from '../../lib/timeline.js';

export interface TimelineProps {
  readonly layout: TimelineLayout;
  /** The recording's position, ms (null: no playhead). */
  readonly playheadMs: number | null;
  readonly activeSeq: number | null;
  readonly onSeek?: (ms: number) => void;
}

export function TimelineSvg({ layout, playheadMs, activeSeq, onSeek }: TimelineProps) {
  const laneY = new Map(layout.lanes.map((lane) => [lane.id, lane]));
  const plotRight = layout.plotLeft + layout.plotWidth;
  return (
    <svg
      class="timeline"
      data-testid="timeline-svg"
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      width="100%"
      role="img"
      aria-labelledby="timeline-title"
      preserveAspectRatio="xMinYMin meet"
    >
      <title id="timeline-title">Call timeline: caller and agent speech, barge-ins, tool calls and turn latency over {Math.round(layout.durationMs / 1000)} seconds</title>
      {layout.lanes.map((lane) => (
        <g key={lane.id} class={`lane lane-${lane.id}`}>
          <rect class="lane-bg" x={layout.plotLeft} y={lane.y} width={layout.plotWidth} height={lane.height} />
          <text class="lane-label" x={layout.plotLeft - 8} y={lane.y + lane.height / 2} text-anchor="end" dominant-baseline="middle">
            {lane.label}
          </text>
        </g>
      ))}
      {layout.ticks.map((tick) => (
        <g key={tick.ms} class="tick">
          <line x1={tick.x} x2={tick.x} y1={layout.lanes[0]?.y ?? 0} y2={layout.axisY} />
          <text x={tick.x} y={layout.axisY + 15} text-anchor="middle">
            {tick.label}
          </text>
        </g>
      ))}
      <line class="axis" x1={layout.plotLeft} x2={plotRight} y1={layout.axisY} y2={layout.axisY} />
      {layout.segments.map((segment, index) => {
        const lane = laneY.get(segment.lane);
        if (lane === undefined) return null;
        const seq = segment.seq;
        const classes = ['seg', `seg-${segment.lane}`, ...segment.flags, seq !== undefined && seq === activeSeq ? 'active' : ''].join(' ').trim();
        const seekable = onSeek !== undefined && seq !== undefined;
        const seek = (): void => onSeek?.(segment.startMs);
        return (
          <g
            key={`${segment.lane}-${index}`}
            class={classes}
            data-seq={seq}
            tabIndex={seekable ? 0 : undefined}
            role={seekable ? 'button' : undefined}
            aria-label={seekable ? segment.title : undefined}
            onClick={seekable ? seek : undefined}
            onKeyDown={
              seekable
                ? (event: KeyboardEvent) => {
                    if (event.key === 'Enter' || event.key === ' ') {
                      event.preventDefault();
                      seek();
                    }
                  }
                : undefined
            }
          >
            <title>{segment.title}</title>
            <rect x={segment.x} y={lane.y + 4} width={segment.width} height={lane.height - 8} rx={3} />
            {segment.label !== undefined && segment.lane === 'latency' ? (
              <text x={segment.x + segment.width + 3} y={lane.y + lane.height / 2} dominant-baseline="middle" class="seg-label">
                {segment.label}
              </text>
            ) : null}
          </g>
        );
      })}
      {layout.markers.map((marker, index) => {
        const lane = laneY.get(marker.lane);
        if (lane === undefined) return null;
        return (
          <g key={`m-${index}`} class={`marker marker-${marker.lane}`}>
            <title>{marker.title}</title>
            <line x1={marker.x} x2={marker.x} y1={lane.y + 2} y2={lane.y + lane.height - 2} />
            <text x={marker.x} y={lane.y + lane.height / 2} text-anchor="middle" dominant-baseline="middle">
              {marker.label}
            </text>
          </g>
        );
      })}
      {playheadMs === null ? null : (
        <line class="playhead" x1={xAt(layout, playheadMs)} x2={xAt(layout, playheadMs)} y1={layout.lanes[0]?.y ?? 0} y2={layout.axisY} data-testid="timeline-playhead">
          <title>Recording position</title>
        </line>
      )}
    </svg>
  );
}
