/**
 * The soak's verdict: figures and pass/fail checks from the samples, the ledger and the clients'
 * counters. Every check names what it compared, so a failure says where to look.
 */
import type { HostFingerprint } from '../../lib/bench/host-fingerprint';
import { type Drain, type Sample, type ThirdStatistic, type Trend, drain, measured, trend, warmupEndS } from './analysis';
import type { GroupVerdict, Ledger } from './ledger';
import type { Churn, Group, SteadyProducer } from './load';
import type { SoakOptions } from './options';

const MIB = 2 ** 20;

export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

export interface GroupReport extends GroupVerdict {
  generations: number;
  joins: number;
  leaves: number;
  crashes: number;
  drain: Drain;
  /**
   * The least distance, in offsets, between the group's position and the log start, over the
   * samples of partitions where retention had deleted something (null: it never had).
   */
  minHeadroom: number | null;
}

/** Start (first sample after the warm-up), middle and end (last sample under load) of a series. */
export interface StartMiddleEnd {
  start: number;
  middle: number;
  end: number;
}

export interface SoakSummary {
  startedAt: string;
  host: HostFingerprint;
  options: Omit<SoakOptions, 'log' | 'out' | 'dataDir'>;
  retentionBytes: number;
  produced: { acked: number; allocated: number; unacknowledged: number; steadySends: number; steadySendErrors: number; errors: string[] };
  groups: GroupReport[];
  resources: {
    rssMiB: Trend & StartMiddleEnd;
    /** Reported, not checked: the anonymous (heap) part and the file-backed part (mapped segments). */
    rssAnonMiB: StartMiddleEnd & { slopePerHour: number };
    rssFileMiB: StartMiddleEnd & { slopePerHour: number };
    heapUsedMiB: StartMiddleEnd & { slopePerHour: number };
    fds: Trend & StartMiddleEnd;
    eldP99Ms: Trend & StartMiddleEnd;
    /** Reported, not checked: the thirds' maxima of the p99s (one interval that lost the CPU decides them). */
    eldP99MaxThirds: Trend & StartMiddleEnd;
    /** Reported: whether the server did more work per interval as the run went on, and how busy the host was. */
    serverCpuPercent: Trend & StartMiddleEnd;
    loadAverage: Trend & StartMiddleEnd;
    eldMaxMs: number;
    rssAtStartMiB: number;
    warmupEndS: number;
    measuredSamples: number;
  };
  retention: { segmentsCreated: number; segmentsDeleted: number; segmentsAtEnd: number; logStartAtEnd: number[]; logEndAtEnd: number[] };
  rebalances: { events: { tS: number; action: string }[] };
  churn: { clients: Record<string, number>; total: number; errors: number; errorMessages: string[]; connectionsAccepted: number; connectionsMax: number };
  serverExitCode: number | null;
  checks: Check[];
  pass: boolean;
}

export interface SummaryInput {
  options: SoakOptions;
  host: HostFingerprint;
  retentionBytes: number;
  samples: Sample[];
  verdicts: GroupVerdict[];
  groups: Group[];
  ledger: Ledger;
  producer: SteadyProducer;
  churn: Churn;
  rebalances: { tS: number; action: string }[];
  segments: { created: number; atEnd: number };
  serverExitCode: number | null;
  loadS: number;
  speedUpS: number;
  /** The group paced below the rate until speedUpS, whose backlog must drain. */
  slowGroup: string;
}

function series(samples: Sample[], pick: (s: Sample) => number, factor: number, slack: number, kind: ThirdStatistic = 'max'): Trend & StartMiddleEnd {
  const t = trend(samples, pick, factor, slack, kind);
  const at = (i: number): number => (samples.length === 0 ? 0 : pick(samples[i]));
  return { ...t, start: at(0), middle: at(Math.floor(samples.length / 2)), end: at(samples.length - 1) };
}

function resources(i: SummaryInput): SoakSummary['resources'] {
  const b = i.options.bounds;
  const m = measured(i.samples, i.loadS, b);
  return {
    rssMiB: series(m, (s) => s.rssBytes / MIB, b.rssGrowthFactor, b.rssSlackBytes / MIB),
    rssAnonMiB: series(m, (s) => s.rssAnonBytes / MIB, b.rssGrowthFactor, b.rssSlackBytes / MIB),
    rssFileMiB: series(m, (s) => s.rssFileBytes / MIB, b.rssGrowthFactor, b.rssSlackBytes / MIB),
    heapUsedMiB: series(m, (s) => s.heapUsedBytes / MIB, b.rssGrowthFactor, b.rssSlackBytes / MIB),
    fds: series(m, (s) => s.fds, 1, b.fdSlack),
    eldP99Ms: series(m, (s) => s.eldP99Ms, b.eldGrowthFactor, b.eldSlackMs, 'p90'),
    eldP99MaxThirds: series(m, (s) => s.eldP99Ms, b.eldGrowthFactor, b.eldSlackMs, 'max'),
    serverCpuPercent: series(m, (s) => s.serverCpuPercent, 1, 0),
    loadAverage: series(m, (s) => s.loadAverage, 1, 0),
    eldMaxMs: Math.max(0, ...i.samples.filter((s) => s.phase !== 'drain').map((s) => s.eldMaxMs)),
    rssAtStartMiB: (i.samples[0]?.rssBytes ?? 0) / MIB,
    warmupEndS: warmupEndS(i.samples, i.loadS, b),
    measuredSamples: m.length,
  };
}

