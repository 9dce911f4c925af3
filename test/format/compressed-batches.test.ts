/**
 * Compressed record batches, as Kafka clients produce them, go through appendRaw and come back
 * from read() as ordinary records. The batches are built by kafkajs's own RecordBatch v2 encoder
 * (a Kafka client's produce path) with each codec's compressor plugged into kafkajs: gzip is
 * kafkajs's own (node:zlib); snappy is the `snappy` package's compressor, both in the xerial
 * framing that Kafka's Java client writes and as one raw block as librdkafka may send; lz4 is
 * lz4-napi's frame compressor; zstd is @bokuweb/zstd-wasm (a compressor independent of the fzstd
 * decoder that the log uses). A log mixing compressed and plain neighbouring batches, appended in
 * one call and in several, reads back in order, stays byte-identical on disk, survives a reopen
 * with a rescan, and answers offsetForTime inside compressed batches. A damaged compressed
 * payload is CORRUPT, at appendRaw (nothing written) and, damaged on disk, at read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as zstdWasm from '@bokuweb/zstd-wasm';
import { compressFrameSync as lz4CompressFrame } from 'lz4-napi';
import { compressSync as snappyCompress } from 'snappy';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { RecordBatch } from 'kafkajs/src/protocol/recordBatch/v0/index.js';
import Record from 'kafkajs/src/protocol/recordBatch/record/v0/index.js';
import { Log, SluiceError, type LogOptions } from '../../lib/index';
import { encodeBatch, reseal } from '../helpers/kafka-batch-encoder';
import { tmpDir } from '../helpers/tmp';
import { DECOMPRESSED_BYTES_MAX, decompressRecords } from '../../lib/storage/compression';
import { crc32c, decodeLogFile, segmentName } from './kafka-decoder';

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openLog(dir: string, options: LogOptions): Promise<Log> {
  const log = await Log.open(dir, options);
  open.push(log);
  return log;
}

const OPTIONS: LogOptions = { segmentBytes: 256 * 1024, indexIntervalBytes: 1024, sync: 'none' };
const T0 = 1_700_000_000_000;

const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);

/** Kafka's Java client: xerial framing, blocks of at most `blockBytes` uncompressed bytes. */
function xerialSnappy(data: Buffer, blockBytes = 100): Buffer {
  const parts: Buffer[] = [XERIAL_HEADER];
  for (let pos = 0; pos < data.length; pos += blockBytes) {
    const block = snappyCompress(data.subarray(pos, pos + blockBytes));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(block.length);
    parts.push(len, block);
  }
  return Buffer.concat(parts);
}

type Compress = (records: Buffer) => Buffer;
const CODECS: Array<{ name: string; type: number; compress: () => Compress }> = [
  { name: 'gzip', type: CompressionTypes.GZIP, compress: () => null as unknown as Compress }, // kafkajs's own
  { name: 'snappy (xerial, as the Java client)', type: CompressionTypes.Snappy, compress: () => (r) => xerialSnappy(r) },
  { name: 'snappy (raw block, as librdkafka)', type: CompressionTypes.Snappy, compress: () => (r) => snappyCompress(r) },
  { name: 'lz4 (frame)', type: CompressionTypes.LZ4, compress: () => (r) => lz4CompressFrame(r) },
  { name: 'zstd', type: CompressionTypes.ZSTD, compress: () => (r) => Buffer.from(zstdWasm.compress(r, 3)) },
];

beforeAll(async () => {
  await zstdWasm.init();
});

interface Msg {
  key: string | null;
  value: string;
  timestamp: number;
  headers: Record<string, string>;
}

function messages(prefix: string, n: number, t: number): Msg[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 3 === 1 ? null : `${prefix}-k${i}`,
    value: `${prefix}-value-${i}-${'x'.repeat(i * 7)}`,
    timestamp: t + i * 3,
    headers: i % 2 === 0 ? { h: `${prefix}${i}` } : {},
  }));
}

/** A batch as kafkajs's producer builds it (requests/produce/v3), compressed with `codec`. */
async function kafkajsBatch(codec: (typeof CODECS)[number] | null, msgs: Msg[]): Promise<Buffer> {
  const type = codec?.type ?? CompressionTypes.None;
  if (codec !== null && codec.type !== CompressionTypes.GZIP) {
    const compress = codec.compress();
    CompressionCodecs[codec.type] = () => ({
      compress: async (encoder: { buffer: Buffer }) => compress(encoder.buffer),
      decompress: async () => {
        throw new Error('not used');
      },
    });
  }
  const first = msgs[0].timestamp;
  const batch = await RecordBatch({
    compression: type,
    firstTimestamp: first,
    maxTimestamp: Math.max(...msgs.map((m) => m.timestamp)),
    lastOffsetDelta: msgs.length - 1,
    records: msgs.map((m, i) =>
      Record({ offsetDelta: i, timestampDelta: m.timestamp - first, key: m.key === null ? null : Buffer.from(m.key), value: Buffer.from(m.value), headers: m.headers }),
    ),
  });
  return Buffer.from(batch.buffer);
}

