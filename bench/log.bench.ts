/**
 * Storage benchmarks: Log.append, Log.appendBatch and a sequential Log.read, each beside a
 * plain-Node baseline handling the same payloads in the same run.
 *
 * The write baseline frames each payload as a 4-byte little-endian length and the bytes into a
 * 64 KiB buffer that fs.writeSync writes to a file whenever the next frame does not fit (and at
 * the end of each iteration, where the log seals). The read baseline reads that file back with
 * fs.readSync in 64 KiB chunks and cuts a Buffer view per frame, as Log.read cuts one per value.
 *
 * Each iteration is a fixed unit of work against a log opened once per task (per tinybench phase),
 * ending with a turn of the event loop so that the end-of-tick seal runs between iterations, as it
 * does in a real program. The `sync=none` tasks use 1 GiB segments, so that they measure the write
 * path with rolls rare and no fsync, like the baseline; the "(defaults)" tasks use the default
 * options (256 MiB segments, sync 'interval') and so include rolls and background flushes.
 *
 * Run with `npm run bench` (or `npm run bench -- log`); BENCH_TINY=1 for the CI smoke run.
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Log, type LogOptions, type SyncPolicy, type WritePath } from '../lib/storage/log';
import { makeDir, nextTurn, removeDir, runSuite, tiny, type BenchCase } from './harness';

const KiB = 1024;
const MiB = 1024 * KiB;

// Sized so that one iteration takes tens of milliseconds at the target rates.
const BATCH = 1000;
const ROUNDS_100B = tiny ? 1 : 100; // 100k messages per iteration
const ROUNDS_1KIB = tiny ? 1 : 20; // 20k messages, 20 MiB per iteration
const READ_MESSAGES = tiny ? 5000 : 1_000_000; // a log of ~110 MB
const SEGMENT_BYTES = tiny ? 16 * MiB : 1024 * MiB;
const ROLL_SEGMENT_BYTES = tiny ? 1 * MiB : undefined; // undefined: the default, 256 MiB
// The baselines never fsync, so the engine is compared with sync 'none'; the "(defaults)" tasks add
// the default 'interval' policy (a background flush at most every second) to rolling.
const SYNC: SyncPolicy = 'none';
const FRAME_BUFFER_BYTES = 64 * KiB;
const READ_MAX_RECORDS = 8192; // Log.read's default

const TARGET_PER_CALL = { msgPerSec: 5e6 };
const TARGET_BATCH = { bytesPerSec: 1.5e9 };
const TARGET_READ = { msgPerSec: 10e6 };

function sizeName(bytes: number): string {
  if (bytes % (1024 * MiB) === 0) return `${bytes / (1024 * MiB)}GiB`;
  if (bytes % MiB === 0) return `${bytes / MiB}MiB`;
  return bytes % KiB === 0 ? `${bytes / KiB}KiB` : `${bytes}B`;
}

/** BATCH distinct random payloads of `size` bytes, views of one allocation. */
function payloads(size: number): Buffer[] {
  const all = randomFillSync(Buffer.alloc(size * BATCH));
  return Array.from({ length: BATCH }, (_, i) => all.subarray(i * size, (i + 1) * size));
}

// ---- Plain-Node baseline ----

/** Length-prefixed frames gathered in a 64 KiB buffer and written with fs.writeSync. */
class FrameWriter {
  readonly #buf = Buffer.allocUnsafe(FRAME_BUFFER_BYTES);
  #pos = 0;
  constructor(readonly fd: number) {}

  write(payload: Buffer): void {
    const len = payload.length;
    if (this.#pos + 4 + len > this.#buf.length) this.flush();
    const b = this.#buf;
    let p = this.#pos;
    b[p++] = len;
    b[p++] = len >>> 8;
    b[p++] = len >>> 16;
    b[p++] = len >>> 24;
    b.set(payload, p);
    this.#pos = p + len;
  }

  flush(): void {
    let done = 0;
    while (done < this.#pos) done += fs.writeSync(this.fd, this.#buf, done, this.#pos - done);
    this.#pos = 0;
  }
}

/** Reads a file of frames in 64 KiB chunks; returns the number of frames and payload bytes seen. */
function readFrames(fd: number): { count: number; bytes: number } {
  const buf = Buffer.allocUnsafe(FRAME_BUFFER_BYTES);
  let position = 0;
  let have = 0;
  let count = 0;
  let bytes = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, have, buf.length - have, position);
    if (n === 0) break;
    position += n;
    have += n;
    let p = 0;
    while (have - p >= 4) {
      const len = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
      if (have - p - 4 < len) break;
      const value = buf.subarray(p + 4, p + 4 + len);
      bytes += value.length;
      count++;
      p += 4 + len;
    }
    buf.copyWithin(0, p, have);
    have -= p;
  }
  if (have !== 0) throw new Error(`${have} bytes of a torn frame at the end of the file`);
  return { count, bytes };
}

