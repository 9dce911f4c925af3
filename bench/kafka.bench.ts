/**
 * The Kafka-protocol server over loopback, each task beside an in-process or plain-Node baseline
 * measured in the same run:
 *
 *   - produce: kcat (librdkafka 2.0.2) producing N lines from a file, a native load generator
 *     (bench/native/produce-load.c: Produce v3 of ready-made 64 KiB batches, 8 in flight; the
 *     server's ingest without a client library's costs) and kafkajs 2.2.4 sending batches of
 *     1000 (8 in flight), 100 B and 1 KiB, acks 1 (topic sync 'none') and acks -1
 *     (topic sync 'always'); the baseline is the in-process Log.appendBatch of the same payloads
 *     (sync 'none'), the ceiling the issue sets the protocol path against (aim: librdkafka >= 0.5x);
 *   - fetch: a topic of FETCH_BYTES (1 GiB) read from offset 0 to the end over one connection by
 *     a C consumer (bench/native/fetch-client.c: Fetch v4 one after another, maxBytes 50 MiB)
 *     from the zero-copy server and from one with zeroCopy: false, by a Node raw consumer and by
 *     kcat -C -e; the baseline is the C sendfile(2) of the same segment bytes to the same C
 *     reader, the limit of any server on this host (the target: >= 0.8x);
 *   - end-to-end latency: a kafkajs producer to a kafkajs consumer at fixed rates (acks -1 on a
 *     sync 'always' topic, acks 1 on a sync 'none' one), timed from each message's intended send
 *     time, beside the in-process send-to-poll path (bench/kafka-e2e-client.ts).
 *
 * The server runs in this process (as an application embedding Server would); clients are child
 * processes (kcat) or in this process (kafkajs, the raw consumer). Times include each kcat's start.
 * BENCH_TINY=1 runs every task on a few thousand messages.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Broker } from '../lib/broker/broker';
import { Server } from '../lib/kafka';
import { decodeFetchResponse, encodeFetchRequest } from '../lib/kafka/protocol/generated';
import { Reader } from '../lib/kafka/protocol/reader';
import { Writer } from '../lib/kafka/protocol/writer';
import { Log } from '../lib/storage/log';
import { describeHost, latencyCells, makeDir, removeDir, tiny, writeResults, type LatencySummary } from './harness';

const MESSAGES: Record<number, number> = tiny ? { 100: 5000, 1024: 2000 } : { 100: 1_000_000, 1024: 300_000 };
const FETCH_BYTES = tiny ? 8 * 1024 * 1024 : 1024 * 1024 * 1024;
const KAFKAJS_BATCH = 1000;
const KAFKAJS_IN_FLIGHT = 8;

interface Row {
  task: string;
  size: number | null;
  messages: number;
  bytes: number;
  ms: number;
  baseline: string | null;
}

function payloadLine(i: number, size: number): string {
  const head = `m${i}-`;
  return head + 'x'.repeat(Math.max(0, size - head.length));
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function runKcat(args: string[], stdinFile?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: [stdinFile === undefined ? 'ignore' : fs.openSync(stdinFile, 'r'), 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat ${args.join(' ')}: exit ${code}: ${err}`))));
  });
}

async function withServer<T>(fn: (broker: Broker, address: string, port: number) => Promise<T>): Promise<T> {
  const dir = makeDir('kafka');
  const broker = await Broker.open(dir);
  const server = await Server.start({ broker, port: 0 });
  try {
    return await fn(broker, `127.0.0.1:${server.address.port}`, server.address.port);
  } finally {
    await server.close();
    await broker.close();
    removeDir(dir);
  }
}

async function baselineAppendBatch(size: number, n: number): Promise<number> {
  const dir = makeDir('kafka-baseline');
  const log = await Log.open(dir, { sync: 'none', segmentBytes: 1024 * 1024 * 1024 });
  const batch = Array.from({ length: 1000 }, (_, i) => Buffer.from(payloadLine(i, size)));
  const ms = await timed(async () => {
    for (let i = 0; i < n; i += 1000) log.appendBatch(i + 1000 <= n ? batch : batch.slice(0, n - i));
    await log.visible();
  });
  await log.close();
  removeDir(dir);
  return ms;
}

async function kcatProduce(size: number, n: number, acks: 1 | -1): Promise<number> {
  const file = path.join(makeDir('kafka-input'), 'lines');
  fs.writeFileSync(file, `${Array.from({ length: n }, (_, i) => payloadLine(i, size)).join('\n')}\n`);
  try {
    return await withServer(async (broker, address) => {
      await broker.createTopic('bench', { partitions: 1, sync: acks === -1 ? 'always' : 'none', segmentBytes: 1024 * 1024 * 1024 });
      const ms = await timed(() => runKcat(['-b', address, '-P', '-t', 'bench', '-p', '0', '-X', `acks=${acks === -1 ? 'all' : '1'}`, '-X', 'linger.ms=5'], file));
      const end = broker.describeTopic('bench').partitions[0].endOffset;
      if (end !== n) throw new Error(`kcat produced ${end} of ${n}`);
      return ms;
    });
  } finally {
    removeDir(path.dirname(file));
  }
}

async function kafkajsProduce(size: number, n: number, acks: 1 | -1): Promise<number> {
  return withServer(async (broker, address) => {
    await broker.createTopic('bench', { partitions: 1, sync: acks === -1 ? 'always' : 'none', segmentBytes: 1024 * 1024 * 1024 });
    const producer = new Kafka({ brokers: [address], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const messages = Array.from({ length: KAFKAJS_BATCH }, (_, i) => ({ value: payloadLine(i, size) }));
    let next = 0;
    const ms = await timed(async () => {
      await Promise.all(
        Array.from({ length: KAFKAJS_IN_FLIGHT }, async () => {
          while (next < n) {
            const count = Math.min(KAFKAJS_BATCH, n - next);
            next += count;
            await producer.send({ topic: 'bench', acks, messages: count === KAFKAJS_BATCH ? messages : messages.slice(0, count) });
          }
        }),
      );
    });
    await producer.disconnect();
    const end = broker.describeTopic('bench').partitions[0].endOffset;
    if (end !== n) throw new Error(`kafkajs produced ${end} of ${n}`);
    return ms;
  });
}

/** Fetches the whole partition with Fetch v11 requests, one at a time, counting the record bytes. */
function rawFetchAll(port: number, end: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let offset = 0;
    let bytes = 0;
    let chunks: Buffer[] = [];
    let have = 0;
    const ask = (): void => {
      const w = new Writer();
      encodeFetchRequest(w, 11, {
        replicaId: -1,
        maxWaitMs: 100,
        minBytes: 1,
        maxBytes: 50 * 1024 * 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: 'bench', partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 50 * 1024 * 1024 }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
      const body = w.toBuffer();
      const header = Buffer.alloc(4 + 10);
      header.writeInt32BE(10 + body.length, 0);
      header.writeInt16BE(1, 4);
      header.writeInt16BE(11, 6);
      header.writeInt32BE(offset, 8);
      header.writeInt16BE(-1, 12);
      s.write(Buffer.concat([header, body]));
    };
    s.on('connect', ask);
    s.on('error', reject);
    let size = -1;
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      have += c.length;
      if (have < 4) return;
      // Joined once per response, when all of it is here (not on every chunk: a 50 MiB response
      // arrives in hundreds of them).
      if (size < 0) {
        const head = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        chunks = [head];
        size = head.readInt32BE(0);
      }
      if (have < 4 + size) return;
      const first = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      const res = decodeFetchResponse(new Reader(first, 8, 4 + size), 11);
      const records = res.responses[0].partitions[0].records as Buffer;
      bytes += records.length;
      // The offset after the last whole batch: its base offset plus lastOffsetDelta + 1.
      for (let at = 0; at + 61 <= records.length; ) {
        const total = 12 + records.readInt32BE(at + 8);
        if (at + total > records.length) break;
        offset = Number(records.readBigInt64BE(at)) + records.readInt32BE(at + 23) + 1;
        at += total;
      }
      const rest = first.subarray(4 + size);
      chunks = rest.length > 0 ? [rest] : [];
      have = rest.length;
      size = -1;
      if (offset >= end) {
        s.destroy();
        resolve(bytes);
      } else ask();
    });
  });
}

