/**
 * Reports mid-segment corruption. Method: a log of three segments is written through the public
 * API (random messages, seeded; small segments so that it rolls), then one bit is flipped in the
 * middle of its data with fs: in a batch in the middle of a sealed (rolled, non-last) segment, in
 * each of the header fields a reader relies on (base offset, which Kafka's format keeps outside
 * the CRC; length; magic; CRC; attributes; record count) and in the records. Damage with valid
 * batches after it is not a torn tail, so it must never be cut away silently:
 *   - with sluice.meta deleted every segment is rescanned and open rejects with CORRUPT, naming
 *     the file and the damaged batch's position;
 *   - with the metadata of a clean close (or of an unclean one, the segment being below the
 *     recovery point) the segment is trusted and opens; a read that runs into the damaged batch
 *     returns the whole batches before it, a read at it throws CORRUPT with path and position, and
 *     no read anywhere returns bytes other than those appended;
 *   - with `repair: true` the log is cut before the damaged batch and goes on from there.
 * The same holds for a flip in the middle of the active segment after an unclean shutdown (the
 * directory copied aside while the log was open), where valid batches follow the damage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, SluiceError, type LogOptions } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';
import { appendGroups, batchesOf, copyDir, flipBit, prng, readAll, recordText, segmentsOf, testSeed } from '../helpers/crash-files.cjs';
import { type Expected, openError } from '../helpers/crashed-log';

const OPTIONS: LogOptions = { segmentBytes: 64 * 1024, indexIntervalBytes: 1024, sync: 'none' };

type Batch = ReturnType<typeof batchesOf>[number];

/** Where to flip a bit of a batch: [name, byte within the batch, bit]. */
const FLIPS: readonly [string, (b: Batch) => number, number][] = [
  ['a record byte', (b) => b.position + 61 + Math.floor((b.end - b.position - 61) / 2), 3],
  ['the base offset (outside the CRC)', (b) => b.position + 7, 0],
  ['the batch length', (b) => b.position + 11, 2],
  ['the magic byte', (b) => b.position + 16, 0],
  ['the CRC', (b) => b.position + 20, 5],
  ['the attributes', (b) => b.position + 22, 0],
  ['the record count', (b) => b.position + 60, 1],
];

/** A cleanly closed log of three segments, the last with a few batches. */
async function writeLog(seed: number, dir: string): Promise<Expected[]> {
  const rng = prng(seed);
  const clock = { now: 1_700_000_000_000 };
  const expected: Expected[] = [];
  const log = await Log.open(dir, OPTIONS);
  while (log.stats().segments < 3) appendGroups(log, rng, clock, 1, 1500, expected);
  appendGroups(log, rng, clock, 10, 300, expected);
  await log.close();
  return expected;
}

/** The batch in the middle of segment `i`, which has valid batches on both sides. */
function middleBatch(dir: string, i: number): { file: string; batch: Batch; batches: Batch[] } {
  const seg = segmentsOf(dir)[i];
  const batches = batchesOf(fs.readFileSync(seg.log));
  expect(batches.length).toBeGreaterThanOrEqual(5);
  return { file: seg.log, batch: batches[Math.floor(batches.length / 2)], batches };
}

function expectCorrupt(err: unknown, file: string, what: string): void {
  expect(err, what).toBeInstanceOf(SluiceError);
  const e = err as SluiceError;
  expect(e.code, `${what}: ${e.message}`).toBe('CORRUPT');
  expect(e.path, what).toBe(file);
  expect(typeof e.position, what).toBe('number');
}

/**
 * Every offset read alone either throws CORRUPT about `file` or returns exactly the appended
 * record; every offset of the damaged batch throws, and a read that runs into it stops before it.
 */
