/**
 * `/console/history`: finished calls from `GET /api/calls`, newest first, with filters (kept in the page URL so a
 * filtered list can be linked) and "Load more" through the cursor. Each row links to the call's page.
 */
import { useEffect, useState } from 'preact/hooks';
import type { AgentInfo, CallListItem, CallPage } from '../../lib/api-types.js';
import { formatDateTime, formatDuration, formatUsd } from '../../lib/format.js';
import { callsQuery, filtersFromSearch, type HistoryFilters } from '../../lib/history-query.js';
import { BASE, callPath } from '../../lib/route.js';
import { api, errorText } from '../api.js';
import { useApi, usePageTitle } from '../hooks.js';
import { LoadStatus } from '../load-status.js';
import { Link, navigate } from '../router.js';

const PAGE_SIZE = 50;

/** ISO with zone → the value of a datetime-local input (the reader's zone), and back. */
function toLocalInput(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  const date = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return date.toISOString().slice(0, 16);
}

function fromLocalInput(value: string): string {
  if (value === '') return '';
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '';
}

type Rows = { state: 'loading' } | { state: 'error'; error: string } | { state: 'ok'; calls: readonly CallListItem[]; nextCursor: string | null; more: 'idle' | 'busy' | string };

export function HistoryPage({ search }: { search: string }) {
  const heading = usePageTitle('History');
  const applied = filtersFromSearch(search);
  const query = callsQuery(applied, null, PAGE_SIZE);
  const [draft, setDraft] = useState<HistoryFilters>(applied);
  const [rows, setRows] = useState<Rows>({ state: 'loading' });
  const agents = useApi<{ agents: AgentInfo[] }>('/console/api/agents');

  useEffect(() => {
    setDraft(filtersFromSearch(search));
    const controller = new AbortController();
    setRows({ state: 'loading' });
    api<CallPage>(`/api/calls${query}`, { signal: controller.signal }).then(
      (page) => setRows({ state: 'ok', calls: page.calls, nextCursor: page.nextCursor, more: 'idle' }),
      (error: unknown) => {
        if (!controller.signal.aborted) setRows({ state: 'error', error: errorText(error) });
      },
    );
    return () => controller.abort();
  }, [query]);

  const loadMore = async (): Promise<void> => {
    if (rows.state !== 'ok' || rows.nextCursor === null) return;
    setRows({ ...rows, more: 'busy' });
    try {
      const page = await api<CallPage>(`/api/calls${callsQuery(applied, rows.nextCursor, PAGE_SIZE)}`);
      setRows({ state: 'ok', calls: [...rows.calls, ...page.calls], nextCursor: page.nextCursor, more: 'idle' });
    } catch (error) {
      setRows({ ...rows, more: errorText(error) });
    }
  };

  const onSubmit = (event: Event): void => {
    event.preventDefault();
    navigate(`${BASE}/history${callsQuery(draft)}`);
  };
  const set = (patch: Partial<HistoryFilters>): void => setDraft({ ...draft, ...patch });

  return (
    <section>
      <h1 tabIndex={-1} ref={heading}>
        History
      </h1>
      <form class="filters" onSubmit={onSubmit} aria-label="Filters">
        <label>
          Agent
          <input list="agent-names" value={draft.agent} onInput={(e) => set({ agent: e.currentTarget.value })} data-testid="filter-agent" />
        </label>
        <datalist id="agent-names">{agents.state === 'ok' ? agents.data.agents.map((agent) => <option key={agent.name} value={agent.name} />) : null}</datalist>
        <label>
          Number
          <input type="tel" placeholder="+15551234567" value={draft.number} onInput={(e) => set({ number: e.currentTarget.value })} data-testid="filter-number" />
        </label>
        <label>
          Direction
          <select value={draft.direction} onChange={(e) => set({ direction: e.currentTarget.value as HistoryFilters['direction'] })} data-testid="filter-direction">
            <option value="">Any</option>
            <option value="inbound">Inbound</option>
            <option value="outbound">Outbound</option>
            <option value="browser">Browser</option>
          </select>
        </label>
        <label>
          End reason
          <input value={draft.endReason} onInput={(e) => set({ endReason: e.currentTarget.value })} data-testid="filter-end-reason" />
        </label>
        <label>
          From
          <input type="datetime-local" value={toLocalInput(draft.from)} onInput={(e) => set({ from: fromLocalInput(e.currentTarget.value) })} data-testid="filter-from" />
        </label>
        <label>
          To
          <input type="datetime-local" value={toLocalInput(draft.to)} onInput={(e) => set({ to: fromLocalInput(e.currentTarget.value) })} data-testid="filter-to" />
        </label>
        <div class="filter-actions">
          <button type="submit" data-testid="filter-apply">
            Apply
          </button>
          <Link href={`${BASE}/history`}>Clear</Link>
        </div>
      </form>
      <LoadStatus loaded={rows} />
      {rows.state === 'ok' ? <CallTable rows={rows} onMore={() => void loadMore()} /> : null}
    </section>
  );
}

function CallTable({ rows, onMore }: { rows: Extract<Rows, { state: 'ok' }>; onMore: () => void }) {
  if (rows.calls.length === 0) return <p class="empty">No calls match.</p>;
  return (
    <>
      <div class="table-wrap">
        <table class="calls">
          <caption class="visually-hidden">Calls, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Direction</th>
              <th scope="col">Agent</th>
              <th scope="col" class="num">
                Duration
              </th>
              <th scope="col">End reason</th>
              <th scope="col" class="num">
                Cost
              </th>
              <th scope="col">Recording</th>
            </tr>
          </thead>
          <tbody>
            {rows.calls.map((call) => (
              <tr key={call.callSid} data-testid="history-row" data-call-sid={call.callSid}>
                <td>
                  <Link href={callPath(call.callSid)}>{formatDateTime(call.startedAtEpochMs)}</Link>
                </td>
                <td>{call.from}</td>
                <td>{call.to}</td>
                <td>{call.direction}</td>
                <td>{call.agent}</td>
                <td class="num">{formatDuration(call.durationMs)}</td>
                <td>{call.endReason}</td>
                <td class="num">{formatUsd(call.cost.totalUsd)}</td>
                <td>{call.recording === null ? '—' : 'yes'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="more">
        {rows.nextCursor === null ? (
          <span class="muted">{rows.calls.length} calls, that is all.</span>
        ) : (
          <button type="button" onClick={onMore} disabled={rows.more === 'busy'} data-testid="history-more">
            {rows.more === 'busy' ? 'Loading…' : 'Load more'}
          </button>
        )}
        {rows.more !== 'idle' && rows.more !== 'busy' ? (
          <span class="error" role="alert">
            {rows.more}
          </span>
        ) : null}
      </p>
    </>
  );
}
