/**
 * `/console/overview`: calls per hour, turn latency percentiles, cost per day and errors over the last N days, from
 * `GET /console/api/overview?days=N`.
 */
import { useState } from 'preact/hooks';
import type { Overview } from '../../lib/api-types.js';
import { layoutBars } from '../../lib/bars.js';
import { formatDateTime, formatMs, formatUsd } from '../../lib/format.js';
import { useApi, usePageTitle } from '../hooks.js';
import { LoadStatus } from '../load-status.js';

const DAY_CHOICES = [1, 7, 30, 90] as const;

function hourLabel(hourStartMs: number): string {
  return formatDateTime(hourStartMs).slice(5, 16);
}

function edgeLabels(labels: readonly string[]): { firstLabel?: string; lastLabel?: string } {
  const first = labels[0];
  const last = labels[labels.length - 1];
  return { ...(first === undefined ? {} : { firstLabel: first }), ...(last === undefined ? {} : { lastLabel: last }) };
}

export function OverviewPage() {
  const heading = usePageTitle('Overview');
  const [days, setDays] = useState<number>(7);
  const loaded = useApi<Overview>(`/console/api/overview?days=${days}`);
  return (
    <section>
      <h1 tabIndex={-1} ref={heading}>
        Overview
      </h1>
      <label class="inline">
        Period{' '}
        <select value={String(days)} onChange={(event) => setDays(Number(event.currentTarget.value))} data-testid="overview-days">
          {DAY_CHOICES.map((n) => (
            <option key={n} value={String(n)}>
              {n === 1 ? 'Last 24 hours' : `Last ${n} days`}
            </option>
          ))}
        </select>
      </label>
      <LoadStatus loaded={loaded} />
      {loaded.state === 'ok' ? <OverviewView overview={loaded.data} /> : null}
      <InstancesView />
    </section>
  );
}

interface InstanceView {
  instanceId: string;
  publicUrl: string;
  activeCalls: number;
  maxCalls: number;
  draining: boolean;
  alive: boolean;
}

/** Every instance of the cluster (just this one when alone): calls against capacity, draining, heard from lately. */
function InstancesView() {
  const loaded = useApi<{ instances: InstanceView[] }>('/api/instances');
  if (loaded.state !== 'ok') return null;
  return (
    <section class="card" aria-labelledby="instances-heading">
      <h2 id="instances-heading">Instances</h2>
      <table data-testid="overview-instances">
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">Calls</th>
            <th scope="col">State</th>
            <th scope="col">Reached at</th>
          </tr>
        </thead>
        <tbody>
          {loaded.data.instances.map((instance) => (
            <tr key={instance.instanceId} data-testid="instance-row" data-instance={instance.instanceId}>
              <td>{instance.instanceId}</td>
              <td>
                {instance.activeCalls} / {instance.maxCalls}
              </td>
              <td>{!instance.alive ? 'not heard from' : instance.draining ? 'draining' : 'ready'}</td>
              <td>{instance.publicUrl}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function OverviewView({ overview }: { overview: Overview }) {
  const totalCalls = overview.callsPerHour.reduce((sum, hour) => sum + hour.calls, 0);
  const totalUsd = overview.costPerDay.reduce((sum, day) => sum + day.usd, 0);
  const reasons = Object.entries(overview.errors.byEndReason).sort(([, a], [, b]) => b - a);
  const { turnLatencyMs: latency } = overview;
  return (
    <div class="grid">
      <section class="card" aria-labelledby="cph-heading">
        <h2 id="cph-heading">Calls per hour</h2>
        <p class="muted">{totalCalls} calls</p>
        <BarChart
          label="Calls per hour"
          testid="chart-calls-per-hour"
          values={overview.callsPerHour.map((hour) => hour.calls)}
          titles={overview.callsPerHour.map((hour) => `${hourLabel(hour.hourStartMs)}: ${hour.calls} calls`)}
          {...edgeLabels(overview.callsPerHour.map((hour) => hourLabel(hour.hourStartMs)))}
        />
      </section>
      <section class="card" aria-labelledby="latency-heading">
        <h2 id="latency-heading">Turn latency</h2>
        <dl class="big-numbers" data-testid="overview-latency">
          <div>
            <dt>p50</dt>
            <dd>{formatMs(latency.p50)}</dd>
          </div>
          <div>
            <dt>p90</dt>
            <dd>{formatMs(latency.p90)}</dd>
          </div>
          <div>
            <dt>p99</dt>
            <dd>{formatMs(latency.p99)}</dd>
          </div>
        </dl>
        <p class="muted">over {latency.turns} turns</p>
      </section>
      <section class="card" aria-labelledby="cost-heading">
        <h2 id="cost-heading">Cost per day</h2>
        <p class="muted">{formatUsd(totalUsd)} in all</p>
        <BarChart
          label="Cost per day"
          testid="chart-cost-per-day"
          values={overview.costPerDay.map((day) => day.usd)}
          titles={overview.costPerDay.map((day) => `${day.day}: ${formatUsd(day.usd)}`)}
          {...edgeLabels(overview.costPerDay.map((day) => day.day))}
        />
        <table class="compact">
          <tbody>
            {overview.costPerDay.map((day) => (
              <tr key={day.day}>
                <th scope="row">{day.day}</th>
                <td class="num">{formatUsd(day.usd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="card" aria-labelledby="errors-heading">
        <h2 id="errors-heading">Errors</h2>
        <p data-testid="overview-faults">
          <strong>{overview.errors.faults}</strong> provider faults
        </p>
        {reasons.length === 0 ? (
          <p class="muted">No calls ended.</p>
        ) : (
          <table class="compact">
            <caption>Calls by end reason</caption>
            <tbody>
              {reasons.map(([reason, count]) => (
                <tr key={reason}>
                  <th scope="row">{reason}</th>
                  <td class="num">{count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

const CHART_W = 480;
const CHART_H = 120;

interface BarChartProps {
  readonly label: string;
  readonly values: readonly number[];
  readonly titles: readonly string[];
  readonly testid: string;
  /** Under the first and the last bar. */
  readonly firstLabel?: string;
  readonly lastLabel?: string;
}

function BarChart({ label, values, titles, testid, firstLabel, lastLabel }: BarChartProps) {
  if (values.length === 0) return <p class="empty">Nothing yet.</p>;
  const { bars, max } = layoutBars(values, CHART_W, CHART_H, values.length > 60 ? 0.5 : 2, 48);
  const last = bars[bars.length - 1];
  return (
    <svg class="bars" viewBox={`0 -14 ${CHART_W} ${CHART_H + 30}`} width="100%" role="img" aria-label={`${label}, highest ${max}`} data-testid={testid}>
      <text class="max-label" x={0} y={-3}>
        max {Number.isInteger(max) ? max : max.toFixed(2)}
      </text>
      <line class="baseline" x1={0} x2={CHART_W} y1={CHART_H} y2={CHART_H} />
      {bars.map((bar) => (
        <rect key={bar.index} x={bar.x} y={bar.y} width={bar.width} height={Math.max(bar.height, bar.value > 0 ? 1 : 0)}>
          <title>{titles[bar.index]}</title>
        </rect>
      ))}
      {firstLabel === undefined ? null : (
        <text class="max-label" x={0} y={CHART_H + 13}>
          {firstLabel}
        </text>
      )}
      {lastLabel === undefined || last === undefined || bars.length < 2 ? null : (
        <text class="max-label" x={last.x + last.width} y={CHART_H + 13} text-anchor="end">
          {lastLabel}
        </text>
      )}
    </svg>
  );
}
