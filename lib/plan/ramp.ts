/**
 * Max sustainable rate by a ramp (OpenMessaging Benchmark's rule) for `sluice plan`: the real
 * Broker, a topic with the workload's partitions and message size, one consumer group reading.
 * Producers send on a schedule at the target rate; each period, if the publish backlog
 * (expected − confirmed) or the receive backlog (confirmed − received) exceeds the limit, the ramp
 * factor halves and the rate drops to the observed rate; otherwise the rate rises by the factor
 * (the factor doubling up to 100%). The result is the highest rate held for 2 consecutive periods.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker } from '../broker/broker';
import type { Figure } from './model';

export interface RampMode { name: string; sync: 'always' | 'interval' | 'none'; syncIntervalMs?: number }
export const RAMP_MODES: RampMode[] = [{ name: 'always', sync: 'always' }, { name: 'interval:5ms', sync: 'interval', syncIntervalMs: 5 }, { name: 'none', sync: 'none' }];

export interface RampOptions { partitions: number; messageSize: number; startRate: number; periodMs: number; periods: number; backlogLimit: number }

export interface RampPeriod { rate: number; observed: number; publishBacklog: number; receiveBacklog: number; ok: boolean }

/** One step of the rule; pure, so the tests can drive it. */
export function nextRamp(rate: number, factor: number, p: { observed: number; publishBacklog: number; receiveBacklog: number }, limit: number): { rate: number; factor: number; ok: boolean } {
  if (p.publishBacklog > limit || p.receiveBacklog > limit) return { rate: Math.max(1, p.observed), factor: factor / 2, ok: false };
  return { rate: rate * (1 + factor), factor: Math.min(1, factor * 2), ok: true };
}

/** Highest rate held for ≥ 2 consecutive good periods (the lower of the two), 0 if none. */
export function sustained(periods: RampPeriod[]): number {
  let best = 0;
  for (let i = 1; i < periods.length; i++) {
    if (periods[i].ok && periods[i - 1].ok) best = Math.max(best, Math.min(periods[i].observed, periods[i - 1].observed));
  }
  return best;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function rampOnce(mode: RampMode, o: RampOptions): Promise<RampPeriod[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-ramp-'));
  const broker = await Broker.open(dir);
  try {
    await broker.createTopic('t', { partitions: o.partitions, sync: mode.sync, ...(mode.syncIntervalMs ? { syncIntervalMs: mode.syncIntervalMs } : {}) });
    const consumer = broker.consumer({ group: 'plan', topics: 't' });
    let sent = 0, received = 0, stop = false;
    const reading = (async () => { while (!stop) received += (await consumer.poll(1000, { timeoutMs: 20 })).length; })();
    const value = Buffer.alloc(o.messageSize, 7);
    const periods: RampPeriod[] = [];
    let rate = o.startRate, factor = 1;
    const inflight = new Set<Promise<unknown>>();
    for (let k = 0; k < o.periods; k++) {
      const t0 = performance.now(), sent0 = sent;
      let issued = 0;
      while (performance.now() - t0 < o.periodMs) {
        const due = Math.floor((rate * (performance.now() - t0)) / 1000) - issued;
        const n = Math.min(due, 1000);
        if (n > 0) {
          issued += n;
          const p = broker.sendBatch('t', Array.from({ length: n }, () => ({ value }))).then(() => { sent += n; inflight.delete(p); });
          inflight.add(p);
        }
        await sleep(2);
      }
      const expected = Math.floor((rate * o.periodMs) / 1000);
      const observed = ((sent - sent0) * 1000) / (performance.now() - t0);
      const p = { observed, publishBacklog: expected - (sent - sent0), receiveBacklog: sent - received };
      const next = nextRamp(rate, factor, p, o.backlogLimit);
      periods.push({ rate, ...p, ok: next.ok });
      if (!next.ok) { await Promise.all(inflight); const until = performance.now() + o.periodMs; while (received < sent && performance.now() < until) await sleep(5); }
      rate = next.rate; factor = next.factor;
    }
    stop = true;
    await Promise.all(inflight);
    await reading;
    await consumer.close();
    return periods;
  } finally {
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The ramp per durability mode, `runs` times each: median with min/max of the sustained rate. */
export async function ramp(o: RampOptions, runs: number): Promise<Record<string, Figure>> {
  const out: Record<string, Figure> = {};
  for (const mode of RAMP_MODES) {
    const xs: number[] = [];
    for (let r = 0; r < runs; r++) xs.push(sustained(await rampOnce(mode, o)));
    xs.sort((a, b) => a - b);
    out[mode.name] = { value: xs[Math.floor(xs.length / 2)], unit: 'msg/s', source: 'measured', basis: `OMB ramp: ${o.partitions} partitions × ${o.messageSize} B, 1 group reading, ${o.periods} periods of ${o.periodMs} ms, backlog limit ${o.backlogLimit} msgs, sync ${mode.name}; highest rate held 2 consecutive periods`, spread: { min: xs[0], max: xs[xs.length - 1], runs } };
  }
  return out;
}