/** Builds bench/native/NAME.c into `dir`; null without a C compiler. */
function buildNative(dir: string, name: string): string | null {
  const out = path.join(dir, name);
  const r = spawnSync('cc', ['-O2', '-pthread', '-o', out, path.join(__dirname, 'native', `${name}.c`)], { stdio: 'inherit' });
  return r.status === 0 ? out : null;
}

/** Runs a bench/native program; returns the two numbers of its "NAME=N ms=T" line. */
function runNative(bin: string, args: string[]): Promise<{ count: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const m = /\w+=(\d+) ms=([\d.]+)/.exec(out);
      if (code !== 0 || m === null) reject(new Error(`${path.basename(bin)} ${args.join(' ')}: exit ${code}: ${out}`));
      else resolve({ count: Number(m[1]), ms: Number(m[2]) });
    });
  });
}

function runFetchClient(bin: string, args: string[]): Promise<{ bytes: number; ms: number }> {
  return runNative(bin, args).then(({ count, ms }) => ({ bytes: count, ms }));
}

/** Record batches of about this many bytes per Produce request from the native load generator. */
const LOAD_BATCH_BYTES = 64 * 1024;
const LOAD_IN_FLIGHT = 8;

/** The native load generator (bench/native/produce-load.c) producing n messages of `size` bytes. */
async function nativeProduce(bin: string, size: number, n: number, acks: 1 | -1): Promise<{ count: number; ms: number }> {
  return withServer(async (broker, _address, port) => {
    await broker.createTopic('bench', { partitions: 1, sync: acks === -1 ? 'always' : 'none', segmentBytes: 1024 * 1024 * 1024 });
    const batch = Math.max(1, Math.floor(LOAD_BATCH_BYTES / (size + 10)));
    const { count, ms } = await runNative(bin, [String(port), 'bench', String(size), String(n), String(batch), String(acks), String(LOAD_IN_FLIGHT)]);
    const end = broker.describeTopic('bench').partitions[0].endOffset;
    if (end !== count) throw new Error(`produce-load produced ${end} of ${count}`);
    return { count, ms }; // whole requests: up to one batch more than n
  });
}

