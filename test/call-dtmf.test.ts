import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { DtmfCollector } from '../src/call/dtmf.js';

describe('DtmfCollector', () => {
  it('groups presses closer than the inter-digit timeout into one burst', () => {
    const clock = new ManualClock();
    const bursts: Array<[string, number]> = [];
    const collector = new DtmfCollector({ clock, interDigitTimeoutMs: 800, onBurst: (digits) => bursts.push([digits, clock.now()]) });
    collector.press('1');
    clock.advance(600);
    collector.press('5');
    clock.advance(799);
    expect(bursts).toEqual([]);
    clock.advance(1);
    expect(bursts).toEqual([['15', 1_400]]);
    collector.press('9');
    clock.advance(5_000);
    expect(bursts).toEqual([['15', 1_400], ['9', 2_200]]);
  });

  it("ends a burst at once on '#', which is not part of it, and ignores a lone '#'", () => {
    const clock = new ManualClock();
    const bursts: string[] = [];
    const collector = new DtmfCollector({ clock, onBurst: (digits) => bursts.push(digits) });
    collector.press('#');
    collector.press('4');
    collector.press('2');
    collector.press('#');
    expect(bursts).toEqual(['42']);
    clock.advance(10_000);
    expect(bursts).toEqual(['42']);
  });

  it('dispose() drops pending digits and their timer', () => {
    const clock = new ManualClock();
    const bursts: string[] = [];
    const collector = new DtmfCollector({ clock, onBurst: (digits) => bursts.push(digits) });
    collector.press('7');
    collector.dispose();
    clock.advance(10_000);
    expect(bursts).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });
});
