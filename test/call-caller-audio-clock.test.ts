import { describe, expect, it } from 'vitest';
import { CallerAudioClock } from '../src/call/caller-audio-clock.js';

describe('CallerAudioClock', () => {
  it('maps an audio position to when it arrived, from the latest append', () => {
    const clock = new CallerAudioClock();
    expect(clock.timeOf(0)).toBeNull();
    for (let frame = 1; frame <= 50; frame++) clock.appended(20, 1_000 + frame * 20);
    // 1,000 ms appended, the last at t=2,000: the audio at 600 ms arrived 400 ms before.
    expect(clock.timeOf(600)).toBe(1_600);
    expect(clock.timeOf(1_000)).toBe(2_000);
    expect(clock.timeOf(1_001)).toBeNull();
  });

  it('starts a new timeline at 0 after reset (a re-dialled session)', () => {
    const clock = new CallerAudioClock();
    clock.appended(500, 10_000);
    clock.reset();
    expect(clock.timeOf(0)).toBeNull();
    clock.appended(40, 12_000);
    expect(clock.timeOf(20)).toBe(11_980);
  });
});