/** The median of `runs` timings of `fn`, interleaved with the other tasks' by the caller. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const SENDFILE_BASELINE = 'baseline: C sendfile(2) of the segment bytes to a C reader';

async function fetchTasks(rows: Row[]): Promise<void> {
  const dir = makeDir('kafka-fetch');
  const broker = await Broker.open(dir);
  const zero = await Server.start({ broker, port: 0 });
  const copy = await Server.start({ broker, port: 0, zeroCopy: false });
  try {
    await broker.createTopic('bench', { partitions: 1, sync: 'none', segmentBytes: 1024 * 1024 * 1024 });
    const p = broker.partition('bench', 0);
    const value = Buffer.alloc(1024, 7);
    const batch = Array.from({ length: 1000 }, () => ({ value }));
    while (p.offsets().endOffset * 1100 < FETCH_BYTES) await broker.sendBatch('bench', batch);
    const end = p.offsets().endOffset;
    await p.visible(end - 1);
    const slice = p.slice(0, 1)!;
    fs.closeSync(slice.fd);
    const bin = buildNative(dir, 'fetch-client');
    const times = new Map<string, number[]>();
    const add = (task: string, ms: number): void => void (times.get(task) ?? times.set(task, []).get(task)!).push(ms);
    let fetched = 0;
    const zeroTask = 'fetch: C consumer, Fetch v4 one at a time, maxBytes 50 MiB, zero copy (sendfile)';
    const copyTask = 'fetch: the same consumer, server with zeroCopy: false (pread + socket.write)';
    const nodeTask = 'fetch: Node raw consumer, Fetch v11 one at a time, maxBytes 50 MiB, zero copy';
    // Three rounds, the tasks interleaved in each: the median of each task is reported.
    for (let round = 0; round < 3; round++) {
      if (bin !== null) {
        const z = await runFetchClient(bin, ['fetch', String(zero.address.port), 'bench', String(end)]);
        fetched = z.bytes;
        add(zeroTask, z.ms);
        add(SENDFILE_BASELINE, (await runFetchClient(bin, ['sendfile', slice.path, String(fetched)])).ms);
        add(copyTask, (await runFetchClient(bin, ['fetch', String(copy.address.port), 'bench', String(end)])).ms);
      }
      add(nodeTask, await timed(async () => {
        fetched = await rawFetchAll(zero.address.port, end);
      }));
    }
    const kcatMs = await timed(() => runKcat(['-b', `127.0.0.1:${zero.address.port}`, '-C', '-t', 'bench', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '']));
    const baseline = bin === null ? null : SENDFILE_BASELINE;
    for (const [task, ms] of times) rows.push({ task, size: 1024, messages: task === SENDFILE_BASELINE ? 0 : end, bytes: fetched, ms: median(ms), baseline: task === SENDFILE_BASELINE ? null : baseline });
    rows.push({ task: 'fetch: kcat -C -e (librdkafka; one run, its start included)', size: 1024, messages: end, bytes: fetched, ms: kcatMs, baseline });
    const stats = zero.stats();
    zeroCopyShare = stats.fetchBytesZeroCopy / (stats.fetchBytesZeroCopy + stats.fetchBytesCopied);
  } finally {
    await zero.close();
    await copy.close();
    await broker.close();
    removeDir(dir);
  }
}

const E2E_RATES = tiny ? [200] : [1000, 5000];
const E2E_MS = tiny ? 1000 : 10_000;

interface LatencyRow {
  task: string;
  rate: number;
  summary: LatencySummary & { lost: number };
}

/** Starts bench/kafka-e2e-client.ts in a child process; `ready` resolves at its "ready" line, `result` with its JSON line. */
function e2eClient(args: string[]): { ready: Promise<void>; result: Promise<LatencySummary & { lost: number }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'kafka-e2e-client.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.on('data', (d) => {
    out += d;
    if (out.includes('ready\n')) onReady();
  });
  child.stderr.on('data', (d) => (err += d));
  const result = new Promise<LatencySummary & { lost: number }>((resolve, reject) =>
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        const last = out.trim().split('\n').pop()!;
        resolve(last.startsWith('{') ? JSON.parse(last) : null);
      } catch (e) {
        reject(new Error(`kafka-e2e-client ${args.join(' ')}: ${(e as Error).message}: ${err}`));
      }
    }),
  );
  return { ready, result };
}

