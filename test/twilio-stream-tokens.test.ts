import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { StreamTokenRegistry } from '../src/twilio/stream-tokens.js';

const INFO = { callSid: 'CA1', from: '+15551230000', to: '+15559870000' };

describe('StreamTokenRegistry', () => {
  it('issues URL-safe random tokens of 24 characters', () => {
    const registry = new StreamTokenRegistry({ clock: new ManualClock(), ttlMs: 30_000 });
    const tokens = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const token = registry.issue(INFO);
      expect(token).toMatch(/^[A-Za-z0-9_-]{24}$/);
      tokens.add(token);
    }
    expect(tokens.size).toBe(100);
  });

  it('a token is consumed once', () => {
    const registry = new StreamTokenRegistry({ clock: new ManualClock(), ttlMs: 30_000 });
    const token = registry.issue(INFO);
    expect(registry.size).toBe(1);
    expect(registry.consume(token)).toEqual(INFO);
    expect(registry.consume(token)).toBeNull();
    expect(registry.size).toBe(0);
  });

  it('unknown tokens are null', () => {
    const registry = new StreamTokenRegistry({ clock: new ManualClock(), ttlMs: 30_000 });
    expect(registry.consume('nope')).toBeNull();
  });

  it('valid until ttlMs has elapsed, expired from then on', () => {
    const clock = new ManualClock();
    const registry = new StreamTokenRegistry({ clock, ttlMs: 30_000 });
    const early = registry.issue(INFO);
    const late = registry.issue(INFO);
    clock.advance(29_999);
    expect(registry.consume(early)).toEqual(INFO);
    clock.advance(1);
    expect(registry.consume(late)).toBeNull();
  });

  it('prunes expired tokens, so size stays bounded by the issue rate times the TTL', () => {
    const clock = new ManualClock();
    const registry = new StreamTokenRegistry({ clock, ttlMs: 1_000 });
    for (let i = 0; i < 10_000; i++) {
      registry.issue(INFO);
      clock.advance(10);
    }
    // One token per 10 ms, 1000 ms TTL, and 10 ms since the last issue: the oldest of the last 100 just expired.
    expect(registry.size).toBe(99);
    clock.advance(1_000);
    registry.prune();
    expect(registry.size).toBe(0);
  });

  it('drops the oldest beyond maxEntries', () => {
    const registry = new StreamTokenRegistry({ clock: new ManualClock(), ttlMs: 30_000, maxEntries: 2 });
    const first = registry.issue(INFO);
    const second = registry.issue({ ...INFO, callSid: 'CA2' });
    const third = registry.issue({ ...INFO, callSid: 'CA3' });
    expect(registry.size).toBe(2);
    expect(registry.consume(first)).toBeNull();
    expect(registry.consume(second)?.callSid).toBe('CA2');
    expect(registry.consume(third)?.callSid).toBe('CA3');
  });

  it('keeps its own copy of the info', () => {
    const registry = new StreamTokenRegistry({ clock: new ManualClock(), ttlMs: 30_000 });
    const info = { ...INFO };
    const token = registry.issue(info);
    info.callSid = 'mutated';
    expect(registry.consume(token)?.callSid).toBe('CA1');
  });

  it('size counts only live tokens, without waiting for the next issue', () => {
    const clock = new ManualClock();
    const registry = new StreamTokenRegistry({ clock, ttlMs: 1_000 });
    registry.issue(INFO);
    clock.advance(500);
    registry.issue(INFO);
    expect(registry.size).toBe(2);
    clock.advance(500);
    expect(registry.size).toBe(1);
    clock.advance(500);
    expect(registry.size).toBe(0);
  });
});
