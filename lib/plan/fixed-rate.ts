/**
 * Fixed-rate runs for `sluice plan`: the real Broker at a given rate (the workload's partitions,
 * message size and durability mode), sends on a schedule (message i is due at t0 + i ÷ rate),
 * latency from each message's intended send time to its publish confirm (coordinated omission
 * avoided: a stall delays the confirms of every message due during it), in an HdrHistogram
 * (lib/bench/latency-histogram.ts), with confirmed messages per second as a time series.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker } from '../broker/broker';
import { encodeHistogram, newHistogram, recordMs, summarize, type LatencySummary } from '../bench/latency-histogram';
import type { RampMode } from './ramp';

export interface FixedRateResult { rate: number; durationMs: number; latency: LatencySummary; histogram: string; perSecond: number[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function fixedRate(mode: RampMode, o: { partitions: number; messageSize: number; rate: number; durationMs: number }): Promise<FixedRateResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-fixed-'));
  const broker = await Broker.open(dir);
  try {
    await broker.createTopic('t', { partitions: o.partitions, sync: mode.sync, ...(mode.syncIntervalMs ? { syncIntervalMs: mode.syncIntervalMs } : {}) });
    const h = newHistogram();
    const perSecond: number[] = [];
    const value = Buffer.alloc(o.messageSize, 7);
    const total = Math.floor((o.rate * o.durationMs) / 1000);
    const confirms: Promise<void>[] = [];
    const t0 = performance.now();
    let issued = 0;
    while (issued < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * o.rate) / 1000));
      if (due > issued) {
        const first = issued;
        const n = due - first;
        issued = due;
        confirms.push(broker.sendBatch('t', Array.from({ length: n }, () => ({ value }))).then(() => {
          const now = performance.now();
          for (let i = first; i < first + n; i++) recordMs(h, now - (t0 + (i * 1000) / o.rate));
          const s = Math.floor((now - t0) / 1000);
          while (perSecond.length <= s) perSecond.push(0);
          perSecond[s] += n;
        }));
      }
      await sleep(1);
    }
    await Promise.all(confirms);
    return { rate: o.rate, durationMs: o.durationMs, latency: summarize(h), histogram: encodeHistogram(h), perSecond };
  } finally {
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
