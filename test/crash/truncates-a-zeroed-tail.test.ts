/**
 * Truncates a zeroed tail. Method: a log is written through the public API with small batches
 * (seal() between groups of random messages, seeded), flushed, and its directory copied aside while
 * it is still open, so the copy is what an unclean shutdown leaves. In a fresh copy the bytes of
 * the active segment from a position P to the end of its data are then overwritten with zeros,
 * the file keeping its preallocated length: what a crash leaves when the file's size was reserved
 * but the last pages never reached the disk. P runs over every byte of the last batches (inside
 * headers, inside records, on boundaries) and over every page boundary of a segment whose batches
 * straddle pages. After reopening, exactly the batches wholly below P must survive byte for byte,
 * the end offset must follow them, nothing of the zeroed batch may be readable, appends continue
 * there, and a reopen after a clean close is clean. Zeros in the middle of the data with valid
 * batches after them are a lost write when they lie above the recovery point (the log ends before
 * them) and corruption, reported with file and position, when they lie below it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Log, SluiceError, type LogOptions } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';
import { batchesOf, copyDir, overwrite, prng, readAll, recordText, segmentsOf, testSeed } from '../helpers/crash-files.cjs';
import { type Expected, crashedLog, expectHolds, openError } from '../helpers/crashed-log';

const SEGMENT_BYTES = 64 * 1024;
const PAGE_BYTES = 4096;
const OPTIONS: LogOptions = { segmentBytes: SEGMENT_BYTES, indexIntervalBytes: 1024, sync: 'none' };

/** Zeros [P, end of data) of the active segment of a copy, reopens it and checks what survives. */
async function checkZeroedFrom(snapshot: string, expected: readonly Expected[], P: number, work: string, deleteMeta = false): Promise<void> {
  const dir = path.join(work, `zero-${P}`);
  copyDir(snapshot, dir);
  if (deleteMeta) fs.rmSync(path.join(dir, 'sluice.meta'));
  const segments = segmentsOf(dir);
  const active = segments[segments.length - 1];
  const original = fs.readFileSync(active.log);
  const batches = batchesOf(original);
  const dataEnd = batches[batches.length - 1].end;
  // Zeros over bytes that were zero already (a record's empty header count, say) change nothing:
  // the damage starts at the first byte that was not zero.
  let damage = P;
  while (damage < dataEnd && original[damage] === 0) damage++;
  const whole = batches.filter((b) => b.end <= damage);
  const boundary = whole.length === 0 ? 0 : whole[whole.length - 1].end;
  const survivors = whole.length === 0 ? active.base : whole[whole.length - 1].nextOffset;
  if (P < dataEnd) overwrite(active.log, P, Buffer.alloc(dataEnd - P));
  const what = `zeros from ${P} (data ends at ${dataEnd}; ${survivors} records before ${boundary} survive)`;

  let log = await Log.open(dir, OPTIONS);
  try {
    expect(log.endOffset, what).toBe(survivors);
    expect(log.highWatermark, what).toBe(survivors);
    const r = log.recovery;
    expect(r.cleanShutdown, what).toBe(false);
    expect(r.segmentsDeleted, what).toBe(0);
    const torn = original.subarray(boundary, Math.max(boundary, Math.min(damage, dataEnd)));
    expect(r.bytesTruncated, what).toBeLessThanOrEqual(torn.length);
    if (torn.some((b) => b !== 0)) expect(r.bytesTruncated, what).toBeGreaterThan(0);
    expectHolds(log, expected.slice(0, survivors), what);
    expect(log.read(survivors), what).toEqual([]);
    expect(() => log.read(survivors + 1), what).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));

    const after = fs.readFileSync(active.log);
    expect(after.length, what).toBe(SEGMENT_BYTES);
    expect(after.subarray(0, boundary).equals(original.subarray(0, boundary)), what).toBe(true);
    expect(after.subarray(boundary).every((b) => b === 0), `${what}: the leftover bytes of the torn batch are zeroed`).toBe(true);

    const value = Buffer.from(`after zeros from ${P}`);
    expect(log.append(value, { timestamp: 7 }), what).toBe(survivors);
    await log.visible();
    expect(log.read(survivors).map((x) => x.value?.toString()), what).toEqual([value.toString()]);
    await log.close();

    log = await Log.open(dir, OPTIONS);
    expect(log.recovery.cleanShutdown, what).toBe(true);
    expect(log.recovery.segmentsScanned, what).toBe(0);
    expect(log.recovery.bytesTruncated, what).toBe(0);
    expect(log.endOffset, what).toBe(survivors + 1);
    const all = readAll(log);
    expect(all.slice(0, -1).map(recordText), what).toEqual(expected.slice(0, survivors).map(recordText));
    expect(all[all.length - 1].value?.equals(value), what).toBe(true);
  } finally {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('truncates a zeroed tail', () => {
  it('keeps exactly the whole batches below zeros starting at every byte of the last three batches', async () => {
    const rng = prng(testSeed('truncates-a-zeroed-tail (every byte)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 8, true, 40);
    const segments = segmentsOf(snapshot);
    expect(segments.length).toBe(2);
    const batches = batchesOf(fs.readFileSync(segments[1].log));
    expect(batches[batches.length - 1].nextOffset).toBe(expected.length);
    const work = tmpDir();
    for (let P = batches[batches.length - 3].position; P <= batches[batches.length - 1].end; P++) {
      await checkZeroedFrom(snapshot, expected, P, work);
    }
  });

  it('keeps the whole batches below every lost page of a segment whose batches straddle pages', async () => {
    const rng = prng(testSeed('truncates-a-zeroed-tail (pages)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 40, false, 700);
    const batches = batchesOf(fs.readFileSync(segmentsOf(snapshot)[0].log));
    const dataEnd = batches[batches.length - 1].end;
    expect(dataEnd).toBeGreaterThan(4 * PAGE_BYTES);
    const work = tmpDir();
    for (let P = 0; P < dataEnd; P += PAGE_BYTES) await checkZeroedFrom(snapshot, expected, P, work);
    // And from just before and after each of the first few boundaries of batches.
    for (const b of batches.slice(1, 6)) {
      for (const P of [b.position - 1, b.position, b.position + 1, b.position + 60, b.position + 61]) {
        await checkZeroedFrom(snapshot, expected, P, work);
      }
    }
  });

  it('truncates the same way when sluice.meta is lost and every segment is rescanned', async () => {
    const rng = prng(testSeed('truncates-a-zeroed-tail (no meta)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 6, true, 40);
    const segments = segmentsOf(snapshot);
    const batches = batchesOf(fs.readFileSync(segments[segments.length - 1].log));
    const work = tmpDir();
    for (let P = batches[batches.length - 3].position; P <= batches[batches.length - 1].end; P += 5) {
      await checkZeroedFrom(snapshot, expected, P, work, true);
    }
  });

  it('treats a zeroed batch or sector above the recovery point, with valid batches after it, as a lost write', async () => {
    // Past the recovery point the kernel may have written later pages back before earlier ones when
    // the power went: a never-written batch (all-zero header) or 512-byte sector with valid batches after it is
    // the trace of such a lost write, not of corruption. Nothing from there on had reached a
    // recovery point, so the log ends just before the damaged batch.
    const rng = prng(testSeed('truncates-a-zeroed-tail (lost write above the recovery point)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 40, true, 40);
    const segments = segmentsOf(snapshot);
    const active = segments[segments.length - 1];
    const batches = batchesOf(fs.readFileSync(active.log));
    const dataEnd = batches[batches.length - 1].end;
    const work = tmpDir();
    const victim = batches[batches.length - 3];
    const cases: [number, number, number][] = [
      [victim.position, victim.end, victim.baseOffset],
    ];
    // Each whole 512-byte sector with at least one whole batch after it: the cut falls at the first
    // batch that reaches into the sector.
    const original = fs.readFileSync(active.log);
    for (let sector = 512; sector + 512 < dataEnd; sector += 512) {
      // (A batch whose bytes in the sector were zeros already is untouched.)
      const hit = batches.find((b) => b.end > sector && original.subarray(Math.max(b.position, sector), Math.min(b.end, sector + 512)).some((x) => x !== 0))!;
      if (batches.some((b) => b.position >= sector + 512)) cases.push([sector, sector + 512, hit.baseOffset]);
    }
    expect(cases.length).toBeGreaterThan(1);
    for (const [from, to, cut] of cases) {
      const dir = path.join(work, `lost-${from}-${to}`);
      copyDir(snapshot, dir);
      overwrite(active.log.replace(snapshot, dir), from, Buffer.alloc(to - from));
      const what = `zeros in [${from}, ${to}) with valid batches after them`;
      const log = await Log.open(dir, OPTIONS);
      try {
        expect(log.recovery.cleanShutdown, what).toBe(false);
        expect(log.recovery.bytesTruncated, what).toBeGreaterThan(0);
        expect(log.endOffset, what).toBe(cut);
        expectHolds(log, expected.slice(0, cut), what);
      } finally {
        await log.close();
      }
    }
  });

  it('treats a batch zero from its start to the end of its first sector, with valid batches after it, as a lost write', async () => {
    // The batch began mid-sector: that sector was last written when the data ended where the
    // batch starts, so after a power cut it holds zeros from there to its end while later pages of
    // the batch (and later batches) reached the disk. Found by the independent power-loss harness
    // (test/helpers/powerloss/): such an open was refused as corrupt.
    const rng = prng(testSeed('truncates-a-zeroed-tail (the first sector of a batch not written)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 40, true, 40);
    const segments = segmentsOf(snapshot);
    const active = segments[segments.length - 1];
    const batches = batchesOf(fs.readFileSync(active.log));
    const work = tmpDir();
    const victims = batches.slice(1, -1).filter((b) => b.position % 512 !== 0 && 512 - (b.position % 512) >= 12);
    expect(victims.length).toBeGreaterThan(0);
    for (const victim of victims.slice(0, 5)) {
      const sectorEnd = victim.position - (victim.position % 512) + 512;
      const dir = path.join(work, `first-sector-${victim.position}`);
      copyDir(snapshot, dir);
      overwrite(active.log.replace(snapshot, dir), victim.position, Buffer.alloc(sectorEnd - victim.position));
      const what = `zeros in [${victim.position}, ${sectorEnd}) with valid batches after them`;
      const log = await Log.open(dir, OPTIONS);
      try {
        expect(log.endOffset, what).toBe(victim.baseOffset);
        expectHolds(log, expected.slice(0, victim.baseOffset), what);
      } finally {
        await log.close();
      }
    }
  });

  it('reports zeros smaller than a sector inside a batch, with valid batches after it, as corruption', async () => {
    // A write is lost a whole sector at a time: a zeroed run inside one sector under an intact
    // header looks like any other damage, and damage with valid batches after it is never cut away.
    const rng = prng(testSeed('truncates-a-zeroed-tail (zeros within a sector)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 8, true, 40);
    const segments = segmentsOf(snapshot);
    const active = segments[segments.length - 1];
    const batches = batchesOf(fs.readFileSync(active.log));
    const work = tmpDir();
    const victim = batches[batches.length - 3];
    const ranges: [number, number][] = [
      [victim.position + 20, victim.end],
      [victim.position + 61, victim.end],
      [victim.position, victim.position + 30],
    ];
    for (const [from, to] of ranges) {
      // Only ranges that leave every aligned sector of the batch partly written are a fair test.
      expect(Math.floor(from / 512) === Math.floor((to - 1) / 512) || to - from < 512).toBe(true);
      const dir = path.join(work, `mid-${from}-${to}`);
      copyDir(snapshot, dir);
      const file = active.log.replace(snapshot, dir);
      overwrite(file, from, Buffer.alloc(to - from));
      const what = `zeros in [${from}, ${to}) with two valid batches after them`;
      const err = await openError(dir, OPTIONS);
      expect(err, what).toBeInstanceOf(SluiceError);
      expect(err.code, what).toBe('CORRUPT');
      expect(err.path, what).toBe(file);
      expect(err.position, what).toBe(victim.position);

      // repair: true cuts the log before the damaged batch.
      const log = await Log.open(dir, { ...OPTIONS, repair: true });
      expect(log.endOffset, what).toBe(victim.baseOffset);
      expectHolds(log, expected.slice(0, victim.baseOffset), what);
      await log.close();
    }
  });

  it('never cuts zeros in a segment below the recovery point: open or the read that reaches them says CORRUPT', async () => {
    // The rolled segment was made durable and entered the recovery point: zeros inside it are
    // damage to confirmed data. Open trusts such a segment's indexes (its CRCs are checked as reads
    // reach them), so the damage is reported either by open or by the first read of it.
    const rng = prng(testSeed('truncates-a-zeroed-tail (zeros below the recovery point)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 8, true, 40);
    const sealed = segmentsOf(snapshot)[0];
    const batches = batchesOf(fs.readFileSync(sealed.log));
    expect(batches.length).toBeGreaterThanOrEqual(3);
    const work = tmpDir();
    const victim = batches[batches.length - 3];
    const ranges: [number, number][] = [
      [victim.position, victim.end],
      [victim.position + 20, victim.end],
      [victim.position + 61, victim.end],
      [victim.position, victim.position + 30],
    ];
    for (const [from, to] of ranges) {
      const dir = path.join(work, `sealed-${from}-${to}`);
      copyDir(snapshot, dir);
      const file = sealed.log.replace(snapshot, dir);
      overwrite(file, from, Buffer.alloc(to - from));
      const what = `zeros in [${from}, ${to}) of a sealed segment`;
      let err: SluiceError | undefined;
      try {
        const log = await Log.open(dir, OPTIONS);
        try {
          expect(log.endOffset, what).toBe(expected.length);
          expectHolds(log, expected.slice(0, victim.baseOffset), what);
          try {
            log.read(victim.baseOffset);
          } catch (e) {
            err = e as SluiceError;
          }
        } finally {
          await log.close();
        }
      } catch (e) {
        if (!(e instanceof SluiceError)) throw e;
        err = e;
      }
      expect(err, what).toBeInstanceOf(SluiceError);
      expect(err!.code, what).toBe('CORRUPT');
      expect(err!.path, what).toBe(file);
      expect(err!.position, what).toBe(victim.position);

      // repair: true cuts the log before the damaged batch.
      const log = await Log.open(dir, { ...OPTIONS, repair: true });
      expect(log.endOffset, what).toBe(victim.baseOffset);
      expectHolds(log, expected.slice(0, victim.baseOffset), what);
      await log.close();
    }
  });
});
