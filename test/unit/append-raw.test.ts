/**
 * Log.appendRaw: whole Kafka RecordBatch v2 batches built outside the log (by the independent
 * test encoder in ../helpers/kafka-batch-encoder.ts, as a Kafka client's produce request carries
 * them) get offsets and are stored byte for byte but for baseOffset and partitionLeaderEpoch; they
 * feed both indexes, keep their producer fields, confirm like appended messages, and every
 * malformed input is refused with nothing written. Both write paths.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, SluiceError, type LogOptions, type WritePath } from '../../lib/index';
import { encodeBatch, reseal, type TestRecord } from '../helpers/kafka-batch-encoder';
import { nextTick, tmpDir } from '../helpers/tmp';
import { decodeLogFile, parseOffsetIndex, parseTimeIndex, segmentBases, segmentName } from '../format/kafka-decoder';

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openLog(dir: string, options: LogOptions): Promise<Log> {
  const log = await Log.open(dir, options);
  open.push(log);
  return log;
}

const T0 = 1_700_000_000_000;

function records(prefix: string, n: number, t = T0): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 2 === 0 ? `${prefix}-key-${i}` : null,
    value: `${prefix}-value-${i}`,
    headers: i % 3 === 0 ? [['trace', `${prefix}${i}`]] : [],
    timestamp: t + i * 10,
  }));
}

function readAll(log: Log): Array<{ offset: number; timestamp: number; key: string | null; value: string | null }> {
  const out = [];
  for (let o = log.startOffset; o < log.highWatermark; ) {
    const got = log.read(o);
    expect(got.length).toBeGreaterThan(0);
    for (const r of got) out.push({ offset: r.offset, timestamp: r.timestamp, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null });
    o = got[got.length - 1].offset + 1;
  }
  return out;
}

function corrupt(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SluiceError);
    return e as SluiceError;
  }
  throw new Error('expected a SluiceError');
}

for (const writePath of ['pwrite', 'mmap'] as WritePath[]) {
  describe(`appendRaw (writePath '${writePath}')`, () => {
    const OPTIONS: LogOptions = { segmentBytes: 64 * 1024, indexIntervalBytes: 512, messageBytesMax: 16 * 1024, sync: 'none', writePath };

    it('assigns offsets to one batch and to several, after the open batch, in order', async () => {
      const log = await openLog(tmpDir(), OPTIONS);
      expect(log.append('plain-0')).toBe(0);
      const one = encodeBatch(records('a', 3));
      expect(log.appendRaw(one)).toBe(1);
      await log.visible();
      expect(log.highWatermark).toBe(4); // the open batch first
      const many = Buffer.concat([encodeBatch(records('b', 2)), encodeBatch(records('c', 1)), encodeBatch(records('d', 4))]);
      expect(log.appendRaw(new Uint8Array(many.buffer, many.byteOffset, many.length))).toBe(4);
      expect(log.append('plain-11')).toBe(11);
      await log.visible();
      const got = readAll(log);
      expect(got.map((r) => r.offset)).toEqual([...Array(12).keys()]);
      expect(got.map((r) => r.value)).toEqual([
        'plain-0',
        ...['a-value-0', 'a-value-1', 'a-value-2'],
        ...['b-value-0', 'b-value-1'],
        'c-value-0',
        ...['d-value-0', 'd-value-1', 'd-value-2', 'd-value-3'],
        'plain-11',
      ]);
      expect(got[1]).toEqual({ offset: 1, timestamp: T0, key: 'a-key-0', value: 'a-value-0' });
      expect(got[2].key).toBeNull();
      expect(got[3].timestamp).toBe(T0 + 20);
      const h = log.read(1, { maxRecords: 1 })[0].headers;
      expect(h.map((x) => [x.key, x.value?.toString()])).toEqual([['trace', 'a0']]);
    });

    it('stores the bytes as received but for baseOffset and the leader epoch, producer fields kept', async () => {
      const dir = tmpDir();
      const log = await openLog(dir, OPTIONS);
      log.append('x');
      const batches = [
        encodeBatch(records('p', 5), { producerId: 4242, producerEpoch: 7, baseSequence: 100, partitionLeaderEpoch: 99 }),
        encodeBatch(records('q', 2), { baseOffset: 12345, partitionLeaderEpoch: -1 }),
      ];
      const input = Buffer.concat(batches);
      expect(log.appendRaw(input)).toBe(1);
      await log.close();
      const file = decodeLogFile(fs.readFileSync(path.join(dir, segmentName(0, '.log'))));
      expect(file.batches.map((b) => b.baseOffset)).toEqual([0, 1, 6]);
      const stored = fs.readFileSync(path.join(dir, segmentName(0, '.log'))).subarray(file.batches[1].position, file.batches[2].position + file.batches[2].totalBytes);
      expect(stored.length).toBe(input.length);
      for (const [i, b] of file.batches.slice(1).entries()) {
        const at = b.position - file.batches[1].position;
        const want = Buffer.from(input.subarray(at, at + b.totalBytes));
        want.writeBigInt64BE(BigInt(b.baseOffset), 0);
        want.writeInt32BE(0, 12);
        expect(stored.subarray(at, at + b.totalBytes).equals(want), `batch ${i}`).toBe(true);
        expect(b.partitionLeaderEpoch).toBe(0);
        expect(b.computedCrc).toBe(b.crc);
      }
      expect(file.batches[1]).toMatchObject({ producerId: 4242, producerEpoch: 7, baseSequence: 100 });
      expect(file.batches[2]).toMatchObject({ producerId: -1, producerEpoch: -1, baseSequence: -1 });
    });

    it('feeds the offset and time indexes from the batch headers, across segment rolls', async () => {
      const dir = tmpDir();
      const log = await openLog(dir, OPTIONS);
      const expected: Array<{ offset: number; timestamp: number }> = [];
      let t = T0;
      for (let i = 0; log.stats().segments < 3; i++) {
        const recs = records(`r${i}`, 1 + (i % 5), t).map((r) => ({ ...r, value: `${r.value}-${'v'.repeat(200)}` }));
        const first = log.appendRaw(encodeBatch(recs));
        recs.forEach((r, k) => expected.push({ offset: first + k, timestamp: r.timestamp! }));
        t += 100;
      }
      await log.visible();
      expect(readAll(log).map((r) => [r.offset, r.timestamp])).toEqual(expected.map((r) => [r.offset, r.timestamp]));
      for (const probe of [T0 - 1, T0, T0 + 5, T0 + 1234, expected[expected.length - 1].timestamp, t + 1]) {
        const want = expected.find((r) => r.timestamp >= probe)?.offset ?? null;
        expect(log.offsetForTime(probe), `offsetForTime(${probe})`).toBe(want);
      }
      await log.close();
      // The index files of a clean close name batch starts and their last offsets.
      for (const base of segmentBases(fs.readdirSync(dir))) {
        const file = decodeLogFile(fs.readFileSync(path.join(dir, segmentName(base, '.log'))));
        const starts = new Map(file.batches.map((b) => [b.position, b]));
        const index = parseOffsetIndex(fs.readFileSync(path.join(dir, segmentName(base, '.index'))));
        expect(index.length).toBeGreaterThan(0);
        for (const e of index) expect(starts.get(e.position)?.lastOffset).toBe(base + e.relativeOffset);
        const times = parseTimeIndex(fs.readFileSync(path.join(dir, segmentName(base, '.timeindex'))));
        for (const e of times) {
          const upTo = file.batches.filter((b) => b.lastOffset <= base + e.relativeOffset);
          expect(e.timestamp).toBe(Math.max(...upTo.map((b) => b.maxTimestamp)));
        }
      }
      const again = await openLog(dir, OPTIONS);
      expect(again.offsetForTime(T0 + 1234)).toBe(expected.find((r) => r.timestamp >= T0 + 1234)!.offset);
    });

    it("confirms raw batches once durable under sync 'always'", async () => {
      const log = await openLog(tmpDir(), { ...OPTIONS, sync: 'always' });
      const first = log.appendRaw(Buffer.concat([encodeBatch(records('s', 3)), encodeBatch(records('t', 2))]));
      const c = await log.confirm(first + 4);
      expect(c).toEqual({ offset: 4, durable: true });
      expect(log.durableOffset).toBeGreaterThanOrEqual(5);
      log.append('after');
      expect((await log.confirm(5)).durable).toBe(true);
    });

    it('refuses every malformed input with nothing written, naming the batch and its position', async () => {
      const dir = tmpDir();
      const log = await openLog(dir, OPTIONS);
      const good = encodeBatch(records('g', 3));
      log.appendRaw(good);
      const size = log.stats().sizeBytes;
      const mutate = (f: (b: Buffer) => void, base = good): Buffer => {
        const b = Buffer.from(base);
        f(b);
        return b;
      };
      const cases: Array<[string, Buffer, string, RegExp, number | undefined]> = [
        ['a short header', good.subarray(0, 40), 'CORRUPT', /batch 0 at byte 0: 40 bytes left/, 0],
        ['bytes after the last batch', Buffer.concat([good, Buffer.alloc(3)]), 'CORRUPT', new RegExp(`batch 1 at byte ${good.length}: 3 bytes left`), good.length],
        ['a batchLength past the input', mutate((b) => b.writeInt32BE(b.length, 8)), 'CORRUPT', /only \d+ are left/, 0],
        ['a batchLength under the header', mutate((b) => b.writeInt32BE(10, 8)), 'CORRUPT', /shorter than the batch header/, 0],
        ['magic 1', mutate((b) => b.writeInt8(1, 16)), 'CORRUPT', /magic 1/, 0],
        ['a flipped byte (CRC)', mutate((b) => (b[b.length - 3] ^= 0x20)), 'CORRUPT', /CRC mismatch/, 0],
        ['a control batch', encodeBatch(records('c', 1), { attributes: 0x20 }), 'CORRUPT', /control batch/, 0],
        ['a transactional batch', encodeBatch(records('t', 1), { attributes: 0x10, producerId: 5, producerEpoch: 0, baseSequence: 0 }), 'CORRUPT', /transactional batch.*outside an admitted transaction/, 0],
        ['codec 6', encodeBatch(records('z', 1), { attributes: 6 }), 'CORRUPT', /unknown compression codec 6/, 0],
        ['an unknown attribute bit', encodeBatch(records('z', 1), { attributes: 0x80 }), 'CORRUPT', /unknown attribute bits/, 0],
        ['counts that disagree', encodeBatch(records('n', 2), { lastOffsetDelta: 2 }), 'CORRUPT', /recordsCount 2 and lastOffsetDelta 2 disagree/, 0],
        ['no records', encodeBatch([], { baseTimestamp: T0, maxTimestamp: T0 }), 'CORRUPT', /recordsCount 0/, 0],
        ['more records claimed than there are', encodeBatch(records('m', 2), { recordsCount: 3, lastOffsetDelta: 2 }), 'CORRUPT', /record 2 is malformed/, 0],
        ['fewer records claimed than there are', encodeBatch(records('f', 3), { recordsCount: 2, lastOffsetDelta: 1 }), 'CORRUPT', /bytes are left after its 2 records/, 0],
        ['an offsetDelta that is not its index', encodeBatch(records('o', 3), { offsetDelta: (i) => (i === 2 ? 5 : i) }), 'CORRUPT', /record 2 is malformed or out of order/, 0],
        ['a producer id without a sequence', encodeBatch(records('p', 1), { producerId: 3 }), 'CORRUPT', /producerId 3 with baseSequence -1/, 0],
        ['a batch over messageBytesMax', encodeBatch([{ value: 'L'.repeat(16 * 1024) }]), 'TOO_LARGE', /batch 0 at byte 0 has \d+ bytes, over messageBytesMax/, undefined],
        ['a bad batch after good ones', Buffer.concat([good, good, mutate((b) => (b[70] ^= 1))]), 'CORRUPT', new RegExp(`batch 2 at byte ${2 * good.length}: CRC mismatch`), 2 * good.length],
        ['a too large batch after a good one', Buffer.concat([good, encodeBatch([{ value: 'L'.repeat(16 * 1024) }])]), 'TOO_LARGE', /batch 1 at byte/, undefined],
      ];
      for (const [name, bytes, code, message, position] of cases) {
        const e = corrupt(() => log.appendRaw(bytes));
        expect(e.code, name).toBe(code);
        expect(e.message, name).toMatch(message);
        expect(e.position, name).toBe(position);
        expect(log.endOffset, name).toBe(3);
        expect(log.stats().sizeBytes, name).toBe(size);
      }
      // The CRC is what guards the records: a re-sealed bad record is still caught by parsing.
      const resealed = mutate((b) => {
        b[61] = 0x7f; // the first record's length varint: far past the batch
        reseal(b);
      });
      expect(corrupt(() => log.appendRaw(resealed)).message).toMatch(/record 0 is malformed/);
      expect(() => log.appendRaw(Buffer.alloc(0))).toThrow(RangeError);
      expect(() => log.appendRaw('batches' as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => log.appendRaw([1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
      await log.visible();
      expect(readAll(log).map((r) => r.value)).toEqual(['g-value-0', 'g-value-1', 'g-value-2']);
      expect(log.appendRaw(good)).toBe(3);
      // An admitted transaction's batches: each must carry the bit (and a producer), and only then.
      const txn = encodeBatch(records('t', 2), { attributes: 0x10, producerId: 5, producerEpoch: 0, baseSequence: 0 });
      expect(corrupt(() => log.appendRaw(good, true)).message).toMatch(/not a transactional batch/);
      expect(corrupt(() => log.appendRaw(encodeBatch(records('t', 1), { attributes: 0x10 }), true)).message).toMatch(/without a producer id/);
      expect(() => log.appendRaw(txn, 'yes' as unknown as boolean)).toThrow(TypeError);
      expect(log.appendRaw(txn, true)).toBe(6);
      await log.close();
      expect(() => log.appendRaw(good)).toThrow(/closed/);
    });
  });
}
