/**
 * The fixed-rate runs of `sluice plan` at 1.0x and the peak factor (plan/fixed-rate.ts), capped
 * to the ramp's highest rate, and what the verdicts take from them: the p99 check (end to end
 * when the workload has consumer groups, else to the publish confirm) and the "CPU (event loop)"
 * headroom row (1 ÷ event-loop utilisation at that load).
 */
import { fixedRate, type FixedRateResult } from './fixed-rate';
import type { Headroom, Verdict } from './model';
import type { RampMode } from './ramp';
import type { PlanWorkload } from './workload';

export type LatencyChecked = 'end-to-end' | 'publish confirm';

export interface FixedRun extends FixedRateResult {
  load: number;
  wanted: number;
  capped: boolean;
  latencyChecked: LatencyChecked;
  p99Fits: boolean;
  source: 'measured';
  basis: string;
}

/** Runs at 1.0x and the peak; `ceiling` (0: none) caps the rate; `phase` names each run as it starts. */
export async function fixedRuns(w: PlanWorkload, mode: RampMode, ceiling: number, durationMs: number, phase: (name: string) => void = () => {}): Promise<FixedRun[]> {
  const groups = w.subscriptionsPerTopic;
  const latencyChecked: LatencyChecked = groups > 0 ? 'end-to-end' : 'publish confirm';
  const out: FixedRun[] = [];
  for (const load of [1, w.peakFactor]) {
    const wanted = w.producerRate * load;
    const capped = ceiling > 0 && wanted > ceiling;
    phase(`fixed-rate run at ${load}x`);
    const warmupMs = Math.min(2000, Math.round(durationMs / 5));
    const r = await fixedRate(mode, { partitions: w.partitionsPerTopic, messageSize: w.messageSize, rate: capped ? ceiling : wanted, durationMs, groups, warmupMs });
    const p99 = r.endToEnd ? r.endToEnd.latency.p99Ms : r.latency.p99Ms;
    const basis = `scheduled sends, ${warmupMs} ms of warm-up first (sent, not recorded); latency from each message's intended send time to its publish confirm${groups > 0 ? ` and to its receipt by each of ${groups} consumer group(s) polling (end to end)` : ''}, merged HdrHistograms; event loop: monitorEventLoopDelay (10 ms) and eventLoopUtilization over the run, main thread (load generator, broker and consumers together)`;
    out.push({ load, wanted, capped, latencyChecked, p99Fits: p99 <= w.p99Ms, ...r, source: 'measured', basis });
  }
  return out;
}

/** The p99 the verdict checks for a run. */
export const checkedP99 = (f: FixedRun): number => (f.endToEnd ? f.endToEnd.latency.p99Ms : f.latency.p99Ms);

/** CPU (event loop): need = ELU at the wanted rate (scaled linearly when the run was capped), capacity 1. */
export function eventLoopRow(f: FixedRun): Headroom {
  const need = f.capped ? (f.eventLoop.utilization * f.wanted) / f.rate : f.eventLoop.utilization;
  return { resource: 'CPU (event loop)', need, capacity: 1, headroom: need > 0 ? 1 / need : Infinity, unit: 'ELU' };
}

/** The verdict with the run's latency check and event-loop row folded in. */
export function withFixedRun(v: Verdict, f: FixedRun): Verdict {
  const rows = [...v.rows, eventLoopRow(f)];
  const limiting = rows.reduce((a, b) => (b.headroom < a.headroom ? b : a));
  return { ...v, rows, limiting, latencyFits: v.latencyFits && f.p99Fits, fits: v.fits && f.p99Fits && rows.every((r) => r.headroom >= 1) };
}
