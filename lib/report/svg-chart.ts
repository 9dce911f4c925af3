/**
 * Inline SVG charts for self-contained HTML reports (no scripts, no external fonts or styles).
 * Pure functions: each takes plain data and returns one `<svg>` string with every text escaped.
 *
 *   lineChart({ title, xLabel, yLabel, series: [{ name, points: [[x, y], ...] }] })
 *       several named series over a linear x (e.g. time in s) and a linear y from 0.
 *   percentileChart({ title, yLabel, series: [{ name, points: [[percentile, value], ...] }] })
 *       latency against percentile on HdrHistogram's log scale: x = 1 / (1 - p/100), ticks at
 *       50%, 90%, 99%, 99.9%, ...; points with p = 100 are drawn at the chart's right edge.
 *   barChart({ title, yLabel, bars: [{ label, value }] })
 *       one bar per label, value printed above it.
 *
 * Series colours come from one fixed palette in order, so the same series index has the same
 * colour in every chart of a report. Non-finite values are dropped, never drawn.
 */

export type Point = readonly [number, number];

export interface Series {
  name: string;
  points: readonly Point[];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
}

export interface PercentileChartSpec {
  title: string;
  yLabel: string;
  /** points are [percentile 0..100, value] */
  series: readonly Series[];
  /** log-scale the y axis too (useful when drivers differ by orders of magnitude); default false */
  logY?: boolean;
  width?: number;
  height?: number;
}

export interface Bar {
  label: string;
  value: number;
}

export interface BarChartSpec {
  title: string;
  yLabel: string;
  bars: readonly Bar[];
  width?: number;
  height?: number;
}

/** Ten colours that stay distinguishable on white (Tableau 10). */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const MARGIN = { top: 30, right: 34, bottom: 46, left: 70 };
const LEGEND_ROW = 18;

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export function colour(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** Short tick labels: 1200 -> 1.2k, 0.0004 -> 0.0004, 3e6 -> 3M. */
export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a >= 1 || a === 0) return trim(v);
  return String(Number(v.toPrecision(2)));
}

function trim(v: number): string {
  return String(Number(v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)));
}

/** 'Nice' tick values from lo (rounded down) to at least hi (1, 2, 5 steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  const last = Math.ceil(hi / step - 1e-9) * step;
  for (let t = Math.floor(lo / step + 1e-9) * step; t <= last + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

interface Frame {
  width: number;
  height: number;
  plotTop: number;
  plotBottom: number;
  plotLeft: number;
  plotRight: number;
}

function frame(width: number, height: number, legendRows: number): Frame {
  const plotTop = MARGIN.top + legendRows * LEGEND_ROW + 10;
  return { width, height, plotTop, plotBottom: height - MARGIN.bottom, plotLeft: MARGIN.left, plotRight: width - MARGIN.right };
}

function finitePoints(points: readonly Point[]): Point[] {
  return points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
}

function open(f: Frame, title: string, kind: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-${kind}" role="img" width="${f.width}" height="${f.height}" ` +
    `viewBox="0 0 ${f.width} ${f.height}" font-family="sans-serif" font-size="11">` +
    `<title>${escapeXml(title)}</title>` +
    `<rect x="0" y="0" width="${f.width}" height="${f.height}" fill="#fff"/>` +
    `<text x="${f.width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`
  );
}

/** Legend entries laid out in rows under the title; returns [svg, rows]. */
function legend(names: readonly string[], width: number): { svg: string; rows: number } {
  let x = MARGIN.left;
  let row = 0;
  const parts: string[] = [];
  names.forEach((name, i) => {
    const w = 22 + name.length * 6.5 + 14;
    if (x + w > width - MARGIN.right && x > MARGIN.left) {
      row++;
      x = MARGIN.left;
    }
    const y = MARGIN.top + row * LEGEND_ROW + 8;
    parts.push(`<rect x="${x}" y="${y - 5}" width="14" height="4" fill="${colour(i)}"/>`);
    parts.push(`<text x="${x + 18}" y="${y}" class="legend">${escapeXml(name)}</text>`);
    x += w;
  });
  return { svg: `<g class="legend">${parts.join('')}</g>`, rows: names.length === 0 ? 0 : row + 1 };
}

