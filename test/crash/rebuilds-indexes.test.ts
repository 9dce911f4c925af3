/**
 * Rebuilds a corrupt index. Method: a log of four segments is written through the public API
 * (random messages with timestamps that mostly grow but sometimes step back, seeded; a small
 * index interval so that every segment has many entries) and closed cleanly, so that every
 * segment would be trusted and opened from its .index and .timeindex files. Those files are then
 * damaged with fs: replaced by random bytes, cut to a length that is not a whole number of
 * entries, given extra bytes, two entries swapped, an entry pointing past the data, an entry past
 * the segment's last offset, emptied, or deleted. Index files carry no checksum, so the engine
 * must notice that they are unusable and rebuild them from the log: the reopened log reports
 * `recovery.indexesRebuilt` > 0 where a file was unusable, and every answer it gives equals the
 * truth the test kept while appending: the record at each offset, every read from every offset,
 * and `offsetForTime` for every timestamp in the log, either side of it, and beyond both ends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Log, type LogOptions } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';
import { appendGroups, copyDir, prng, readAll, recordText, segmentsOf, testSeed } from '../helpers/crash-files.cjs';
import { type Expected } from '../helpers/crashed-log';

const OPTIONS: LogOptions = { segmentBytes: 64 * 1024, indexIntervalBytes: 512, sync: 'none' };
const OFFSET_ENTRY_BYTES = 8;
const TIME_ENTRY_BYTES = 12;

type Segment = ReturnType<typeof segmentsOf>[number];
type Rng = ReturnType<typeof prng>;

/** Which index files a damage touches, and what it does to their bytes. */
interface Damage {
  name: string;
  files: ('index' | 'timeIndex')[];
  /** New contents, or null to delete the file. */
  apply: (bytes: Buffer, rng: Rng, seg: Segment, entryBytes: number) => Buffer | null;
  /** Whether the engine must count the segment as rebuilt (false: still usable, e.g. empty). */
  rebuilt: boolean;
}

function swapEntries(bytes: Buffer, entryBytes: number): Buffer {
  const n = bytes.length / entryBytes;
  expect(n).toBeGreaterThanOrEqual(3);
  const out = Buffer.from(bytes);
  const i = Math.floor(n / 2);
  bytes.copy(out, i * entryBytes, (i + 1) * entryBytes, (i + 2) * entryBytes);
  bytes.copy(out, (i + 1) * entryBytes, i * entryBytes, (i + 1) * entryBytes);
  return out;
}

const DAMAGES: Damage[] = [
  { name: 'random bytes in .index', files: ['index'], apply: (b, rng) => rng.bytes(b.length), rebuilt: true },
  { name: 'random bytes in .timeindex', files: ['timeIndex'], apply: (b, rng) => rng.bytes(b.length), rebuilt: true },
  { name: 'a single random entry in .timeindex', files: ['timeIndex'], apply: (_b, rng) => rng.bytes(TIME_ENTRY_BYTES), rebuilt: true },
  { name: 'random bytes in both', files: ['index', 'timeIndex'], apply: (b, rng) => rng.bytes(b.length), rebuilt: true },
  { name: '.index cut mid-entry', files: ['index'], apply: (b) => b.subarray(0, b.length - 3), rebuilt: true },
  { name: '.timeindex cut mid-entry', files: ['timeIndex'], apply: (b) => b.subarray(0, b.length - 5), rebuilt: true },
  { name: 'extra bytes after the entries', files: ['index', 'timeIndex'], apply: (b) => Buffer.concat([b, Buffer.from([1, 2, 3])]), rebuilt: true },
  { name: 'two .index entries swapped', files: ['index'], apply: (b, _r, _s, e) => swapEntries(b, e), rebuilt: true },
  { name: 'two .timeindex entries swapped', files: ['timeIndex'], apply: (b, _r, _s, e) => swapEntries(b, e), rebuilt: true },
  {
    name: 'an .index entry past the end of the data',
    files: ['index'],
    apply: (b) => {
      const out = Buffer.concat([b, Buffer.alloc(OFFSET_ENTRY_BYTES)]);
      out.writeUInt32BE(0x7fff_0000, b.length);
      out.writeUInt32BE(0x7fff_0000, b.length + 4);
      return out;
    },
    rebuilt: true,
  },
  {
    name: 'a .timeindex entry past the last offset of the segment',
    files: ['timeIndex'],
    apply: (b) => {
      // Ordered after the real entries, but naming an offset the segment does not hold.
      const out = Buffer.concat([b, Buffer.alloc(TIME_ENTRY_BYTES)]);
      out.writeBigInt64BE(b.readBigInt64BE(b.length - TIME_ENTRY_BYTES) + 1n, b.length);
      out.writeUInt32BE(0x7fff_0000, b.length + 8);
      return out;
    },
    rebuilt: true,
  },
  {
    name: 'a .timeindex entry with a timestamp below the data',
    files: ['timeIndex'],
    apply: (b) => {
      // A lone entry (ordered, in range) claiming that nothing up to the last offset reaches 1 ms.
      const out = Buffer.alloc(TIME_ENTRY_BYTES);
      out.writeBigInt64BE(1n, 0);
      out.writeUInt32BE(b.readUInt32BE(b.length - 4), 8);
      return out;
    },
    rebuilt: true,
  },
  {
    name: 'an ordered .index entry pointing inside a batch',
    files: ['index'],
    apply: (b) => {
      // Still strictly increasing, so it parses; reads must not trust it.
      const out = Buffer.from(b);
      const i = Math.floor(b.length / OFFSET_ENTRY_BYTES / 2) * OFFSET_ENTRY_BYTES;
      out.writeUInt32BE(b.readUInt32BE(i + 4) + 5, i + 4);
      return out;
    },
    rebuilt: false,
  },
  { name: 'zeros in both (same lengths)', files: ['index', 'timeIndex'], apply: (b) => Buffer.alloc(b.length), rebuilt: true },
  { name: 'a missing .index', files: ['index'], apply: () => null, rebuilt: true },
  { name: 'a missing .timeindex', files: ['timeIndex'], apply: () => null, rebuilt: true },
  { name: 'both files missing', files: ['index', 'timeIndex'], apply: () => null, rebuilt: true },
  { name: 'both files empty', files: ['index', 'timeIndex'], apply: () => Buffer.alloc(0), rebuilt: false },
];