function baselineWrite(size: number, rounds: number): BenchCase {
  const pool = payloads(size);
  let dir = '';
  let fd = -1;
  let writer: FrameWriter | undefined;
  return {
    name: `baseline writeSync 64KiB frames ${sizeName(size)}`,
    messagesPerIteration: rounds * BATCH,
    payloadBytesPerIteration: rounds * BATCH * size,
    beforeAll() {
      dir = makeDir('baseline-write');
      fd = fs.openSync(path.join(dir, 'frames'), 'w');
      writer = new FrameWriter(fd);
    },
    async fn() {
      const w = writer!;
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < BATCH; i++) w.write(pool[i]);
      }
      w.flush();
      await nextTurn();
    },
    afterAll() {
      // Not measured: leave no dirty pages behind for the next task to pay for (the log's close
      // syncs its segments too).
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      removeDir(dir);
    },
  };
}

function baselineRead(size: number, messages: number): BenchCase {
  const pool = payloads(size);
  let dir = '';
  let fd = -1;
  return {
    name: `baseline readSync 64KiB frames ${sizeName(size)}`,
    messagesPerIteration: messages,
    payloadBytesPerIteration: messages * size,
    beforeAll() {
      dir = makeDir('baseline-read');
      const file = path.join(dir, 'frames');
      const w = new FrameWriter(fs.openSync(file, 'w'));
      for (let i = 0; i < messages; i++) w.write(pool[i % BATCH]);
      w.flush();
      fs.closeSync(w.fd);
      fd = fs.openSync(file, 'r');
    },
    async fn() {
      const { count, bytes } = readFrames(fd);
      if (count !== messages || bytes !== messages * size) throw new Error(`read ${count} frames, ${bytes} bytes`);
      await nextTurn();
    },
    afterAll() {
      fs.closeSync(fd);
      removeDir(dir);
    },
  };
}

// ---- Engine ----

/** Options for Log.open; undefined fields keep the engine's defaults. */
function logOptions(segmentBytes: number | undefined, sync: SyncPolicy | undefined, writePath?: WritePath): LogOptions {
  const o: LogOptions = {};
  if (segmentBytes !== undefined) o.segmentBytes = segmentBytes;
  if (sync !== undefined) o.sync = sync;
  if (writePath !== undefined) o.writePath = writePath;
  return o;
}

function appendCase(
  size: number,
  rounds: number,
  batched: boolean,
  segmentBytes: number | undefined,
  baseline: string,
  writePath?: WritePath,
): BenchCase {
  const pool = payloads(size);
  const messages = rounds * BATCH;
  let dir = '';
  let log: Log | undefined;
  let next = 0; // the offset the next append must get
  // The large-segment tasks isolate the write path; the others run with the defaults.
  const defaults = segmentBytes !== SEGMENT_BYTES;
  const sync = defaults ? undefined : SYNC;
  const params =
    (writePath !== undefined ? ` writePath=${writePath}` : '') +
    (defaults ? ` segment=${sizeName(segmentBytes ?? 256 * MiB)} sync=interval (defaults: rolls)` : ` sync=${SYNC}`);
  const perCall = async (): Promise<void> => {
    const l = log!;
    let last = -1;
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < BATCH; i++) last = l.append(pool[i]);
    }
    if (last !== next + messages - 1) throw new Error(`the last append got offset ${last}, not ${next + messages - 1}`);
    next += messages;
    await nextTurn();
  };
  const inBatches = async (): Promise<void> => {
    const l = log!;
    let first = -1;
    for (let r = 0; r < rounds; r++) first = l.appendBatch(pool);
    if (first !== next + messages - BATCH) throw new Error(`the last batch got offset ${first}, not ${next + messages - BATCH}`);
    next += messages;
    await nextTurn();
  };
  return {
    name: `append ${sizeName(size)} ${batched ? `batch=${BATCH}` : 'per-call'}${params}`,
    messagesPerIteration: messages,
    payloadBytesPerIteration: messages * size,
    baseline,
    target: batched ? TARGET_BATCH : size === 100 ? TARGET_PER_CALL : undefined,
    async beforeAll() {
      dir = makeDir('append');
      log = await Log.open(dir, logOptions(segmentBytes, sync, writePath));
      next = 0;
    },
    fn: batched ? inBatches : perCall,
    async afterAll() {
      await log!.close();
      log = undefined;
      removeDir(dir);
    },
  };
}

