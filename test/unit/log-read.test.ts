/**
 * Read semantics: the range rules (empty at the high watermark, OFFSET_OUT_OF_RANGE outside
 * [startOffset, endOffset]), the size and count limits, visibility after the seal, and the three
 * lookups that use the sparse indexes (read, slice, offsetForTime) checked against brute force over
 * a full sequential scan, on logs with many segments and index entries.
 *
 * Random content is seeded; the seed is printed (replay with SLUICE_TEST_SEED=<seed>).
 */
import * as fs from 'node:fs';
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, Log, SluiceError, type LogOptions, type LogRecord } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';
import { decodeLogFile } from '../format/kafka-decoder';
import { mulberry32 } from '../helpers/prng';

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openLog(options: LogOptions = {}, dir = tmpDir()): Promise<Log> {
  const log = await Log.open(dir, { segmentBytes: 1 << 20, ...options });
  open.push(log);
  return log;
}

function seeded(name: string): () => number {
  const s = process.env.SLUICE_TEST_SEED;
  const seed = s !== undefined ? Number(s) : Math.floor(Math.random() * 2 ** 31);
  console.log(`${name}: seed=${seed} (replay with SLUICE_TEST_SEED=${seed})`);
  return mulberry32(seed);
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SluiceError);
  expect((caught as SluiceError).code).toBe(code);
}

interface Plain {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | null]>;
}
function plain(r: { offset: number; timestamp: number; key: Buffer | null; value: Buffer | null; headers: ReadonlyArray<{ key: string; value: Buffer | null }> }): Plain {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : r.key.toString('hex'),
    value: r.value === null ? null : r.value.toString('hex'),
    headers: r.headers.map((h) => [h.key, h.value === null ? null : h.value.toString('hex')]),
  };
}

/** The whole log by a sequential scan: each read starts where the previous one ended. */
function scan(log: Log): Plain[] {
  const out: Plain[] = [];
  let offset = log.startOffset;
  while (offset < log.highWatermark) {
    const records = log.read(offset);
    expect(records.length).toBeGreaterThan(0);
    expect(records[0].offset).toBe(offset);
    for (const r of records) out.push(plain(r));
    offset = records[records.length - 1].offset + 1;
  }
  expect(log.read(offset)).toEqual([]);
  return out;
}

/** Appends `count` random records in batches of random sizes; timestamps from `timestampOf`. */
async function fill(log: Log, rand: () => number, count: number, timestampOf: (i: number) => number): Promise<void> {
  let i = 0;
  while (i < count) {
    const n = Math.min(count - i, 1 + Math.floor(rand() * 30));
    for (let j = 0; j < n; j++, i++) {
      const size = Math.floor(rand() * 300);
      const value = Buffer.alloc(size, i & 0xff);
      if (size >= 4) value.writeUInt32BE(i, 0);
      log.append(size >= 4 ? value : null, {
        key: rand() < 0.5 ? `k${i}` : null,
        headers: rand() < 0.2 ? [['n', String(i)], ['n', null]] : undefined,
        timestamp: timestampOf(i),
      });
    }
    if (rand() < 0.5) log.seal();
    else await log.visible();
  }
  await log.visible();
}

function sliceBytes(s: { fd: number; position: number; length: number }): Buffer {
  const buf = Buffer.alloc(s.length);
  try {
    let done = 0;
    while (done < s.length) {
      const n = fs.readSync(s.fd, buf, done, s.length - done, s.position + done);
      expect(n).toBeGreaterThan(0);
      done += n;
    }
  } finally {
    fs.closeSync(s.fd);
  }
  return buf;
}