async function writeLog(seed: number, dir: string): Promise<Expected[]> {
  const rng = prng(seed);
  const clock = { now: 1_700_000_000_000 };
  const expected: Expected[] = [];
  const log = await Log.open(dir, OPTIONS);
  while (log.stats().segments < 4) appendGroups(log, rng, clock, 1, 900, expected);
  appendGroups(log, rng, clock, 12, 400, expected);
  await log.close();
  return expected;
}

/** The truth about offsetForTime: the first offset whose timestamp is at or after t. */
function firstAtOrAfter(expected: readonly Expected[], t: number): number | null {
  for (const r of expected) if (r.timestamp >= t) return r.offset;
  return null;
}

function expectAnswersMatch(log: Log, expected: readonly Expected[], what: string): void {
  expect(log.startOffset, what).toBe(0);
  expect(log.endOffset, what).toBe(expected.length);
  expect(readAll(log).map(recordText), what).toEqual(expected.map(recordText));
  for (let o = 0; o < expected.length; o++) {
    const one = log.read(o, { maxRecords: 1 });
    expect(one.map(recordText), `${what}: read(${o})`).toEqual([recordText(expected[o])]);
    const many = log.read(o, { maxBytes: 1 });
    expect(many.length, `${what}: read(${o}, maxBytes 1)`).toBeGreaterThan(0);
    expect(many.map(recordText), `${what}: read(${o}, maxBytes 1)`).toEqual(expected.slice(o, o + many.length).map(recordText));
  }
  const times = new Set<number>([0, Number.MAX_SAFE_INTEGER]);
  for (const r of expected) for (const d of [-1, 0, 1]) times.add(r.timestamp + d);
  for (const t of [...times].sort((a, b) => a - b)) {
    expect(log.offsetForTime(t), `${what}: offsetForTime(${t})`).toBe(firstAtOrAfter(expected, t));
  }
}

