/**
 * The HTML report of `sluice plan`, through the shared report module (lib/report): verdicts
 * and warnings first, a bar chart of headroom per resource (capped at 10x so the limiting one
 * shows), the fixed-rate runs (latency percentiles, publish confirm and end to end; throughput;
 * the event loop), the backlog drain (backlog over time), bar charts of the engine's sustained
 * and append rates per durability mode, then every figure with its source.
 */
import { decodeHistogram, percentileCurve } from '../bench/latency-histogram';
import { renderHtmlReport, type Cell, type Section } from '../report/html-report';
import type { EventLoopFigures } from './event-loop';
import type { Figure, Headroom, Verdict } from './model';

export interface PlanHtmlInput {
  workload: Record<string, unknown>;
  verdicts: Verdict[];
  needs: object;
  host: { figures: object };
  engine: {
    appendRate: Record<string, Figure>;
    sustainedRate: Record<string, Figure>;
    sustainedBytesPerSec?: Record<string, Figure>;
    rampLimit?: Record<string, { limit: string }>;
    batchSweep?: { mode: string; batchSize: number; rate: Figure; bytesPerSec: Figure }[];
    recovery?: { scanBytesPerSec: Figure; reopenMs: Figure };
    memory?: { rssPerPartitionBytes: Figure; heapPerPartitionBytes: Figure };
  };
  backlogDrain: { rate: number; groups: number; pauseMs: number; backlogAtResume: number; catchUpRate: number; catchUpRatio: number; drainMs: number | null; backlog: [number, number][]; basis: string } | null;
  warnings: string[];
  fixedRate: { load: number; rate: number; histogram: string; perSecond: number[]; latencyChecked: string; endToEnd: { histogram: string; groups: number } | null; eventLoop: EventLoopFigures }[];
}

const figureRow = (name: string, f: Figure): Cell[] => [name, Number(f.value.toPrecision(4)), f.unit, f.source, f.spread ? `${f.spread.min.toPrecision(3)}..${f.spread.max.toPrecision(3)} (${f.spread.runs} runs)` : '', f.basis + (f.extrapolated ? ` ${f.extrapolated}` : '')];

