/**
 * Fixed-rate runs for `sluice plan`: the real Broker at a given rate (the workload's partitions,
 * message size, durability mode and consumer groups), sends on a schedule (message i is due at
 * t0 + i ÷ rate). Two latencies, each from the message's intended send time (coordinated omission
 * avoided: a stall delays every message due during it), each in an HdrHistogram
 * (lib/bench/latency-histogram.ts): to its publish confirm, and end to end, to its receipt by each
 * consumer group polling while the run sends (the message index rides in the value's first 4
 * bytes, so the consumer knows when it was due). Also confirmed messages per second as a time
 * series, and the event loop's delay and utilisation over the run (plan/event-loop.ts). With
 * `warmupMs`, the run sends that much longer first and messages due during the warm-up are sent,
 * confirmed and received but not recorded (start-up stalls, JIT and first allocations are not the
 * steady state the latency target is about).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker } from '../broker/broker';
import type { Consumer } from '../broker/consume/consumer';
import { encodeHistogram, merged, newHistogram, recordMs, summarize, type Histogram, type LatencySummary } from '../bench/latency-histogram';
import { watchEventLoop, type EventLoopFigures } from './event-loop';
import { syncOf, type RampMode } from './ramp';

export interface FixedRateOptions { partitions: number; messageSize: number; rate: number; durationMs: number; groups?: number; warmupMs?: number }

export interface EndToEnd { groups: number; latency: LatencySummary; histogram: string; missing: number }

export interface FixedRateResult {
  rate: number;
  /** Measured time; the warm-up came before it. */
  durationMs: number;
  warmupMs: number;
  latency: LatencySummary;
  histogram: string;
  perSecond: number[];
  /** null when the workload has no consumer groups. */
  endToEnd: EndToEnd | null;
  eventLoop: EventLoopFigures;
}

/** Bytes at the start of each value that carry the message index. */
export const INDEX_BYTES = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** n values of `size` bytes (at least INDEX_BYTES), each starting with its message index. */
export function indexedValues(first: number, n: number, size: number): Buffer[] {
  const len = Math.max(INDEX_BYTES, size);
  const slab = Buffer.alloc(n * len, 7);
  return Array.from({ length: n }, (_, k) => {
    const v = slab.subarray(k * len, (k + 1) * len);
    v.writeUInt32LE(first + k, 0);
    return v;
  });
}

export const indexOf = (value: unknown): number => (value as Buffer).readUInt32LE(0);

/** Polls until `total` messages arrived or stop() says so; records receipt − due per message from `firstMeasured` on. */
function reader(c: Consumer, h: Histogram, due: (i: number) => number, total: number, firstMeasured: number, stop: () => boolean): { done: Promise<void>; received: () => number } {
  let received = 0;
  const done = (async () => {
    while (received < total && !stop()) {
      const ms = await c.poll(1000, { timeoutMs: 20 });
      const now = performance.now();
      for (const m of ms) {
        const i = indexOf(m.value);
        if (i >= firstMeasured) recordMs(h, now - due(i));
      }
      received += ms.length;
    }
  })();
  return { done, received: () => received };
}

export async function fixedRate(mode: RampMode, o: FixedRateOptions): Promise<FixedRateResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-fixed-'));
  const broker = await Broker.open(dir);
  try {
    await broker.createTopic('t', { partitions: o.partitions, ...syncOf(mode) });
    const groups = o.groups ?? 1;
    const h = newHistogram();
    const perSecond: number[] = [];
    const warmupMs = o.warmupMs ?? 0;
    const total = Math.floor((o.rate * (warmupMs + o.durationMs)) / 1000);
    const firstMeasured = Math.ceil((o.rate * warmupMs) / 1000);
    const confirms: Promise<void>[] = [];
    const consumers = Array.from({ length: groups }, (_, g) => broker.consumer({ group: `plan-${g}`, topics: 't' }));
    const loop = watchEventLoop();
    const t0 = performance.now();
    const due = (i: number) => t0 + (i * 1000) / o.rate;
    const e2e = consumers.map(() => newHistogram());
    let stopReading = false;
    const readers = consumers.map((c, g) => reader(c, e2e[g], due, total, firstMeasured, () => stopReading));
    let issued = 0;
    while (issued < total) {
      const now = Math.min(total, Math.floor(((performance.now() - t0) * o.rate) / 1000));
      if (now > issued) {
        const first = issued;
        const n = now - first;
        issued = now;
        confirms.push(broker.sendBatch('t', indexedValues(first, n, o.messageSize).map((value) => ({ value }))).then(() => {
          const at = performance.now();
          for (let i = Math.max(first, firstMeasured); i < first + n; i++) recordMs(h, at - due(i));
          const s = Math.floor((at - t0) / 1000);
          while (perSecond.length <= s) perSecond.push(0);
          perSecond[s] += n;
        }));
      }
      await sleep(1);
    }
    await Promise.all(confirms);
    const endToEnd = groups === 0 ? null : await finishReading(readers, e2e, total, due(total - 1), Math.max(5000, o.durationMs), () => { stopReading = true; });
    const eventLoop = loop.stop();
    for (const c of consumers) await c.close();
    return { rate: o.rate, durationMs: o.durationMs, warmupMs, latency: summarize(h), histogram: encodeHistogram(h), perSecond, endToEnd, eventLoop };
  } finally {
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Waits up to graceMs for every group to receive every message; the ones still missing then are
 * recorded at their age at that moment (a lower bound, so a lagging consumer still shows in the
 * tail) and counted in `missing`.
 */
async function finishReading(readers: { done: Promise<void>; received: () => number }[], hs: Histogram[], total: number, lastDue: number, graceMs: number, stop: () => void): Promise<EndToEnd> {
  const until = performance.now() + graceMs;
  while (readers.some((r) => r.received() < total) && performance.now() < until) await sleep(5);
  stop();
  await Promise.all(readers.map((r) => r.done));
  let missing = 0;
  const at = performance.now();
  readers.forEach((r, g) => {
    const lost = Math.max(0, total - r.received());
    missing += lost;
    // Which ones are missing is not tracked; the last-due message's age bounds each from below.
    for (let k = 0; k < lost; k++) recordMs(hs[g], at - lastDue);
  });
  const h = merged(hs);
  return { groups: readers.length, latency: summarize(h), histogram: encodeHistogram(h), missing };
}
