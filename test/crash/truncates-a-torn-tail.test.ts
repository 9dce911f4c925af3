/**
 * Truncates a torn tail. Method: a log is written through the public API with small batches
 * (seal() between groups of random messages, seeded), flushed, and its directory copied aside while
 * it is still open, so the copy is what an unclean shutdown leaves: no clean-shutdown mark in
 * sluice.meta. Then, for every byte length L across the last batches of the active segment, a fresh
 * copy has its .log file cut to L bytes (fs.truncateSync, as a crash part-way through writing the
 * file's pages would leave it) and is reopened. The batches wholly below L must survive byte for
 * byte and nothing else: the end offset is the next offset after them, every read returns exactly
 * their records, nothing of the torn batch is readable, the file is given its capacity back with
 * zeros after the data, appends continue at the end offset, and a reopen after a clean close is
 * clean. The same cut below the recovery point (offsets the log had already declared durable) is
 * corruption, not a torn tail. Batch boundaries come from the file itself (test/helpers/crash-files.cjs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Log, SluiceError, type LogOptions } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';
import { appendGroups, batchesOf, copyDir, prng, readAll, recordText, segmentsOf, testSeed } from '../helpers/crash-files.cjs';
import { type Expected, crashedLog, expectHolds } from '../helpers/crashed-log';

const SEGMENT_BYTES = 64 * 1024;
const OPTIONS: LogOptions = { segmentBytes: SEGMENT_BYTES, indexIntervalBytes: 1024, sync: 'none' };

interface Cut {
  L: number;
  survivors: number; // the end offset the cut must leave: the next offset after the whole batches
  dataEnd: number; // where the surviving batches end in the file
  tornBytes: number; // bytes between dataEnd and L
}

/** What a cut of the active segment to L bytes must leave. */
function cutAt(batches: ReturnType<typeof batchesOf>, base: number, L: number): Cut {
  const whole = batches.filter((b) => b.end <= L);
  const last = whole[whole.length - 1];
  const dataEnd = last === undefined ? 0 : last.end;
  return { L, survivors: last === undefined ? base : last.nextOffset, dataEnd, tornBytes: Math.min(L, batches[batches.length - 1].end) - dataEnd };
}