export function planHtml(r: PlanHtmlInput): string {
  const summary = r.verdicts.map((v) => `${v.load}x load: ${v.fits ? 'FITS' : 'DOES NOT FIT'}; limiting: ${v.limiting.resource} (headroom ${v.limiting.headroom.toPrecision(3)}x)`);
  const columns = ['figure', 'value', 'unit', 'source', 'spread', 'basis'];
  return renderHtmlReport({
    title: `sluice plan: ${String(r.workload.name)}`,
    summary: [...summary, ...r.warnings.map((x) => `WARNING: ${x}`)],
    sections: [
      {
        heading: 'Headroom (capacity ÷ need, modelled)',
        blocks: r.verdicts.map((v) => ({ kind: 'bar' as const, title: `headroom at ${v.load}x load (capped at 10x; below 1 does not fit)`, yLabel: 'x', bars: v.rows.map((h: Headroom) => ({ label: h.resource.replace(/ \(.*\)/, '').replace('CPU', 'event loop').replace('engine sustained rate', 'engine ramp').replace('file descriptors', 'fds').replace('disk write bandwidth', 'disk write'), value: Math.min(10, h.headroom) })) })),
      },
      {
        heading: 'Fixed-rate runs at 1.0x and the peak (measured)',
        blocks: [
          { kind: 'text', text: `Latency from each message's intended send time to its publish confirm and, with consumer groups, to its receipt by each group (end to end). The verdict checks the ${r.fixedRate[0]?.latencyChecked ?? 'publish confirm'} p99.` },
          { kind: 'percentile', title: 'latency from intended send time', yLabel: 'ms', series: r.fixedRate.flatMap((f) => [
            { name: `${f.load}x publish`, points: percentileCurve(decodeHistogram(f.histogram)) },
            ...(f.endToEnd ? [{ name: `${f.load}x end to end`, points: percentileCurve(decodeHistogram(f.endToEnd.histogram)) }] : []),
          ]) },
          { kind: 'line', title: 'confirmed messages per second', xLabel: 's', yLabel: 'msg/s', series: r.fixedRate.map((f) => ({ name: `${f.load}x`, points: wholeSeconds(f.perSecond) })) },
          { kind: 'table', caption: 'event loop over each run (main thread: load generator, broker and consumers; headroom = 1 ÷ utilisation)', columns: ['load', 'msg/s', 'delay p50 ms', 'delay p99 ms', 'delay max ms', 'utilisation', 'headroom'], rows: r.fixedRate.map((f) => [`${f.load}x`, Math.round(f.rate), f.eventLoop.delayP50Ms, f.eventLoop.delayP99Ms, f.eventLoop.delayMaxMs, `${(f.eventLoop.utilization * 100).toFixed(1)}%`, `${(1 / f.eventLoop.utilization).toPrecision(3)}x`]) },
        ],
      },
      drainSection(r.backlogDrain),
      {
        heading: 'Engine max sustainable rate per durability mode (ramp, measured)',
        blocks: [{ kind: 'bar', title: 'highest rate held 2 consecutive periods, one group reading (median of the runs)', yLabel: 'msg/s', bars: Object.entries(r.engine.sustainedRate).map(([k, f]) => ({ label: k, value: f.value })) }],
      },
      ...(r.engine.sustainedBytesPerSec ? [{
        heading: 'Ramp figures per durability mode (measured)',
        blocks: [{ kind: 'table' as const, columns, rows: Object.entries(r.engine.sustainedBytesPerSec).flatMap(([k, f]) => [figureRow(`${k} sustained msg/s`, r.engine.sustainedRate[k]), figureRow(`${k} sustained payload`, { ...f, basis: `${f.basis}; limited by ${r.engine.rampLimit?.[k]?.limit ?? '?'}` })]) }],
      }] : []),
      ...(r.engine.batchSweep ? [{
        heading: 'Batch-size sweep: messages per sendBatch, one call in flight, one partition (measured)',
        blocks: [...new Set(r.engine.batchSweep.map((p) => p.mode))].map((m) => ({ kind: 'bar' as const, title: `sync ${m}: msg/s by batch size (median of the runs)`, yLabel: 'msg/s', bars: r.engine.batchSweep!.filter((p) => p.mode === m).map((p) => ({ label: String(p.batchSize), value: p.rate.value })) })),
      }] : []),
      ...(r.engine.recovery && r.engine.memory ? [{
        heading: 'Recovery and memory per partition (measured)',
        blocks: [{ kind: 'table' as const, columns, rows: [figureRow('recovery scan rate', r.engine.recovery.scanBytesPerSec), figureRow('unclean reopen time', r.engine.recovery.reopenMs), figureRow('RSS per partition', r.engine.memory.rssPerPartitionBytes), figureRow('heap+external per partition', r.engine.memory.heapPerPartitionBytes)] }],
      }] : []),
      {
        heading: 'Engine append rate per durability mode (measured, calibration)',
        blocks: [{ kind: 'bar', title: 'Broker.sendBatch, one partition', yLabel: 'msg/s', bars: Object.entries(r.engine.appendRate).map(([k, f]) => ({ label: k, value: f.value })) }],
      },
      { heading: 'Needs (modelled)', blocks: [{ kind: 'table', columns, rows: (Object.entries(r.needs) as [string, Figure][]).map(([k, f]) => figureRow(k, f)) }] },
      { heading: 'Host (measured)', blocks: [{ kind: 'table', columns, rows: (Object.entries(r.host.figures) as [string, Figure][]).map(([k, f]) => figureRow(k, f)) }] },
      { heading: 'Workload (replayable)', blocks: [{ kind: 'pre', text: JSON.stringify(r.workload, null, 2) }] },
    ],
  });
}

function drainSection(d: PlanHtmlInput['backlogDrain']): Section {
  if (d === null) return { heading: 'Backlog drain', blocks: [{ kind: 'text', text: 'Not run: the workload has no consumer groups.' }] };
  const back = d.drainMs === null ? 'did NOT get back to steady state' : `back to steady state in ${d.drainMs} ms`;
  return {
    heading: 'Backlog drain (measured)',
    blocks: [
      { kind: 'text', text: `${d.groups} group(s) paused ${d.pauseMs / 1000} s at ${Math.round(d.rate)} msg/s, then resumed: backlog ${d.backlogAtResume} msgs at resume, catch-up ${Math.round(d.catchUpRate)} msg/s = ${d.catchUpRatio.toPrecision(3)}x the produce rate, ${back}. ${d.basis}.` },
      { kind: 'line', title: 'backlog of the slowest group (confirmed − received)', xLabel: 's', yLabel: 'msgs', series: [{ name: 'backlog', points: d.backlog.map(([t, n]): [number, number] => [t / 1000, n]) }] },
    ],
  };
}

/** The per-second series without its last second, which the run ended part-way into (it would show as a drop). */
function wholeSeconds(perSecond: readonly number[]): [number, number][] {
  const whole = perSecond.length > 1 ? perSecond.slice(0, -1) : perSecond;
  return whole.map((n, i) => [i, n]);
}
