/**
 * Runs one workload against one driver and measures it.
 *
 * Latency is measured from each message's intended send time, so that a stalled system cannot
 * hide its stall (coordinated omission). At a fixed rate the schedule is fixed in advance: message
 * i of a producer is due at t0 + the schedule's i-th step (rateAt(): the burst profile included),
 * stamped with that time in its first 8 bytes, and sent as soon as it is due; if the producer
 * falls behind (the system is slow, or `maxOutstanding` sends are unconfirmed) the due messages
 * queue up and are sent late, still stamped with their intended time. At 'max' there is no
 * schedule: a closed loop keeps at most `maxOutstanding` messages unconfirmed per producer, and the
 * intended time is the send time (the report says so).
 *
 *   publish latency    confirm time - intended send time
 *   publish delay      actual send time - intended send time (how far the producer fell behind)
 *   end-to-end         time a consumer got it - intended send time (same process, same clock)
 *
 * Every producer and consumer records into its own histograms; the result merges them. Messages
 * intended during the warm-up are delivered but not recorded. After the producers stop, the run
 * waits (at most drainMs) for every subscription to receive what was confirmed.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchDriver, ConsumerHandle, ProducerHandle, SettingValue } from './driver';
import { topicName } from './driver';
import { encodeHistogram, merged, newHistogram, percentileCurve, recordMs, summarize, type Histogram, type LatencySummary } from './latency-histogram';
import { rateAt, type Workload } from './workload';

/** Messages per send call at most (a fixed-rate producer sends what is due, up to this). */
export const PRODUCER_BATCH_MAX = 100;

export interface SecondStats {
  second: number;
  published: number;
  consumed: number;
  publishErrors: number;
}

export interface DriverResult {
  driver: string;
  settings: Record<string, SettingValue>;
  status: 'ok' | 'failed';
  error?: string;
  startedAt: string;
  warmupSeconds: number;
  measuredSeconds: number;
  counts: {
    sent: number;
    confirmed: number;
    publishErrors: number;
    /** deliveries over all subscriptions (a redelivered message counts again) */
    consumed: number;
    /** confirmed × subscriptions: what the consumers should get */
    expectedConsumed: number;
    /** due by the schedule but never sent (the producer was still behind when the grace ran out) */
    notSent: number;
  };
  firstPublishError?: string;
  throughput: { publishMsgPerSec: number; publishMBPerSec: number; consumeMsgPerSec: number };
  latency: { publish: LatencySummary; endToEnd: LatencySummary; publishDelay: LatencySummary };
  curves: { publish: [number, number][]; endToEnd: [number, number][] };
  /** merged HdrHistograms, compressed base64 (values in µs) */
  histograms: { publish: string; endToEnd: string; publishDelay: string };
  timeSeries: SecondStats[];
}

export interface RunOptions {
  /** called about 4 times a second while producing */
  onTick?: (elapsedMs: number, totalMs: number, published: number, consumed: number) => void;
  /** longest wait for consumers to catch up after the producers stop; default max(5 s, min(30 s, duration)) */
  drainMs?: number;
  /** how long a fixed-rate producer may keep sending late messages after the end; default 10 s */
  graceMs?: number;
}

class Series {
  readonly rows: SecondStats[] = [];
  constructor(private readonly t0: number) {}
  at(t: number): SecondStats {
    const s = Math.max(0, Math.floor((t - this.t0) / 1000));
    while (this.rows.length <= s) this.rows.push({ second: this.rows.length, published: 0, consumed: 0, publishErrors: 0 });
    return this.rows[s];
  }
}

interface Clockwork {
  t0: number;
  measureStart: number;
  end: number;
  series: Series;
}

/** A payload: intended send time (float64 ms, performance.now()), producer index, sequence, filler. */
export function stamp(size: number, intended: number, producer: number, seq: number, filler: Buffer): Buffer {
  const b = Buffer.allocUnsafe(size);
  b.writeDoubleLE(intended, 0);
  b.writeUInt32LE(producer, 8);
  b.writeUInt32LE(seq >>> 0, 12);
  filler.copy(b, 16, 0, size - 16);
  return b;
}

export function intendedTime(payload: Buffer): number {
  return payload.readDoubleLE(0);
}

class ProducerRun {
  readonly publish = newHistogram();
  readonly delay = newHistogram();
  sent = 0;
  confirmed = 0;
  /** confirms that arrived in the measured window */
  confirmedInWindow = 0;
  errors = 0;
  notSent = 0;
  firstError: string | undefined;
  #outstanding = 0;
  #wake: (() => void) | null = null;
  readonly #inflight = new Set<Promise<void>>();

  constructor(
    private readonly w: Workload,
    private readonly handle: ProducerHandle,
    private readonly index: number,
    private readonly producers: number,
    private readonly clock: Clockwork,
    private readonly filler: Buffer,
    private readonly graceMs: number,
  ) {}

