/**
 * `sluice plan`: sizes a workload (file and/or flags) against this host. Probes the host on the
 * data directory's filesystem (plan/host-probe.ts), applies the model (plan/model.ts) at 1.0x and
 * the peak factor, and prints verdicts first, then headroom per resource, retention needs and a
 * Kafka-protocol cluster estimate; --json prints the same as a versioned schema. Every figure says
 * whether it was measured, modelled or assumed. The engine's max sustainable rate per durability mode comes from a ramp (plan/ramp.ts).
 * Fixed-rate runs (plan/fixed-runs.ts: publish-confirm and end-to-end latency, the event loop), a
 * backlog drain (plan/backlog-drain.ts) and host warnings (plan/host-warnings.ts) follow; a
 * progress bar on a terminal's stderr names each phase (the only cli-progress use in plan).
 * Also measured: a batch-size sweep (plan/batch-sweep.ts), loopback fetch bandwidth
 * (plan/loopback-probe.ts), the recovery scan rate (plan/recovery-probe.ts) and memory per
 * partition (plan/memory-probe.ts), which feed the needs (recovery time, memory, time to full).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { clusterBrokers, guardExtrapolation, modelled, needs, storedBytesPerMessage, verdict, type Figure, type Verdict } from '../../plan/model';
import { calibrate } from '../../plan/calibrate';
import { ramp, RAMP_MODES } from '../../plan/ramp';
import { checkedP99, fixedRuns, withFixedRun } from '../../plan/fixed-runs';
import { drainWarnings, planDrain } from '../../plan/backlog-drain';
import { hostSignals, hostWarnings } from '../../plan/host-warnings';
import { batchSweep } from '../../plan/batch-sweep';
import { loopbackProbe } from '../../plan/loopback-probe';
import { recoveryProbe, recoveryTime } from '../../plan/recovery-probe';
import { memoryProbe } from '../../plan/memory-probe';
import { planHtml } from '../../plan/plan-html';
import { fingerprint, probeHost } from '../../plan/host-probe';
import { durabilityName, parseWorkload, readWorkloadFile } from '../../plan/workload';
import type { LatencySummary } from '../../bench/latency-histogram';
import { printJson } from '../output';

interface PlanOptions {
  rate?: string;
  messageSize?: string;
  partitions?: string;
  retention?: string;
  groups?: string;
  durability?: string;
  p99Ms?: string;
  peakFactor?: string;
  dir?: string;
  quick?: boolean;
  runs?: string;
  json?: boolean;
  html?: string;
}

export const PLAN_SCHEMA_VERSION = 1;

export function planCommand(program: Command): void {
  program
    .command('plan [workload]')
    .description('size a workload (YAML/JSON file and/or flags) against this host: fits?, limiting resource, retention needs, cluster size')
    .option('--rate <msgs/s>', 'producer rate, messages per second')
    .option('--message-size <bytes>', 'message size in bytes')
    .option('--partitions <n>', 'partitions per topic')
    .option('--retention <7d|bytes>', 'retention as a duration (7d) or a size (500GB)')
    .option('--groups <n>', 'consumer groups (subscriptions) per topic')
    .option('--durability <mode>', 'always | interval:5ms | none')
    .option('--p99-ms <ms>', 'p99 latency target in ms')
    .option('--peak-factor <x>', 'peak load factor (default 1.2)')
    .option('--dir <dir>', 'directory on the filesystem to probe (default a temp dir)')
    .option('--runs <n>', 'runs per probe (at least 3)', '3')
    .option('--quick', 'small probes, for CI smoke runs')
    .option('--html <file>', 'also write an HTML report with charts to FILE')
    .option('--json', 'print the report as JSON (schema version ' + PLAN_SCHEMA_VERSION + ')')
    .action(async (file: string | undefined, o: PlanOptions) => {
      const bar = phaseBar(process.stderr.isTTY === true ? process.stderr : null);
      const report = await plan(file, o, bar.phase).finally(() => bar.stop());
      if (o.html) fs.writeFileSync(o.html, planHtml(report));
      if (o.json) printJson(report);
      else printText(report);
    });
}

/** Called as each phase starts: its name, how many phases are done, how many there are. */
export type PlanPhase = (name: string, done: number, total: number) => void;

/**
 * A progress bar on `stream` (stderr when it is a terminal; with --json too, since the report
 * goes to stdout) naming the phase; nothing without a stream.
 */