function expectReadsGuarded(log: Log, expected: readonly Expected[], file: string, damaged: Batch, what: string): void {
  for (let o = log.startOffset; o < log.endOffset; o++) {
    let got;
    try {
      got = log.read(o, { maxRecords: 1 });
    } catch (e) {
      expectCorrupt(e, file, `${what}: read(${o})`);
      continue;
    }
    expect(got.length, `${what}: read(${o})`).toBe(1);
    expect(recordText(got[0]), `${what}: read(${o}) returned other bytes than were appended`).toBe(recordText(expected[o]));
    expect(o < damaged.baseOffset || o >= damaged.nextOffset, `${what}: read(${o}) inside the damaged batch returned a record`).toBe(true);
  }
  // A read from just before the damaged batch returns the whole batches before it and stops
  // there; a read at the damaged batch throws, every time (it is not remembered as good).
  const before = log.read(damaged.baseOffset - 1, { maxBytes: 1 << 20, maxRecords: 1000 });
  expect(before.map((r) => r.offset), `${what}: a read from ${damaged.baseOffset - 1} up to the damaged batch`).toEqual([damaged.baseOffset - 1]);
  expect(recordText(before[0]), what).toBe(recordText(expected[damaged.baseOffset - 1]));
  for (let attempt = 0; attempt < 2; attempt++) {
    let err: unknown = null;
    let returned = '';
    try {
      const got = log.read(damaged.baseOffset, { maxBytes: 1 << 20, maxRecords: 1000 });
      returned = ` (it returned offsets ${got.map((r) => r.offset).join(',')})`;
    } catch (e) {
      err = e;
    }
    expectCorrupt(err, file, `${what}: a read at the damaged batch (${damaged.baseOffset})${returned}`);
    expect((err as SluiceError).position, what).toBe(damaged.position);
  }
}