function axes(f: Frame, xLabel: string, yLabel: string): string {
  const midY = (f.plotTop + f.plotBottom) / 2;
  return (
    `<line x1="${f.plotLeft}" y1="${f.plotBottom}" x2="${f.plotRight}" y2="${f.plotBottom}" stroke="#333"/>` +
    `<line x1="${f.plotLeft}" y1="${f.plotTop}" x2="${f.plotLeft}" y2="${f.plotBottom}" stroke="#333"/>` +
    `<text x="${(f.plotLeft + f.plotRight) / 2}" y="${f.height - 8}" text-anchor="middle">${escapeXml(xLabel)}</text>` +
    `<text x="14" y="${midY}" text-anchor="middle" transform="rotate(-90 14 ${midY})">${escapeXml(yLabel)}</text>`
  );
}

function yTicks(f: Frame, ticks: readonly number[], toY: (v: number) => number, label: (v: number) => string): string {
  return ticks
    .map((t) => {
      const y = toY(t).toFixed(1);
      return (
        `<line x1="${f.plotLeft}" y1="${y}" x2="${f.plotRight}" y2="${y}" stroke="#e5e5e5"/>` +
        `<text x="${f.plotLeft - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(label(t))}</text>`
      );
    })
    .join('');
}

function xTicks(f: Frame, ticks: readonly number[], toX: (v: number) => number, label: (v: number) => string): string {
  return ticks
    .map((t) => {
      const x = toX(t).toFixed(1);
      return (
        `<line x1="${x}" y1="${f.plotBottom}" x2="${x}" y2="${f.plotBottom + 4}" stroke="#333"/>` +
        `<text x="${x}" y="${f.plotBottom + 16}" text-anchor="middle">${escapeXml(label(t))}</text>`
      );
    })
    .join('');
}

function polyline(points: readonly Point[], i: number, toX: (v: number) => number, toY: (v: number) => number, name: string): string {
  if (points.length === 0) return '';
  const d = points.map(([x, y]) => `${toX(x).toFixed(1)},${toY(y).toFixed(1)}`).join(' ');
  const dots = points.length === 1 ? `<circle cx="${toX(points[0][0]).toFixed(1)}" cy="${toY(points[0][1]).toFixed(1)}" r="3" fill="${colour(i)}"/>` : '';
  return `<polyline class="series" data-series="${escapeXml(name)}" fill="none" stroke="${colour(i)}" stroke-width="1.8" points="${d}"/>${dots}`;
}

function empty(f: Frame): string {
  return `<text x="${(f.plotLeft + f.plotRight) / 2}" y="${(f.plotTop + f.plotBottom) / 2}" text-anchor="middle" fill="#888">no data</text>`;
}

export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 320;
  const series = spec.series.map((s) => ({ name: s.name, points: finitePoints(s.points) }));
  const lg = legend(series.map((s) => s.name), width);
  const f = frame(width, height, lg.rows);
  const all = series.flatMap((s) => s.points);
  let body: string;
  if (all.length === 0) body = empty(f);
  else {
    const xs = all.map((p) => p[0]);
    const xMin = Math.min(...xs);
    const xMax = Math.max(...xs) > xMin ? Math.max(...xs) : xMin + 1;
    const yTickValues = niceTicks(0, Math.max(...all.map((p) => p[1]), 0) || 1);
    const yMax = yTickValues[yTickValues.length - 1];
    const toX = (v: number): number => f.plotLeft + ((v - xMin) / (xMax - xMin)) * (f.plotRight - f.plotLeft);
    const toY = (v: number): number => f.plotBottom - (v / yMax) * (f.plotBottom - f.plotTop);
    body =
      yTicks(f, yTickValues, toY, formatNumber) +
      xTicks(f, niceTicks(xMin, xMax, 8).filter((t) => t >= xMin && t <= xMax), toX, formatNumber) +
      series.map((s, i) => polyline(s.points, i, toX, toY, s.name)).join('');
  }
  return open(f, spec.title, 'line') + lg.svg + body + axes(f, spec.xLabel, spec.yLabel) + '</svg>';
}

/** HdrHistogram's percentile axis: 1 / (1 - p), so 90% -> 10, 99% -> 100, 99.9% -> 1000. */
function percentileToLog(p: number, cap: number): number {
  const q = 1 - p / 100;
  return q <= 1 / cap ? Math.log10(cap) : Math.log10(1 / q);
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
  return ticks;
}