describe('offset range', () => {
  it('returns an empty array at the high watermark and OFFSET_OUT_OF_RANGE past the end', async () => {
    const log = await openLog();
    expect(log.read(0)).toEqual([]);
    expectCode(() => log.read(1), ErrorCode.OFFSET_OUT_OF_RANGE);
    log.appendBatch(['a', 'b', 'c']);
    await log.visible();
    expect(log.highWatermark).toBe(3);
    expect(log.read(3)).toEqual([]);
    expectCode(() => log.read(4), ErrorCode.OFFSET_OUT_OF_RANGE);
    expectCode(() => log.read(1_000_000), ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(log.read(2).map((r) => r.value!.toString())).toEqual(['c']);
  });

  it('gives OFFSET_OUT_OF_RANGE below the start offset', async () => {
    const log = await openLog({ segmentBytes: 65536, retentionBytes: 0 });
    for (let i = 0; i < 2000; i++) log.append(Buffer.alloc(100, i & 0xff));
    await log.visible();
    log.retain(Date.now());
    const start = log.startOffset;
    expect(start).toBeGreaterThan(0);
    expectCode(() => log.read(0), ErrorCode.OFFSET_OUT_OF_RANGE);
    expectCode(() => log.read(start - 1), ErrorCode.OFFSET_OUT_OF_RANGE);
    expectCode(() => log.slice(start - 1), ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(log.read(start)[0].offset).toBe(start);
  });
});

describe('visibility', () => {
  it('shows appended records only after the end-of-tick seal', async () => {
    const log = await openLog();
    log.append('a');
    log.append('b');
    expect(log.endOffset).toBe(2);
    expect(log.highWatermark).toBe(0);
    // Between the high watermark and the end offset there is nothing yet: empty, not an error.
    expect(log.read(0)).toEqual([]);
    expect(log.read(1)).toEqual([]);
    expect(log.read(2)).toEqual([]);
    expectCode(() => log.read(3), ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(log.slice(0)).toBeNull();
    await log.visible();
    expect(log.highWatermark).toBe(2);
    expect(log.read(0).map((r) => r.value!.toString())).toEqual(['a', 'b']);
  });

  it('shows them once written after seal(), which hands the batch to the writer thread', async () => {
    const log = await openLog();
    log.append('a');
    log.seal();
    expect(log.endOffset).toBe(1);
    await expect(log.visible()).resolves.toBe(1);
    expect(log.read(0).map((r) => r.value!.toString())).toEqual(['a']);
    log.appendBatch(['b', 'c']);
    expect(log.read(1)).toEqual([]);
    log.seal();
    log.seal(); // nothing open: a no-op
    await log.visible(1); // resolves once offset 1 is visible, which brings 2 along (one batch)
    expect(log.read(1).map((r) => r.value!.toString())).toEqual(['b', 'c']);
    expect(log.highWatermark).toBe(3);
    // Already visible: resolves at once; past the end: a RangeError.
    await expect(log.visible(0)).resolves.toBe(3);
    await expect(log.visible(3)).rejects.toThrow(RangeError);
  });

  it('seals a batch that reached batchBytesMax before the tick ends, and shows it once written', async () => {
    const log = await openLog({ batchBytesMax: 1024 });
    for (let i = 0; i < 30; i++) log.append(Buffer.alloc(100, i));
    expect(log.highWatermark).toBeLessThan(30);
    // The first batch filled up during the appends: it becomes visible without waiting for the
    // end-of-tick seal of the rest.
    const first = new Promise<number>((resolve) => log.onVisible(() => resolve(log.highWatermark), 0));
    const hw = await first;
    expect(hw).toBeGreaterThan(0);
    const visible = log.read(0, { maxBytes: 1 << 20 });
    expect(visible.length).toBeGreaterThan(0);
    expect(visible[visible.length - 1].offset).toBeLessThan(log.highWatermark);
    visible.forEach((r, i) => expect(r.value![0]).toBe(i));
    await log.visible();
    expect(log.highWatermark).toBe(30);
  });

  it("makes a sealed batch visible at its seal under sync 'none' (no sync runs on the active segment), with both write paths", async () => {
    for (const writePath of ['pwrite', 'mmap'] as const) {
      const log = await openLog({ sync: 'none', writePath });
      for (let t = 0; t < 3; t++) {
        log.append(`t${t}`);
        expect(log.read(t)).toEqual([]);
        log.seal();
        expect(log.highWatermark).toBe(t + 1);
        expect(log.read(t).map((r) => r.value!.toString())).toEqual([`t${t}`]);
        await expect(log.confirm(t)).resolves.toEqual({ offset: t, durable: false });
      }
      await log.close();
    }
  });

  it('makes an append inside a later tick visible on its own seal', async () => {
    const log = await openLog();
    for (let t = 0; t < 5; t++) {
      log.append(`t${t}`);
      expect(log.read(t)).toEqual([]);
      await log.visible();
      expect(log.read(t).map((r) => r.value!.toString())).toEqual([`t${t}`]);
    }
  });
});

describe('limits', () => {
  // Three batches of known record counts; the size of each comes from slice().
  async function threeBatches(): Promise<{ log: Log; sizes: number[] }> {
    const log = await openLog();
    const counts = [5, 3, 4];
    let offset = 0;
    const sizes: number[] = [];
    for (const c of counts) {
      log.appendBatch(Array.from({ length: c }, (_, i) => Buffer.alloc(50 + i, offset + i)));
      log.seal();
      await log.visible();
      const s = log.slice(offset, { maxBytes: 1 })!;
      fs.closeSync(s.fd);
      expect(s.firstOffset).toBe(offset);
      expect(s.nextOffset).toBe(offset + c);
      sizes.push(s.length);
      offset += c;
    }
    return { log, sizes };
  }

  it('returns whole batches up to maxBytes, and at least one batch', async () => {
    const { log, sizes } = await threeBatches();
    const offsets = (rs: LogRecord[]): number[] => rs.map((r) => r.offset);
    expect(offsets(log.read(0, { maxBytes: 1 }))).toEqual([0, 1, 2, 3, 4]);
    expect(offsets(log.read(0, { maxBytes: sizes[0] }))).toEqual([0, 1, 2, 3, 4]);
    expect(offsets(log.read(0, { maxBytes: sizes[0] + sizes[1] - 1 }))).toEqual([0, 1, 2, 3, 4]);
    expect(offsets(log.read(0, { maxBytes: sizes[0] + sizes[1] }))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(offsets(log.read(0, { maxBytes: sizes[0] + sizes[1] + sizes[2] }))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(offsets(log.read(0))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // From the middle of a batch the whole batch still counts.
    expect(offsets(log.read(3, { maxBytes: sizes[0] }))).toEqual([3, 4]);
    expect(offsets(log.read(3, { maxBytes: sizes[0] + sizes[1] }))).toEqual([3, 4, 5, 6, 7]);
    expect(offsets(log.read(6, { maxBytes: 1 }))).toEqual([6, 7]);
  });

  it('slices whole batches up to maxBytes, and at least one batch', async () => {
    const { log, sizes } = await threeBatches();
    const extent = (o: number, maxBytes: number): [number, number, number] => {
      const s = log.slice(o, { maxBytes })!;
      fs.closeSync(s.fd);
      return [s.position, s.length, s.nextOffset];
    };
    expect(extent(0, 1)).toEqual([0, sizes[0], 5]);
    expect(extent(0, sizes[0] + sizes[1] - 1)).toEqual([0, sizes[0], 5]);
    expect(extent(0, sizes[0] + sizes[1])).toEqual([0, sizes[0] + sizes[1], 8]);
    expect(extent(4, 1 << 20)).toEqual([0, sizes[0] + sizes[1] + sizes[2], 12]);
    expect(extent(5, 1)).toEqual([sizes[0], sizes[1], 8]);
    expect(extent(11, 1)).toEqual([sizes[0] + sizes[1], sizes[2], 12]);
  });

  it('returns at most maxRecords, cutting inside a batch', async () => {
    const { log } = await threeBatches();
    expect(log.read(0, { maxRecords: 1 }).map((r) => r.offset)).toEqual([0]);
    expect(log.read(0, { maxRecords: 3 }).map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(log.read(3, { maxRecords: 4 }).map((r) => r.offset)).toEqual([3, 4, 5, 6]);
    expect(log.read(2, { maxRecords: 2, maxBytes: 1 }).map((r) => r.offset)).toEqual([2, 3]);
    expect(log.read(0, { maxRecords: 100 }).length).toBe(12);
  });

  it('reads from the middle of a batch', async () => {
    const log = await openLog();
    log.appendBatch(Array.from({ length: 10 }, (_, i) => `r${i}`));
    await log.visible();
    for (let o = 0; o < 10; o++) {
      expect(log.read(o).map((r) => r.value!.toString())).toEqual(Array.from({ length: 10 - o }, (_, i) => `r${o + i}`));
    }
  });

  it('caps maxRecords at 65536', async () => {
    const log = await openLog({ segmentBytes: 16 << 20 });
    log.appendBatch(Array.from({ length: 70_000 }, () => null));
    await log.visible();
    const records = log.read(0, { maxRecords: 1_000_000, maxBytes: 64 << 20 });
    expect(records.length).toBe(65536);
    expect(records[65535].offset).toBe(65535);
    expect(log.read(65536, { maxRecords: 1_000_000 }).length).toBe(70_000 - 65536);
  });
});

describe('index lookups agree with a sequential scan', () => {
  const options = { segmentBytes: 65536, indexIntervalBytes: 256, batchBytesMax: 4096 };

  async function build(name: string): Promise<{ log: Log; dir: string; all: Plain[] }> {
    const rand = seeded(name);
    const dir = tmpDir();
    const log = await openLog(options, dir);
    await fill(log, rand, 6000, (i) => 1_000_000 + i);
    expect(log.stats().segments).toBeGreaterThanOrEqual(10);
    const all = scan(log);
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    return { log, dir, all };
  }

  function checkEveryOffset(log: Log, all: Plain[]): void {
    for (const want of all) {
      const [got] = log.read(want.offset, { maxRecords: 1 });
      expect(plain(got)).toEqual(want);
    }
    for (let o = 0; o < all.length; o += 97) {
      // Up to seven records; fewer only where the read stops at a segment boundary.
      const got = log.read(o, { maxRecords: 7 }).map(plain);
      expect(got.length).toBeGreaterThan(0);
      expect(got).toEqual(all.slice(o, o + got.length));
    }
  }

  it('for read() at every offset, before and after a reopen', async () => {
    const { log, dir, all } = await build('read lookups');
    checkEveryOffset(log, all);
    await log.close();
    const reopened = await openLog(options, dir);
    expect(reopened.recovery.cleanShutdown).toBe(true);
    expect(scan(reopened)).toEqual(all);
    checkEveryOffset(reopened, all);
  });

  it('for read() in random order across many segments, with every view kept', async () => {
    const { log, all } = await build('random-order lookups');
    const rand = mulberry32(all.length);
    const order = all.map((r) => r.offset);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    // Views of every segment stay alive while reads go from segment to segment at random.
    const kept: LogRecord[] = [];
    for (const o of order) kept.push(log.read(o, { maxRecords: 1 })[0]);
    for (const r of kept) expect(plain(r)).toEqual(all[r.offset]);
    expect(kept.map((r) => r.offset)).toEqual(order);
  });

  it('never crosses a segment boundary in one read', async () => {
    const { log, dir } = await build('segment boundaries');
    const bases = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.log'))
      .map((n) => Number(n.slice(0, 20)))
      .sort((a, b) => a - b);
    for (let i = 1; i < bases.length; i++) {
      // From just below a boundary with no size limit: the read stops at the boundary...
      const records = log.read(bases[i] - 1, { maxBytes: 1 << 30 });
      expect(records.map((r) => r.offset)).toEqual([bases[i] - 1]);
      // ...and the next one starts at the next segment's base.
      expect(log.read(bases[i], { maxRecords: 1 })[0].offset).toBe(bases[i]);
    }
  });

  it('for slice() from every offset: whole batches from firstOffset, as Kafka bytes', async () => {
    const { log, all } = await build('slice lookups');
    for (const want of all) {
      const o = want.offset;
      const maxBytes = o % 3 === 0 ? 1 : o % 3 === 1 ? 1500 : 1 << 20;
      const s = log.slice(o, { maxBytes })!;
      expect(s).not.toBeNull();
      expect(s.firstOffset).toBeLessThanOrEqual(o);
      expect(s.nextOffset).toBeGreaterThan(o);
      const decoded = decodeLogFile(sliceBytes(s));
      expect(decoded.dataEnd).toBe(s.length);
      const batches = decoded.batches;
      expect(batches.length).toBeGreaterThan(0);
      if (batches.length > 1) expect(s.length).toBeLessThanOrEqual(maxBytes);
      expect(batches[0].baseOffset).toBe(s.firstOffset);
      let next = s.firstOffset;
      for (const b of batches) {
        expect(b.computedCrc).toBe(b.crc);
        expect(b.baseOffset).toBe(next);
        next = b.nextOffset;
      }
      expect(next).toBe(s.nextOffset);
      const records = batches.flatMap((b) => b.records).map(plain);
      expect(records).toEqual(all.slice(s.firstOffset, s.nextOffset));
      expect(s.path).toMatch(/\d{20}\.log$/);
      expect(Number(s.path.slice(-24, -4))).toBeLessThanOrEqual(s.firstOffset);
    }
    expect(log.slice(log.highWatermark)).toBeNull();
  });
});

describe('offsetForTime agrees with a brute-force scan', () => {
  const options = { segmentBytes: 65536, indexIntervalBytes: 200, batchBytesMax: 2048 };

  function bruteForce(all: Plain[], t: number): number | null {
    const hit = all.find((r) => r.timestamp >= t);
    return hit === undefined ? null : hit.offset;
  }

  function checkAll(log: Log, all: Plain[], extra: number[]): void {
    const probes = new Set<number>(extra);
    for (const r of all) {
      probes.add(r.timestamp - 1);
      probes.add(r.timestamp);
      probes.add(r.timestamp + 1);
    }
    for (const t of probes) expect(log.offsetForTime(t), `offsetForTime(${t})`).toBe(bruteForce(all, t));
  }

  it('with non-decreasing timestamps, duplicates included', async () => {
    const rand = seeded('offsetForTime sorted');
    const dir = tmpDir();
    const log = await openLog(options, dir);
    await fill(log, rand, 4000, (i) => 5_000_000 + Math.floor(i / 3) * 7);
    expect(log.stats().segments).toBeGreaterThanOrEqual(3);
    const all = scan(log);
    checkAll(log, all, [0, -5, 4_999_999, Number.MAX_SAFE_INTEGER]);
    expect(log.offsetForTime(0)).toBe(0);
    expect(log.offsetForTime(Number.MAX_SAFE_INTEGER)).toBeNull();
    await log.close();
    const reopened = await openLog(options, dir);
    checkAll(reopened, all, [0, Number.MAX_SAFE_INTEGER]);
  });

  it('with random out-of-order timestamps', async () => {
    const rand = seeded('offsetForTime random');
    const dir = tmpDir();
    const log = await openLog(options, dir);
    const ts: number[] = [];
    let trend = 1_000_000;
    for (let i = 0; i < 4000; i++) {
      trend += Math.floor(rand() * 10);
      const r = rand();
      ts.push(r < 0.2 ? Math.floor(rand() * 2_000_000) : r < 0.3 ? trend + Math.floor(rand() * 50_000) : trend);
    }
    await fill(log, rand, ts.length, (i) => ts[i]);
    const all = scan(log);
    expect(all.map((r) => r.timestamp)).toEqual(ts);
    checkAll(log, all, [0, Math.max(...ts), Math.max(...ts) + 1]);
    await log.close();
    const reopened = await openLog(options, dir);
    checkAll(reopened, all, [0]);
  });

  it('skips records below the start offset and answers null on an empty log', async () => {
    const log = await openLog({ segmentBytes: 65536, retentionBytes: 0 });
    expect(log.offsetForTime(0)).toBeNull();
    for (let i = 0; i < 2000; i++) log.append(Buffer.alloc(100), { timestamp: 10 + i });
    await log.visible();
    log.retain(Date.now());
    const start = log.startOffset;
    expect(start).toBeGreaterThan(0);
    expect(log.offsetForTime(0)).toBe(start);
    expect(log.offsetForTime(10 + start)).toBe(start);
    expect(log.offsetForTime(10 + start + 1)).toBe(start + 1);
  });

  it('does not see records that are not visible yet', async () => {
    const log = await openLog();
    log.append('a', { timestamp: 100 });
    expect(log.offsetForTime(0)).toBeNull();
    await log.visible();
    expect(log.offsetForTime(0)).toBe(0);
    log.append('b', { timestamp: 200 });
    expect(log.offsetForTime(150)).toBeNull();
    log.seal();
    await log.visible();
    expect(log.offsetForTime(150)).toBe(1);
  });
});