export function phaseBar(stream: Writable | null): { phase: PlanPhase; stop: () => void } {
  if (stream === null) return { phase: () => {}, stop: () => {} };
  const bar = new SingleBar({ stream: stream as NodeJS.WriteStream, format: 'sluice plan [{bar}] {value}/{total} {phase} | {duration_formatted}', hideCursor: true, clearOnComplete: true });
  let started = false;
  return {
    phase: (name, done, total) => {
      if (!started) bar.start(total, done, { phase: name });
      else bar.update(done, { phase: name });
      started = true;
    },
    stop: () => { if (started) bar.stop(); },
  };
}

export async function plan(file: string | undefined, o: PlanOptions, progress: PlanPhase = () => {}) {
  const w = parseWorkload(file ? readWorkloadFile(file) : undefined, {
    producerRate: o.rate, messageSize: o.messageSize, partitionsPerTopic: o.partitions, retention: o.retention,
    subscriptionsPerTopic: o.groups, durability: o.durability, p99Ms: o.p99Ms, peakFactor: o.peakFactor,
  });
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-'));
  const runs = Math.max(3, Number(o.runs ?? 3));
  const total = 9 + (w.subscriptionsPerTopic > 0 ? 1 : 0);
  let done = 0;
  const phase = (name: string) => progress(name, done++, total);
  phase('host probes');
  const host = probeHost(dir, o.quick ? { runs, writeBytes: 8 << 20, syncs: 20 } : { runs, writeBytes: 256 << 20, syncs: 500 });
  const print = fingerprint(dir); // before the temp dir goes, so its mount is found
  if (!o.dir) fs.rmSync(dir, { recursive: true, force: true });
  phase('engine calibration');
  const calibration = await calibrate(w.messageSize, runs, o.quick ? 20 : 500);
  phase(`engine ramp (${RAMP_MODES.map((m) => m.name).join(', ')}; ${runs} runs each)`);
  const rampFigures = await ramp({ partitions: w.partitionsPerTopic, messageSize: w.messageSize, startRate: Math.max(100, w.producerRate / 4), periodMs: o.quick ? 100 : 500, periods: o.quick ? 7 : 20, backlogLimit: o.quick ? 250 : 1000 }, runs);
  phase('batch-size sweep');
  const sweep = await batchSweep(w.messageSize, runs, o.quick ? 20 : 1000);
  phase('recovery and memory probes');
  const recoveryFigures = await recoveryProbe(o.quick ? 2 << 20 : 64 << 20, w.messageSize, runs);
  const memory = await memoryProbe(1, o.quick ? 16 : 64, w.messageSize, runs);
  const engine = { ...calibration, ...rampFigures, batchSweep: sweep, recovery: recoveryFigures, memory };

  phase('loopback fetch probe');
  const loopback = await loopbackProbe(o.quick ? 4 << 20 : 256 << 20, runs);
  const memPerPartition = [engine.memory.rssPerPartitionBytes, engine.memory.heapPerPartitionBytes].find((f) => f.value > 0);
  const measuredInputs = { memPerPartitionBytes: memPerPartition, diskFreeBytes: host.diskFreeBytes };
  const mode = w.durability.mode === 'interval' ? 'interval:5ms' : w.durability.mode;
  const rate = engine.sustainedRate[mode];
  const withEngine = (v: Verdict): Verdict => {
    const row = { resource: `engine sustained rate (${mode}, ramp)`, need: w.producerRate * v.load, capacity: rate.value, headroom: rate.value / (w.producerRate * v.load), unit: 'msg/s' };
    const rows = [...v.rows, row];
    const limiting = rows.reduce((a, b) => (b.headroom < a.headroom ? b : a));
    return { ...v, rows, limiting, fits: v.fits && row.headroom >= 1 };
  };
  const ceiling = rate.spread?.max ?? rate.value;
  const fixedMode = { name: durabilityName(w.durability), sync: w.durability.mode, ...(w.durability.mode === 'interval' ? { syncIntervalMs: w.durability.ms } : {}) };
  const fixed = await fixedRuns(w, fixedMode, ceiling, o.quick ? 1000 : 10_000, phase);
  if (w.subscriptionsPerTopic > 0) phase('backlog drain');
  const drain = await planDrain(w, fixedMode, ceiling, o.quick === true);
  phase('report');
  const at1 = withFixedRun(withEngine(verdict(w, host, 1, measuredInputs)), fixed[0]);
  const atPeak = withFixedRun(withEngine(verdict(w, host, w.peakFactor, measuredInputs)), fixed[1]);
  const peakRate = guardExtrapolation(modelled(w.producerRate * w.peakFactor, 'msg/s', 'producerRate × peakFactor'), w.producerRate * w.peakFactor, rate.spread?.max ?? rate.value);
  const signals = hostSignals({ dmiHint: print.virtualization, memAvailableBytes: host.memAvailableBytes.value, writeBytesPerSec: needs(w, w.peakFactor).writeBytesPerSec.value, retentionBytes: needs(w, 1).diskBytes.value });
  const cluster = at1.fits && atPeak.fits ? null : clusterBrokers(w, w.peakFactor);
  const need = needs(w, 1, measuredInputs);
  const recovery = recoveryTime(w.durability, need.writeBytesPerSec.value, w.topics * w.partitionsPerTopic, need.diskBytes.value, engine.recovery.scanBytesPerSec.value);
  return {
    schema: 'sluice.plan', version: PLAN_SCHEMA_VERSION,
    workload: { ...w, durability: durabilityName(w.durability) },
    host: { fingerprint: print, figures: { ...host, loopbackSendfileBytesPerSec: loopback.sendfileBytesPerSec, loopbackCopyBytesPerSec: loopback.copyBytesPerSec } },
    storedBytesPerMessage: storedBytesPerMessage(w),
    engine,
    peakRate,
    needs: { ...need, recoveryScanBytesPerPartition: recovery.bytesPerPartition, recoverySeconds: recovery.seconds },
    fixedRate: fixed,
    backlogDrain: drain,
    verdicts: [at1, atPeak],
    hostSignals: signals,
    warnings: [...hostWarnings(signals), ...drainWarnings(drain)],
    cluster,
    notCovered: [] as string[],
  };
}

