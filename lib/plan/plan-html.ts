/**
 * The HTML report of `sluice plan`, through the shared report module (lib/report): verdicts
 * first, a bar chart of headroom per resource (capped at 10x so the limiting one shows), a bar
 * chart of the engine's append rate per durability mode, then every figure with its source.
 */
import { decodeHistogram, percentileCurve } from '../bench/latency-histogram';
import { renderHtmlReport, type Cell } from '../report/html-report';
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
  fixedRate: { load: number; histogram: string; perSecond: number[] }[];
}

const figureRow = (name: string, f: Figure): Cell[] => [name, Number(f.value.toPrecision(4)), f.unit, f.source, f.spread ? `${f.spread.min.toPrecision(3)}..${f.spread.max.toPrecision(3)} (${f.spread.runs} runs)` : '', f.basis + (f.extrapolated ? ` ${f.extrapolated}` : '')];

export function planHtml(r: PlanHtmlInput): string {
  const summary = r.verdicts.map((v) => `${v.load}x load: ${v.fits ? 'FITS' : 'DOES NOT FIT'}; limiting: ${v.limiting.resource} (headroom ${v.limiting.headroom.toPrecision(3)}x)`);
  const columns = ['figure', 'value', 'unit', 'source', 'spread', 'basis'];
  return renderHtmlReport({
    title: `sluice plan: ${String(r.workload.name)}`,
    summary,
    sections: [
      {
        heading: 'Headroom (capacity ÷ need, modelled)',
        blocks: r.verdicts.map((v) => ({ kind: 'bar' as const, title: `headroom at ${v.load}x load (capped at 10x; below 1 does not fit)`, yLabel: 'x', bars: v.rows.map((h: Headroom) => ({ label: h.resource.replace(/ \(.*\)/, '').replace('file descriptors', 'fds').replace('disk write bandwidth', 'disk write'), value: Math.min(10, h.headroom) })) })),
      },
      {
        heading: 'Fixed-rate runs at 1.0x and the peak (measured)',
        blocks: [
          { kind: 'percentile', title: 'latency from intended send to publish confirm', yLabel: 'ms', series: r.fixedRate.map((f) => ({ name: `${f.load}x`, points: percentileCurve(decodeHistogram(f.histogram)) })) },
          { kind: 'line', title: 'confirmed messages per second', xLabel: 's', yLabel: 'msg/s', series: r.fixedRate.map((f) => ({ name: `${f.load}x`, points: f.perSecond.map((n, i): [number, number] => [i, n]) })) },
        ],
      },
      {
        heading: 'Engine max sustainable rate per durability mode (OMB ramp, measured)',
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
