/**
 * A read-only open changes nothing and reports what recovery would do. Method: a log is written
 * through the public API (seeded random messages, small batches, rolled at least once), flushed,
 * and its directory copied while it is open: what an unclean shutdown leaves. Two identical copies
 * get the same damage (a torn tail: the active segment cut short in the middle of its last batch;
 * a lost tail: sluice.meta removed and the first segment zeroed from the middle of its data, so
 * that every later segment goes; mid-log corruption: a flipped bit below the recovery point). One
 * copy is opened with `readOnly`, and every file's name, size and SHA-256 are compared before and
 * after; the other is opened by a writer. The read-only report must equal the writer's (but for
 * `readOnly`), and the read-only reads must return exactly what the writer kept. A file cut short
 * is mapped only as far as it reaches, so reading the last surviving batch cannot SIGBUS. Last, a
 * writer recovers a directory while a read-only reader holds views of its active segment: the
 * segment keeps its size (leftovers are zeroed in place), and the reader's views stay intact.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, SluiceError, type LogOptions, type RecoveryReport } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { batchesOf, copyDir, flipBit, overwrite, prng, readAll, recordText, segmentsOf, testSeed } from '../helpers/crash-files.cjs';
import { crashedLog, openError } from '../helpers/crashed-log';

const SEGMENT_BYTES = 64 * 1024;
const OPTIONS: LogOptions = { segmentBytes: SEGMENT_BYTES, indexIntervalBytes: 1024, sync: 'none' };

/** Every file of `dir`: name -> size and SHA-256. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const bytes = fs.readFileSync(path.join(dir, name));
    out[name] = `${bytes.length}:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
  }
  return out;
}

function counts(r: RecoveryReport): Omit<RecoveryReport, 'durationMs' | 'readOnly'> {
  const { durationMs: _d, readOnly: _r, ...rest } = r;
  return rest;
}

/**
 * Opens copy `ro` read-only and copy `rw` as a writer (both damaged alike) and checks that the
 * first changed nothing, reported what the second did, and reads what the second kept.
 */
async function compareOpens(ro: string, rw: string, options: LogOptions): Promise<RecoveryReport> {
  const before = fingerprint(ro);
  const reader = await Log.open(ro, { ...options, readOnly: true });
  const seen = readAll(reader).map(recordText);
  const report = reader.recovery;
  const range = [reader.startOffset, reader.endOffset];
  await reader.close();
  expect(fingerprint(ro)).toEqual(before);
  expect(report.readOnly).toBe(true);

  const writer = await Log.open(rw, options);
  expect(writer.recovery.readOnly).toBe(false);
  expect(counts(report)).toEqual(counts(writer.recovery));
  expect(range).toEqual([writer.startOffset, writer.endOffset]);
  expect(seen).toEqual(readAll(writer).map(recordText));
  await writer.close();
  return report;
}

