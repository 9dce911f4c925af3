/**
 * The soak's parameters, their defaults and their checks. Phases are fractions of the run, so a
 * 20-second CI run and a 30-minute one have the same shape: the slow group consumes at
 * `slowFactor` of the produce rate until `slowUntil` of the run, then as fast as it can.
 */

export interface Bounds {
  /** Samples in the first `warmupFraction` of the run are left out of every bound. */
  warmupFraction: number;
  /**
   * The last third's RSS maximum may exceed the first third's by this factor plus `rssSlackBytes`,
   * and the linear fit's rise over the measured span may not exceed `rssSlackBytes`.
   */
  rssGrowthFactor: number;
  rssSlackBytes: number;
  /** Descriptors: the same two tests, with this many as the slack and no factor. */
  fdSlack: number;
  /** Event-loop delay p99: the same two tests, with this factor and slack. */
  eldGrowthFactor: number;
  eldSlackMs: number;
}

export interface SoakOptions {
  minutes: number;
  /** Messages per second of the steady producer (churning producers add a few more). */
  rate: number;
  seed: number;
  /** Where the summary goes (summary.json, summary.txt, samples.csv, chart.svg). */
  out: string;
  /** The server's data directory (a fresh temporary one when null). */
  dataDir: string | null;
  topic: string;
  partitions: number;
  valueBytes: number;
  segmentBytes: number;
  /** Per partition; null: sized from the slow group's expected peak backlog (see retentionBytesFor). */
  retentionBytes: number | null;
  sampleMs: number;
  rebalanceEveryMs: number;
  churnEveryMs: number;
  fastMembers: number;
  slowMembers: number;
  slowFactor: number;
  slowUntil: number;
  /** After the producers stop, how long the groups get to consume the rest. */
  drainTimeoutMs: number;
  bounds: Bounds;
  log: (line: string) => void;
}

export const DEFAULT_BOUNDS: Bounds = {
  warmupFraction: 0.1,
  rssGrowthFactor: 1.25,
  rssSlackBytes: 32 * 1024 * 1024,
  fdSlack: 16,
  eldGrowthFactor: 2,
  eldSlackMs: 25,
};

export const DEFAULTS: Omit<SoakOptions, 'log'> = {
  minutes: 5,
  rate: 200,
  seed: 1,
  out: 'soak-out',
  dataDir: null,
  topic: 'soak',
  partitions: 3,
  valueBytes: 200,
  // The smallest segment the log allows (LIMITS.segmentBytesMin): a roll every few seconds.
  segmentBytes: 65_536,
  retentionBytes: null,
  sampleMs: 5_000,
  rebalanceEveryMs: 120_000,
  churnEveryMs: 2_000,
  fastMembers: 2,
  slowMembers: 1,
  slowFactor: 0.75,
  slowUntil: 0.6,
  drainTimeoutMs: 120_000,
  bounds: DEFAULT_BOUNDS,
};

/** Record and batch framing per message, with margin: 65,536-byte segments held 277 messages of 200 B (about 36 B each). */
export const STORED_OVERHEAD_BYTES = 70;
/** Retention keeps this many times the slow group's expected peak backlog. */
const RETENTION_HEADROOM = 3;
const RETENTION_SEGMENTS_MIN = 4;

/**
 * Retention by bytes sized so that it deletes segments all along the run yet never reaches a
 * message the slow group has not consumed: three times its expected peak backlog per partition.
 * Time retention is left off: a time bound would delete unconsumed messages whenever the slow
 * group falls further behind than planned (a shared CPU), which bytes sized this way do not.
 */
export function retentionBytesFor(o: Omit<SoakOptions, 'log'>): number {
  if (o.retentionBytes !== null) return o.retentionBytes;
  const peakBacklog = (1 - o.slowFactor) * o.rate * o.minutes * 60 * o.slowUntil;
  const perPartition = (peakBacklog / o.partitions) * (o.valueBytes + STORED_OVERHEAD_BYTES);
  return Math.ceil(Math.max(RETENTION_SEGMENTS_MIN * o.segmentBytes, RETENTION_HEADROOM * perPartition));
}

export function checkOptions(o: Omit<SoakOptions, 'log'>): void {
  const positive = (name: keyof SoakOptions, v: number): void => {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`--${name} must be a positive number, got ${v}`);
  };
  positive('minutes', o.minutes);
  positive('rate', o.rate);
  positive('partitions', o.partitions);
  positive('sampleMs', o.sampleMs);
  if (!Number.isSafeInteger(o.seed)) throw new RangeError(`--seed must be an integer, got ${o.seed}`);
  if (!(o.slowFactor > 0 && o.slowFactor < 1)) throw new RangeError(`slowFactor must be between 0 and 1, got ${o.slowFactor}`);
  if (!(o.slowUntil > 0 && o.slowUntil < 1)) throw new RangeError(`slowUntil must be between 0 and 1, got ${o.slowUntil}`);
  if (o.valueBytes < 32) throw new RangeError(`valueBytes must be at least 32 (the sequence number and a timestamp), got ${o.valueBytes}`);
}
