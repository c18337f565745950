import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';

describe('ManualClock', () => {
  it('fires due timers in time order, each at its own due time, including timers set by timers', () => {
    const clock = new ManualClock(100);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 30);
    clock.setTimeout(() => {
      fired.push(`a@${clock.now()}`);
      clock.setTimeout(() => fired.push(`c@${clock.now()}`), 15);
    }, 10);
    const cancelled = clock.setTimeout(() => fired.push('never'), 5);
    clock.clearTimeout(cancelled);
    clock.advance(50);
    expect(fired).toEqual(['a@110', 'c@125', 'b@130']);
    expect(clock.now()).toBe(150);
    expect(clock.pendingTimers).toBe(0);
  });
});
