/**
 * Latency measurement: histograms merge exactly (merged percentiles are the percentiles of all
 * samples, not averages of per-actor percentiles), and latency counts from the intended send time,
 * so a stall shows (coordinated omission). The stalls are forced by an in-memory driver; the
 * assertions are lower bounds that the stall itself implies, never speeds.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { BenchDriver, ConsumerHandle, ProducerHandle } from '../../lib/bench/driver';
import { decodeHistogram, encodeHistogram, merged, newHistogram, recordMs, summarize } from '../../lib/bench/latency-histogram';
import { runDriver } from '../../lib/bench/runner';
import { validateWorkload } from '../../lib/bench/workload';
import { mulberry32 } from '../helpers/prng';

/** Delivers every sent payload to every consumer on the next turn; hooks can hold either side. */
class MemoryDriver implements BenchDriver {
  readonly name = 'memory';
  readonly settings = { kind: 'in-memory test driver' };
  readonly consumers: ((p: Buffer[]) => void)[] = [];
  holdConsumerUntil = 0;
  holdConsumerFrom = Infinity;
  /** a send made at or after this time (ms since start) waits until holdSendUntil */
  holdSendFrom = Infinity;
  holdSendUntil = 0;
  start0 = 0;
  held: Buffer[] = [];

  async start(): Promise<void> {
    this.start0 = performance.now();
  }
  async producer(): Promise<ProducerHandle> {
    return {
      send: async (payloads) => {
        const t = performance.now() - this.start0;
        if (t >= this.holdSendFrom && t < this.holdSendUntil) await new Promise((r) => setTimeout(r, this.holdSendUntil - t));
        setImmediate(() => this.#deliver(payloads));
      },
      close: async () => undefined,
    };
  }
  #deliver(payloads: Buffer[]): void {
    const t = performance.now() - this.start0;
    if (t >= this.holdConsumerFrom && t < this.holdConsumerUntil) {
      this.held.push(...payloads);
      setTimeout(() => this.#deliver([]), this.holdConsumerUntil - t);
      return;
    }
    const all = [...this.held.splice(0), ...payloads];
    if (all.length > 0) for (const c of this.consumers) c(all);
  }
  async consumer(_t: string, _g: string, onMessages: (p: Buffer[]) => void): Promise<ConsumerHandle> {
    this.consumers.push(onMessages);
    return { close: async () => undefined };
  }
  async stop(): Promise<void> {}
}

const workload = (extra: Record<string, unknown> = {}) =>
  validateWorkload({ name: 'mem', messageSize: 64, producerRate: 1000, durationSeconds: 1.2, warmupSeconds: 0, ...extra });

describe('latency histograms', () => {
  it('merged percentiles equal the percentiles over all samples', () => {
    const rand = mulberry32(42);
    const rng = { next: rand };
    const parts = [newHistogram(), newHistogram(), newHistogram()];
    const all = newHistogram();
    const samples: number[] = [];
    for (let i = 0; i < 30_000; i++) {
      // three actors with very different distributions: averaging their p99s would be wrong
      const actor = i % 3;
      const ms = actor === 0 ? 0.1 + rng.next() : actor === 1 ? 5 + 10 * rng.next() : rng.next() < 0.05 ? 200 + 100 * rng.next() : 1;
      recordMs(parts[actor], ms);
      recordMs(all, ms);
      samples.push(ms);
    }
    const m = merged(parts);
    expect(m.totalCount).toBe(30_000);
    for (const p of [50, 90, 99, 99.9, 100]) expect(m.getValueAtPercentile(p)).toBe(all.getValueAtPercentile(p));
    samples.sort((a, b) => a - b);
    const exact = (p: number): number => samples[Math.ceil((p / 100) * samples.length) - 1];
    for (const p of [50, 90, 99, 99.9]) expect(Math.abs(m.getValueAtPercentile(p) / 1000 - exact(p)) / exact(p)).toBeLessThan(0.002);
    const averaged = parts.reduce((n, h) => n + h.getValueAtPercentile(99), 0) / 3 / 1000;
    expect(Math.abs(averaged - summarize(m).p99Ms)).toBeGreaterThan(10);
    const back = decodeHistogram(encodeHistogram(m));
    expect(back.totalCount).toBe(m.totalCount);
    expect(back.getValueAtPercentile(99)).toBe(m.getValueAtPercentile(99));
  });

  it('end-to-end latency includes a consumer stall (measured from the intended send time)', async () => {
    const d = new MemoryDriver();
    d.holdConsumerFrom = 400;
    d.holdConsumerUntil = 900;
    const r = await runDriver(d, workload(), { drainMs: 3000 });
    expect(r.status).toBe('ok');
    expect(r.counts.consumed).toBe(r.counts.confirmed);
    // the first message held was intended at about 400 ms and delivered at 900 ms or later
    expect(r.latency.endToEnd.maxMs).toBeGreaterThanOrEqual(450);
    expect(r.latency.endToEnd.count).toBe(r.counts.consumed);
  });

  it('publish latency includes a stall of the system even for messages sent after it', async () => {
    const d = new MemoryDriver();
    d.holdSendFrom = 400;
    d.holdSendUntil = 900;
    // a producer may have 5 unconfirmed messages: during the stall the schedule runs on unsent
    const r = await runDriver(d, workload({ maxOutstanding: 5 }), { drainMs: 3000 });
    expect(r.status).toBe('ok');
    expect(r.counts.notSent).toBe(0);
    expect(r.counts.confirmed).toBe(r.counts.sent);
    expect(r.latency.publish.maxMs).toBeGreaterThanOrEqual(450);
    // messages due during the stall went out late and say so
    expect(r.latency.publishDelay.maxMs).toBeGreaterThanOrEqual(400);
    expect(r.timeSeries.reduce((n, s) => n + s.published, 0)).toBe(r.counts.confirmed);
  });
});