function readAll(log: Log): Msg[] {
  const out: Msg[] = [];
  for (let o = log.startOffset; o < log.highWatermark; ) {
    const got = log.read(o);
    expect(got.length).toBeGreaterThan(0);
    for (const r of got) {
      expect(r.offset).toBe(o++);
      const headers: Record<string, string> = {};
      for (const h of r.headers) headers[h.key] = h.value!.toString();
      out.push({ key: r.key?.toString() ?? null, value: r.value!.toString(), timestamp: r.timestamp, headers });
    }
  }
  return out;
}

function thrown(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SluiceError);
    return e as SluiceError;
  }
  throw new Error('expected a SluiceError');
}

describe('compressed batches', () => {
  for (const codec of CODECS) {
    describe(codec.name, () => {
      it('are stored as they came and read back as records, between plain neighbours', async () => {
        const dir = tmpDir();
        const log = await openLog(dir, OPTIONS);
        const groups = [messages('p0', 3, T0), messages('c1', 40, T0 + 1000), messages('p2', 2, T0 + 2000), messages('c3', 1, T0 + 3000), messages('c4', 25, T0 + 4000)];
        const batches = [
          await kafkajsBatch(null, groups[0]),
          await kafkajsBatch(codec, groups[1]),
          await kafkajsBatch(null, groups[2]),
          await kafkajsBatch(codec, groups[3]),
          await kafkajsBatch(codec, groups[4]),
        ];
        expect(batches[1].readInt16BE(21) & 7).toBe(codec.type);
        log.append('plain-first', { timestamp: T0 - 10 });
        expect(log.appendRaw(Buffer.concat(batches.slice(0, 3)))).toBe(1);
        expect(log.appendRaw(batches[3])).toBe(46);
        log.append('plain-between', { timestamp: T0 + 3500 });
        expect(log.appendRaw(batches[4])).toBe(48);
        const want = [
          { key: null, value: 'plain-first', timestamp: T0 - 10, headers: {} },
          ...groups[0],
          ...groups[1],
          ...groups[2],
          ...groups[3],
          { key: null, value: 'plain-between', timestamp: T0 + 3500, headers: {} },
          ...groups[4],
        ];
        await log.visible();
        expect(readAll(log)).toEqual(want);
        // Reads inside a compressed batch, with limits.
        const mid = log.read(10, { maxRecords: 5 });
        expect(mid.map((r) => r.offset)).toEqual([10, 11, 12, 13, 14]);
        expect(mid[0].value?.toString()).toBe(groups[1][6].value);
        // offsetForTime finds records inside compressed batches.
        expect(log.offsetForTime(T0 + 1000 + 3 * 17 - 1)).toBe(1 + 3 + 17);
        expect(log.offsetForTime(T0 + 4000 + 3 * 24)).toBe(72);
        expect(log.offsetForTime(T0 + 3001)).toBe(47);
        await log.close();

        // On disk: the batches as sent, but for baseOffset and epoch, CRCs valid.
        const data = fs.readFileSync(path.join(dir, segmentName(0, '.log')));
        const stored = decodeLogFile(data).batches;
        const sent = [batches[0], batches[1], batches[2], batches[3], batches[4]];
        const storedRaw = [stored[1], stored[2], stored[3], stored[4], stored[6]];
        storedRaw.forEach((b, i) => {
          const want = Buffer.from(sent[i]);
          want.writeBigInt64BE(BigInt(b.baseOffset), 0);
          want.writeInt32BE(0, 12);
          expect(data.subarray(b.position, b.position + b.totalBytes).equals(want), `batch ${i}`).toBe(true);
          expect(crc32c(data, b.position + 21, b.position + b.totalBytes)).toBe(b.crc);
        });

        // A reopen with a full rescan (no checkpoint) reads the same.
        fs.rmSync(path.join(dir, 'sluice.meta'));
        const again = await openLog(dir, OPTIONS);
        expect(again.recovery.segmentsScanned).toBe(1);
        expect(readAll(again)).toEqual(want);
      });

      it('with log-append time give every record the batch maxTimestamp', async () => {
        const log = await openLog(tmpDir(), OPTIONS);
        const b = await kafkajsBatch(codec, messages('lat', 4, T0));
        b.writeInt16BE(b.readInt16BE(21) | 0x08, 21);
        b.writeBigInt64BE(BigInt(T0 + 777), 35);
        reseal(b);
        log.appendRaw(b);
        await log.visible();
        expect(log.read(0).map((r) => r.timestamp)).toEqual([T0 + 777, T0 + 777, T0 + 777, T0 + 777]);
      });

      it('are refused by appendRaw with nothing written when the payload does not decompress or parse', async () => {
        const log = await openLog(tmpDir(), OPTIONS);
        const good = await kafkajsBatch(codec, messages('g', 10, T0));
        log.appendRaw(good);
        // A garbled payload, and one cut short (batchLength and CRC fixed: only decoding can tell).
        const garbled = Buffer.from(good);
        garbled.fill(0xff, 61);
        reseal(garbled);
        const cut = Buffer.from(good.subarray(0, good.length - 5));
        cut.writeInt32BE(cut.length - 12, 8);
        reseal(cut);
        let e: SluiceError;
        for (const damaged of [garbled, cut]) {
          e = thrown(() => log.appendRaw(Buffer.concat([good, damaged])));
          expect(e.code).toBe('CORRUPT');
          expect(e.message).toMatch(new RegExp(`batch 1 at byte ${good.length}: `));
          expect(e.position).toBe(good.length);
        }
        // A count that the decompressed records do not have.
        const miscounted = Buffer.from(good);
        miscounted.writeInt32BE(11, 57);
        miscounted.writeInt32BE(10, 23);
        reseal(miscounted);
        e = thrown(() => log.appendRaw(miscounted));
        expect(e.message).toMatch(/batch 0 at byte 0: record 10 of 11 is malformed, missing or out of order .* once decompressed/);
        expect(log.endOffset).toBe(10);
        await log.visible();
        expect(readAll(log).length).toBe(10);
      });

      it('damaged on disk are CORRUPT at read, with the segment path and position', async () => {
        const dir = tmpDir();
        let log = await openLog(dir, OPTIONS);
        log.appendRaw(await kafkajsBatch(null, messages('a', 3, T0)));
        log.appendRaw(await kafkajsBatch(codec, messages('b', 30, T0)));
        await log.close();
        open.splice(0);
        const file = path.join(dir, segmentName(0, '.log'));
        const data = fs.readFileSync(file);
        const [, damaged] = decodeLogFile(data).batches;
        // Garble the payload and fix the CRC, as a buggy writer would: only decoding can tell.
        data.fill(0xff, damaged.position + 61, damaged.position + damaged.totalBytes);
        reseal(data, damaged.position);
        fs.writeFileSync(file, data);
        log = await openLog(dir, OPTIONS);
        expect(log.read(0).length).toBe(3);
        for (const at of [3, 10]) {
          const e = thrown(() => log.read(at));
          expect(e.code).toBe('CORRUPT');
          expect(e.path).toBe(file);
          expect(e.position).toBe(damaged.position);
          expect(e.message).toMatch(/corrupt batch/);
        }
      });
    });
  }

  it('refuses payloads that claim more than the decompression bound, or whose framing is cut', () => {
    // A raw snappy block starts with its uncompressed length (a varint): checked before decoding.
    const huge = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x02, 0x00]); // 2^29 bytes
    expect(2 ** 29).toBeGreaterThan(DECOMPRESSED_BYTES_MAX);
    expect(() => decompressRecords(2, huge)).toThrow(/over/);
    const framed = xerialSnappy(Buffer.from('some records'.repeat(20)), 50);
    expect(decompressRecords(2, framed).toString()).toBe('some records'.repeat(20));
    expect(() => decompressRecords(2, framed.subarray(0, framed.length - 3))).toThrow(/runs past/);
    expect(() => decompressRecords(2, Buffer.concat([framed, Buffer.from([0, 0])]))).toThrow(/cut off/);
    expect(() => decompressRecords(4, Buffer.from(zstdWasm.compress(Buffer.alloc(1000, 7), 3)).subarray(0, 8))).toThrow();
    expect(() => decompressRecords(5, Buffer.alloc(4))).toThrow(/unknown compression codec 5/);
  });

  it('an independent encoder over the same compressors agrees with kafkajs', async () => {
    const log = await openLog(tmpDir(), OPTIONS);
    const msgs = messages('e', 12, T0);
    const recs = msgs.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp, headers: Object.entries(m.headers) }));
    const ours = [
      encodeBatch(recs, { codec: 2, compress: (r) => xerialSnappy(r, 64) }),
      encodeBatch(recs, { codec: 3, compress: (r) => lz4CompressFrame(r) }),
      encodeBatch(recs, { codec: 4, compress: (r) => Buffer.from(zstdWasm.compress(r, 1)) }),
    ];
    log.appendRaw(Buffer.concat(ours));
    await log.visible();
    const got = readAll(log);
    expect(got).toEqual([...msgs, ...msgs, ...msgs]);
  });
});