async function checkCut(snapshot: string, expected: readonly Expected[], L: number, work: string, options: LogOptions, deleteMeta = false): Promise<void> {
  const dir = path.join(work, `cut-${L}`);
  copyDir(snapshot, dir);
  if (deleteMeta) fs.rmSync(path.join(dir, 'sluice.meta'));
  const segments = segmentsOf(dir);
  const active = segments[segments.length - 1];
  const original = fs.readFileSync(active.log);
  const batches = batchesOf(original);
  const cut = cutAt(batches, active.base, L);
  fs.truncateSync(active.log, L);
  const what = `cut at L=${L} (data ends at ${cut.dataEnd}, ${cut.survivors} records survive)`;

  let log = await Log.open(dir, options);
  try {
    expect(log.endOffset, what).toBe(cut.survivors);
    expect(log.highWatermark, what).toBe(cut.survivors);
    expect(log.startOffset, what).toBe(0);
    const r = log.recovery;
    expect(r.cleanShutdown, what).toBe(false);
    expect(r.segmentsDeleted, what).toBe(0);
    expect(r.bytesTruncated, what).toBeLessThanOrEqual(cut.tornBytes);
    if (original.subarray(cut.dataEnd, cut.dataEnd + cut.tornBytes).some((b) => b !== 0)) {
      expect(r.bytesTruncated, what).toBeGreaterThan(0);
    }
    expectHolds(log, expected.slice(0, cut.survivors));
    // Nothing of the torn batch is readable, and nothing past it.
    expect(log.read(cut.survivors), what).toEqual([]);
    expect(() => log.read(cut.survivors + 1), what).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
    expect(log.offsetForTime(Number.MAX_SAFE_INTEGER), what).toBe(null);

    // The file has its capacity back: the surviving bytes untouched, zeros after them.
    const after = fs.readFileSync(active.log);
    expect(after.length, what).toBe(SEGMENT_BYTES);
    expect(after.subarray(0, cut.dataEnd).equals(original.subarray(0, cut.dataEnd)), what).toBe(true);
    expect(after.subarray(cut.dataEnd).every((b) => b === 0), `${what}: bytes after the data are zero`).toBe(true);

    // Appends continue at the end offset.
    const value = Buffer.from(`after a cut at ${L}`);
    expect(log.append(value, { timestamp: 1 }), what).toBe(cut.survivors);
    await log.visible();
    const back = log.read(cut.survivors);
    expect(back.length, what).toBe(1);
    expect(back[0].value?.equals(value), what).toBe(true);
    await log.close();

    // A clean close makes the next open clean, with the same records.
    log = await Log.open(dir, options);
    expect(log.recovery.cleanShutdown, what).toBe(true);
    expect(log.recovery.segmentsScanned, what).toBe(0);
    expect(log.recovery.bytesTruncated, what).toBe(0);
    expect(log.endOffset, what).toBe(cut.survivors + 1);
    const all = readAll(log);
    expect(all.slice(0, -1).map(recordText), what).toEqual(expected.slice(0, cut.survivors).map(recordText));
    expect(all[all.length - 1].value?.equals(value), what).toBe(true);
  } finally {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('truncates a torn tail', () => {
  it('keeps exactly the whole batches below every cut across the last three batches of the active segment', async () => {
    const rng = prng(testSeed('truncates-a-torn-tail (rolled log)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 8, true, 40);
    const segments = segmentsOf(snapshot);
    expect(segments.length).toBe(2);
    const batches = batchesOf(fs.readFileSync(segments[1].log));
    // The batch that did not fit in the first segment opened the second one.
    expect(batches.length).toBe(9);
    expect(batches[batches.length - 1].nextOffset).toBe(expected.length);
    const work = tmpDir();
    const from = batches[batches.length - 3].position;
    const to = batches[batches.length - 1].end;
    for (let L = from; L <= to + 2; L++) await checkCut(snapshot, expected, L, work, OPTIONS);
    // Cuts inside the zeros after the data lose nothing.
    for (const L of [to + 61, to + 4096, SEGMENT_BYTES - 1]) await checkCut(snapshot, expected, L, work, OPTIONS);
  });

  it('handles every cut of a single-segment log, down to an empty file', async () => {
    const rng = prng(testSeed('truncates-a-torn-tail (one segment)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 3, false, 16);
    const batches = batchesOf(fs.readFileSync(segmentsOf(snapshot)[0].log));
    expect(batches.length).toBe(3);
    const work = tmpDir();
    for (let L = 0; L <= batches[batches.length - 1].end; L++) await checkCut(snapshot, expected, L, work, OPTIONS);
  });

  it('truncates the same way when sluice.meta is lost and every segment is rescanned', async () => {
    const rng = prng(testSeed('truncates-a-torn-tail (no meta)'));
    const { snapshot, expected } = await crashedLog(OPTIONS, rng, 6, true, 40);
    const segments = segmentsOf(snapshot);
    const batches = batchesOf(fs.readFileSync(segments[segments.length - 1].log));
    const work = tmpDir();
    // Every third byte keeps this quick; the exhaustive sweep is the first test.
    for (let L = batches[batches.length - 3].position; L <= batches[batches.length - 1].end; L += 3) {
      await checkCut(snapshot, expected, L, work, OPTIONS, true);
    }
  });

  it('reports a cut below the recovery point as corruption, and repair truncates it', async () => {
    const rng = prng(testSeed('truncates-a-torn-tail (below the recovery point)'));
    const dir = tmpDir();
    const expected: Expected[] = [];
    const clock = { now: 1_700_000_000_000 };
    let log = await Log.open(dir, OPTIONS);
    appendGroups(log, rng, clock, 6, 40, expected);
    await log.close();
    // Reopening checkpoints the end as the recovery point: those offsets were declared durable.
    log = await Log.open(dir, OPTIONS);
    const durable = log.endOffset;
    appendGroups(log, rng, clock, 3, 40, expected);
    await log.flush();
    const snapshot = tmpDir();
    fs.rmSync(snapshot, { recursive: true });
    copyDir(dir, snapshot);
    await log.close();

    const active = segmentsOf(snapshot)[0];
    const batches = batchesOf(fs.readFileSync(active.log));
    const below = batches.find((b) => b.nextOffset === durable)!;
    expect(below).toBeDefined();
    const work = tmpDir();
    // Cuts inside the batches before the recovery point: open refuses, naming the segment.
    for (const L of [below.end - 1, below.position + 10, batches[1].position + 1]) {
      const d = path.join(work, `below-${L}`);
      copyDir(snapshot, d);
      fs.truncateSync(active.log.replace(snapshot, d), L);
      const err = await Log.open(d, OPTIONS).then(
        async (l) => {
          await l.close();
          return null;
        },
        (e: unknown) => e,
      );
      expect(err, `cut at ${L} below the recovery point ${durable} opened`).toBeInstanceOf(SluiceError);
      expect((err as SluiceError).code).toBe('CORRUPT');
      expect((err as SluiceError).path).toBe(active.log.replace(snapshot, d));
      expect(typeof (err as SluiceError).position).toBe('number');
      // repair: true accepts the loss and truncates at the cut.
      const repaired = await Log.open(d, { ...OPTIONS, repair: true });
      const cut = cutAt(batches, 0, L);
      expect(repaired.endOffset).toBe(cut.survivors);
      expectHolds(repaired, expected.slice(0, cut.survivors));
      await repaired.close();
    }
    // A cut after the recovery point is an ordinary torn tail.
    await checkCut(snapshot, expected, batches[batches.length - 1].end - 1, work, OPTIONS);
  });
});