export function percentileChart(spec: PercentileChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 340;
  const series = spec.series.map((s) => ({ name: s.name, points: finitePoints(s.points).filter(([p]) => p >= 0 && p <= 100) }));
  const lg = legend(series.map((s) => s.name), width);
  const f = frame(width, height, lg.rows);
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return open(f, spec.title, 'percentile') + lg.svg + empty(f) + axes(f, 'percentile', spec.yLabel) + '</svg>';
  // The right edge: one decade past the highest percentile below 100 (at least 99.9%).
  const below = all.map((p) => p[0]).filter((p) => p < 100);
  const highest = below.length ? Math.max(...below) : 99.9;
  const decades = Math.max(3, Math.ceil(Math.log10(1 / Math.max(1 - highest / 100, 1e-9))));
  const cap = 10 ** decades;
  const toX = (p: number): number => f.plotLeft + (percentileToLog(p, cap) / decades) * (f.plotRight - f.plotLeft);
  const values = all.map((p) => p[1]);
  let toY: (v: number) => number;
  let ticks: number[];
  if (spec.logY) {
    const lo = Math.max(Math.min(...values.filter((v) => v > 0)), 1e-6);
    const hi = Math.max(...values, lo * 10);
    ticks = logTicks(lo, hi);
    const l0 = Math.log10(ticks[0]);
    const l1 = Math.log10(ticks[ticks.length - 1]);
    toY = (v) => f.plotBottom - ((Math.log10(Math.max(v, ticks[0])) - l0) / (l1 - l0 || 1)) * (f.plotBottom - f.plotTop);
  } else {
    ticks = niceTicks(0, Math.max(...values, 0) || 1);
    const yMax = ticks[ticks.length - 1];
    toY = (v) => f.plotBottom - (v / yMax) * (f.plotBottom - f.plotTop);
  }
  const xt: number[] = [0, 50];
  for (let d = 1; d <= decades; d++) xt.push(100 * (1 - 10 ** -d));
  const label = (p: number): string => (p === 0 ? '0%' : `${Number(p.toFixed(6))}%`);
  const body =
    yTicks(f, ticks, toY, formatNumber) +
    xTicks(f, xt, toX, label) +
    series.map((s, i) => polyline([...s.points].sort((a, b) => a[0] - b[0]), i, toX, toY, s.name)).join('');
  return open(f, spec.title, 'percentile') + lg.svg + body + axes(f, 'percentile (log scale: 1 / (1 - p))', spec.yLabel) + '</svg>';
}

export function barChart(spec: BarChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 300;
  const bars = spec.bars.filter((b) => Number.isFinite(b.value));
  const f = frame(width, height, 0);
  if (bars.length === 0) return open(f, spec.title, 'bar') + empty(f) + axes(f, '', spec.yLabel) + '</svg>';
  const ticks = niceTicks(0, Math.max(...bars.map((b) => b.value), 0) || 1);
  const yMax = ticks[ticks.length - 1];
  const toY = (v: number): number => f.plotBottom - (Math.max(v, 0) / yMax) * (f.plotBottom - f.plotTop);
  const slot = (f.plotRight - f.plotLeft) / bars.length;
  const bw = Math.max(2, Math.min(60, slot * 0.7));
  const body = bars
    .map((b, i) => {
      const cx = f.plotLeft + slot * (i + 0.5);
      const y = toY(b.value);
      return (
        `<rect class="bar" x="${(cx - bw / 2).toFixed(1)}" y="${y.toFixed(1)}" width="${bw.toFixed(1)}" height="${(f.plotBottom - y).toFixed(1)}" fill="${colour(i)}">` +
        `<title>${escapeXml(`${b.label}: ${b.value}`)}</title></rect>` +
        `<text x="${cx.toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle">${escapeXml(formatNumber(b.value))}</text>` +
        `<text x="${cx.toFixed(1)}" y="${f.plotBottom + 16}" text-anchor="middle">${escapeXml(b.label)}</text>`
      );
    })
    .join('');
  return open(f, spec.title, 'bar') + yTicks(f, ticks, toY, formatNumber) + body + axes(f, '', spec.yLabel) + '</svg>';
}
