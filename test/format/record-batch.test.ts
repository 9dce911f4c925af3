/**
 * Proves that what Sluice writes is Kafka: every `.log` file of a log written through the public
 * API is read with the independent decoder in ./kafka-decoder.ts (its own CRC-32C and varints,
 * written from the spec), every batch is checked field by field against RecordBatch v2, and the
 * records decode to exactly what was appended. The `.index` and `.timeindex` files of a cleanly
 * closed log are parsed too and every entry is checked against the batches it names.
 *
 * The content is random but seeded; the seed is printed so that a failure can be replayed with
 * SLUICE_TEST_SEED=<seed>.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, type LogOptions, type Message } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';
import { mulberry32 } from '../helpers/prng';
import {
  crc32c,
  decodeBatch,
  decodeLogFile,
  parseOffsetIndex,
  parseTimeIndex,
  segmentBases,
  segmentName,
  type DecodedBatch,
} from './kafka-decoder';

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openLog(dir: string, options: LogOptions): Promise<Log> {
  const log = await Log.open(dir, options);
  open.push(log);
  return log;
}

function seedFromEnv(): number {
  const s = process.env.SLUICE_TEST_SEED;
  const seed = s !== undefined ? Number(s) : Math.floor(Math.random() * 2 ** 31);
  console.log(`record-batch.test.ts seed=${seed} (replay with SLUICE_TEST_SEED=${seed})`);
  return seed;
}

interface Expected {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ key: string; value: Buffer | null }>;
}

function asBuffer(v: Buffer | Uint8Array | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Appends random records (keys, nulls, empties, headers, out-of-order timestamps) until `bytes`. */
async function writeRandomLog(log: Log, rand: () => number, bytes: number): Promise<Expected[]> {
  const expected: Expected[] = [];
  const T0 = 1_700_000_000_000;
  let clock = T0;
  let written = 0;
  const randomBytes = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
    return b;
  };
  const makeMessage = (): Message => {
    clock += Math.floor(rand() * 20);
    // One record in eight goes back in time, so that a batch's max timestamp is not its last.
    const timestamp = rand() < 0.125 ? clock - Math.floor(rand() * 5000) : clock;
    const r = rand();
    const value = r < 0.1 ? null : r < 0.2 ? Buffer.alloc(0) : r < 0.3 ? `välue ${clock} ✓` : randomBytes(Math.floor(rand() * 600));
    const k = rand();
    const key = k < 0.3 ? null : k < 0.4 ? '' : k < 0.7 ? `key-${Math.floor(rand() * 1000)}` : randomBytes(1 + Math.floor(rand() * 40));
    const h = rand();
    const headers =
      h < 0.5
        ? undefined
        : h < 0.7
          ? { trace: randomBytes(8), empty: '', none: null }
          : ([
              ['dup', 'first'],
              ['dup', null],
              ['ünïcode', Buffer.from([0, 1, 2])],
              ['dup', 'third'],
            ] as Array<[string, string | Buffer | null]>);
    return { value, key, headers, timestamp };
  };
  const note = (offset: number, m: Message): void => {
    const headers =
      m.headers === undefined
        ? []
        : (Array.isArray(m.headers) ? m.headers : Object.entries(m.headers)).map(([key, value]) => ({ key, value: asBuffer(value) }));
    expected.push({ offset, timestamp: m.timestamp!, key: asBuffer(m.key), value: asBuffer(m.value), headers });
    written += (asBuffer(m.value)?.length ?? 0) + (asBuffer(m.key)?.length ?? 0) + 20;
  };
  while (written < bytes) {
    const n = 1 + Math.floor(rand() * 40);
    if (rand() < 0.3) {
      const batch = Array.from({ length: n }, makeMessage);
      const first = log.appendBatch(batch);
      batch.forEach((m, i) => note(first + i, m));
    } else {
      for (let i = 0; i < n; i++) {
        const m = makeMessage();
        note(log.append(m.value, { key: m.key, headers: m.headers, timestamp: m.timestamp }), m);
      }
    }
    const s = rand();
    if (s < 0.3) log.seal();
    else if (s < 0.6) await log.visible();
  }
  await log.visible();
  return expected;
}

interface Segment {
  base: number;
  file: Buffer;
  batches: DecodedBatch[];
  dataEnd: number;
}

