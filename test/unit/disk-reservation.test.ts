/**
 * Disk reservation is proportionate: a log's first segment reserves 64 KiB, then 1 MiB, then its
 * whole capacity as it fills, and the next segment is prepared whole only once the active one is
 * half full (native/include/sluice/segment.h), instead of two whole `segmentBytes` up front. Method: the space a log directory takes is measured as the file
 * system allocates it (`stat.blocks * 512`, summed over the directory), for an idle log with the
 * default options and for one with the broker's 64 MiB segments, and again after appending
 * megabytes; records appended across many growth steps are read back with both write paths and
 * after a reopen; a zero-copy view read before the segment grew is checked again after, and no
 * view's ArrayBuffer ever reaches past its file's size. The full disk during a growth step is in
 * test/integration/durability-faults.test.ts (it needs fault injection in a child process).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, type LogOptions, type LogRecord, type WritePath } from '../../lib/index';
import { prng, testSeed } from '../helpers/crash-files.cjs';
import { tmpDir } from '../helpers/tmp';

const KiB = 1024;
const MiB = 1024 * KiB;
/** A segment past 512 KiB of data reserves its whole capacity (segment.h). */
/** File-system overhead: a block per small file (index, meta) and extent blocks. */
const SLACK = 256 * KiB;

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openLog(dir: string, options: LogOptions = {}): Promise<Log> {
  const log = await Log.open(dir, options);
  open.push(log);
  return log;
}

/** Bytes the file system allocated to the directory's files. */
function allocated(dir: string): number {
  let total = 0;
  for (const name of fs.readdirSync(dir)) total += fs.statSync(path.join(dir, name)).blocks * 512;
  return total;
}