describe('rebuilds a corrupt index', () => {
  const seed = testSeed('rebuilds-indexes');

  it('opens the undamaged log from its indexes with the same answers (the baseline)', async () => {
    const dir = tmpDir();
    const expected = await writeLog(seed, dir);
    const log = await Log.open(dir, OPTIONS);
    try {
      expect(log.recovery.cleanShutdown).toBe(true);
      expect(log.recovery.indexesRebuilt).toBe(0);
      expect(log.recovery.segmentsLoaded).toBe(4);
      expectAnswersMatch(log, expected, 'undamaged');
    } finally {
      await log.close();
    }
  });

  for (const damage of DAMAGES) {
    it(`rebuilds after ${damage.name} of a sealed segment`, async () => {
      const rng = prng(seed + 1);
      const pristine = tmpDir();
      const expected = await writeLog(seed, pristine);
      const segs = segmentsOf(pristine);
      expect(segs.length).toBe(4);
      // Every sealed segment at once, and each alone (the middle one), so that both a lone damaged
      // segment between good ones and a run of damaged ones are covered.
      for (const victims of [segs.slice(0, -1), [segs[1]]]) {
        const dir = path.join(tmpDir(), 'log');
        copyDir(pristine, dir);
        for (const victim of victims) {
          for (const which of damage.files) {
            const file = victim[which].replace(pristine, dir);
            const before = fs.readFileSync(file);
            const after = damage.apply(before, rng, victim, which === 'index' ? OFFSET_ENTRY_BYTES : TIME_ENTRY_BYTES);
            if (after === null) fs.rmSync(file);
            else fs.writeFileSync(file, after);
          }
        }
        const what = `${damage.name} in segment(s) ${victims.map((v) => v.base).join(', ')}`;
        let log = await Log.open(dir, OPTIONS);
        try {
          expectAnswersMatch(log, expected, what);
          if (damage.rebuilt) expect(log.recovery.indexesRebuilt, what).toBeGreaterThanOrEqual(victims.length);
          // Appends go on, and the next open still answers the same.
          expect(log.append('after', { timestamp: 1_800_000_000_000 }), what).toBe(expected.length);
          await log.visible();
          await log.close();
          log = await Log.open(dir, OPTIONS);
          expect(log.recovery.cleanShutdown, what).toBe(true);
          expect(log.endOffset, what).toBe(expected.length + 1);
          expectAnswersMatch(
            log,
            [...expected, { offset: expected.length, timestamp: 1_800_000_000_000, key: null, value: Buffer.from('after'), headers: [] }],
            `${what}, reopened`,
          );
        } finally {
          await log.close();
        }
      }
    });
  }

  it('rebuilds the indexes of the active segment after a clean close', async () => {
    const pristine = tmpDir();
    const expected = await writeLog(seed, pristine);
    const active = segmentsOf(pristine)[3];
    for (const [name, change] of [
      ['missing', (f: string) => fs.rmSync(f)],
      ['garbage', (f: string) => fs.writeFileSync(f, prng(seed).bytes(fs.statSync(f).size + 4))],
    ] as const) {
      const dir = path.join(tmpDir(), 'log');
      copyDir(pristine, dir);
      change(active.index.replace(pristine, dir));
      change(active.timeIndex.replace(pristine, dir));
      const log = await Log.open(dir, OPTIONS);
      try {
        expectAnswersMatch(log, expected, `active segment, ${name} indexes`);
        expect(log.recovery.indexesRebuilt, name).toBeGreaterThan(0);
        expect(log.append('x'), name).toBe(expected.length);
      } finally {
        await log.close();
      }
    }
  });

  it('writes rebuilt index files back, so that the next open loads every segment from them', async () => {
    const dir = tmpDir();
    const expected = await writeLog(seed, dir);
    const segs = segmentsOf(dir);
    fs.rmSync(segs[0].index);
    fs.writeFileSync(segs[1].timeIndex, Buffer.from('not an index file'));
    let log = await Log.open(dir, OPTIONS);
    expect(log.recovery.indexesRebuilt).toBe(2);
    await log.close();
    log = await Log.open(dir, OPTIONS);
    try {
      // Otherwise every open pays a CRC scan of those segments again, for ever.
      expect(log.recovery.indexesRebuilt).toBe(0);
      expect(log.recovery.segmentsScanned).toBe(0);
      expect(log.recovery.segmentsLoaded).toBe(4);
      expectAnswersMatch(log, expected, 'reopened after a rebuild');
    } finally {
      await log.close();
    }
  });

  it('rebuilds every index when sluice.meta is gone too', async () => {
    const dir = tmpDir();
    const expected = await writeLog(seed, dir);
    fs.rmSync(path.join(dir, 'sluice.meta'));
    const rng = prng(seed + 2);
    for (const seg of segmentsOf(dir)) {
      fs.writeFileSync(seg.index, rng.bytes(40));
      fs.rmSync(seg.timeIndex);
    }
    const log = await Log.open(dir, OPTIONS);
    try {
      expect(log.recovery.segmentsScanned).toBe(4);
      expectAnswersMatch(log, expected, 'no meta, garbage indexes');
    } finally {
      await log.close();
    }
  });
});