/** One Kafka latency task: the consumer in one child, once it is ready the producer in another. */
async function kafkaLatency(port: number, topic: string, rate: number, acks: number): Promise<LatencySummary & { lost: number }> {
  const consumer = e2eClient(['consume', String(port), topic, String(rate), String(E2E_MS)]);
  await Promise.race([consumer.ready, consumer.result]);
  await e2eClient(['produce', String(port), topic, String(rate), String(E2E_MS), String(acks)]).result;
  return consumer.result;
}

/** End-to-end latency at fixed rates: kafkajs producer to kafkajs consumer through the server, beside the in-process path. */
async function latencyTasks(rows: LatencyRow[]): Promise<void> {
  for (const rate of E2E_RATES) {
    const baseDir = makeDir('kafka-e2e-base');
    rows.push({ task: "baseline: in-process send() to a consumer's poll(), sync 'always'", rate, summary: await e2eClient(['inproc', baseDir, String(rate), String(E2E_MS)]).result });
    removeDir(baseDir);
    await withServer(async (broker, _address, port) => {
      await broker.createTopic('always', { partitions: 1, sync: 'always' });
      await broker.createTopic('none', { partitions: 1, sync: 'none' });
      rows.push({ task: "kafkajs producer (acks -1) to kafkajs consumer, topic sync 'always'", rate, summary: await kafkaLatency(port, 'always', rate, -1) });
      rows.push({ task: "kafkajs producer (acks 1) to kafkajs consumer, topic sync 'none'", rate, summary: await kafkaLatency(port, 'none', rate, 1) });
    });
  }
}

/** The share of record bytes the zero-copy server sent with sendfile (the rest went as probes). */
let zeroCopyShare = 0;