function groupReports(i: SummaryInput): GroupReport[] {
  // Live again: no more behind than two samples' worth of production.
  const live = (i.options.rate * i.options.sampleMs * 2) / 1000;
  return i.verdicts.map((v) => {
    const g = i.groups.find((x) => x.name === v.group)!;
    const headrooms = i.samples.map((s) => s.groups[v.group]?.headroom ?? Infinity).filter((h) => Number.isFinite(h));
    return { ...v, generations: g.generations, joins: g.joins, leaves: g.leaves, crashes: g.crashes, drain: drain(i.samples, v.group, i.speedUpS, live), minHeadroom: headrooms.length === 0 ? null : Math.min(...headrooms) };
  });
}

function fmt(t: Trend, unit: string): string {
  return `first third ${t.statistic} ${t.first.toFixed(1)}${unit}, last ${t.last.toFixed(1)}${unit} (limit ${t.limit.toFixed(1)}${unit}); fit ${t.slopePerHour.toFixed(2)}${unit}/h, rise ${t.rise.toFixed(1)}${unit}`;
}

function checks(s: Omit<SoakSummary, 'checks' | 'pass'>, loadS: number, slowGroup: string): Check[] {
  const r = s.resources;
  const out: Check[] = [
    { name: 'server RSS bounded', pass: r.rssMiB.bounded, detail: fmt(r.rssMiB, ' MiB') },
    { name: 'server descriptors bounded', pass: r.fds.bounded, detail: fmt(r.fds, '') },
    { name: 'event-loop delay p99 bounded', pass: r.eldP99Ms.bounded, detail: fmt(r.eldP99Ms, ' ms') },
    { name: 'steady producer: every send acknowledged', pass: s.produced.steadySendErrors === 0, detail: `${s.produced.steadySendErrors} failed sends of ${s.produced.steadySends + s.produced.steadySendErrors}${s.produced.errors.length > 0 ? ` (${s.produced.errors.join('; ')})` : ''}` },
    { name: 'churning clients all succeeded', pass: s.churn.errors === 0, detail: `${s.churn.total} clients, ${s.churn.errors} failed${s.churn.errorMessages.length > 0 ? ` (${s.churn.errorMessages.join('; ')})` : ''}` },
    { name: 'retention deleted segments', pass: s.retention.segmentsDeleted > 0, detail: `${s.retention.segmentsDeleted} of ${s.retention.segmentsCreated} segments deleted` },
    { name: 'clean shutdown', pass: s.serverExitCode === 0, detail: `sluice serve exited ${s.serverExitCode} after SIGTERM` },
  ];
  for (const g of s.groups) {
    out.push({ name: `${g.group}: no acknowledged message lost`, pass: g.lost === 0 && g.foreign === 0, detail: `${g.consumed} of ${g.acked} consumed, ${g.lost} lost, ${g.retentionGaps} retention gaps, ${g.duplicates} duplicates, ${g.foreign} foreign` });
    out.push({ name: `${g.group}: retention never passed its position`, pass: g.retentionGaps === 0 && (g.minHeadroom ?? 0) >= 0, detail: `least headroom ${g.minHeadroom ?? 'n/a (nothing deleted)'} offsets, ${g.skips} skipped ranges` });
    out.push({ name: `${g.group}: drained`, pass: g.drain.finalBacklog === 0, detail: `backlog ${g.drain.backlogAtLoadEnd} when the producers stopped, ${g.drain.finalBacklog} at the end` });
  }
  const slow = s.groups.find((g) => g.group === slowGroup);
  if (slow !== undefined) {
    const d = slow.drain;
    out.push({ name: `${slow.group}: caught up under load`, pass: d.caughtUpAtS !== null && d.caughtUpAtS <= loadS, detail: `peak backlog ${d.peakBacklog} at ${d.peakAtS} s, live again at ${d.caughtUpAtS ?? 'never'} s (load ends at ${loadS} s)` });
  }
  return out;
}

export function summarize(i: SummaryInput): SoakSummary {
  const { log: _log, out: _out, dataDir: _dataDir, ...options } = i.options;
  const last = i.samples[i.samples.length - 1];
  const accepted = last?.connectionsAccepted ?? 0;
  const base: Omit<SoakSummary, 'checks' | 'pass'> = {
    startedAt: new Date(Date.now() - (last?.tS ?? 0) * 1000).toISOString(),
    host: i.host,
    options,
    retentionBytes: i.retentionBytes,
    produced: { acked: i.ledger.acked, allocated: i.ledger.allocated, unacknowledged: i.ledger.allocated - i.ledger.acked, steadySends: i.producer.sends, steadySendErrors: i.producer.errors, errors: i.producer.errorMessages },
    groups: groupReports(i),
    resources: resources(i),
    retention: { segmentsCreated: i.segments.created, segmentsDeleted: i.segments.created - i.segments.atEnd, segmentsAtEnd: i.segments.atEnd, logStartAtEnd: last?.logStart ?? [], logEndAtEnd: last?.logEnd ?? [] },
    rebalances: { events: i.rebalances },
    churn: { clients: { ...i.churn.clients }, total: i.churn.total, errors: i.churn.errors, errorMessages: i.churn.errorMessages, connectionsAccepted: accepted, connectionsMax: Math.max(0, ...i.samples.map((s) => s.connections)) },
    serverExitCode: i.serverExitCode,
  };
  const c = checks(base, i.loadS, i.slowGroup);
  return { ...base, checks: c, pass: c.every((x) => x.pass) };
}
