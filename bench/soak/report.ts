/**
 * Writes a soak's results to its --out directory: summary.json (the whole verdict), summary.txt
 * (the same for a person), samples.csv (one row per sample) and chart.svg (RSS, descriptors,
 * event-loop delay and each group's backlog over time).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Sample } from './analysis';
import type { SoakSummary } from './summary';

const MIB = 2 ** 20;

export function summaryText(s: SoakSummary, command: string): string {
  const r = s.resources;
  const sme = (x: { start: number; middle: number; end: number }, d = 1): string => `${x.start.toFixed(d)} / ${x.middle.toFixed(d)} / ${x.end.toFixed(d)}`;
  const lines = [
    `sluice soak: ${s.pass ? 'PASS' : 'FAIL'}`,
    `command: ${command}`,
    `started ${s.startedAt}; ${s.options.minutes} min at ${s.options.rate} msg/s, seed ${s.options.seed}, ${s.options.partitions} partitions, values ${s.options.valueBytes} B`,
    `host: ${s.host.cpuModel}, ${s.host.cores} cores, ${(s.host.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${s.host.os}, kernel ${s.host.kernel}`,
    `topic: segment.bytes ${s.options.segmentBytes}, retention.bytes ${s.retentionBytes} per partition, retention.ms -1`,
    '',
    `measured from ${r.warmupEndS} s (warm-up: until retention deleted from every partition, at least ${s.options.bounds.warmupFraction * 100}% of the load), ${r.measuredSamples} samples`,
    `server RSS MiB start/middle/end: ${sme(r.rssMiB)} (at launch ${r.rssAtStartMiB.toFixed(1)}); slope ${r.rssMiB.slopePerHour.toFixed(2)} MiB/h`,
    `  anonymous ${sme(r.rssAnonMiB)} (slope ${r.rssAnonMiB.slopePerHour.toFixed(2)} MiB/h), file-backed ${sme(r.rssFileMiB)} (slope ${r.rssFileMiB.slopePerHour.toFixed(2)} MiB/h); V8 heap used ${sme(r.heapUsedMiB)} (slope ${r.heapUsedMiB.slopePerHour.toFixed(2)} MiB/h)`,
    `server descriptors start/middle/end: ${sme(r.fds, 0)}; slope ${r.fds.slopePerHour.toFixed(2)}/h`,
    `event-loop delay p99 ms start/middle/end: ${sme(r.eldP99Ms)}; thirds' p90 ${r.eldP99Ms.first.toFixed(1)} / ${r.eldP99Ms.middle.toFixed(1)} / ${r.eldP99Ms.last.toFixed(1)}, thirds' max ${r.eldP99MaxThirds.first.toFixed(1)} / ${r.eldP99MaxThirds.middle.toFixed(1)} / ${r.eldP99MaxThirds.last.toFixed(1)}; max delay over the run ${r.eldMaxMs.toFixed(1)} ms`,
    `server CPU % thirds' max ${r.serverCpuPercent.first.toFixed(1)} / ${r.serverCpuPercent.middle.toFixed(1)} / ${r.serverCpuPercent.last.toFixed(1)} (slope ${r.serverCpuPercent.slopePerHour.toFixed(2)} %/h); host load average ${sme(r.loadAverage)} on ${s.host.cores} cores`,
    `produced: ${s.produced.acked} acknowledged (acks -1) of ${s.produced.allocated} sent`,
    `retention: ${s.retention.segmentsDeleted} of ${s.retention.segmentsCreated} segments deleted; log start at end ${s.retention.logStartAtEnd.join(', ')} (end ${s.retention.logEndAtEnd.join(', ')})`,
    `rebalances: ${s.rebalances.events.length} (${s.rebalances.events.map((e) => `${e.tS}s ${e.action}`).join('; ')})`,
    `churn: ${s.churn.total} short-lived clients (${Object.entries(s.churn.clients).map(([k, v]) => `${k} ${v}`).join(', ')}), ${s.churn.connectionsAccepted} connections accepted, at most ${s.churn.connectionsMax} open`,
  ];
  for (const g of s.groups) {
    const d = g.drain;
    lines.push(`${g.group}: ${g.consumed}/${g.acked} consumed, lost ${g.lost}, retention gaps ${g.retentionGaps}, duplicates ${g.duplicates}; generations ${g.generations}; peak backlog ${d.peakBacklog} at ${d.peakAtS} s, live again at ${d.caughtUpAtS ?? 'never'} s, final ${d.finalBacklog}; least headroom ${g.minHeadroom ?? 'n/a'}`);
  }
  lines.push('', 'checks:');
  for (const c of s.checks) lines.push(`  ${c.pass ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  return lines.join('\n') + '\n';
}

function samplesCsv(samples: Sample[]): string {
  const groups = Object.keys(samples[0]?.groups ?? {});
  const head = ['t_s', 'phase', 'rss_mib', 'rss_anon_mib', 'rss_file_mib', 'heap_used_mib', 'external_mib', 'fds', 'eld_p99_ms', 'eld_max_ms', 'server_cpu_percent', 'load_average', 'connections', 'connections_accepted', 'produced', 'segments', ...groups.flatMap((g) => [`${g}_backlog`, `${g}_lag`, `${g}_duplicates`])];
  const rows = samples.map((s) =>
    [s.tS, s.phase, (s.rssBytes / MIB).toFixed(1), (s.rssAnonBytes / MIB).toFixed(1), (s.rssFileBytes / MIB).toFixed(1), (s.heapUsedBytes / MIB).toFixed(1), (s.externalBytes / MIB).toFixed(1), s.fds, s.eldP99Ms.toFixed(2), s.eldMaxMs.toFixed(2), s.serverCpuPercent, s.loadAverage.toFixed(2), s.connections, s.connectionsAccepted, s.produced, s.segments, ...groups.flatMap((g) => [s.groups[g]?.backlog ?? '', s.groups[g]?.lag ?? '', s.groups[g]?.duplicates ?? ''])].join(','),
  );
  return [head.join(','), ...rows].join('\n') + '\n';
}

const W = 720;
const PANEL_H = 110;
const PAD = 40;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

function panel(samples: Sample[], title: string, lines: { label: string; pick: (s: Sample) => number }[], top: number): string {
  const tMax = Math.max(1, ...samples.map((s) => s.tS));
  const vMax = Math.max(1e-9, ...lines.flatMap((l) => samples.map(l.pick)));
  const x = (t: number): number => PAD + (t / tMax) * (W - 2 * PAD);
  const y = (v: number): number => top + PANEL_H - (v / vMax) * (PANEL_H - 20);
  const parts = [
    `<text x="${PAD}" y="${top + 12}" font-size="12">${title} (max ${vMax.toFixed(vMax < 10 ? 1 : 0)})</text>`,
    `<line x1="${PAD}" y1="${top + PANEL_H}" x2="${W - PAD}" y2="${top + PANEL_H}" stroke="#999"/>`,
  ];
  lines.forEach((l, k) => {
    const pts = samples.map((s) => `${x(s.tS).toFixed(1)},${y(l.pick(s)).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="1.5" points="${pts}"/>`);
    if (lines.length > 1) parts.push(`<text x="${W - PAD - 150}" y="${top + 12 + 13 * k}" font-size="11" fill="${COLORS[k % COLORS.length]}">${l.label}</text>`);
  });
  return parts.join('\n');
}

export function chartSvg(samples: Sample[]): string {
  const groups = Object.keys(samples[0]?.groups ?? {});
  const panels = [
    panel(samples, 'server RSS MiB', [{ label: 'total', pick: (s) => s.rssBytes / MIB }, { label: 'anonymous', pick: (s) => s.rssAnonBytes / MIB }, { label: 'file-backed', pick: (s) => s.rssFileBytes / MIB }, { label: 'V8 heap used', pick: (s) => s.heapUsedBytes / MIB }], 10),
    panel(samples, 'server descriptors', [{ label: 'fds', pick: (s) => s.fds }], 10 + (PANEL_H + 20)),
    panel(samples, 'event-loop delay p99 ms', [{ label: 'p99', pick: (s) => s.eldP99Ms }], 10 + 2 * (PANEL_H + 20)),
    panel(samples, 'backlog (messages)', groups.map((g) => ({ label: g, pick: (s: Sample) => s.groups[g]?.backlog ?? 0 })), 10 + 3 * (PANEL_H + 20)),
  ];
  const h = 10 + 4 * (PANEL_H + 20) + 20;
  const tMax = Math.max(0, ...samples.map((s) => s.tS));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${panels.join('\n')}\n<text x="${PAD}" y="${h - 6}" font-size="11">time 0 to ${tMax} s</text>\n</svg>\n`;
}

export function writeReport(out: string, s: SoakSummary, samples: Sample[], command: string): string {
  fs.mkdirSync(out, { recursive: true });
  const text = summaryText(s, command);
  fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify({ command, ...s }, null, 2) + '\n');
  fs.writeFileSync(path.join(out, 'summary.txt'), text);
  fs.writeFileSync(path.join(out, 'samples.csv'), samplesCsv(samples));
  fs.writeFileSync(path.join(out, 'chart.svg'), chartSvg(samples));
  return text;
}