  async run(): Promise<void> {
    const fixed = this.w.producerRate !== 'max';
    let next = this.clock.t0;
    for (;;) {
      const now = performance.now();
      if (fixed ? next >= this.clock.end : now >= this.clock.end) break;
      if (fixed && now >= this.clock.end + this.graceMs) {
        this.notSent += this.#remaining(next);
        break;
      }
      const room = Math.min(PRODUCER_BATCH_MAX, this.w.maxOutstanding - this.#outstanding);
      if (room <= 0) {
        await new Promise<void>((r) => (this.#wake = r));
        continue;
      }
      const intended: number[] = [];
      if (fixed) {
        while (intended.length < room && next <= now && next < this.clock.end) {
          intended.push(next);
          next += 1000 / rateAt(this.w, (next - this.clock.measureStart) / 1000, this.producers);
        }
        if (intended.length === 0) {
          await sleep(Math.max(0, Math.min(next, this.clock.end) - now));
          continue;
        }
      } else {
        for (let i = 0; i < room; i++) intended.push(now);
      }
      this.#send(intended);
      await new Promise<void>((r) => setImmediate(r));
    }
    await Promise.all([...this.#inflight]);
  }

  #remaining(next: number): number {
    let n = 0;
    for (let t = next; t < this.clock.end; n++) t += 1000 / rateAt(this.w, (t - this.clock.measureStart) / 1000, this.producers);
    return n;
  }

  #send(intended: number[]): void {
    const payloads = intended.map((t) => stamp(this.w.messageSize, t, this.index, this.sent++, this.filler));
    const sentAt = performance.now();
    for (const t of intended) if (t >= this.clock.measureStart) recordMs(this.delay, sentAt - t);
    this.#outstanding += intended.length;
    const p = this.handle
      .send(payloads)
      .then(
        () => {
          const at = performance.now();
          this.confirmed += intended.length;
          if (at >= this.clock.measureStart && at < this.clock.end) this.confirmedInWindow += intended.length;
          this.clock.series.at(at).published += intended.length;
          for (const t of intended) if (t >= this.clock.measureStart) recordMs(this.publish, at - t);
        },
        (e: unknown) => {
          this.errors += intended.length;
          this.firstError ??= (e as Error)?.message ?? String(e);
          this.clock.series.at(performance.now()).publishErrors += intended.length;
        },
      )
      .finally(() => {
        this.#outstanding -= intended.length;
        this.#inflight.delete(p);
        const wake = this.#wake;
        this.#wake = null;
        wake?.();
      });
    this.#inflight.add(p);
  }
}

class ConsumerRun {
  readonly endToEnd = newHistogram();
  consumed = 0;
  /** deliveries that arrived in the measured window */
  consumedInWindow = 0;
  constructor(private readonly clock: Clockwork) {}
  readonly onMessages = (payloads: Buffer[]): void => {
    const at = performance.now();
    this.consumed += payloads.length;
    if (at >= this.clock.measureStart && at < this.clock.end) this.consumedInWindow += payloads.length;
    this.clock.series.at(at).consumed += payloads.length;
    for (const p of payloads) {
      const t = intendedTime(p);
      if (t >= this.clock.measureStart) recordMs(this.endToEnd, at - t);
    }
  };
}

function fillerBytes(size: number): Buffer {
  const b = Buffer.allocUnsafe(Math.max(0, size));
  let x = 0x9e3779b9;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function failed(driver: BenchDriver, w: Workload, error: unknown, startedAt: string): DriverResult {
  const empty = summarize(newHistogram());
  return {
    driver: driver.name,
    settings: driver.settings,
    status: 'failed',
    error: (error as Error)?.message ?? String(error),
    startedAt,
    warmupSeconds: w.warmupSeconds,
    measuredSeconds: 0,
    counts: { sent: 0, confirmed: 0, publishErrors: 0, consumed: 0, expectedConsumed: 0, notSent: 0 },
    throughput: { publishMsgPerSec: 0, publishMBPerSec: 0, consumeMsgPerSec: 0 },
    latency: { publish: empty, endToEnd: empty, publishDelay: empty },
    curves: { publish: [], endToEnd: [] },
    histograms: { publish: '', endToEnd: '', publishDelay: '' },
    timeSeries: [],
  };
}

export async function runDriver(driver: BenchDriver, w: Workload, options: RunOptions = {}): Promise<DriverResult> {
  const startedAt = new Date().toISOString();
  const consumers: ConsumerHandle[] = [];
  const producers: ProducerHandle[] = [];
  try {
    await driver.start();
    const clock: Clockwork = { t0: 0, measureStart: 0, end: 0, series: new Series(0) };
    const consumerRuns: ConsumerRun[][] = [];
    for (let t = 0; t < w.topics; t++) {
      for (let s = 0; s < w.subscriptionsPerTopic; s++) {
        const runs: ConsumerRun[] = [];
        for (let c = 0; c < w.consumerPerSubscription; c++) {
          const run = new ConsumerRun(clock);
          consumers.push(await driver.consumer(topicName(w, t), `sub-${s}`, run.onMessages));
          runs.push(run);
        }
        consumerRuns.push(runs);
      }
    }
    const producerCount = w.topics * w.producersPerTopic;
    for (let t = 0; t < w.topics; t++) for (let p = 0; p < w.producersPerTopic; p++) producers.push(await driver.producer(topicName(w, t)));
    clock.t0 = performance.now();
    clock.measureStart = clock.t0 + w.warmupSeconds * 1000;
    clock.end = clock.measureStart + w.durationSeconds * 1000;
    (clock as { series: Series }).series = new Series(clock.t0);
    const filler = fillerBytes(w.messageSize - 16);
    const runs = producers.map((h, i) => new ProducerRun(w, h, i, producerCount, clock, filler, options.graceMs ?? 10_000));
    const allConsumers = consumerRuns.flat();
    const consumedNow = (): number => allConsumers.reduce((n, c) => n + c.consumed, 0);
    const confirmedNow = (): number => runs.reduce((n, r) => n + r.confirmed, 0);
    const totalMs = clock.end - clock.t0;
    const ticker = setInterval(() => options.onTick?.(Math.min(totalMs, performance.now() - clock.t0), totalMs, confirmedNow(), consumedNow()), 250);
    try {
      await Promise.all(runs.map((r) => r.run()));
      const producedEnd = performance.now();
      // Drain: each subscription should get every confirmed message of its topic.
      const drainMs = options.drainMs ?? Math.max(5000, Math.min(30_000, w.durationSeconds * 1000));
      const perTopic = (t: number): number => runs.slice(t * w.producersPerTopic, (t + 1) * w.producersPerTopic).reduce((n, r) => n + r.confirmed, 0);
      const caughtUp = (): boolean =>
        consumerRuns.every((subRuns, i) => subRuns.reduce((n, c) => n + c.consumed, 0) >= perTopic(Math.floor(i / Math.max(1, w.subscriptionsPerTopic))));
      while (!caughtUp() && performance.now() - producedEnd < drainMs) await sleep(20);
    } finally {
      clearInterval(ticker);
    }
    options.onTick?.(totalMs, totalMs, confirmedNow(), consumedNow());
    return summarizeRun(driver, w, startedAt, clock, runs, allConsumers);
  } catch (e) {
    return failed(driver, w, e, startedAt);
  } finally {
    for (const c of consumers) await c.close().catch(() => undefined);
    for (const p of producers) await p.close().catch(() => undefined);
    await driver.stop().catch(() => undefined);
  }
}

function summarizeRun(driver: BenchDriver, w: Workload, startedAt: string, clock: Clockwork, runs: ProducerRun[], consumers: ConsumerRun[]): DriverResult {
  const publish: Histogram = merged(runs.map((r) => r.publish));
  const delay = merged(runs.map((r) => r.delay));
  const endToEnd = merged(consumers.map((c) => c.endToEnd));
  const confirmed = runs.reduce((n, r) => n + r.confirmed, 0);
  // Throughput over the measured window only: confirms and deliveries that arrived in it.
  const pub = runs.reduce((n, r) => n + r.confirmedInWindow, 0) / w.durationSeconds;
  const con = consumers.reduce((n, c) => n + c.consumedInWindow, 0) / w.durationSeconds;
  const round = (x: number): number => Number(x.toFixed(1));
  return {
    driver: driver.name,
    settings: driver.settings,
    status: 'ok',
    startedAt,
    warmupSeconds: w.warmupSeconds,
    measuredSeconds: w.durationSeconds,
    counts: {
      sent: runs.reduce((n, r) => n + r.sent, 0),
      confirmed,
      publishErrors: runs.reduce((n, r) => n + r.errors, 0),
      consumed: consumers.reduce((n, c) => n + c.consumed, 0),
      expectedConsumed: confirmed * w.subscriptionsPerTopic,
      notSent: runs.reduce((n, r) => n + r.notSent, 0),
    },
    firstPublishError: runs.find((r) => r.firstError !== undefined)?.firstError,
    throughput: { publishMsgPerSec: round(pub), publishMBPerSec: Number(((pub * w.messageSize) / 1e6).toFixed(3)), consumeMsgPerSec: round(con) },
    latency: { publish: summarize(publish), endToEnd: summarize(endToEnd), publishDelay: summarize(delay) },
    curves: { publish: percentileCurve(publish), endToEnd: percentileCurve(endToEnd) },
    histograms: { publish: encodeHistogram(publish), endToEnd: encodeHistogram(endToEnd), publishDelay: encodeHistogram(delay) },
    timeSeries: clock.series.rows,
  };
}