describe('read-only open of a crashed log', () => {
  it('reports a torn tail without cutting it, and reads up to it', async () => {
    const rng = prng(testSeed('read-only torn tail'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 30, true, 300);
    const ro = tmpDir();
    const rw = tmpDir();
    for (const dir of [ro, rw]) {
      fs.rmSync(dir, { recursive: true });
      copyDir(snapshot, dir);
      const active = segmentsOf(dir).at(-1)!;
      const batches = batchesOf(fs.readFileSync(active.log));
      const last = batches[batches.length - 1];
      fs.truncateSync(active.log, last.position + Math.floor((last.end - last.position) / 2));
    }
    const report = await compareOpens(ro, rw, OPTIONS);
    expect(report.cleanShutdown).toBe(false);
    expect(report.bytesTruncated).toBeGreaterThan(0);
    const reader = await Log.open(ro, { ...OPTIONS, readOnly: true });
    expect(reader.endOffset).toBeLessThan(expected.length);
    expect(readAll(reader).map(recordText)).toEqual(expected.slice(0, reader.endOffset).map(recordText));
    await reader.close();
  });

  it('reports the segments a lost tail would delete, and deletes none', async () => {
    const rng = prng(testSeed('read-only lost tail'));
    const { snapshot } = await crashedLog(OPTIONS, rng, 60, true, 1500);
    const ro = tmpDir();
    const rw = tmpDir();
    for (const dir of [ro, rw]) {
      fs.rmSync(dir, { recursive: true });
      copyDir(snapshot, dir);
      fs.rmSync(path.join(dir, 'sluice.meta'));
      const first = segmentsOf(dir)[0];
      const batches = batchesOf(fs.readFileSync(first.log));
      const from = batches[Math.floor(batches.length / 2)].position;
      overwrite(first.log, from, Buffer.alloc(batches[batches.length - 1].end - from));
    }
    const segments = segmentsOf(ro).length;
    expect(segments).toBeGreaterThan(1);
    const report = await compareOpens(ro, rw, OPTIONS);
    expect(report.segmentsDeleted).toBe(segments - 1);
    expect(report.bytesTruncated).toBeGreaterThan(0);
    expect(segmentsOf(ro).length).toBe(segments);
    expect(segmentsOf(rw).length).toBe(1);
  });

  it('fails on mid-log corruption, and with repair reports the cut without making it', async () => {
    const rng = prng(testSeed('read-only repair'));
    const { snapshot } = await crashedLog(OPTIONS, rng, 60, true, 1500);
    const ro = tmpDir();
    const rw = tmpDir();
    for (const dir of [ro, rw]) {
      fs.rmSync(dir, { recursive: true });
      copyDir(snapshot, dir);
      const first = segmentsOf(dir)[0];
      const batches = batchesOf(fs.readFileSync(first.log));
      flipBit(first.log, batches[Math.floor(batches.length / 2)].position + 70);
      fs.rmSync(first.index); // so that the segment is rescanned, not trusted
    }
    const before = fingerprint(ro);
    const err: SluiceError = await openError(ro, { ...OPTIONS, readOnly: true });
    expect(err.code).toBe('CORRUPT');
    expect(err.path).toBe(segmentsOf(ro)[0].log);
    expect(fingerprint(ro)).toEqual(before);
    const report = await compareOpens(ro, rw, { ...OPTIONS, repair: true });
    expect(report.segmentsDeleted).toBeGreaterThan(0);
  });

  it('keeps the views of a reader intact while a writer recovers the directory', async () => {
    const rng = prng(testSeed('read-only beside recovery'));
    const big: LogOptions = { ...OPTIONS, segmentBytes: 2 * SEGMENT_BYTES };
    const { snapshot, expected } = await crashedLog(big, rng, 30, false, 300);
    const dir = tmpDir();
    fs.rmSync(dir, { recursive: true });
    copyDir(snapshot, dir);
    const active = segmentsOf(dir).at(-1)!;
    const batches = batchesOf(fs.readFileSync(active.log));
    const last = batches[batches.length - 1];
    // A torn last batch: its second half never reached the disk.
    const half = last.position + Math.floor((last.end - last.position) / 2);
    overwrite(active.log, half, Buffer.alloc(last.end - half));
    const size = fs.statSync(active.log).size;

    const reader = await Log.open(dir, { ...big, readOnly: true });
    const held = readAll(reader);
    expect(held.length).toBe(last.baseOffset);
    // The writer wants smaller segments now; the existing one keeps its size all the same.
    const writer = await Log.open(dir, OPTIONS);
    expect(writer.recovery.bytesTruncated).toBeGreaterThan(0);
    expect(fs.statSync(active.log).size).toBe(size);
    const bytes = fs.readFileSync(active.log);
    expect(bytes.subarray(last.position).every((b) => b === 0)).toBe(true);
    expect(held.map(recordText)).toEqual(expected.slice(0, held.length).map(recordText));
    writer.append('next');
    await writer.close();
    await reader.close();
    expect(held.map(recordText)).toEqual(expected.slice(0, held.length).map(recordText));
  });
});