/** Decodes every segment `.log` file of `dir`, checking each batch against RecordBatch v2. */
function readSegments(dir: string, segmentBytes: number, batchBytesMax: number): Segment[] {
  const bases = segmentBases(fs.readdirSync(dir));
  const segments: Segment[] = [];
  let next = bases[0];
  for (const base of bases) {
    const file = fs.readFileSync(path.join(dir, segmentName(base, '.log')));
    // Preallocated at full capacity, never shrunk: zeros after the last batch.
    expect(file.length).toBe(segmentBytes);
    const decoded = decodeLogFile(file);
    expect(decoded.zeroTail).toBe(true);
    expect(decoded.batches.length).toBeGreaterThan(0);
    expect(decoded.batches[0].baseOffset).toBe(base);
    expect(base).toBe(next);
    for (const b of decoded.batches) {
      expect(b.computedCrc, `CRC of the batch at ${b.position} of ${base}`).toBe(b.crc);
      expect(b.magic).toBe(2);
      expect(b.attributes).toBe(0);
      expect(b.partitionLeaderEpoch).toBe(0);
      expect(b.producerId).toBe(-1);
      expect(b.producerEpoch).toBe(-1);
      expect(b.baseSequence).toBe(-1);
      expect(b.recordsCount).toBeGreaterThan(0);
      expect(b.lastOffsetDelta).toBe(b.recordsCount - 1);
      expect(b.baseOffset).toBe(next);
      expect(b.totalBytes).toBeLessThanOrEqual(batchBytesMax);
      expect(b.baseTimestamp).toBe(b.records[0].timestamp);
      expect(b.maxTimestamp).toBe(Math.max(...b.records.map((r) => r.timestamp)));
      b.records.forEach((r, i) => {
        expect(r.attributes).toBe(0);
        expect(r.offsetDelta).toBe(i);
      });
      next = b.nextOffset;
    }
    segments.push({ base, file, batches: decoded.batches, dataEnd: decoded.dataEnd });
  }
  return segments;
}

function compareRecords(segments: Segment[], expected: Expected[]): void {
  const records = segments.flatMap((s) => s.batches.flatMap((b) => b.records));
  expect(records.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const r = records[i];
    const e = expected[i];
    expect({ offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers }, `record ${i}`).toEqual(e);
  }
}

describe('CRC-32C of the test decoder', () => {
  it('matches the standard check value', () => {
    // The CRC-32C check value of "123456789" (RFC 3720, appendix B.4).
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
  });
});

