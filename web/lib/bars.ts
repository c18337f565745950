/**
 * Small bar charts (overview page): values → bars on a fixed box, a zero baseline at the bottom. Pure.
 */
export interface Bar {
  readonly index: number;
  readonly value: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface BarChartLayout {
  readonly bars: readonly Bar[];
  /** The value of the full height (the largest value, at least 1 so empty charts stay flat). */
  readonly max: number;
}

/** `gap` units between bars; every bar gets (width - gap·(n-1)) / n, at most `maxBarWidth` (few bars stay slim). */
export function layoutBars(values: readonly number[], width: number, height: number, gap = 1, maxBarWidth = Infinity): BarChartLayout {
  const max = Math.max(1, ...values.filter((value) => Number.isFinite(value)));
  const n = values.length;
  if (n === 0) return { bars: [], max };
  const barWidth = Math.min(maxBarWidth, Math.max(0, (width - gap * (n - 1)) / n));
  const round = (value: number): number => Math.round(value * 100) / 100;
  const bars = values.map((raw, index) => {
    const value = Number.isFinite(raw) && raw > 0 ? raw : 0;
    const barHeight = round((value / max) * height);
    return { index, value, x: round(index * (barWidth + gap)), y: round(height - barHeight), width: round(barWidth), height: barHeight };
  });
  return { bars, max };
}