describe('reports mid-segment corruption', () => {
  const seed = testSeed('reports-mid-segment-corruption');

  for (const [name, at, bit] of FLIPS) {
    describe(`a flipped bit in ${name} of a batch in the middle of a sealed segment`, () => {
      async function damaged(): Promise<{ dir: string; expected: Expected[]; file: string; batch: Batch }> {
        const dir = tmpDir();
        const expected = await writeLog(seed, dir);
        const { file, batch } = middleBatch(dir, 0);
        flipBit(file, at(batch), bit);
        return { dir, expected, file, batch };
      }

      it('is rejected on open with CORRUPT, file and position when sluice.meta is gone', async () => {
        const { dir, file, batch } = await damaged();
        fs.rmSync(path.join(dir, 'sluice.meta'));
        const err = await openError(dir, OPTIONS);
        expectCorrupt(err, file, name);
        expect(err.position).toBe(batch.position);
      });

      it('opens after a clean close; reads stop before it and every read at it throws CORRUPT', async () => {
        const { dir, expected, file, batch } = await damaged();
        const log = await Log.open(dir, OPTIONS);
        try {
          expect(log.recovery.cleanShutdown).toBe(true);
          expect(log.endOffset).toBe(expected.length);
          expectReadsGuarded(log, expected, file, batch, name);
          // The records before it and the later segments are intact.
          expect(log.read(0, { maxRecords: batch.baseOffset }).map(recordText)).toEqual(expected.slice(0, batch.baseOffset).map(recordText));
          const second = segmentsOf(dir)[1].base;
          const rest: string[] = [];
          for (let o = second; o < log.endOffset; ) {
            const got = log.read(o, { maxRecords: 1000 });
            rest.push(...got.map(recordText));
            o = got[got.length - 1].offset + 1;
          }
          expect(rest).toEqual(expected.slice(second).map(recordText));
        } finally {
          await log.close();
        }
      });

      it('is cut away with repair: true, and the log goes on from before it', async () => {
        const { dir, expected, batch } = await damaged();
        let log = await Log.open(dir, { ...OPTIONS, repair: true });
        try {
          expect(log.endOffset).toBe(batch.baseOffset);
          expect(log.recovery.segmentsDeleted).toBe(2);
          expect(segmentsOf(dir).length).toBe(1);
          expect(readAll(log).map(recordText)).toEqual(expected.slice(0, batch.baseOffset).map(recordText));
          expect(log.append('after repair')).toBe(batch.baseOffset);
          await log.visible();
          await log.close();
          log = await Log.open(dir, OPTIONS);
          expect(log.recovery.cleanShutdown).toBe(true);
          expect(log.endOffset).toBe(batch.baseOffset + 1);
          expect(log.read(batch.baseOffset)[0].value?.toString()).toBe('after repair');
        } finally {
          await log.close();
        }
      });
    });
  }

  it('returns the records before a damaged batch to read(0) with default options, and CORRUPT at the damaged batch', async () => {
    const dir = tmpDir();
    const expected = await writeLog(seed, dir);
    const { file, batch, batches } = middleBatch(dir, 0);
    expect(batches.length).toBeGreaterThanOrEqual(10);
    flipBit(file, batch.position + 61 + 3, 2);
    const log = await Log.open(dir, OPTIONS);
    try {
      expect(log.read(0).map(recordText)).toEqual(expected.slice(0, batch.baseOffset).map(recordText));
      const slice = log.slice(0)!;
      fs.closeSync(slice.fd);
      expect(slice.nextOffset).toBe(batch.baseOffset);
      let err: unknown = null;
      try {
        log.read(batch.baseOffset);
      } catch (e) {
        err = e;
      }
      expectCorrupt(err, file, 'read at the damaged batch');
      expect((err as SluiceError).position).toBe(batch.position);
      expect(() => log.slice(batch.baseOffset)).toThrow(/corrupt batch/);
    } finally {
      await log.close();
    }
  });

  it('names the right file when the damaged segment is the second of three', async () => {
    const dir = tmpDir();
    await writeLog(seed, dir);
    const { file, batch } = middleBatch(dir, 1);
    flipBit(file, batch.position + 61, 4);
    fs.rmSync(path.join(dir, 'sluice.meta'));
    const err = await openError(dir, OPTIONS);
    expectCorrupt(err, file, 'flip in segment 1');
    expect(err.position).toBe(batch.position);
  });

  /** A log of two sealed segments and ten batches in the active one, copied aside while open. */
  async function uncleanSnapshot(): Promise<{ snapshot: string; expected: Expected[] }> {
    const rng = prng(seed ^ 0x5eed);
    const clock = { now: 1_700_000_000_000 };
    const expected: Expected[] = [];
    const dir = tmpDir();
    const log = await Log.open(dir, OPTIONS);
    while (log.stats().segments < 3) appendGroups(log, rng, clock, 1, 1500, expected);
    appendGroups(log, rng, clock, 10, 300, expected);
    await log.flush();
    const snapshot = tmpDir();
    fs.rmSync(snapshot, { recursive: true });
    copyDir(dir, snapshot);
    await log.close();
    return { snapshot, expected };
  }

  it('after an unclean shutdown, trusts a sealed segment below the recovery point but reports the flipped batch on a read at it', async () => {
    const { snapshot, expected } = await uncleanSnapshot();
    const { file, batch } = middleBatch(snapshot, 0);
    flipBit(file, batch.position + 61 + 5, 6);
    const log = await Log.open(snapshot, OPTIONS);
    try {
      expect(log.recovery.cleanShutdown).toBe(false);
      expect(log.endOffset).toBe(expected.length);
      expectReadsGuarded(log, expected, file, batch, 'unclean, sealed segment');
    } finally {
      await log.close();
    }
  });

  for (const [name, at, bit] of FLIPS) {
    it(`reports a flipped bit in ${name} in the middle of the active segment after an unclean shutdown, not a torn tail`, async () => {
      const { snapshot, expected } = await uncleanSnapshot();
      const segs = segmentsOf(snapshot);
      const { file, batch, batches } = middleBatch(snapshot, segs.length - 1);
      expect(batches[batches.length - 1].nextOffset).toBe(expected.length);
      flipBit(file, at(batch), bit);
      const err = await openError(snapshot, OPTIONS);
      expectCorrupt(err, file, name);
      expect(err.position).toBe(batch.position);

      const log = await Log.open(snapshot, { ...OPTIONS, repair: true });
      try {
        expect(log.endOffset).toBe(batch.baseOffset);
        expect(readAll(log).map(recordText)).toEqual(expected.slice(0, batch.baseOffset).map(recordText));
        expect(log.append('after repair')).toBe(batch.baseOffset);
      } finally {
        await log.close();
      }
    });
  }

  it('treats the same flip in the last batch of the active segment as a torn tail (nothing valid follows)', async () => {
    const { snapshot, expected } = await uncleanSnapshot();
    const segs = segmentsOf(snapshot);
    const active = segs[segs.length - 1];
    const batches = batchesOf(fs.readFileSync(active.log));
    const last = batches[batches.length - 1];
    flipBit(active.log, last.position + 61, 3);
    const log = await Log.open(snapshot, OPTIONS);
    try {
      expect(log.endOffset).toBe(last.baseOffset);
      expect(log.recovery.bytesTruncated).toBeGreaterThan(0);
      expect(readAll(log).map(recordText)).toEqual(expected.slice(0, last.baseOffset).map(recordText));
    } finally {
      await log.close();
    }
  });
});
