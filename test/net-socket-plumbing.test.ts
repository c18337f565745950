import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { closeReasonWithinLimit, GuardedHandlers, HeldDeliveries, OncePerKeyLog } from '../src/net/socket-plumbing.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { logger, lines };
}

describe('HeldDeliveries', () => {
  it('drop newest: keeps the first N droppable ones, never drops a lifecycle delivery, hands all over in order', () => {
    let dropped = 0;
    const held = new HeldDeliveries<string>({ limit: 2, drop: 'newest', droppable: (d) => d !== 'close', onDrop: () => dropped++ });
    for (const delivery of ['a', 'b', 'c', 'close']) held.deliver(delivery);
    const seen: string[] = [];
    held.attach((delivery) => seen.push(delivery));
    held.deliver('d');
    expect(seen).toEqual(['a', 'b', 'close', 'd']);
    expect(dropped).toBe(1);
  });

  it('drop oldest: drops the oldest droppable one when full (the lifecycle delivery counts, but stays)', () => {
    let dropped = 0;
    const held = new HeldDeliveries<string>({ limit: 2, drop: 'oldest', droppable: (d) => d !== 'ready', onDrop: () => dropped++ });
    for (const delivery of ['ready', 'a', 'b', 'c']) held.deliver(delivery);
    const seen: string[] = [];
    held.attach((delivery) => seen.push(delivery));
    expect(seen).toEqual(['ready', 'c']);
    expect(dropped).toBe(2);
  });

  it('discard() during hand-over stops it', () => {
    const held = new HeldDeliveries<string>({ limit: 10, drop: 'newest', onDrop: () => {} });
    for (const delivery of ['a', 'b', 'c']) held.deliver(delivery);
    const seen: string[] = [];
    held.attach((delivery) => {
      seen.push(delivery);
      if (delivery === 'a') held.discard();
    });
    expect(seen).toEqual(['a']);
  });
});

describe('OncePerKeyLog and GuardedHandlers', () => {
  it('logs the first occurrence of a key at its level, repeats at debug or not at all', () => {
    const { logger, lines } = capture();
    const debugRepeats = new OncePerKeyLog(() => logger);
    const silentRepeats = new OncePerKeyLog(() => logger, 'error', 'silent');
    expect(debugRepeats.log('A', {}, 'x')).toBe(true);
    expect(debugRepeats.log('A', {}, 'x')).toBe(false);
    silentRepeats.log('B', {}, 'y');
    silentRepeats.log('B', {}, 'y');
    expect(lines.map((line) => [line['msg'], line['level']])).toEqual([['x', 40], ['x', 20], ['y', 50]]);
  });

  it('a throwing handler is caught, counted and logged once per handler name at error', () => {
    const { logger, lines } = capture();
    const guard = new GuardedHandlers(() => logger, 'handler threw');
    for (let i = 0; i < 3; i++) {
      guard.run('onMedia', () => {
        throw new Error('bug');
      });
    }
    guard.run('onMark', () => undefined);
    expect(guard.errors).toBe(3);
    expect(lines.map((line) => [line['handler'], line['level']])).toEqual([['onMedia', 50], ['onMedia', 20], ['onMedia', 20]]);
  });
});

describe('closeReasonWithinLimit', () => {
  it('cuts to 123 bytes without splitting a character', () => {
    expect(closeReasonWithinLimit('short')).toBe('short');
    const cut = closeReasonWithinLimit('é'.repeat(100));
    expect(Buffer.byteLength(cut)).toBe(122);
    expect(cut).toBe('é'.repeat(61));
  });
});
