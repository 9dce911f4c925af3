/**
 * Latency histograms (HdrHistogram, hdr-histogram-js): values recorded in microseconds from 1 µs
 * to 1 hour with 3 significant digits (0.1% resolution). Each producer and consumer records into
 * its own histogram; summaries come from histograms merged with `add`, never from averaged
 * percentiles (averaging per-actor percentiles is meaningless: iggy-bench's group summaries do
 * it). The JSON results carry every merged histogram encoded (HdrHistogram's compressed base64
 * form) so that they can be merged again across runs.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

const HIGHEST_US = 3_600_000_000;

export function newHistogram(): Histogram {
  return hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, autoResize: false });
}

/** Records a latency in milliseconds (clamped to the histogram's range). */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000))));
}

/** One histogram holding every value of `parts`. */
export function merged(parts: readonly Histogram[]): Histogram {
  const h = newHistogram();
  for (const p of parts) h.add(p);
  return h;
}

export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p75Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  p9999Ms: number;
  maxMs: number;
}

const ms = (us: number): number => Number((us / 1000).toFixed(3));

export function summarize(h: Histogram): LatencySummary {
  const at = (p: number): number => (h.totalCount === 0 ? 0 : ms(h.getValueAtPercentile(p)));
  return {
    count: h.totalCount,
    minMs: h.totalCount === 0 ? 0 : ms(h.minNonZeroValue),
    meanMs: h.totalCount === 0 ? 0 : ms(h.mean),
    p50Ms: at(50),
    p75Ms: at(75),
    p90Ms: at(90),
    p95Ms: at(95),
    p99Ms: at(99),
    p999Ms: at(99.9),
    p9999Ms: at(99.99),
    maxMs: h.totalCount === 0 ? 0 : ms(h.maxValue),
  };
}

/** Percentiles for a curve: 0, then 1 - 10^(-k/4) steps up to 99.999%, then 100 (the max). */
export const CURVE_PERCENTILES: readonly number[] = [0, ...Array.from({ length: 20 }, (_, k) => Number((100 * (1 - 10 ** (-(k + 1) / 4))).toFixed(6))), 100];

/** [percentile, ms] pairs of the curve, only those the sample count can resolve. */
export function percentileCurve(h: Histogram): [number, number][] {
  if (h.totalCount === 0) return [];
  return CURVE_PERCENTILES.filter((p) => p === 100 || (1 - p / 100) * h.totalCount >= 1).map((p) => [p, ms(h.getValueAtPercentile(p))]);
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(s: string): Histogram {
  return hdr.decodeFromCompressedBase64(s, 64, false);
}
