/**
 * The two write paths ('pwrite', the default, and 'mmap') are two ways of putting the same bytes in
 * the same files. Method: the same seeded messages (explicit timestamps, so that nothing depends
 * on the clock) are appended through each path, with seals, segment rolls, appendBatch, a message
 * at the size limit and one just over it; after close the directories must be byte for byte
 * identical (segments, both indexes, metadata), and each must read back what was appended, with
 * 64 KiB segments (whole from the start) and with 4 MiB ones (reserved in growing steps). The
 * 'mmap' path then goes through the crash checks the default path gets everywhere else: a copy of
 * the open log, its active segment cut at every byte of its last batches, reopens with exactly
 * the whole batches below the cut.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Log, type LogOptions, type WritePath } from '../../lib/index';
import { appendGroups, batchesOf, copyDir, prng, segmentsOf, testSeed } from '../helpers/crash-files.cjs';
import { type Expected, crashedLog, expectHolds } from '../helpers/crashed-log';
import { tmpDir } from '../helpers/tmp';

const OPTIONS: LogOptions = { segmentBytes: 64 * 1024, indexIntervalBytes: 1024, messageBytesMax: 16 * 1024, sync: 'none' };
const PATHS: readonly WritePath[] = ['pwrite', 'mmap'];

/** Writes the seeded workload through `writePath` into a fresh directory; returns it and what it holds. */
async function writeWorkload(seed: number, writePath: WritePath, options = OPTIONS): Promise<{ dir: string; expected: Expected[] }> {
  const dir = tmpDir();
  const rng = prng(seed);
  const clock = { now: 1_700_000_000_000 };
  const expected: Expected[] = [];
  const log = await Log.open(dir, { ...options, writePath });
  try {
    appendGroups(log, rng, clock, 200, 900, expected);
    // A batch of many through appendBatch, and the largest message there can be (its batch header
    // and record framing count against messageBytesMax), then one byte more.
    const batch = Array.from({ length: 500 }, (_, i) => ({ value: Buffer.from(`batch ${i}`), timestamp: clock.now + i }));
    const first = log.appendBatch(batch);
    batch.forEach((m, i) => expected.push({ offset: first + i, timestamp: m.timestamp, key: null, value: m.value, headers: [] }));
    let size = OPTIONS.messageBytesMax! - 61 - 16;
    while (true) {
      try {
        const value = Buffer.alloc(size + 1, 7);
        log.append(value, { timestamp: clock.now });
        expected.push({ offset: expected.length, timestamp: clock.now, key: null, value, headers: [] });
        size++;
      } catch (e) {
        expect(e).toMatchObject({ code: 'TOO_LARGE' });
        break;
      }
    }
    expect(size).toBeLessThan(OPTIONS.messageBytesMax!);
    appendGroups(log, rng, clock, 50, 300, expected);
  } finally {
    await log.close();
  }
  return { dir, expected };
}

function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir).sort()) {
    if (name === '.lock') continue;
    out.set(name, fs.readFileSync(path.join(dir, name)));
  }
  return out;
}

/** Writes the workload through both paths and checks the files are identical and read back. */
async function checkIdentical(seed: number, options: LogOptions, segmentsMin: number): Promise<string> {
  const written = new Map<WritePath, { dir: string; expected: Expected[] }>();
  for (const writePath of PATHS) written.set(writePath, await writeWorkload(seed, writePath, options));
  const a = filesOf(written.get('pwrite')!.dir);
  const b = filesOf(written.get('mmap')!.dir);
  expect([...a.keys()]).toEqual([...b.keys()]);
  expect(segmentsOf(written.get('pwrite')!.dir).length).toBeGreaterThanOrEqual(segmentsMin);
  for (const [name, bytes] of a) expect(bytes.equals(b.get(name)!), name).toBe(true);

  for (const writePath of PATHS) {
    const { dir, expected } = written.get(writePath)!;
    const log = await Log.open(dir, { ...options, writePath });
    try {
      expect(log.recovery.cleanShutdown).toBe(true);
      expectHolds(log, expected, writePath);
    } finally {
      await log.close();
    }
  }
  return written.get('pwrite')!.dir;
}

describe('write paths', () => {
  it("'pwrite' and 'mmap' write byte-identical files for the same appends", async () => {
    await checkIdentical(testSeed('write-paths (identical files)'), OPTIONS, 3);
  });

  it("'pwrite' and 'mmap' write byte-identical files when segments grow their reservation", async () => {
    const options: LogOptions = { ...OPTIONS, segmentBytes: 4 * 1024 * 1024 };
    const dir = await checkIdentical(testSeed('write-paths (identical growing files)'), options, 1);
    // The segment took several steps and is still short of its capacity.
    const size = fs.statSync(segmentsOf(dir)[0].log).size;
    expect(size).toBeGreaterThan(128 * 1024);
    expect(size).toBeLessThan(4 * 1024 * 1024);
  });

  it("'mmap': a copy of the open log cut at every byte of its last batches keeps the whole batches below the cut", async () => {
    const options: LogOptions = { ...OPTIONS, writePath: 'mmap' };
    const rng = prng(testSeed('write-paths (mmap torn tail)'));
    const { snapshot, expected } = await crashedLog(options, rng, 6, true, 40);
    const active = segmentsOf(snapshot).at(-1)!;
    const batches = batchesOf(fs.readFileSync(active.log));
    const work = tmpDir();
    for (let cut = batches[batches.length - 3].position; cut <= batches[batches.length - 1].end; cut++) {
      const dir = path.join(work, `cut-${cut}`);
      copyDir(snapshot, dir);
      fs.truncateSync(active.log.replace(snapshot, dir), cut);
      const survivors = batches.filter((b) => b.end <= cut).at(-1)!.nextOffset;
      const log = await Log.open(dir, options);
      try {
        expect(log.endOffset, `cut at ${cut}`).toBe(survivors);
        expectHolds(log, expected.slice(0, survivors), `cut at ${cut}`);
        // And it goes on writing through the mapping from there.
        expect(log.append(Buffer.from('next'), { timestamp: 1 })).toBe(survivors);
      } finally {
        await log.close();
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown write path', async () => {
    await expect(Log.open(tmpDir(), { writePath: 'direct' as WritePath })).rejects.toThrow(RangeError);
  });
});
