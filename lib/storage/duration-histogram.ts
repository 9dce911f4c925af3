/**
 * Durations counted in power-of-two buckets of microseconds, the same buckets as the native
 * core's DurationHistogram (native/include/sluice/duration_histogram.h), so that what the JS side
 * times (confirm latency, request latency) and what the flusher thread times (sync rounds) merge
 * and export alike:
 *
 *   bucket 0:    d <= 1 us
 *   bucket i:    2^(i-1) us < d <= 2^i us, for 1 <= i < BUCKETS - 1
 *   bucket last: d > 2^(BUCKETS-2) us (over about 67 s)
 *
 * Bucket i is what a Prometheus histogram counts between le=2^(i-1) and le=2^i microseconds.
 * Recording is a few arithmetic operations and no allocation. Thread-confined.
 */

/** Buckets per histogram (must equal DurationHistogram::kBuckets of the native core). */
export const DURATION_BUCKETS = 28;

/** A histogram's counts at one moment, JSON-safe. */
export interface DurationSnapshot {
  /** Durations recorded. */
  count: number;
  /** Their sum, in milliseconds. */
  sumMs: number;
  /** Per bucket (not cumulative): counts[i] durations fell in bucket i (see bucketUpperMs). */
  counts: number[];
  /** Estimates: the upper bound of the bucket holding the quantile (null when nothing was recorded). */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** The inclusive upper bound of bucket i in milliseconds (Infinity for the last). */
export function bucketUpperMs(i: number): number {
  return i >= DURATION_BUCKETS - 1 ? Infinity : 2 ** i / 1000;
}

/** The bucket of a duration in microseconds. */
export function bucketOf(micros: number): number {
  if (!(micros > 1)) return 0; // also NaN and negatives (a clock step back)
  if (micros > 2 ** (DURATION_BUCKETS - 2)) return DURATION_BUCKETS - 1;
  return 32 - Math.clz32(Math.ceil(micros) - 1);
}

const LAST_LOWER_MS = 2 ** (DURATION_BUCKETS - 2) / 1000;

export class DurationHistogram {
  readonly #counts = new Float64Array(DURATION_BUCKETS);
  #count = 0;
  #sumMicros = 0;

  /** Records one duration in milliseconds. */
  recordMs(ms: number): void {
    const micros = ms * 1000;
    this.#counts[bucketOf(micros)]++;
    this.#count++;
    if (micros > 0) this.#sumMicros += micros;
  }

  /** Adds counts kept elsewhere in the same buckets (a native histogram's, another of these). */
  add(counts: ArrayLike<number>, count: number, sumMicros: number): void {
    if (counts.length !== DURATION_BUCKETS) throw new RangeError(`a duration histogram has ${DURATION_BUCKETS} buckets, got ${counts.length}`);
    for (let i = 0; i < DURATION_BUCKETS; i++) this.#counts[i] += counts[i];
    this.#count += count;
    this.#sumMicros += sumMicros;
  }

  /** Adds another histogram's counts. */
  merge(other: DurationSnapshot): void {
    this.add(other.counts, other.count, other.sumMs * 1000);
  }

  snapshot(): DurationSnapshot {
    const counts = Array.from(this.#counts);
    return { count: this.#count, sumMs: this.#sumMicros / 1000, counts, p50Ms: quantileMs(counts, 0.5), p99Ms: quantileMs(counts, 0.99) };
  }
}

/**
 * The upper bound of the bucket holding quantile q (0 < q <= 1), or null for an empty histogram;
 * the last bucket (unbounded) answers with its lower bound.
 */
export function quantileMs(counts: readonly number[], q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen >= rank) return Math.min(bucketUpperMs(i), LAST_LOWER_MS);
  }
  return LAST_LOWER_MS;
}
