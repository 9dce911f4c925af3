/**
 * What the soak's samples mean: whether a resource stayed bounded, and how the slow group's
 * backlog grew and drained.
 *
 * Bounded, for a series sampled while the load runs (the warm-up left out): split in thirds by
 * time, the last third's statistic (the maximum for memory and descriptors; for event-loop delay
 * the 90th percentile of the per-interval p99s, since on a shared machine one interval can lose
 * the CPU to a neighbour) is at most `factor` times the first third's plus `slack`, and the
 * least-squares line through every sample rises by at most `slack` over the span. The first test
 * catches a step up, the second a slow leak the thirds' maxima hide in noise.
 */
import type { Bounds } from './options';

export interface GroupSample {
  /** Acknowledged messages the group has not received (the soak's own count). */
  backlog: number;
  /** The server's lag for the group: retained messages past its committed offsets. */
  lag: number;
  consumed: number;
  duplicates: number;
  /** The least, over partitions, of the group's position minus the log start: how far retention is behind it. */
  headroom: number;
}

export interface Sample {
  tS: number;
  phase: 'slow' | 'free' | 'drain';
  rssBytes: number;
  rssAnonBytes: number;
  rssFileBytes: number;
  /** V8's heap in use and the memory of Buffers and other external objects, from the server's metrics. */
  heapUsedBytes: number;
  externalBytes: number;
  fds: number;
  /** Event-loop delay beyond prom-client's 10 ms sampling timer, over the interval since the last sample. */
  eldP99Ms: number;
  eldMaxMs: number;
  /** The server's CPU use over the interval since the last sample (100: one core), and the host's 1-minute load average. */
  serverCpuPercent: number;
  loadAverage: number;
  connections: number;
  connectionsAccepted: number;
  produced: number;
  groups: Record<string, GroupSample>;
  logStart: number[];
  logEnd: number[];
  segments: number;
}

/** How a third of the samples is summed up: its maximum, or its 90th percentile. */
export type ThirdStatistic = 'max' | 'p90';

export interface Trend {
  statistic: ThirdStatistic;
  first: number;
  middle: number;
  last: number;
  /** Least-squares slope, per hour, and its rise over the measured span. */
  slopePerHour: number;
  rise: number;
  limit: number;
  bounded: boolean;
}

export interface Line {
  slope: number;
  intercept: number;
}

export function linearFit(xs: number[], ys: number[]): Line {
  const n = xs.length;
  if (n < 2) return { slope: 0, intercept: ys[0] ?? 0 };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/**
 * When the warm-up ends: after `warmupFraction` of the load, and not before retention has deleted
 * from every partition. Until then the retained segments, their descriptors and their mapped
 * pages grow by design; from then on they are steady.
 */
export function warmupEndS(samples: Sample[], loadS: number, bounds: Bounds): number {
  const retained = samples.find((s) => s.logStart.length > 0 && s.logStart.every((o) => o > 0));
  return Math.max(loadS * bounds.warmupFraction, retained?.tS ?? 0);
}

/** The samples taken under load after the warm-up. */
export function measured(samples: Sample[], loadS: number, bounds: Bounds): Sample[] {
  const from = warmupEndS(samples, loadS, bounds);
  return samples.filter((s) => s.phase !== 'drain' && s.tS >= from);
}

function statistic(values: number[], kind: ThirdStatistic): number {
  if (values.length === 0) return 0;
  if (kind === 'max') return Math.max(...values);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))];
}

export function trend(samples: Sample[], pick: (s: Sample) => number, factor: number, slack: number, kind: ThirdStatistic = 'max'): Trend {
  if (samples.length === 0) return { statistic: kind, first: 0, middle: 0, last: 0, slopePerHour: 0, rise: 0, limit: slack, bounded: true };
  const t0 = samples[0].tS;
  const span = samples[samples.length - 1].tS - t0;
  const third = (k: number): number => {
    const inThird = samples.filter((s) => Math.min(2, Math.floor(((s.tS - t0) / (span || 1)) * 3)) === k);
    return statistic(inThird.map(pick), kind);
  };
  const first = third(0);
  const last = third(2);
  const { slope } = linearFit(samples.map((s) => s.tS), samples.map(pick));
  const rise = slope * span;
  const limit = first * factor + slack;
  return { statistic: kind, first, middle: third(1), last, slopePerHour: slope * 3600, rise, limit, bounded: last <= limit && rise <= slack };
}

export interface Drain {
  peakBacklog: number;
  peakAtS: number;
  /** When, after the group sped up, its backlog first fell to what two samples' production is (live again). */
  caughtUpAtS: number | null;
  /** Its backlog when the producers stopped, and after the drain. */
  backlogAtLoadEnd: number;
  finalBacklog: number;
}

export function drain(samples: Sample[], group: string, speedUpS: number, liveBacklog: number): Drain {
  let peakBacklog = 0;
  let peakAtS = 0;
  let caughtUpAtS: number | null = null;
  let backlogAtLoadEnd = 0;
  for (const s of samples) {
    const b = s.groups[group]?.backlog ?? 0;
    if (b > peakBacklog) [peakBacklog, peakAtS] = [b, s.tS];
    if (caughtUpAtS === null && s.tS >= speedUpS && b <= liveBacklog) caughtUpAtS = s.tS;
    if (s.phase !== 'drain') backlogAtLoadEnd = b;
  }
  return { peakBacklog, peakAtS, caughtUpAtS, backlogAtLoadEnd, finalBacklog: samples[samples.length - 1]?.groups[group]?.backlog ?? 0 };
}

/** The partition's log start at the first sample taken at or after `atMs` (epoch ms). */
export function logStartAfter(samples: Sample[], startedAtMs: number, partition: number, atMs: number): number {
  const s = samples.find((x) => startedAtMs + x.tS * 1000 >= atMs) ?? samples[samples.length - 1];
  return s?.logStart[partition] ?? 0;
}