/** Waits (bounded) until the background thread has made the next segment file. */
async function preparedFileExists(dir: string): Promise<void> {
  const file = path.join(dir, 'next.log.prepared');
  for (let i = 0; i < 2000 && !(fs.existsSync(file) && fs.statSync(file).size > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(fs.existsSync(file)).toBe(true);
}

function readAll(log: Log, from = log.startOffset): LogRecord[] {
  const out: LogRecord[] = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const records = log.read(offset);
    expect(records.length).toBeGreaterThan(0);
    out.push(...records);
    offset = records[records.length - 1].offset + 1;
  }
  return out;
}

/** A value for `offset` of `size` bytes whose bytes depend on the offset. */
function valueFor(offset: number, size: number): Buffer {
  const b = Buffer.alloc(size, offset % 251);
  b.write(`v${offset}:`, 0);
  return b;
}

describe('disk reservation', () => {
  for (const [what, options] of [
    ['the default options (256 MiB segments)', {}],
    ["the broker's 64 MiB segments", { segmentBytes: 64 * MiB }],
  ] as const) {
    it(`an idle log with ${what} allocates less than 1 MiB`, async () => {
      const dir = tmpDir();
      await openLog(dir, options);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fs.existsSync(path.join(dir, 'next.log.prepared'))).toBe(false); // not until half full
      expect(allocated(dir)).toBeLessThan(1 * MiB);
    });
  }

  it('after appending 40 MB a log allocates its active segment and, once that is half full, the next one whole', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { segmentBytes: 64 * MiB, sync: 'none' });
    const value = Buffer.alloc(1000, 7);
    for (let i = 0; i < 40_000; i++) log.append(value);
    log.seal();
    await log.visible();
    await preparedFileExists(dir);
    const data = log.stats().sizeBytes;
    expect(data).toBeGreaterThan(40_000_000);
    expect(allocated(dir)).toBeGreaterThanOrEqual(2 * 64 * MiB); // the active segment and the prepared next
    expect(allocated(dir)).toBeLessThanOrEqual(2 * 64 * MiB + SLACK);
    // Closed (the prepared file goes) and reopened: the active segment alone.
    await log.close();
    const again = await openLog(dir, { segmentBytes: 64 * MiB, sync: 'none' });
    expect(again.endOffset).toBe(40_000);
    expect(allocated(dir)).toBeLessThanOrEqual(64 * MiB + SLACK);
  });

  it('a lightly used log reserves at most 1 MiB until it holds 512 KiB', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { segmentBytes: 64 * MiB, sync: 'none' });
    const value = Buffer.alloc(1000, 7);
    for (let i = 0; i < 400; i++) log.append(value); // ~400 KB
    log.seal();
    await log.visible();
    await log.flush();
    expect(allocated(dir)).toBeLessThanOrEqual(1 * MiB + SLACK);
  });

  for (const writePath of ['pwrite', 'mmap'] as const satisfies readonly WritePath[]) {
    it(`records appended across many growth steps read back intact (writePath '${writePath}'), and after reopening`, async () => {
      const rng = prng(testSeed(`disk-reservation (${writePath})`));
      const dir = tmpDir();
      const options: LogOptions = { segmentBytes: 16 * MiB, messageBytesMax: 1 * MiB, writePath, sync: 'none' };
      const log = await openLog(dir, options);
      const sizes: number[] = [];
      // ~40 MB: every step of the first segment, then two prepared whole, some taken ahead by the
      // background thread, some caught up with by large messages.
      let bytes = 0;
      while (bytes < 40 * MiB) {
        const size = rng.next() < 0.02 ? 1 * MiB - 200 : rng.int(1, 4000);
        const batch = rng.next() < 0.3;
        if (batch) {
          const first = log.appendBatch([valueFor(log.endOffset, size), valueFor(log.endOffset + 1, size)]);
          sizes[first] = sizes[first + 1] = size;
          bytes += 2 * size;
        } else {
          sizes[log.append(valueFor(log.endOffset, size))] = size;
          bytes += size;
        }
      }
      log.seal();
      await log.visible();
      expect(log.stats().segments).toBeGreaterThanOrEqual(3);
      const check = (records: LogRecord[]): void => {
        expect(records.length).toBe(sizes.length);
        for (const r of records) {
          if (!r.value!.equals(valueFor(r.offset, sizes[r.offset]))) throw new Error(`record ${r.offset} differs`);
        }
      };
      check(readAll(log));
      await log.close();
      const again = await openLog(dir, options);
      expect(again.recovery.cleanShutdown).toBe(true);
      check(readAll(again));
    });
  }

  it('a view read before the segment grew stays valid, and no view reaches past its file', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { segmentBytes: 64 * MiB, sync: 'none' });
    const segmentFile = path.join(dir, '00000000000000000000.log');
    log.append('first');
    log.seal();
    await log.visible();
    const [early] = log.read(0);
    expect(early.value!.toString()).toBe('first');
    expect(early.value!.buffer.byteLength).toBeLessThanOrEqual(fs.statSync(segmentFile).size);
    const earlyBuffer = early.value!.buffer;
    // Grow the segment through several steps, reading as it goes.
    const views: LogRecord[] = [early];
    for (let i = 1; i <= 6000; i++) {
      log.append(valueFor(i, 2000));
      if (i % 500 === 0) {
        log.seal();
        await log.visible();
        const [r] = log.read(i);
        expect(r.value!.equals(valueFor(i, 2000))).toBe(true);
        expect(r.value!.buffer.byteLength).toBeLessThanOrEqual(fs.statSync(segmentFile).size);
        views.push(r);
      }
    }
    log.seal();
    await log.visible();
    // The views read from mappings made before later growth still hold their bytes.
    expect(early.value!.toString()).toBe('first');
    expect(early.value!.buffer).toBe(earlyBuffer);
    for (const r of views.slice(1)) expect(r.value!.equals(valueFor(r.offset, 2000))).toBe(true);
    // More than one mapping was handed out as the segment grew.
    expect(new Set(views.map((r) => r.value!.buffer)).size).toBeGreaterThan(1);
    // An old record read now comes from a mapping that covers it and stays within the file.
    const [again] = log.read(0);
    expect(again.value!.toString()).toBe('first');
    expect(again.value!.buffer.byteLength).toBeLessThanOrEqual(fs.statSync(segmentFile).size);
  });
});