async function main(): Promise<void> {
  const host = describeHost();
  const rows: Row[] = [];
  const binDir = makeDir('kafka-bin');
  const load = buildNative(binDir, 'produce-load');
  for (const size of [100, 1024]) {
    const n = MESSAGES[size];
    const baseName = `baseline: in-process Log.appendBatch ${size} B`;
    // The baseline, the native load generator and kcat: three rounds, interleaved, each task's
    // median reported (on this VM a write into fresh page-cache pages costs up to 4x more when the
    // guest has just returned its free memory to the host: see the README). kafkajs: one run.
    const timesOf = new Map<string, { messages: number; ms: number[] }>();
    const add = (task: string, messages: number, ms: number): void => {
      const t = timesOf.get(task) ?? timesOf.set(task, { messages, ms: [] }).get(task)!;
      t.ms.push(ms);
    };
    for (let round = 0; round < 3; round++) {
      add(baseName, n, await baselineAppendBatch(size, n));
      for (const acks of [1, -1] as const) {
        if (load !== null) {
          const r = await nativeProduce(load, size, n, acks);
          add(`produce: native load generator ${size} B acks=${acks}, ${LOAD_BATCH_BYTES / 1024} KiB batches, ${LOAD_IN_FLIGHT} in flight`, r.count, r.ms);
        }
        add(`produce: kcat -P ${size} B acks=${acks}`, n, await kcatProduce(size, n, acks));
      }
    }
    for (const [task, t] of timesOf) rows.push({ task, size, messages: t.messages, bytes: t.messages * size, ms: median(t.ms), baseline: task === baseName ? null : baseName });
    for (const acks of [1, -1] as const) {
      rows.push({ task: `produce: kafkajs ${size} B acks=${acks} batch=${KAFKAJS_BATCH} inFlight=${KAFKAJS_IN_FLIGHT}`, size, messages: n, bytes: n * size, ms: await kafkajsProduce(size, n, acks), baseline: baseName });
    }
    process.stderr.write(`kafka: produce ${size} B done\n`);
  }
  removeDir(binDir);
  await fetchTasks(rows);
  process.stderr.write('kafka: fetch done\n');
  const latency: LatencyRow[] = [];
  await latencyTasks(latency);
  const byName = new Map(rows.map((r) => [r.task, r]));
  const rate = (r: Row): string => (r.messages === 0 ? '' : `${((r.messages / r.ms) * 1000).toLocaleString('en', { maximumFractionDigits: 0 })}`);
  const mbs = (r: Row): string => ((r.bytes / r.ms / 1000)).toFixed(0);
  const vs = (r: Row): string => {
    if (r.baseline === null) return '(baseline)';
    const b = byName.get(r.baseline)!;
    return `${(b.ms / r.ms * (r.bytes / b.bytes)).toFixed(2)}x`;
  };
  const text = [
    '# Kafka-protocol server: produce and fetch over loopback',
    '',
    `- Command: \`${process.env.SLUICE_BENCH_COMMAND ?? 'npm run bench -- kafka'}\``,
    `- Date: ${new Date().toISOString()}`,
    '',
    '## Host',
    '',
    `CPU ${host.cpu}; ${host.cores}; ${host.memory}; ${host.os}, ${host.kernel}; Node ${host.node}; bench directory ${host.benchDir}; load at start ${host.load}.`,
    '',
    '## Results',
    '',
    'Produce: the baseline, the native load generator and kcat are the median of three interleaved runs',
    '(kcat times include its start); kafkajs one run. "vs baseline" compares bytes per second with the',
    "row's baseline. Produce tasks use one partition; acks=1 on a sync 'none' topic, acks=-1 on a sync",
    "'always' topic (every acknowledgement after an fdatasync). Fetch reads one topic of 1 KiB",
    'messages (about 1 GB) from offset 0 to the end over loopback; the C rows and the Node consumer',
    'are the median of three interleaved runs; the baseline is a C sendfile(2) of the same segment',
    `bytes to the same C reader. The zero-copy server sent ${(zeroCopyShare * 100).toFixed(2)}% of its record bytes with`,
    'sendfile (the rest: 4 KiB probe writes when the socket was full).',
    '',
    '| Task | msg/s | MB/s | vs baseline | ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.task} | ${rate(r)} | ${mbs(r)} | ${vs(r)} | ${r.ms.toFixed(0)} |`),
    '',
    '## End-to-end latency',
    '',
    `Messages of 100 B sent on a fixed schedule for ${E2E_MS / 1000} s after a 1 s warm-up, each timed from its intended`,
    'send time (a late send is charged for its lateness; the time travels in the message) to its arrival',
    'at the consumer; one partition. Producer and consumer are kafkajs 2.2.4, each in a child process of',
    'its own (one message per send; a consumer group parked at the end), the server in this one. The',
    'baseline is the in-process path, send() to poll(), in a child process of its own.',
    '',
    '| Path | msg/s | p50 | p99 | p99.9 | max | lost |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...latency.map((r) => `| ${r.task} | ${r.rate.toLocaleString('en')} | ${latencyCells(r.summary)} | ${r.summary.lost} |`),
    '',
  ].join('\n');
  writeResults('kafka', text);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
