/**
 * Does the event loop wait on the disk? A Log appends 100 B messages at a fixed rate (20,000
 * msg/s, at most 256 confirms in flight) for each sync policy, and the run records:
 *  - confirm latency from each message's intended send time (coordinated omission not hidden), in
 *    an HDR histogram (hdr-histogram-js), reported as p50/p99/p99.9/max;
 *  - the gaps between turns of the event loop (a setImmediate chain timing each turn): how many
 *    exceed 1 ms, their total, and the largest, beside perf_hooks.monitorEventLoopDelay's p99/max;
 *  - the device itself in the same run: fdatasync after a 4 KiB write, p50/p99;
 *  - a baseline: the same generator without an engine (a stand-in that copies each payload and
 *    calls each confirm back on the next turn), whose gaps are the host's, and GC pauses per row.
 * Under sync 'always' a confirm waits for a sync, but nothing else on the thread should: a gap
 * caused by Sluice there is the JS thread blocked in a system call (issue 10's defect).
 *
 * Run with `npm run bench -- event-loop`; BENCH_TINY=1 for the CI smoke run.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Histogram } from 'hdr-histogram-js';
import { Log, type SyncPolicy } from '../lib/storage/log';
import {
  describeHost,
  deviceSyncLatencies,
  formatUs,
  gapCells,
  latencyCells,
  latencyHistogram,
  GcPauses,
  LoopGaps,
  makeDir,
  recordUs,
  removeDir,
  summarize,
  tiny,
  writeResults,
  type GcReport,
  type LoopGapReport,
} from './harness';

const RATE = 20_000;
const IN_FLIGHT_MAX = 256;
const SIZE = 100;
const DURATION_MS = tiny ? 50 : Number(process.env.BENCH_EVENT_LOOP_MS ?? 5000);
const GAP_MS = 1;
// Enough device syncs for a p99.9: one slow sync delays every confirm in flight, so the confirm
// p99 follows the device's p99.9, not its p99.
const DEVICE_SYNCS = 10_000;
const POLICIES: readonly SyncPolicy[] = ['always', 'interval', 'none'];

interface Row {
  name: string;
  sent: number;
  confirms: Histogram;
  gaps: LoopGapReport;
  gc: GcReport;
}

/** What the generator appends to: a Log, or the baseline's stand-in. */
interface Sink {
  append(payload: Buffer): number;
  confirm(offset: number, callback: (err: Error | null) => void): void;
  close(): Promise<void>;
}

/**
 * The baseline: the same generator, timers and callbacks without an engine. Each "append" copies
 * the payload into a buffer and each "confirm" is called back on the next turn of the event
 * loop, so the gaps it sees are the host's (and the generator's own garbage), not Sluice's.
 */
function standIn(): Sink {
  const buffer = Buffer.alloc(1 << 20);
  let offset = 0;
  return {
    append(payload) {
      payload.copy(buffer, (offset * SIZE) % (buffer.length - SIZE));
      return offset++;
    },
    confirm(_offset, callback) {
      setImmediate(callback, null);
    },
    async close() {},
  };
}

/** Appends at RATE for DURATION_MS to `sink`, measuring confirms, event-loop turns and GC. */
async function run(name: string, sink: Sink): Promise<Row> {
  const log = sink;
  const payload = randomFillSync(Buffer.alloc(SIZE));
  const confirms = latencyHistogram();
  const gaps = new LoopGaps(GAP_MS);
  const gc = new GcPauses();
  gc.start();
  gaps.start();
  const start = performance.now();
  const intervalMs = 1000 / RATE;
  const total = Math.round((RATE * DURATION_MS) / 1000);
  let sent = 0;
  let settled = 0;
  let inFlight = 0;
  let failure: Error | null = null;
  await new Promise<void>((resolve) => {
    const send = (): void => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      while (sent < due && inFlight < IN_FLIGHT_MAX) {
        const intended = start + sent * intervalMs;
        sent++;
        inFlight++;
        log.confirm(log.append(payload), (err) => {
          inFlight--;
          settled++;
          if (err !== null) failure ??= err;
          else recordUs(confirms, (performance.now() - intended) * 1000);
          if (settled === total) resolve();
        });
      }
      if (sent < total) setImmediate(send);
    };
    send();
  });
  const gapReport = gaps.stop();
  const gcReport = gc.stop();
  await log.close();
  if (failure !== null) throw failure;
  return { name, sent, confirms, gaps: gapReport, gc: gcReport };
}

const ms = formatUs;

async function main(): Promise<void> {
  const host = describeHost();
  const root = makeDir('event-loop');
  const device = latencyHistogram();
  for (const us of deviceSyncLatencies(root, tiny ? 20 : DEVICE_SYNCS)) recordUs(device, us);
  const rows: Row[] = [];
  rows.push(await run('baseline: no engine', standIn()));
  for (const sync of POLICIES) {
    const dir = path.join(root, sync);
    execFileSync('sync'); // each row starts with the writeback of what ran before drained
    const log = await Log.open(dir, { sync, segmentBytes: 1024 * 1024 * 1024 });
    rows.push(await run(`'${sync}'`, log));
    removeDir(dir);
  }
  removeDir(root);
  const table = [
    '| sync | messages | confirm p50 | p99 | p99.9 | max | event-loop gaps over 1 ms | in all | largest | monitorEventLoopDelay p99 / max | GC pauses (count, total, max) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.sent} | ${latencyCells(summarize(r.confirms))} | ${gapCells(r.gaps, DURATION_MS)} | ` +
        `${r.gaps.delayP99Ms.toFixed(1)} / ${r.gaps.delayMaxMs.toFixed(1)} ms | ${r.gc.count}, ${r.gc.totalMs.toFixed(0)} ms, ${r.gc.maxMs.toFixed(1)} ms |`,
    ),
  ].join('\n');
  const text = [
    '# Event-loop gaps and confirm latency by sync policy',
    '',
    `- Command: \`${process.env.SLUICE_BENCH_COMMAND ?? 'npm run bench -- event-loop'}\``,
    `- Date: ${new Date().toISOString()}`,
    `- Load: ${SIZE} B appends at ${RATE.toLocaleString('en')} msg/s, at most ${IN_FLIGHT_MAX} confirms in flight, ${DURATION_MS} ms per policy`,
    '',
    '## Host',
    '',
    `CPU ${host.cpu}; ${host.cores}; ${host.memory}; ${host.os}, ${host.kernel}; Node ${host.node}; bench directory ${host.benchDir}; load at start ${host.load}.`,
    '',
    '## Results',
    '',
    `Device in the same run (${tiny ? 20 : DEVICE_SYNCS} syncs): fdatasync after a 4 KiB write, p50 ${ms(device.getValueAtPercentile(50))}, p99 ${ms(device.getValueAtPercentile(99))}, p99.9 ${ms(device.getValueAtPercentile(99.9))}, max ${ms(device.maxValue)}.`,
    '',
    table,
    '',
    'Target (issue 10): no event-loop gap over 2 ms caused by Sluice under any policy, and a confirm p99 under',
    "sync 'always' within twice the device's fdatasync p99.",
    '',
  ].join('\n');
  writeResults('event-loop', text);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
