/**
 * The console's small pure helpers: routes, the history query, bar charts and formats (web/lib/).
 */
import { describe, expect, it } from 'vitest';
import { layoutBars } from '../web/lib/bars.js';
import { formatDuration, formatOffset, formatUsd, unsaidPart } from '../web/lib/format.js';
import { callsQuery, EMPTY_FILTERS, filtersFromSearch } from '../web/lib/history-query.js';
import { callPath, parseRoute, safeNext } from '../web/lib/route.js';

describe('routes', () => {
  it('maps console paths to pages', () => {
    expect(parseRoute('/console')).toEqual({ page: 'live' });
    expect(parseRoute('/console/')).toEqual({ page: 'live' });
    expect(parseRoute('/console/history')).toEqual({ page: 'history' });
    expect(parseRoute('/console/overview')).toEqual({ page: 'overview' });
    expect(parseRoute('/console/agents')).toEqual({ page: 'agents' });
    expect(parseRoute('/console/phone')).toEqual({ page: 'phone' });
    expect(parseRoute('/console/sign-in')).toEqual({ page: 'sign-in' });
    expect(parseRoute('/console/calls/CA0123')).toEqual({ page: 'call', callSid: 'CA0123' });
    expect(parseRoute('/console/calls/')).toEqual({ page: 'not-found' });
    expect(parseRoute('/console/nope')).toEqual({ page: 'not-found' });
    expect(parseRoute('/elsewhere')).toEqual({ page: 'not-found' });
    expect(callPath('CA0123')).toBe('/console/calls/CA0123');
  });

  it('returns after sign-in only to a console path of this site', () => {
    expect(safeNext('/console/history?agent=a')).toBe('/console/history?agent=a');
    expect(safeNext(null)).toBe('/console');
    expect(safeNext('https://evil.example/console')).toBe('/console');
    expect(safeNext('//evil.example/console')).toBe('/console');
    expect(safeNext('/console/sign-in')).toBe('/console');
  });
});

describe('history query', () => {
  it('leaves blank filters out and adds the cursor and limit', () => {
    expect(callsQuery(EMPTY_FILTERS)).toBe('');
    expect(callsQuery({ ...EMPTY_FILTERS, agent: ' desk ', number: '+15551234567', direction: 'inbound' }, 'CUR', 50)).toBe(
      '?agent=desk&number=%2B15551234567&direction=inbound&cursor=CUR&limit=50',
    );
    expect(callsQuery({ ...EMPTY_FILTERS, endReason: 'caller_hung_up', from: '2025-01-31T09:00:00.000Z', to: '2025-02-01T00:00:00.000Z' })).toBe(
      '?endReason=caller_hung_up&from=2025-01-31T09%3A00%3A00.000Z&to=2025-02-01T00%3A00%3A00.000Z',
    );
  });

  it('reads filters back from the page URL', () => {
    expect(filtersFromSearch('?agent=desk&number=%2B1555&direction=outbound&bogus=1')).toEqual({ ...EMPTY_FILTERS, agent: 'desk', number: '+1555', direction: 'outbound' });
    expect(filtersFromSearch('?direction=sideways').direction).toBe('');
  });
});

describe('bar chart', () => {
  it('scales bars to the largest value on a bottom baseline', () => {
    const { bars, max } = layoutBars([2, 0, 4, 1], 100, 40, 4);
    expect(max).toBe(4);
    expect(bars.map((bar) => [bar.x, bar.y, bar.width, bar.height])).toEqual([
      [0, 20, 22, 20],
      [26, 40, 22, 0],
      [52, 0, 22, 40],
      [78, 30, 22, 10],
    ]);
  });

  it('keeps few bars slim', () => {
    expect(layoutBars([1, 2], 480, 100, 2, 48).bars.map((bar) => [bar.x, bar.width])).toEqual([
      [0, 48],
      [50, 48],
    ]);
  });

  it('keeps an all-zero chart flat and an empty one empty', () => {
    expect(layoutBars([0, 0], 10, 10, 0).bars.map((bar) => bar.height)).toEqual([0, 0]);
    expect(layoutBars([], 10, 10)).toEqual({ bars: [], max: 1 });
  });
});

describe('formats', () => {
  it('formats durations, offsets and money', () => {
    expect(formatDuration(65_000)).toBe('1:05');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
    expect(formatDuration(-5)).toBe('0:00');
    expect(formatOffset(65_250)).toBe('1:05.3');
    expect(formatOffset(4_000)).toBe('0:04.0');
    expect(formatUsd(0)).toBe('$0');
    expect(formatUsd(0.0123)).toBe('$0.0123');
    expect(formatUsd(12.5)).toBe('$12.50');
    expect(formatUsd(0.4)).toBe('$0.40');
    expect(formatUsd(0.05)).toBe('$0.05');
  });

  it('splits an interrupted line into what was heard and what was not', () => {
    expect(unsaidPart('Sure, where are', 'Sure, where are you going today?')).toBe(' you going today?');
    expect(unsaidPart(' Sure ', 'Sure')).toBe('');
    expect(unsaidPart('Something else', 'Sure, where are you going today?')).toBeNull();
  });
});
