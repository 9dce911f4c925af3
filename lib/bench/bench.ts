/**
 * `sluice bench` as a library: runs a workload against each selected driver in turn (one at a
 * time, on the same host, in one run) and assembles the versioned results (results.ts).
 * Drivers whose server binary or client module is missing are skipped with the reason.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchDriver, DriverFactory } from './driver';
import { natsFactory } from './drivers/nats-driver';
import { rabbitmqFactory } from './drivers/rabbitmq-driver';
import { redisFactory } from './drivers/redis-driver';
import { sluiceFactory } from './drivers/sluice-driver';
import { sluiceKafkaFactory } from './drivers/sluice-kafka-driver';
import { hostFingerprint } from './host-fingerprint';
import { BENCH_RESULTS_FORMAT, BENCH_RESULTS_VERSION, measurementNotes, type BenchResults } from './results';
import { runDriver, type RunOptions } from './runner';
import type { Workload } from './workload';

export const FACTORIES: readonly DriverFactory[] = [sluiceFactory, sluiceKafkaFactory, redisFactory, natsFactory, rabbitmqFactory];

export interface BenchOptions {
  workload: Workload;
  /** the workload file as given (kept in the results so that the run can be replayed) */
  workloadSource: string;
  /** families ('redis') or driver names ('redis-durable'); default: all */
  drivers?: readonly string[];
  /** where the drivers make their data directories; default the OS temp dir */
  tmpDir?: string;
  command: string;
  log?: (line: string) => void;
  /** called with each driver's name before it starts, and its ticks */
  onDriver?: (name: string, index: number, count: number) => void;
  onTick?: RunOptions['onTick'];
  drainMs?: number;
  /** extra factories (tests inject fake drivers) */
  factories?: readonly DriverFactory[];
}

export function driverNames(): string[] {
  return FACTORIES.map((f) => f.family);
}

/** Throws a TypeError naming the unknown selections. */
export function checkSelection(selection: readonly string[] | undefined, factories: readonly DriverFactory[] = FACTORIES): void {
  if (selection === undefined) return;
  const families = factories.map((f) => f.family);
  const unknown = selection.filter((s) => !families.some((f) => s === f || s.startsWith(`${f}-`)));
  if (unknown.length > 0) throw new TypeError(`unknown driver ${unknown.map((u) => JSON.stringify(u)).join(', ')}: choose from ${families.join(', ')} (or a driver name such as redis-durable)`);
}

function selected(selection: readonly string[] | undefined, family: string): boolean {
  return selection === undefined || selection.some((s) => s === family || s.startsWith(`${family}-`));
}

function driverSelected(selection: readonly string[] | undefined, d: BenchDriver, family: string): boolean {
  return selection === undefined || selection.includes(family) || selection.includes(d.name);
}

export async function runBench(o: BenchOptions): Promise<BenchResults> {
  const factories = o.factories ?? FACTORIES;
  checkSelection(o.drivers, factories);
  const log = o.log ?? (() => undefined);
  const base = fs.mkdtempSync(path.join(o.tmpDir ?? os.tmpdir(), 'sluice-bench-'));
  const host = hostFingerprint(base);
  const skipped: BenchResults['skipped'] = [];
  const drivers: { d: BenchDriver; family: string }[] = [];
  try {
    for (const f of factories) {
      if (!selected(o.drivers, f.family)) continue;
      const why = f.unavailable();
      if (why !== null) {
        skipped.push({ driver: f.family, reason: why });
        log(`skip ${f.family}: ${why}`);
        continue;
      }
      const partial = f.partial?.() ?? null;
      if (partial !== null) {
        skipped.push({ driver: `${f.family}-durable`, reason: partial });
        log(`skip ${f.family}-durable: ${partial}`);
      }
      for (const d of f.create(o.workload, base)) if (driverSelected(o.drivers, d, f.family)) drivers.push({ d, family: f.family });
    }
    const results: BenchResults['drivers'] = [];
    for (const [i, { d }] of drivers.entries()) {
      o.onDriver?.(d.name, i, drivers.length);
      const r = await runDriver(d, o.workload, { onTick: o.onTick, drainMs: o.drainMs });
      if (r.status === 'failed') log(`${d.name} failed: ${r.error}`);
      results.push(r);
    }
    return {
      format: BENCH_RESULTS_FORMAT,
      version: BENCH_RESULTS_VERSION,
      generatedAt: new Date().toISOString(),
      command: o.command,
      workload: o.workload,
      workloadSource: o.workloadSource,
      host,
      notes: measurementNotes(o.workload),
      skipped,
      drivers: results,
    };
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