function readCase(size: number, messages: number, baseline: string): BenchCase {
  const pool = payloads(size);
  let dir = '';
  let log: Log | undefined;
  return {
    name: `read ${sizeName(size)} sequential maxRecords=${READ_MAX_RECORDS}`,
    messagesPerIteration: messages,
    payloadBytesPerIteration: messages * size,
    baseline,
    target: TARGET_READ,
    async beforeAll() {
      dir = makeDir('read');
      log = await Log.open(dir, logOptions(SEGMENT_BYTES, SYNC));
      for (let i = 0; i < messages; i += BATCH) log.appendBatch(i + BATCH <= messages ? pool : pool.slice(0, messages - i));
      await log.visible();
      if (log.highWatermark !== messages) throw new Error(`high watermark ${log.highWatermark}, not ${messages}`);
    },
    async fn() {
      const l = log!;
      let offset = 0;
      let bytes = 0;
      while (offset < messages) {
        const records = l.read(offset, { maxRecords: READ_MAX_RECORDS });
        if (records.length === 0) throw new Error(`nothing at offset ${offset}`);
        for (let i = 0; i < records.length; i++) bytes += records[i].value!.length;
        offset = records[records.length - 1].offset + 1;
      }
      if (bytes !== messages * size) throw new Error(`read ${bytes} bytes, not ${messages * size}`);
      await nextTurn();
    },
    async afterAll() {
      await log!.close();
      log = undefined;
      removeDir(dir);
    },
  };
}

async function main(): Promise<void> {
  const write100 = baselineWrite(100, ROUNDS_100B);
  const write1k = baselineWrite(KiB, ROUNDS_1KIB);
  const read100 = baselineRead(100, READ_MESSAGES);
  await runSuite({
    name: 'log',
    title: 'Sluice Log: append, appendBatch and sequential read',
    cases: [
      write100,
      appendCase(100, ROUNDS_100B, false, SEGMENT_BYTES, write100.name),
      appendCase(100, ROUNDS_100B, true, SEGMENT_BYTES, write100.name),
      appendCase(100, ROUNDS_100B, false, ROLL_SEGMENT_BYTES, write100.name),
      appendCase(100, ROUNDS_100B, true, ROLL_SEGMENT_BYTES, write100.name),
      appendCase(100, ROUNDS_100B, false, SEGMENT_BYTES, write100.name, 'mmap'),
      appendCase(100, ROUNDS_100B, true, SEGMENT_BYTES, write100.name, 'mmap'),
      write1k,
      appendCase(KiB, ROUNDS_1KIB, false, SEGMENT_BYTES, write1k.name),
      appendCase(KiB, ROUNDS_1KIB, true, SEGMENT_BYTES, write1k.name),
      appendCase(KiB, ROUNDS_1KIB, true, SEGMENT_BYTES, write1k.name, 'mmap'),
      read100,
      readCase(100, READ_MESSAGES, read100.name),
    ],
    notes: [
      `Work per iteration: ${ROUNDS_100B * BATCH} messages for the 100B tasks, ${ROUNDS_1KIB * BATCH} for the 1KiB ones ` +
        `(per-call: that many Log.append calls in one synchronous loop; batch=${BATCH}: that many messages in ` +
        `Log.appendBatch calls of ${BATCH}), then one turn of the event loop, during which the log seals its open batch. ` +
        `The same ${BATCH} distinct random payloads are appended over and over; no keys, headers or explicit timestamps. ` +
        `The sync=none tasks use ${sizeName(SEGMENT_BYTES)} segments and never fsync while measured; the "(defaults)" ` +
        `tasks use the default options, so they roll segments and flush them in the background (sync 'interval': at ` +
        `most every second, and at each roll). Logs and files are synced and deleted after each task, unmeasured. ` +
        `Tasks without writePath use the default, 'pwrite' (the open batch is built in a buffer and written with one ` +
        `pwrite when sealed); 'writePath=mmap' tasks build it in place in the segment's shared mapping, whose pages ` +
        `a background thread faults in ahead of the writer.`,
      `Read: a log of ${READ_MESSAGES} messages of 100 B (sync=none), written and sealed before the task, is read from offset 0 ` +
        `to its end per iteration with Log.read(offset, {maxRecords: ${READ_MAX_RECORDS}}) (maxBytes 1 MiB, the default), ` +
        `adding up every value's length. The data is in the page cache on both sides.`,
      'Baselines: writeSync frames each payload as a 4-byte length and the bytes in a 64 KiB buffer, written with ' +
        'fs.writeSync when the next frame does not fit and at the end of each iteration; readSync reads that file ' +
        'in 64 KiB chunks with fs.readSync and cuts a Buffer view of each payload.',
      'Targets (2-core host): per-call append of 100 B >= 5 M msg/s; appendBatch >= 1.5 GB/s of payload; ' +
        'sequential read >= 10 M msg/s.',
    ],
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
