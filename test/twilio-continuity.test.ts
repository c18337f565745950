import { describe, expect, it } from 'vitest';
import { InboundContinuity } from '../src/twilio/continuity.js';

const FRAME_BYTES = 160;

function frameAt(index: number, timestampMs = index * 20, payloadBytes = FRAME_BYTES) {
  return { sequenceNumber: index + 2, chunk: index + 1, timestampMs, payloadBytes };
}

describe('InboundContinuity', () => {
  it('accepts a clean 20 ms stream with no fill', () => {
    const continuity = new InboundContinuity();
    for (let i = 0; i < 50; i++) expect(continuity.observe(frameAt(i))).toEqual({ accept: true, gapSilenceBytes: 0 });
    expect(continuity.stats()).toEqual({ frames: 50, gaps: 0, gapMs: 0, cappedGaps: 0, duplicates: 0, reordered: 0 });
  });

  it('does not fill before the first frame, even if it starts late', () => {
    expect(new InboundContinuity().observe(frameAt(0, 500))).toEqual({ accept: true, gapSilenceBytes: 0 });
  });

  it('fills a 60 ms gap (three lost frames) with exactly 480 bytes', () => {
    const continuity = new InboundContinuity();
    continuity.observe(frameAt(0, 0));
    continuity.observe(frameAt(1, 20));
    // Frames at 40, 60, 80 lost: the next starts at 100, the previous ended at 40.
    expect(continuity.observe(frameAt(2, 100))).toEqual({ accept: true, gapSilenceBytes: 480 });
    expect(continuity.stats()).toMatchObject({ frames: 3, gaps: 1, gapMs: 60 });
  });

  it('measures from where the previous payload ended, whatever its size', () => {
    const continuity = new InboundContinuity();
    continuity.observe(frameAt(0, 0, 80)); // 10 ms
    expect(continuity.observe(frameAt(1, 50))).toEqual({ accept: true, gapSilenceBytes: 40 * 8 });
  });

  it('ignores jitter under one frame', () => {
    const continuity = new InboundContinuity();
    continuity.observe(frameAt(0, 0));
    expect(continuity.observe(frameAt(1, 39)).gapSilenceBytes).toBe(0); // 19 ms late
    expect(continuity.observe(frameAt(2, 79)).gapSilenceBytes).toBe(160); // previous ended at 59: a 20 ms gap
    expect(continuity.stats().gaps).toBe(1);
  });

  it('caps one fill at maxGapFillMs and counts the capped gap', () => {
    const continuity = new InboundContinuity({ maxGapFillMs: 2_000 });
    continuity.observe(frameAt(0, 0));
    expect(continuity.observe(frameAt(1, 3_600_000))).toEqual({ accept: true, gapSilenceBytes: 16_000 });
    expect(continuity.stats()).toMatchObject({ gaps: 1, gapMs: 2_000, cappedGaps: 1 });
  });

  it('drops an exact duplicate', () => {
    const continuity = new InboundContinuity();
    continuity.observe(frameAt(0));
    continuity.observe(frameAt(1));
    expect(continuity.observe(frameAt(1))).toEqual({ accept: false, reason: 'duplicate', gapSilenceBytes: 0 });
    expect(continuity.stats()).toMatchObject({ frames: 2, duplicates: 1, reordered: 0 });
  });

  it('drops an older frame as reordered and does not fill from it', () => {
    const continuity = new InboundContinuity();
    continuity.observe(frameAt(0));
    continuity.observe(frameAt(2));
    expect(continuity.observe(frameAt(1))).toEqual({ accept: false, reason: 'reordered', gapSilenceBytes: 0 });
    expect(continuity.observe(frameAt(3))).toEqual({ accept: true, gapSilenceBytes: 0 });
    expect(continuity.stats()).toMatchObject({ frames: 3, reordered: 1, duplicates: 0 });
  });

  it('a repeated chunk under a new sequenceNumber is a duplicate', () => {
    const continuity = new InboundContinuity();
    continuity.observe({ sequenceNumber: 2, chunk: 1, timestampMs: 0, payloadBytes: 160 });
    expect(continuity.observe({ sequenceNumber: 3, chunk: 1, timestampMs: 0, payloadBytes: 160 }).reason).toBe('duplicate');
  });

  it('a timestamp going backwards is accepted without fill and re-anchors', () => {
    const continuity = new InboundContinuity();
    continuity.observe(frameAt(0, 1_000));
    expect(continuity.observe(frameAt(1, 0))).toEqual({ accept: true, gapSilenceBytes: 0 });
    expect(continuity.observe(frameAt(2, 20))).toEqual({ accept: true, gapSilenceBytes: 0 });
  });
});