function fmt(f: Figure): string {
  const days = f.unit === 's' && f.value >= 3600 ? ` (${f.value >= 86_400 ? `${(f.value / 86_400).toFixed(1)} d` : `${(f.value / 3600).toFixed(1)} h`})` : '';
  const v = (f.unit.startsWith('B') ? human(f.value) + f.unit.slice(1) : `${f.value.toPrecision(4)} ${f.unit}`) + days;
  const spread = f.spread ? ` [${f.spread.min.toPrecision(3)}..${f.spread.max.toPrecision(3)}, ${f.spread.runs} runs]` : '';
  return `${v} (${f.source}${spread})${f.extrapolated ? ' ' + f.extrapolated : ''}`;
}

function human(n: number): string {
  const u = ['', 'K', 'M', 'G', 'T', 'P'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(n < 10 ? 2 : 1)} ${u[i]}B`;
}

function rampLimitText(l: { limit: string; loopUtilization: number | null; loopDelayP99Ms: number | null }): string {
  return l.loopUtilization === null ? l.limit : `${l.limit} (event loop ${(l.loopUtilization * 100).toFixed(0)}% busy, delay p99 ${l.loopDelayP99Ms?.toFixed(1)} ms)`;
}

function printText(r: Awaited<ReturnType<typeof plan>>): void {
  const out: string[] = [];
  for (const v of r.verdicts) {
    out.push(`${v.load}x load: ${v.fits ? 'FITS' : 'DOES NOT FIT'}; limiting: ${v.limiting.resource} (headroom ${v.limiting.headroom.toPrecision(3)}x)${v.latencyFits ? '' : `; p99 (${r.fixedRate[0].latencyChecked} in the fixed-rate run, or fdatasync) exceeds the ${r.workload.p99Ms} ms target`} (modelled)`);
  }
  for (const x of r.warnings) out.push(`WARNING: ${x}`);
  out.push('', 'Headroom at 1.0x (capacity ÷ need; modelled, the engine and CPU (event loop) rows measured):');
  for (const h of r.verdicts[0].rows) out.push(`  ${h.resource.padEnd(22)} ${h.headroom.toPrecision(3)}x`);
  out.push('', 'Needs for the retention (modelled):');
  for (const [k, f] of Object.entries(r.needs)) out.push(`  ${k.padEnd(18)} ${fmt(f)}  = ${f.basis}`);
  if (r.peakRate.extrapolated) out.push('', `!!! peak rate ${r.peakRate.value} msg/s: ${r.peakRate.extrapolated}`);
  out.push('', `Fixed-rate runs (${r.workload.durability}, latency from each message's intended send time over ${r.fixedRate[0].durationMs} ms after ${r.fixedRate[0].warmupMs} ms of warm-up, measured; the verdict checks the ${r.fixedRate[0].latencyChecked} p99):`);
  const pct = (l: LatencySummary) => `p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms, p99.9 ${l.p999Ms} ms, max ${l.maxMs} ms`;
  for (const f of r.fixedRate) {
    out.push(`  ${f.load}x ${f.rate.toFixed(0)} msg/s${f.capped ? ' (CAPPED to the ramp maximum; wanted ' + f.wanted.toFixed(0) + ')' : ''}: ${f.latencyChecked} p99 ${checkedP99(f)} ms ${f.p99Fits ? 'within' : 'OVER'} ${r.workload.p99Ms} ms`);
    out.push(`    publish confirm  ${pct(f.latency)}`);
    if (f.endToEnd) out.push(`    end to end       ${pct(f.endToEnd.latency)} (${f.endToEnd.groups} group(s)${f.endToEnd.missing ? `, ${f.endToEnd.missing} NOT RECEIVED` : ''})`);
    const e = f.eventLoop;
    out.push(`    event loop       delay p50 ${e.delayP50Ms} ms, p99 ${e.delayP99Ms} ms, max ${e.delayMaxMs} ms; utilisation ${(e.utilization * 100).toFixed(1)}% (headroom ${(1 / e.utilization).toPrecision(3)}x)`);
  }
  const d = r.backlogDrain;
  if (d) {
    out.push('', `Backlog drain (${d.groups} group(s) paused ${d.pauseMs / 1000} s at ${d.rate.toFixed(0)} msg/s${d.capped ? ', CAPPED to the ramp maximum' : ''}, measured):`);
    out.push(`  backlog at resume ${d.backlogAtResume} msgs; catch-up ${d.catchUpRate.toPrecision(4)} msg/s = ${d.catchUpRatio.toPrecision(3)}x the produce rate; ${d.drainMs === null ? 'NOT back to steady state' : `back to steady state (backlog ≤ ${d.steadyBacklog}) in ${d.drainMs} ms`}`);
  } else out.push('', 'Backlog drain: not run (no consumer groups)');
  out.push('', 'Engine max sustainable rate (ramp, measured):');
  for (const [k, f] of Object.entries(r.engine.sustainedRate)) out.push(`  ${k.padEnd(19)} ${fmt(f)}; ${fmt(r.engine.sustainedBytesPerSec[k])}; limited by ${rampLimitText(r.engine.rampLimit[k])}`);
  out.push('', 'Engine calibration (one partition, measured):');
  for (const [k, f] of Object.entries(r.engine.appendRate)) out.push(`  append ${k.padEnd(12)} ${fmt(f)}`);
  out.push(`  stored bytes/msg    ${fmt(r.engine.storedBytesPerMessage)} vs modelled ${r.storedBytesPerMessage.value.toFixed(1)} B`);
  out.push('', 'Batch-size sweep (one sendBatch in flight, one partition, measured; msg/s and payload B/s):');
  for (const m of [...new Set(r.engine.batchSweep.map((p) => p.mode))]) {
    out.push(`  ${m.padEnd(13)} ${r.engine.batchSweep.filter((p) => p.mode === m).map((p) => `${p.batchSize}: ${p.rate.value.toPrecision(3)} msg/s ${human(p.bytesPerSec.value)}/s`).join(', ')}`);
  }
  out.push('', 'Recovery and memory (measured):');
  out.push(`  recovery scan rate ${fmt(r.engine.recovery.scanBytesPerSec)}; reopen ${fmt(r.engine.recovery.reopenMs)} for ${human(r.engine.recovery.scannedBytes)} rescanned`);
  out.push(`  memory/partition   RSS ${fmt(r.engine.memory.rssPerPartitionBytes)}, heap+external ${fmt(r.engine.memory.heapPerPartitionBytes)}`);
  out.push('', 'Host:');
  for (const [k, f] of Object.entries(r.host.figures)) out.push(`  ${k.padEnd(18)} ${fmt(f)}`);
  if (r.cluster) {
    out.push('', `Kafka-protocol cluster: ${r.cluster.brokers} brokers (modelled) from assumed figures:`);
    for (const a of r.cluster.assumed) out.push(`  ${a.basis} (assumed)`);
  }
  if (r.notCovered.length > 0) out.push('', `Not measured yet: ${r.notCovered.join('; ')}`);
  process.stdout.write(out.join('\n') + '\n');
}
