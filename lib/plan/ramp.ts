/**
 * Max sustainable rate by a ramp (after the OpenMessaging Benchmark's) for `sluice plan`: the real
 * Broker, a topic with the workload's partitions and message size, one consumer group reading.
 * Producers send on a schedule at the target rate; a period fails when the publish backlog
 * (expected − confirmed) or the receive backlog (confirmed − received) exceeds the limit, as in
 * OMB. The result is the highest rate held for 2 consecutive periods.
 *
 * How the rate moves departs from OMB's (which doubles its factor back to 100% after a backlog,
 * so a short ramp oscillates in doubling steps around the limit and reports the step below it,
 * and which drops to whatever one stalled period observed): a search, with OMB's backlog test
 * judging each period (see nextRamp):
 *   1. grow: the rate doubles after each good period;
 *   2. a failing period is tried once more at the same rate (one stall, a GC or a noisy
 *      neighbour, does not end the growth); two in a row make it the upper bound `hi`;
 *   3. bisect between the highest rate held (`lo`) and `hi`: each probe must hold for 2 periods
 *      to become `lo`; one failing period makes it `hi`; once hi ÷ lo < 1.1 the ramp holds `lo`.
 * The backlog limit grows with the rate, to BACKLOG_ALLOWANCE_MS of messages when that is more
 * than the fixed limit: confirms in flight at a period's end are a backlog by OMB's count, and at
 * 600k msg/s a 5 ms sync interval alone keeps 3,000 in flight, so a fixed 1,000 would fail every
 * mode above ~200k msg/s whether or not the backlog grows.
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
import { scaledFigure, type Figure } from './model';

export interface RampMode { name: string; sync: 'always' | 'interval' | 'none'; syncIntervalMs?: number }
export const RAMP_MODES: RampMode[] = [{ name: 'always', sync: 'always' }, { name: 'interval:5ms', sync: 'interval', syncIntervalMs: 5 }, { name: 'none', sync: 'none' }];

/** A mode's topic settings (createTopic's sync and syncIntervalMs). */
export const syncOf = (mode: RampMode): { sync: RampMode['sync']; syncIntervalMs?: number } => ({ sync: mode.sync, ...(mode.syncIntervalMs ? { syncIntervalMs: mode.syncIntervalMs } : {}) });

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

/** The ramp's state between periods (see the search at the top). */
export interface RampState {
  phase: 'grow' | 'bisect';
  rate: number;
  /** The highest rate held (0: none yet); the upper bound found (Infinity while growing). */
  lo: number;
  hi: number;
  /** Good periods in a row at this rate, failing periods in a row at this rate. */
  goods: number;
  fails: number;
}

export const RAMP_START = (rate: number): RampState => ({ phase: 'grow', rate, lo: 0, hi: Infinity, goods: 0, fails: 0 });

/** A backlog of this many milliseconds of messages at the period's rate is in flight, not growing. */
export const BACKLOG_ALLOWANCE_MS = 20;
/** Bisection stops once the bounds are this close (hi ÷ lo). */
const BISECT_DONE = 1.1;

/** The backlog limit of a period at `rate`: the fixed one, or BACKLOG_ALLOWANCE_MS of messages when more. */
export const backlogLimitAt = (rate: number, fixed: number): number => Math.max(fixed, (rate * BACKLOG_ALLOWANCE_MS) / 1000);

const at = (s: RampState, rate: number): RampState => ({ ...s, rate, goods: 0, fails: 0 });

/** The next bisection probe between lo and hi (or lo itself once they are close). */
function bisect(s: RampState): RampState {
  const b = { ...s, phase: 'bisect' as const };
  if (b.lo > 0 && b.hi / b.lo < BISECT_DONE) return at(b, b.lo);
  return at(b, b.lo > 0 ? (b.lo + b.hi) / 2 : b.hi / 2);
}

