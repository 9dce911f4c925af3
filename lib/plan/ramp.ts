/**
 * Max sustainable rate by a ramp (OpenMessaging Benchmark's rule) for `sluice plan`: the real
 * Broker, a topic with the workload's partitions and message size, one consumer group reading.
 * Producers send on a schedule at the target rate; each period, if the publish backlog
 * (expected − confirmed) or the receive backlog (confirmed − received) exceeds the limit, the ramp
 * factor halves and the rate drops to the observed rate; otherwise the rate rises by the factor
 * (the factor doubling up to 100%). The result is the highest rate held for 2 consecutive periods.
 *
 * The generator issues everything due at each tick (every ~2 ms), in sendBatch calls of at most
 * SEND_CHUNK messages, so its only ceiling is the event loop it shares with the engine's JS side
 * and the consumer. A generator that falls behind shows as a publish backlog, as OMB counts it; to
 * tell that apart from the engine, each period also records the event loop's delay (p99 of
 * perf_hooks.monitorEventLoopDelay) and utilisation (performance.eventLoopUtilization), and the
 * period that stopped the ramp is classified by limitOf().
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance as perf } from 'node:perf_hooks';
import { Broker } from '../broker/broker';
import type { Figure } from './model';

export interface RampMode { name: string; sync: 'always' | 'interval' | 'none'; syncIntervalMs?: number }
export const RAMP_MODES: RampMode[] = [{ name: 'always', sync: 'always' }, { name: 'interval:5ms', sync: 'interval', syncIntervalMs: 5 }, { name: 'none', sync: 'none' }];

export interface RampOptions { partitions: number; messageSize: number; startRate: number; periodMs: number; periods: number; backlogLimit: number }

/** Messages per sendBatch call of the generator; everything due at a tick goes out in such calls. */
export const SEND_CHUNK = 1000;
/** Above this event-loop utilisation a backlog is the shared event loop's, not the engine's alone. */
export const ELU_SATURATED = 0.9;

export interface RampPeriod {
  rate: number;
  observed: number;
  publishBacklog: number;
  receiveBacklog: number;
  ok: boolean;
  /** Messages the generator issued this period (behind schedule when below rate × period). */
  issued?: number;
  /** p99 of the event loop's delay this period, ms. */
  loopDelayP99Ms?: number;
  /** Event-loop utilisation this period, 0..1. */
  loopUtilization?: number;
}

/** Everything due after `elapsedMs` at `rate` and not yet issued, as sendBatch sizes of ≤ SEND_CHUNK: a late tick catches up. */
export function dueChunks(rate: number, elapsedMs: number, issued: number): number[] {
  const out: number[] = [];
  for (let due = Math.floor((rate * elapsedMs) / 1000) - issued; due > 0; due -= SEND_CHUNK) out.push(Math.min(due, SEND_CHUNK));
  return out;
}

export type RampLimit = 'consumer (receive backlog)' | 'event loop (load generator, consumer and engine share it)' | 'engine (publish confirms fell behind)' | 'not reached';

/** What stopped the ramp: the first failing period after the best sustained pair (or the first failing one). */
export function limitOf(periods: RampPeriod[]): { limit: RampLimit; period: RampPeriod | null } {
  const bad = periods.filter((p) => !p.ok);
  if (bad.length === 0) return { limit: 'not reached', period: null };
  const best = sustained(periods);
  const firstAbove = bad.find((p) => p.rate >= best) ?? bad[0];
  const p = firstAbove;
  if (p.receiveBacklog > p.publishBacklog) return { limit: 'consumer (receive backlog)', period: p };
  if ((p.loopUtilization ?? 0) >= ELU_SATURATED) return { limit: 'event loop (load generator, consumer and engine share it)', period: p };
  return { limit: 'engine (publish confirms fell behind)', period: p };
}

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
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    for (let k = 0; k < o.periods; k++) {
      const t0 = performance.now(), sent0 = sent;
      const elu0 = perf.eventLoopUtilization();
      delay.reset();
      let issued = 0;
      while (performance.now() - t0 < o.periodMs) {
        for (const n of dueChunks(rate, performance.now() - t0, issued)) {
          issued += n;
          const p = broker.sendBatch('t', Array.from({ length: n }, () => ({ value }))).then(() => { sent += n; inflight.delete(p); });
          inflight.add(p);
        }
        await sleep(2);
      }
      const expected = Math.floor((rate * o.periodMs) / 1000);
      const observed = ((sent - sent0) * 1000) / (performance.now() - t0);
      const loopUtilization = perf.eventLoopUtilization(elu0).utilization;
      const loopDelayP99Ms = delay.percentile(99) / 1e6;
      const p = { observed, publishBacklog: expected - (sent - sent0), receiveBacklog: sent - received };
      const next = nextRamp(rate, factor, p, o.backlogLimit);
      periods.push({ rate, ...p, ok: next.ok, issued, loopDelayP99Ms, loopUtilization });
      if (!next.ok) { await Promise.all(inflight); const until = performance.now() + o.periodMs; while (received < sent && performance.now() < until) await sleep(5); }
      rate = next.rate; factor = next.factor;
    }
    delay.disable();
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

export interface RampResult {
  /** Max sustainable rate per durability mode, msg/s. */
  sustainedRate: Record<string, Figure>;
  /** The same in payload bytes: msg/s × messageSize. */
  sustainedBytesPerSec: Record<string, Figure>;
  /** What stopped the median run's ramp, with that period's event-loop figures. */
  rampLimit: Record<string, { limit: RampLimit; loopUtilization: number | null; loopDelayP99Ms: number | null }>;
}

/** The ramp per durability mode, `runs` times each: median with min/max of the sustained rate. */
export async function ramp(o: RampOptions, runs: number): Promise<RampResult> {
  const out: RampResult = { sustainedRate: {}, sustainedBytesPerSec: {}, rampLimit: {} };
  for (const mode of RAMP_MODES) {
    const xs: { rate: number; periods: RampPeriod[] }[] = [];
    for (let r = 0; r < runs; r++) {
      const periods = await rampOnce(mode, o);
      xs.push({ rate: sustained(periods), periods });
    }
    xs.sort((a, b) => a.rate - b.rate);
    const med = xs[Math.floor(xs.length / 2)];
    const spread = { min: xs[0].rate, max: xs[xs.length - 1].rate, runs };
    const basis = `OMB ramp: ${o.partitions} partitions × ${o.messageSize} B, 1 group reading, ${o.periods} periods of ${o.periodMs} ms, backlog limit ${o.backlogLimit} msgs, sync ${mode.name}; highest rate held 2 consecutive periods; generator sends all due per 2 ms tick in sendBatch calls of ≤ ${SEND_CHUNK}`;
    out.sustainedRate[mode.name] = { value: med.rate, unit: 'msg/s', source: 'measured', basis, spread };
    const mb = (x: number) => x * o.messageSize;
    out.sustainedBytesPerSec[mode.name] = { value: mb(med.rate), unit: 'B/s', source: 'measured', basis: `sustained msg/s × ${o.messageSize} B payload (record framing excluded)`, spread: { min: mb(spread.min), max: mb(spread.max), runs } };
    const l = limitOf(med.periods);
    out.rampLimit[mode.name] = { limit: l.limit, loopUtilization: l.period?.loopUtilization ?? null, loopDelayP99Ms: l.period?.loopDelayP99Ms ?? null };
  }
  return out;
}
