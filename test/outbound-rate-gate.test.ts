/**
 * OutboundRateGate on a ManualClock: at most `maxConcurrent` in flight, starts spaced 1000 / callsPerSecond ms apart,
 * a FIFO queue of `maxQueued`, `release` frees a slot, `clear` drops the waiting. Every start is recorded with the
 * clock reading it happened at.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { OutboundRateGate, type Admission } from '../src/outbound/rate-gate.js';

function setup(options: { maxConcurrent: number; callsPerSecond: number; maxQueued: number }, startMs = 0) {
  const clock = new ManualClock(startMs);
  const gate = new OutboundRateGate<string>({ clock, ...options });
  const starts: Array<[string, number]> = [];
  const start = (item: string) => starts.push([item, clock.now()]);
  const submit = (item: string): Admission => gate.submit(item, start);
  const state = () => ({ active: gate.active, waiting: gate.waiting, timers: clock.pendingTimers });
  return { clock, gate, starts, submit, state };
}

describe('OutboundRateGate: calls per second', () => {
  it('starts the first at once and each queued one exactly 1000 ms after the previous start (1 CPS)', () => {
    const { clock, starts, submit, state } = setup({ maxConcurrent: 10, callsPerSecond: 1, maxQueued: 3 }, 5_000);
    expect(['a', 'b', 'c', 'd', 'e'].map(submit)).toEqual(['now', 'queued', 'queued', 'queued', 'rejected']);
    expect(starts).toEqual([['a', 5_000]]);
    expect(state()).toEqual({ active: 1, waiting: 3, timers: 1 });
    clock.advance(999);
    expect(starts).toEqual([['a', 5_000]]);
    clock.advance(1);
    expect(starts).toEqual([
      ['a', 5_000],
      ['b', 6_000],
    ]);
    expect(state()).toEqual({ active: 2, waiting: 2, timers: 1 });
    // Room in the queue again: a new request joins behind the others.
    expect(submit('f')).toBe('queued');
    clock.advance(10_000);
    expect(starts).toEqual([
      ['a', 5_000],
      ['b', 6_000],
      ['c', 7_000],
      ['d', 8_000],
      ['f', 9_000],
    ]);
    expect(state()).toEqual({ active: 5, waiting: 0, timers: 0 });
  });

  it('starts a request at once when the last start is at least 1 / CPS ago', () => {
    const { clock, starts, submit, state } = setup({ maxConcurrent: 10, callsPerSecond: 1, maxQueued: 5 });
    expect(submit('a')).toBe('now');
    clock.advance(1_000);
    expect(submit('b')).toBe('now');
    clock.advance(1_500);
    expect(submit('c')).toBe('now');
    clock.advance(200);
    expect(submit('d')).toBe('queued');
    expect(state()).toEqual({ active: 3, waiting: 1, timers: 1 });
    clock.advance(800);
    expect(starts).toEqual([
      ['a', 0],
      ['b', 1_000],
      ['c', 2_500],
      ['d', 3_500],
    ]);
  });

  it('spaces starts by fractional and fast rates', () => {
    const slow = setup({ maxConcurrent: 10, callsPerSecond: 0.5, maxQueued: 5 });
    expect(['a', 'b', 'c'].map(slow.submit)).toEqual(['now', 'queued', 'queued']);
    slow.clock.advance(10_000);
    expect(slow.starts).toEqual([
      ['a', 0],
      ['b', 2_000],
      ['c', 4_000],
    ]);
    const fast = setup({ maxConcurrent: 10, callsPerSecond: 4, maxQueued: 5 });
    expect(['a', 'b', 'c', 'd'].map(fast.submit)).toEqual(['now', 'queued', 'queued', 'queued']);
    fast.clock.advance(1_000);
    expect(fast.starts).toEqual([
      ['a', 0],
      ['b', 250],
      ['c', 500],
      ['d', 750],
    ]);
  });

  it('refuses at once with maxQueued 0 whenever the request cannot start now', () => {
    const { clock, starts, submit, state } = setup({ maxConcurrent: 10, callsPerSecond: 1, maxQueued: 0 });
    expect(submit('a')).toBe('now');
    expect(submit('b')).toBe('rejected');
    expect(state()).toEqual({ active: 1, waiting: 0, timers: 0 });
    clock.advance(1_000);
    expect(submit('c')).toBe('now');
    expect(starts).toEqual([
      ['a', 0],
      ['c', 1_000],
    ]);
  });
});

describe('OutboundRateGate: concurrency and release', () => {
  it('holds queued requests while maxConcurrent are in flight, and starts the next on release (rate permitting)', () => {
    const { clock, gate, starts, submit, state } = setup({ maxConcurrent: 1, callsPerSecond: 10, maxQueued: 5 });
    expect(['a', 'b', 'c'].map(submit)).toEqual(['now', 'queued', 'queued']);
    // The rate allows b at 100 ms, the concurrency does not: no timer runs while the slot is taken.
    expect(state()).toEqual({ active: 1, waiting: 2, timers: 0 });
    clock.advance(5_000);
    expect(starts).toEqual([['a', 0]]);
    gate.release();
    expect(starts).toEqual([
      ['a', 0],
      ['b', 5_000],
    ]);
    expect(state()).toEqual({ active: 1, waiting: 1, timers: 0 });
    // Released 50 ms after b started: c waits for the rate (100 ms after b), not for another release.
    clock.advance(50);
    gate.release();
    expect(state()).toEqual({ active: 0, waiting: 1, timers: 1 });
    clock.advance(49);
    expect(starts).toHaveLength(2);
    clock.advance(1);
    expect(starts).toEqual([
      ['a', 0],
      ['b', 5_000],
      ['c', 5_100],
    ]);
    expect(state()).toEqual({ active: 1, waiting: 0, timers: 0 });
  });

  it('starts as many as free slots and the rate allow when slots free up together', () => {
    const { clock, gate, starts, submit, state } = setup({ maxConcurrent: 2, callsPerSecond: 1, maxQueued: 5 });
    expect(['a', 'b', 'c', 'd'].map(submit)).toEqual(['now', 'queued', 'queued', 'queued']);
    clock.advance(1_000);
    expect(state()).toEqual({ active: 2, waiting: 2, timers: 0 });
    clock.advance(9_000);
    gate.release();
    gate.release();
    // Both slots are free at 10 000, but the rate starts one now and the next a second later.
    expect(starts).toEqual([
      ['a', 0],
      ['b', 1_000],
      ['c', 10_000],
    ]);
    expect(state()).toEqual({ active: 1, waiting: 1, timers: 1 });
    clock.advance(1_000);
    expect(starts.at(-1)).toEqual(['d', 11_000]);
    expect(state()).toEqual({ active: 2, waiting: 0, timers: 0 });
  });

  it('a release with nothing in flight keeps the count at zero', () => {
    const { clock, gate, submit, state, starts } = setup({ maxConcurrent: 1, callsPerSecond: 1_000, maxQueued: 5 });
    gate.release();
    expect(state()).toEqual({ active: 0, waiting: 0, timers: 0 });
    expect(submit('a')).toBe('now');
    expect(submit('b')).toBe('queued');
    gate.release();
    // The slot is free; b still waits the 1 ms the rate asks for.
    expect(state()).toEqual({ active: 0, waiting: 1, timers: 1 });
    clock.advance(1);
    expect(state()).toEqual({ active: 1, waiting: 0, timers: 0 });
    gate.release();
    gate.release();
    gate.release();
    expect(state()).toEqual({ active: 0, waiting: 0, timers: 0 });
    expect(starts).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
    // Extra releases grant no extra slot: one in flight fills the gate again.
    clock.advance(10);
    expect([submit('c'), submit('d')]).toEqual(['now', 'queued']);
    expect(state()).toEqual({ active: 1, waiting: 1, timers: 0 });
  });

  it('passes each item to the start function it was submitted with', () => {
    const clock = new ManualClock();
    const gate = new OutboundRateGate<{ id: number }>({ clock, maxConcurrent: 5, callsPerSecond: 1, maxQueued: 5 });
    const seen: string[] = [];
    const first = { id: 1 };
    const second = { id: 2 };
    gate.submit(first, (item) => seen.push(`first ${item.id} ${item === first}`));
    gate.submit(second, (item) => seen.push(`second ${item.id} ${item === second}`));
    clock.advance(1_000);
    expect(seen).toEqual(['first 1 true', 'second 2 true']);
  });
});

describe('OutboundRateGate: clear', () => {
  it('returns the waiting items in order, cancels the wake-up, and leaves calls in flight counted', () => {
    const { clock, gate, starts, submit, state } = setup({ maxConcurrent: 10, callsPerSecond: 1, maxQueued: 5 });
    expect(['a', 'b', 'c'].map(submit)).toEqual(['now', 'queued', 'queued']);
    expect(gate.clear()).toEqual(['b', 'c']);
    expect(state()).toEqual({ active: 1, waiting: 0, timers: 0 });
    clock.advance(10_000);
    expect(starts).toEqual([['a', 0]]);
    expect(gate.clear()).toEqual([]);
    // The gate still works after a clear.
    expect(submit('d')).toBe('now');
    expect(submit('e')).toBe('queued');
    clock.advance(1_000);
    expect(starts).toEqual([
      ['a', 0],
      ['d', 10_000],
      ['e', 11_000],
    ]);
    expect(state()).toEqual({ active: 3, waiting: 0, timers: 0 });
  });
});