describe('segment files are Kafka RecordBatch v2', () => {
  it('writes one record as exactly the bytes the spec gives', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { segmentBytes: 65536 });
    log.append('hello', { key: 'k', headers: [['h', 'v']], timestamp: 1_700_000_000_000 });
    log.append(null, { timestamp: 1_699_999_999_999 });
    await log.close();

    const records = Buffer.from([
      // length 16 | attributes | tsDelta 0 | offsetDelta 0 | key len 1, "k" | value len 5, "hello"
      // | 1 header: key len 1, "h", value len 1, "v"
      0x20, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x0a, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x02, 0x02, 0x68, 0x02, 0x76,
      // length 6 | attributes | tsDelta -1 | offsetDelta 1 | key null | value null | no headers
      0x0c, 0x00, 0x01, 0x02, 0x01, 0x01, 0x00,
    ]);
    const want = Buffer.alloc(61 + records.length);
    want.writeBigInt64BE(0n, 0); // baseOffset
    want.writeInt32BE(want.length - 12, 8); // batchLength
    want.writeInt32BE(0, 12); // partitionLeaderEpoch
    want.writeInt8(2, 16); // magic
    want.writeInt16BE(0, 21); // attributes
    want.writeInt32BE(1, 23); // lastOffsetDelta
    want.writeBigInt64BE(1_700_000_000_000n, 27); // baseTimestamp
    want.writeBigInt64BE(1_700_000_000_000n, 35); // maxTimestamp
    want.writeBigInt64BE(-1n, 43); // producerId
    want.writeInt16BE(-1, 51); // producerEpoch
    want.writeInt32BE(-1, 53); // baseSequence
    want.writeInt32BE(2, 57); // recordsCount
    records.copy(want, 61);
    want.writeUInt32BE(crc32c(want, 21, want.length), 17);

    const file = fs.readFileSync(path.join(dir, segmentName(0, '.log')));
    expect(file.subarray(0, want.length).toString('hex')).toBe(want.toString('hex'));
    expect(file.subarray(want.length, want.length + 61).every((b) => b === 0)).toBe(true);
  });

  it('holds valid batches that decode to exactly the appended records', async () => {
    const seed = seedFromEnv();
    const dir = tmpDir();
    const options = { segmentBytes: 65536, batchBytesMax: 4096, indexIntervalBytes: 1024 };
    const log = await openLog(dir, options);
    const expected = await writeRandomLog(log, mulberry32(seed), 300_000);
    await log.close();

    const segments = readSegments(dir, options.segmentBytes, options.batchBytesMax);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    compareRecords(segments, expected);
  });

  it('holds valid batches while the log is open, once flushed', async () => {
    const seed = seedFromEnv();
    const dir = tmpDir();
    const options = { segmentBytes: 65536, indexIntervalBytes: 4096 };
    const log = await openLog(dir, options);
    const expected = await writeRandomLog(log, mulberry32(seed), 150_000);
    await log.flush();
    // The active segment's data ends at an all-zero header even though the log is still open.
    const segments = readSegments(dir, options.segmentBytes, 65536);
    compareRecords(segments, expected);
  });

  it('writes index files whose entries point at the batches they name', async () => {
    const seed = seedFromEnv();
    const dir = tmpDir();
    const options = { segmentBytes: 65536, batchBytesMax: 2048, indexIntervalBytes: 700 };
    const log = await openLog(dir, options);
    const expected = await writeRandomLog(log, mulberry32(seed), 250_000);
    await log.close();

    const segments = readSegments(dir, options.segmentBytes, options.batchBytesMax);
    compareRecords(segments, expected);
    let entriesSeen = 0;
    segments.forEach((seg, s) => {
      const rolled = s < segments.length - 1;
      const index = parseOffsetIndex(fs.readFileSync(path.join(dir, segmentName(seg.base, '.index'))));
      const timeIndex = parseTimeIndex(fs.readFileSync(path.join(dir, segmentName(seg.base, '.timeindex'))));
      const byPosition = new Map(seg.batches.map((b, i) => [b.position, i]));

      // Offset index: each entry maps a batch's last offset to that batch's position, and an entry
      // is added exactly when more than indexIntervalBytes were appended since the previous one.
      const wantIndex: Array<{ relativeOffset: number; position: number }> = [];
      let since = 0;
      for (const b of seg.batches) {
        since += b.totalBytes;
        if (since > options.indexIntervalBytes) {
          wantIndex.push({ relativeOffset: b.lastOffset - seg.base, position: b.position });
          since = 0;
        }
      }
      expect(index).toEqual(wantIndex);
      for (const e of index) {
        const i = byPosition.get(e.position);
        expect(i, `index entry ${JSON.stringify(e)} of ${seg.base} starts a batch`).toBeDefined();
        expect(seg.batches[i!].lastOffset).toBe(seg.base + e.relativeOffset);
      }

      // Time index: entries beside offset-index entries when the segment's largest timestamp grew,
      // and one more on roll, so that the last entry of a rolled segment holds its largest timestamp.
      const maxUpTo = new Map<number, number>();
      let runningMax = -1;
      for (const b of seg.batches) {
        runningMax = Math.max(runningMax, b.maxTimestamp);
        maxUpTo.set(b.lastOffset, runningMax);
      }
      const wantTime: Array<{ timestamp: number; relativeOffset: number }> = [];
      const add = (ts: number, rel: number): void => {
        const last = wantTime[wantTime.length - 1];
        if (last === undefined || (ts > last.timestamp && rel > last.relativeOffset)) wantTime.push({ timestamp: ts, relativeOffset: rel });
      };
      for (const e of index) add(maxUpTo.get(seg.base + e.relativeOffset)!, e.relativeOffset);
      const lastBatch = seg.batches[seg.batches.length - 1];
      if (rolled) add(runningMax, lastBatch.lastOffset - seg.base);
      expect(timeIndex).toEqual(wantTime);
      for (const e of timeIndex) {
        const b = seg.batches.find((x) => x.lastOffset === seg.base + e.relativeOffset);
        expect(b, `time index entry ${JSON.stringify(e)} of ${seg.base} names a batch's last offset`).toBeDefined();
        expect(e.timestamp).toBe(maxUpTo.get(b!.lastOffset));
      }
      if (rolled) expect(timeIndex[timeIndex.length - 1].timestamp).toBe(runningMax);
      entriesSeen += index.length;
    });
    expect(entriesSeen).toBeGreaterThan(100);
  });

  it('decodes the batch a slice points at with the same decoder', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { segmentBytes: 65536 });
    log.appendBatch(['a', 'b', { value: 'c', key: 'k', headers: { x: 'y' }, timestamp: 5 }]);
    log.seal();
    await log.visible();
    const s = log.slice(1)!;
    const buf = Buffer.alloc(s.length);
    try {
      expect(fs.readSync(s.fd, buf, 0, s.length, s.position)).toBe(s.length);
    } finally {
      fs.closeSync(s.fd);
    }
    const b = decodeBatch(buf, 0);
    expect(b.computedCrc).toBe(b.crc);
    expect(b.baseOffset).toBe(0);
    expect(b.records.map((r) => r.value!.toString())).toEqual(['a', 'b', 'c']);
    expect(b.records[2].timestamp).toBe(5);
    expect(b.records[2].headers).toEqual([{ key: 'x', value: Buffer.from('y') }]);
  });
});
