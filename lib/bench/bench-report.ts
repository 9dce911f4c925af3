/**
 * The HTML report and the markdown table of a `sluice bench` run, both made from the JSON results
 * alone (so a report can be rebuilt, or a README table regenerated, from a saved results.json).
 */
import { markdownTable, renderHtmlReport, type Block, type Cell } from '../report/html-report';
import type { BenchResults } from './results';
import type { DriverResult } from './runner';

function settingsText(d: DriverResult): string {
  return Object.entries(d.settings)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
}

const SUMMARY_COLUMNS = ['driver', 'publish msg/s', 'MB/s', 'consume msg/s', 'publish p50 ms', 'p99', 'p99.9', 'max', 'end-to-end p50 ms', 'p99', 'p99.9', 'max', 'errors', 'consumed / expected'];

function summaryRow(d: DriverResult): Cell[] {
  if (d.status === 'failed') return [d.driver, `failed: ${d.error ?? ''}`, null, null, null, null, null, null, null, null, null, null, null, null];
  const p = d.latency.publish;
  const e = d.latency.endToEnd;
  return [
    d.driver,
    d.throughput.publishMsgPerSec,
    d.throughput.publishMBPerSec,
    d.throughput.consumeMsgPerSec,
    p.p50Ms,
    p.p99Ms,
    p.p999Ms,
    p.maxMs,
    e.p50Ms,
    e.p99Ms,
    e.p999Ms,
    e.maxMs,
    d.counts.publishErrors + d.counts.notSent,
    `${d.counts.consumed} / ${d.counts.expectedConsumed}`,
  ];
}

function workloadLine(r: BenchResults): string {
  const w = r.workload;
  return (
    `${w.name}: ${w.topics} topic(s) × ${w.partitionsPerTopic} partition(s), ${w.messageSize} B messages, ` +
    `${w.producersPerTopic} producer(s)/topic at ${w.producerRate === 'max' ? 'max rate (closed loop)' : `${w.producerRate} msg/s`}` +
    `${w.burst ? `, burst ×${w.burst.rateMultiplier} at ${w.burst.startSeconds} s for ${w.burst.durationSeconds} s` : ''}, ` +
    `${w.subscriptionsPerTopic} group(s) × ${w.consumerPerSubscription} consumer(s), ${w.durationSeconds} s measured after ${Number(w.warmupSeconds.toFixed(2))} s warm-up, ` +
    `durability ${w.durability}${w.durability === 'interval' ? ` (${w.syncIntervalMs} ms)` : ''}, ${w.consumerModel} model${w.maxBacklog > 0 ? `, bounded to ${w.maxBacklog}` : ''}`
  );
}

export function renderBenchHtml(r: BenchResults): string {
  const ok = r.drivers.filter((d) => d.status === 'ok');
  const series = (pick: (s: DriverResult['timeSeries'][number]) => number) =>
    ok.map((d) => ({ name: d.driver, points: d.timeSeries.map((s) => [s.second, pick(s)] as [number, number]) }));
  const h = r.host;
  const charts: Block[] = [
    { kind: 'line', title: 'Publish throughput over time (confirmed msg/s)', xLabel: `seconds since start (warm-up: first ${Number(r.workload.warmupSeconds.toFixed(2))} s)`, yLabel: 'msg/s', series: series((s) => s.published) },
    { kind: 'line', title: 'Consume throughput over time (msg/s, all groups)', xLabel: 'seconds since start', yLabel: 'msg/s', series: series((s) => s.consumed) },
    { kind: 'percentile', title: 'Publish latency (confirm - intended send time)', yLabel: 'ms (log scale)', logY: true, series: ok.map((d) => ({ name: d.driver, points: d.curves.publish })) },
    { kind: 'percentile', title: 'End-to-end latency (received - intended send time)', yLabel: 'ms (log scale)', logY: true, series: ok.map((d) => ({ name: d.driver, points: d.curves.endToEnd })) },
    { kind: 'bar', title: 'Publish throughput (msg/s, measured window)', yLabel: 'msg/s', bars: ok.map((d) => ({ label: d.driver, value: d.throughput.publishMsgPerSec })) },
  ];
  return renderHtmlReport({
    title: `sluice bench: ${r.workload.name}`,
    summary: [workloadLine(r), `Run ${r.generatedAt} with: ${r.command}`, ...r.skipped.map((s) => `Skipped ${s.driver}: ${s.reason}`)],
    sections: [
      { heading: 'Summary', blocks: [{ kind: 'table', columns: SUMMARY_COLUMNS, rows: r.drivers.map(summaryRow), caption: 'Latency in ms from merged HdrHistograms; throughput over the measured window' }] },
      { heading: 'Charts', blocks: charts },
      {
        heading: 'Settings',
        blocks: [
          { kind: 'table', columns: ['driver', 'setting', 'value'], rows: r.drivers.flatMap((d) => Object.entries(d.settings).map(([k, v]) => [d.driver, k, String(v)])) },
          { kind: 'table', columns: ['workload field', 'value'], rows: Object.entries(r.workload).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]) },
        ],
      },
      { heading: 'How it was measured', blocks: r.notes.map((text) => ({ kind: 'text' as const, text })) },
      {
        heading: 'Host',
        blocks: [
          {
            kind: 'table',
            columns: ['field', 'value'],
            rows: Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(' ') : String(v)]),
          },
        ],
      },
      { heading: 'Workload file', blocks: [{ kind: 'pre', text: r.workloadSource }] },
    ],
    footer: `sluice-bench results format ${r.format} v${r.version}; the JSON results hold the merged histograms and per-second series.`,
  });
}

/** The comparison as a markdown table with every driver's settings, for a README. */
export function benchMarkdown(r: BenchResults): string {
  const rows = r.drivers.map((d) => {
    const row = summaryRow(d);
    return [row[0], row[1], row[2], row[4], row[5], row[6], row[8], row[9], row[10], row[12]];
  });
  const table = markdownTable(['driver', 'publish msg/s', 'MB/s', 'publish p50 ms', 'p99', 'p99.9', 'e2e p50 ms', 'p99', 'p99.9', 'errors'], rows);
  const settings = r.drivers.map((d) => `- \`${d.driver}\`: ${settingsText(d)}`).join('\n');
  const skipped = r.skipped.map((s) => `- skipped \`${s.driver}\`: ${s.reason}`).join('\n');
  return [`**${workloadLine(r)}**`, '', table, '', settings, skipped].filter((x) => x !== '').join('\n') + '\n';
}