/** One step of the rule, from a period's result; pure, so the tests can drive it. */
export function nextRamp(s: RampState, p: { observed: number; publishBacklog: number; receiveBacklog: number }, limit: number): RampState & { ok: boolean } {
  const ok = p.publishBacklog <= limit && p.receiveBacklog <= limit;
  if (s.phase === 'grow') {
    if (ok) return { ...at({ ...s, lo: Math.max(s.lo, s.rate) }, s.rate * 2), ok };
    if (s.fails === 0) return { ...s, fails: 1, goods: 0, ok }; // once more at this rate
    return { ...bisect({ ...s, hi: s.rate }), ok };
  }
  if (!ok) return { ...bisect({ ...s, hi: Math.min(s.hi, s.rate), lo: s.rate <= s.lo ? s.rate / 2 : s.lo }), ok };
  const goods = s.goods + 1;
  if (goods < 2) return { ...s, goods, ok };
  return { ...bisect({ ...s, lo: Math.max(s.lo, s.rate) }), ok };
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
    await broker.createTopic('t', { partitions: o.partitions, ...syncOf(mode) });
    const consumer = broker.consumer({ group: 'plan', topics: 't' });
    let sent = 0, received = 0, stop = false;
    const reading = (async () => { while (!stop) received += (await consumer.poll(1000, { timeoutMs: 20 })).length; })();
    const value = Buffer.alloc(o.messageSize, 7);
    const periods: RampPeriod[] = [];
    let state = RAMP_START(o.startRate);
    const inflight = new Set<Promise<unknown>>();
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    for (let k = 0; k < o.periods; k++) {
      const t0 = performance.now(), sent0 = sent;
      const elu0 = perf.eventLoopUtilization();
      delay.reset();
      let issued = 0;
      while (performance.now() - t0 < o.periodMs) {
        const rate = state.rate;
        for (const n of dueChunks(rate, performance.now() - t0, issued)) {
          issued += n;
          const p = broker.sendBatch('t', Array.from({ length: n }, () => ({ value }))).then(() => { sent += n; inflight.delete(p); });
          inflight.add(p);
        }
        await sleep(2);
      }
      const rate = state.rate;
      const expected = Math.floor((rate * o.periodMs) / 1000);
      const observed = ((sent - sent0) * 1000) / (performance.now() - t0);
      const loopUtilization = perf.eventLoopUtilization(elu0).utilization;
      const loopDelayP99Ms = delay.percentile(99) / 1e6;
      const p = { observed, publishBacklog: expected - (sent - sent0), receiveBacklog: sent - received };
      const next = nextRamp(state, p, backlogLimitAt(rate, o.backlogLimit));
      periods.push({ rate, ...p, ok: next.ok, issued, loopDelayP99Ms, loopUtilization });
      if (!next.ok) { await Promise.all(inflight); const until = performance.now() + o.periodMs; while (received < sent && performance.now() < until) await sleep(5); }
      state = next;
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
    const basis = `ramp (OMB's per-period backlog test; rate doubled, then bisected): ${o.partitions} partitions × ${o.messageSize} B, 1 group reading, ${o.periods} periods of ${o.periodMs} ms, backlog limit max(${o.backlogLimit} msgs, ${BACKLOG_ALLOWANCE_MS} ms of messages), sync ${mode.name}; highest rate held 2 consecutive periods; generator sends all due per 2 ms tick in sendBatch calls of ≤ ${SEND_CHUNK}`;
    const rate: Figure = { value: med.rate, unit: 'msg/s', source: 'measured', basis, spread };
    out.sustainedRate[mode.name] = rate;
    out.sustainedBytesPerSec[mode.name] = scaledFigure(rate, o.messageSize, 'B/s', `sustained msg/s × ${o.messageSize} B payload (record framing excluded)`);
    const l = limitOf(med.periods);
    out.rampLimit[mode.name] = { limit: l.limit, loopUtilization: l.period?.loopUtilization ?? null, loopDelayP99Ms: l.period?.loopDelayP99Ms ?? null };
  }
  return out;
}
