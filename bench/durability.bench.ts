/**
 * Durable throughput and confirm latency: Log with sync 'always' (group commit on the native
 * flusher thread) at 1, 16 and 256 confirms in flight, for 100 B and 1 KiB messages, beside
 *  - the device itself: the latency of fs.fdatasyncSync after a 4 KiB write, measured in the run;
 *  - a plain-Node baseline writing the same bytes with fs.writeSync and calling fs.fdatasyncSync
 *    once per 256 messages (the best a synchronous program can do; it blocks its event loop).
 *
 * A confirm's latency runs from just before its append to its callback. Each tinybench iteration
 * sends a fixed number of messages while keeping `inFlight` confirms outstanding (a new append
 * whenever one settles), so msg/s is durable throughput at that depth. Latencies are collected
 * over every iteration into HDR histograms (bench/harness.ts) and reported as p50/p99/p99.9/max.
 *
 * Targets (issue 3): >= 1 M durable 100 B msg/s at 256 in flight; at light load (1 in flight) a
 * p99 confirm latency within twice the device's fdatasync p99.
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as path from 'node:path';
import { Bench } from 'tinybench';
import { Log } from '../lib/storage/log';
import { describeHost, deviceSyncLatencies, formatUs, latencyHistogram, makeDir, recordUs, removeDir, tiny, writeResults } from './harness';

const TIME_MS = tiny ? 5 : Number(process.env.BENCH_TIME_MS ?? 3000);
const DEPTHS = [1, 16, 256];
const SIZES = [100, 1024];
const DEVICE_SYNCS = tiny ? 20 : 2000;
const BASELINE_GROUP = 256;

function messagesFor(depth: number): number {
  if (tiny) return depth * 2;
  return depth === 1 ? 500 : depth === 16 ? 8000 : 100_000;
}

/** Confirm latencies of one task (µs), in an HDR histogram (bench/harness.ts). */
class Latencies {
  readonly #h = latencyHistogram();
  add(us: number): void {
    recordUs(this.#h, us);
  }
  get count(): number {
    return this.#h.totalCount;
  }
  percentile(p: number): number {
    return this.#h.totalCount === 0 ? NaN : this.#h.getValueAtPercentile(p);
  }
  max(): number {
    return this.#h.maxValue;
  }
}

// performance.now(), not process.hrtime.bigint(): a BigInt per reading, twice per message, was a
// visible share of the per-message work the engine's rows are charged with.
function nowUs(): number {
  return performance.now() * 1000;
}

/** The device: fdatasync after a 4 KiB append, as a program that syncs every write would see. */
function measureDevice(dir: string): Latencies {
  const lat = new Latencies();
  for (const us of deviceSyncLatencies(dir, DEVICE_SYNCS)) lat.add(us);
  return lat;
}

/** A task's sync 'always' Log: opened before its iterations, closed and removed after them. */
class LogSlot {
  #log: Log | undefined;
  get log(): Log {
    return this.#log!;
  }
  hooks() {
    return {
      async: true,
      beforeAll: async () => {
        this.#log = await Log.open(makeDir('log'), { sync: 'always', segmentBytes: 1024 * 1024 * 1024 });
      },
      afterAll: async () => {
        await this.#log!.close();
        removeDir(this.#log!.dir);
      },
    };
  }
}

interface Row {
  name: string;
  msgPerSec: number;
  latency: Latencies;
  note?: string;
}

async function main(): Promise<void> {
  const host = describeHost();
  const root = makeDir('durability');
  const device = measureDevice(root);
  const rows: Row[] = [];
  const bench = new Bench({ time: TIME_MS, warmupTime: tiny ? 1 : 300, iterations: tiny ? 2 : 3, warmupIterations: 1, throws: true });
  const latencies = new Map<string, Latencies>();
  const messages = new Map<string, number>();

  for (const size of SIZES) {
    const payload = randomFillSync(Buffer.alloc(size));
    for (const depth of DEPTHS) {
      const name = `confirm ${size}B sync=always inFlight=${depth}`;
      const n = messagesFor(depth);
      const lat = new Latencies();
      latencies.set(name, lat);
      messages.set(name, n);
      const slot = new LogSlot();
      bench.add(
        name,
        async () => {
          const l = slot.log;
          await new Promise<void>((resolve, reject) => {
            let sent = 0;
            let settled = 0;
            const send = (): void => {
              const t = nowUs();
              l.confirm(l.append(payload), (err) => {
                if (err !== null) return reject(err);
                lat.add(nowUs() - t);
                settled++;
                if (settled === n) resolve();
                else if (sent < n) {
                  sent++;
                  send();
                }
              });
            };
            for (; sent < Math.min(depth, n); ) {
              sent++;
              send();
            }
          });
        },
        slot.hooks(),
      );
    }
    // Batches of BASELINE_GROUP messages with one confirm each, two batches in flight, each
    // sealed (handed to the writer thread) as soon as it is appended: the writer syncs one while
    // the JS thread settles the other's confirm and appends the next. Every message's latency is
    // its batch's, as in the baseline.
    {
      const name = `batch confirm ${size}B sync=always appendBatch=${BASELINE_GROUP} batchesInFlight=2`;
      const n = messagesFor(256);
      const lat = new Latencies();
      latencies.set(name, lat);
      messages.set(name, n);
      const group = Array.from({ length: BASELINE_GROUP }, () => payload);
      const slot = new LogSlot();
      bench.add(
        name,
        async () => {
          const l = slot.log;
          await new Promise<void>((resolve, reject) => {
            let sent = 0;
            let settled = 0;
            const send = (): void => {
              const t = nowUs();
              const first = l.appendBatch(group);
              l.seal();
              sent += group.length;
              l.confirm(first + group.length - 1, (err) => {
                if (err !== null) return reject(err);
                const us = nowUs() - t;
                for (let i = 0; i < group.length; i++) lat.add(us);
                settled += group.length;
                if (settled >= n) resolve();
                else if (sent < n) send();
              });
            };
            send();
            send();
          });
        },
        slot.hooks(),
      );
    }
    const baseName = `baseline writeSync+fdatasyncSync/${BASELINE_GROUP} ${size}B`;
    const n = messagesFor(256);
    const lat = new Latencies();
    latencies.set(baseName, lat);
    messages.set(baseName, n);
    let fd = -1;
    let file = '';
    const frame = Buffer.alloc(4 + size);
    payload.copy(frame, 4);
    frame.writeUInt32LE(size, 0);
    const group = Buffer.concat(Array.from({ length: BASELINE_GROUP }, () => frame));
    bench.add(
      baseName,
      () => {
        // Every message of a group waits for the group's fdatasync: its latency is the group's.
        for (let sent = 0; sent < n; sent += BASELINE_GROUP) {
          const t = nowUs();
          fs.writeSync(fd, group);
          fs.fdatasyncSync(fd);
          const us = nowUs() - t;
          for (let i = 0; i < BASELINE_GROUP; i++) lat.add(us);
        }
      },
      {
        beforeAll: () => {
          file = path.join(makeDir('baseline'), 'frames.dat');
          fd = fs.openSync(file, 'w');
        },
        afterAll: () => {
          fs.closeSync(fd);
          removeDir(path.dirname(file));
        },
      },
    );
  }

  process.stderr.write(`durability: ${bench.tasks.length} tasks, ${TIME_MS} ms each${tiny ? ' (BENCH_TINY)' : ''}\n`);
  await bench.run();
  for (const t of bench.tasks) {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
    rows.push({ name: t.name, msgPerSec: messages.get(t.name)! / (r.period / 1000), latency: latencies.get(t.name)! });
  }
  removeDir(root);

  const devP99 = device.percentile(99);
  const fmt = formatUs;
  const table = [
    '| Task | durable msg/s | MB/s | confirm p50 | p99 | p99.9 | max | samples |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| device fdatasync after a 4 KiB write | ${(1e6 / device.percentile(50)).toFixed(0)} syncs/s at p50 | | ${fmt(device.percentile(50))} | ${fmt(devP99)} | ${fmt(device.percentile(99.9))} | ${fmt(device.max())} | ${device.count} |`,
    ...rows.map((row) => {
      const size = /(\d+)B/.exec(row.name)![1];
      const l = row.latency;
      return `| ${row.name} | ${(row.msgPerSec / 1e3).toFixed(1)} k | ${((row.msgPerSec * Number(size)) / 1e6).toFixed(1)} | ${fmt(l.percentile(50))} | ${fmt(l.percentile(99))} | ${fmt(l.percentile(99.9))} | ${fmt(l.max())} | ${l.count} |`;
    }),
  ].join('\n');
  const light = rows.find((r) => r.name === 'confirm 100B sync=always inFlight=1')!;
  const heavy = rows.find((r) => r.name === 'confirm 100B sync=always inFlight=256')!;
  const base = rows.find((r) => r.name === `baseline writeSync+fdatasyncSync/${BASELINE_GROUP} 100B`)!;
  const batched = rows.find((r) => r.name === `batch confirm 100B sync=always appendBatch=${BASELINE_GROUP} batchesInFlight=2`)!;
  const verdicts = [
    `- 100 B at 256 in flight: ${(heavy.msgPerSec / 1e3).toFixed(0)} k durable msg/s (target 1 M: ${heavy.msgPerSec >= 1e6 ? 'met' : `${((heavy.msgPerSec / 1e6) * 100).toFixed(0)}%`}); ` +
      `${(heavy.msgPerSec / base.msgPerSec).toFixed(2)}x the writeSync+fdatasyncSync baseline, which blocks its event loop.`,
    `- 100 B in batches of ${BASELINE_GROUP} with one confirm each, two in flight: ${(batched.msgPerSec / 1e3).toFixed(0)} k durable msg/s, ` +
      `${(batched.msgPerSec / base.msgPerSec).toFixed(2)}x the baseline (target 0.9x: ${batched.msgPerSec >= 0.9 * base.msgPerSec ? 'met' : 'not met'}).`,
    `- 100 B at 1 in flight: confirm p99 ${fmt(light.latency.percentile(99))} against a device fdatasync p99 of ${fmt(devP99)} ` +
      `(target within 2x: ${light.latency.percentile(99) <= 2 * devP99 ? 'met' : 'not met'}).`,
  ];
  const text = [
    '# Durable confirms: group commit throughput and latency',
    '',
    `- Command: \`${process.env.SLUICE_BENCH_COMMAND ?? 'npm run bench -- durability'}\``,
    `- Date: ${new Date().toISOString()}`,
    `- Time per task: ${TIME_MS} ms (tinybench)`,
    '',
    '## Host',
    '',
    `CPU ${host.cpu}; ${host.cores}; ${host.memory}; ${host.os}, ${host.kernel}; Node ${host.node}; bench directory ${host.benchDir}; load at start ${host.load}.`,
    '',
    '## Results',
    '',
    table,
    '',
    ...verdicts,
    '',
  ].join('\n');
  writeResults('durability', text);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
