/**
 * Backlog drain for `sluice plan` (next-stage.md D4, run 3; OMB's consumerBacklogSizeGB): the
 * real Broker, the workload's partitions, message size and consumer groups. Producers send on a
 * schedule at the given rate throughout; after a warm-up every group's consumer is paused
 * (Consumer.pause(): it keeps polling, gets nothing) for pauseMs, then resumed. Measured: the
 * backlog over time (confirmed − received, the slowest group), the catch-up rate (messages the
 * slowest group consumed per second from the resume until it was back to steady state) ÷ the
 * produce rate, and the time that took. Steady state = a backlog no larger than the largest seen
 * in the warm-up (at least 20 ms of production): the consumers keep up again.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker } from '../broker/broker';
import { syncOf, type RampMode } from './ramp';

export interface DrainOptions { partitions: number; messageSize: number; rate: number; groups: number; warmupMs: number; pauseMs: number; maxDrainMs: number; sampleMs: number }

export interface DrainResult {
  rate: number;
  groups: number;
  pauseMs: number;
  /** Backlog of the slowest group when the consumers resumed, messages. */
  backlogAtResume: number;
  /** The steady-state backlog the drain had to get back to, messages. */
  steadyBacklog: number;
  /** Messages per second the slowest group consumed while draining. */
  catchUpRate: number;
  /** catchUpRate ÷ rate; must be > 1 (with margin) for a consumer to ever catch up. */
  catchUpRatio: number;
  /** Resume → steady state, ms; null when not back by maxDrainMs. */
  drainMs: number | null;
  /** Messages per second confirmed over the whole run (the produce rate held). */
  producedRate: number;
  /** [ms since the start, backlog of the slowest group]; the pause runs from warmupMs to warmupMs + pauseMs. */
  backlog: [number, number][];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function backlogDrain(mode: RampMode, o: DrainOptions): Promise<DrainResult> {
  if (o.groups < 1) throw new RangeError('backlogDrain needs at least one consumer group');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-drain-'));
  const broker = await Broker.open(dir);
  try {
    await broker.createTopic('t', { partitions: o.partitions, ...syncOf(mode) });
    const consumers = Array.from({ length: o.groups }, (_, g) => broker.consumer({ group: `plan-drain-${g}`, topics: 't' }));
    const received = consumers.map(() => 0);
    let confirmed = 0, stop = false;
    const lag = () => Math.max(0, confirmed - Math.min(...received));
    const t0 = performance.now();
    const resumeAt = o.warmupMs + o.pauseMs;
    let steadyMax = 0, resumed: { at: number; received: number; backlog: number } | null = null, drained: { at: number; received: number } | null = null;
    const threshold = () => Math.max(steadyMax, Math.ceil(o.rate * 0.02));
    const readers = consumers.map(async (c, g) => {
      while (!stop) {
        const ms = await c.poll(1000, { timeoutMs: 20 });
        for (const m of ms) void m.value; // touch each message, as a consumer would
        received[g] += ms.length;
        if (resumed && !drained && lag() <= threshold()) drained = { at: performance.now() - t0, received: Math.min(...received) };
      }
    });
    const backlog: [number, number][] = [];
    const sampler = setInterval(() => {
      const t = performance.now() - t0;
      if (t < o.warmupMs && t > o.warmupMs / 4) steadyMax = Math.max(steadyMax, lag());
      backlog.push([Math.round(t), lag()]);
    }, o.sampleMs);
    const value = Buffer.alloc(o.messageSize, 7);
    const inflight = new Set<Promise<unknown>>();
    let issued = 0, paused = false, tailUntil = Infinity;
    for (;;) {
      const t = performance.now() - t0;
      if (!paused && !resumed && t >= o.warmupMs) { for (const c of consumers) c.pause(); paused = true; }
      if (paused && t >= resumeAt) { resumed = { at: t, received: Math.min(...received), backlog: lag() }; for (const c of consumers) c.resume(); paused = false; }
      if (drained && tailUntil === Infinity) tailUntil = t + 5 * o.sampleMs;
      if (t >= tailUntil || t >= resumeAt + o.maxDrainMs) break;
      const n = Math.min(1000, Math.floor((t * o.rate) / 1000) - issued);
      if (n > 0) {
        issued += n;
        const p = broker.sendBatch('t', Array.from({ length: n }, () => ({ value }))).then(() => { confirmed += n; inflight.delete(p); });
        inflight.add(p);
      }
      await sleep(1);
    }
    const end = performance.now() - t0;
    await Promise.all(inflight);
    clearInterval(sampler);
    stop = true;
    await Promise.all(readers);
    for (const c of consumers) await c.close();
    return summarize(o, resumed!, drained, end, Math.min(...received), confirmed, threshold(), backlog);
  } finally {
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function summarize(o: DrainOptions, resumed: { at: number; received: number; backlog: number }, drained: { at: number; received: number } | null, end: number, receivedAtEnd: number, confirmed: number, steady: number, backlog: [number, number][]): DrainResult {
  const until = drained ?? { at: end, received: receivedAtEnd };
  const catchUpRate = ((until.received - resumed.received) * 1000) / Math.max(1, until.at - resumed.at);
  return {
    rate: o.rate,
    groups: o.groups,
    pauseMs: o.pauseMs,
    backlogAtResume: resumed.backlog,
    steadyBacklog: steady,
    catchUpRate,
    catchUpRatio: catchUpRate / o.rate,
    drainMs: drained ? Math.round(drained.at - resumed.at) : null,
    producedRate: (confirmed * 1000) / end,
    backlog,
  };
}

/** The margin below which the report warns: a consumer that catches up this slowly barely recovers. */
export const CATCH_UP_MARGIN = 1.5;

export interface PlanDrain extends DrainResult { wanted: number; capped: boolean; source: 'measured'; basis: string }

/** The plan's drain run: the workload's rate (capped to the ramp's highest, 0: none) and groups; null without groups. */
export async function planDrain(w: { producerRate: number; partitionsPerTopic: number; messageSize: number; subscriptionsPerTopic: number }, mode: RampMode, ceiling: number, quick: boolean): Promise<PlanDrain | null> {
  if (w.subscriptionsPerTopic < 1) return null;
  const capped = ceiling > 0 && w.producerRate > ceiling;
  const o: DrainOptions = { partitions: w.partitionsPerTopic, messageSize: w.messageSize, rate: capped ? ceiling : w.producerRate, groups: w.subscriptionsPerTopic, warmupMs: quick ? 300 : 2000, pauseMs: quick ? 1000 : 10_000, maxDrainMs: quick ? 5000 : 60_000, sampleMs: quick ? 50 : 100 };
  const r = await backlogDrain(mode, o);
  const basis = `scheduled sends at ${o.rate.toFixed(0)} msg/s throughout; ${o.groups} group(s) paused ${o.pauseMs} ms after a ${o.warmupMs} ms warm-up, then resumed; catch-up = messages the slowest group consumed per second from the resume until its backlog was back to the warm-up's largest (at least 20 ms of production), within ${o.maxDrainMs} ms`;
  return { ...r, wanted: w.producerRate, capped, source: 'measured', basis };
}

/** Warnings for the report: consumers that cannot catch up, or only barely. */
export function drainWarnings(d: PlanDrain | null): string[] {
  if (d === null) return [];
  if (d.drainMs === null) return [`backlog drain: after a ${d.pauseMs / 1000} s pause the consumers did not get back to steady state (catch-up ${d.catchUpRatio.toFixed(2)}x the produce rate): a consumer outage here may never recover`];
  if (d.catchUpRatio < CATCH_UP_MARGIN) return [`backlog drain: catch-up is only ${d.catchUpRatio.toFixed(2)}x the produce rate (want at least ${CATCH_UP_MARGIN}x): after a consumer outage the backlog drains slowly`];
  return [];
}
