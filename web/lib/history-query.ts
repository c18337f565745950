/**
 * The history page's filters ↔ `GET /api/calls` query (and the page's own URL, so a filtered list can be linked).
 * Pure. Times are ISO 8601 with a zone (the API refuses local date-times).
 */
export interface HistoryFilters {
  readonly agent: string;
  readonly number: string;
  readonly direction: '' | 'inbound' | 'outbound' | 'browser';
  readonly endReason: string;
  /** ISO 8601 with a zone, or ''. */
  readonly from: string;
  readonly to: string;
}

export const EMPTY_FILTERS: HistoryFilters = { agent: '', number: '', direction: '', endReason: '', from: '', to: '' };

const KEYS = ['agent', 'number', 'direction', 'endReason', 'from', 'to'] as const;

/** Filters (blank ones left out) + cursor → `?…` for `/api/calls` (empty string when nothing to say). */
export function callsQuery(filters: HistoryFilters, cursor: string | null = null, limit?: number): string {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    const value = filters[key].trim();
    if (value !== '') params.set(key, value);
  }
  if (cursor !== null) params.set('cursor', cursor);
  if (limit !== undefined) params.set('limit', String(limit));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** `?agent=…&direction=…` (the page URL) → filters; unknown keys and bad directions are ignored. */
export function filtersFromSearch(search: string): HistoryFilters {
  const params = new URLSearchParams(search);
  const direction = params.get('direction');
  return {
    agent: params.get('agent') ?? '',
    number: params.get('number') ?? '',
    direction: direction === 'inbound' || direction === 'outbound' || direction === 'browser' ? direction : '',
    endReason: params.get('endReason') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
}
