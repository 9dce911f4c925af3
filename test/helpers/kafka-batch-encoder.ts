/**
 * A small independent encoder of Kafka RecordBatch v2, written for the tests from the layout in
 * native/include/sluice/record_batch.h (it shares no code with the engine: its CRC-32C is the
 * test decoder's table). It builds what a Kafka client's produce request carries: baseOffset 0,
 * any attributes, producer fields, and for a compressed batch the records passed through
 * `compress` (a codec package's own compressor).
 */
import { Buffer } from 'node:buffer';
import { crc32c } from '../format/kafka-decoder';

export interface TestRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Array<[string, Buffer | string | null]>;
  /** Absolute timestamp; default: the batch's baseTimestamp. */
  timestamp?: number;
}

export interface TestBatchOptions {
  baseTimestamp?: number;
  /** Default: the largest record timestamp. */
  maxTimestamp?: number;
  /** Attribute bits; the codec bits are set from `codec` when given. */
  attributes?: number;
  codec?: 0 | 1 | 2 | 3 | 4;
  /** Compresses the encoded records (required with a codec). */
  compress?: (records: Buffer) => Buffer;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  partitionLeaderEpoch?: number;
  baseOffset?: number;
  /** Override the count fields (to build bad batches). */
  recordsCount?: number;
  lastOffsetDelta?: number;
  /** Override each record's offsetDelta. */
  offsetDelta?: (i: number) => number;
}

function zigzag(n: bigint): bigint {
  return n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
}

function varint(out: number[], v: number): void {
  let z = zigzag(BigInt(v));
  do {
    let b = Number(z & 0x7fn);
    z >>= 7n;
    if (z !== 0n) b |= 0x80;
    out.push(b);
  } while (z !== 0n);
}

function bytesOf(v: Buffer | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

function field(out: number[], v: Buffer | null): void {
  if (v === null) {
    varint(out, -1);
    return;
  }
  varint(out, v.length);
  for (const b of v) out.push(b);
}

/** The records section (record after record) of a batch. */
export function encodeRecords(records: readonly TestRecord[], baseTimestamp: number, offsetDelta: (i: number) => number = (i) => i): Buffer {
  const out: number[] = [];
  records.forEach((r, i) => {
    const body: number[] = [0];
    varint(body, (r.timestamp ?? baseTimestamp) - baseTimestamp);
    varint(body, offsetDelta(i));
    field(body, bytesOf(r.key));
    field(body, bytesOf(r.value));
    const headers = r.headers ?? [];
    varint(body, headers.length);
    for (const [k, v] of headers) {
      field(body, Buffer.from(k, 'utf8'));
      field(body, bytesOf(v));
    }
    varint(out, body.length);
    out.push(...body);
  });
  return Buffer.from(out);
}

/** One whole batch. */
export function encodeBatch(records: readonly TestRecord[], options: TestBatchOptions = {}): Buffer {
  const baseTimestamp = options.baseTimestamp ?? records[0]?.timestamp ?? 1_700_000_000_000;
  const maxTimestamp = options.maxTimestamp ?? Math.max(...records.map((r) => r.timestamp ?? baseTimestamp));
  let payload = encodeRecords(records, baseTimestamp, options.offsetDelta);
  let attributes = options.attributes ?? 0;
  if (options.codec !== undefined && options.codec !== 0) {
    if (options.compress === undefined) throw new Error('a codec needs a compress function');
    payload = options.compress(payload);
    attributes = (attributes & ~0x07) | options.codec;
  }
  const total = 61 + payload.length;
  const b = Buffer.alloc(total);
  b.writeBigInt64BE(BigInt(options.baseOffset ?? 0), 0);
  b.writeInt32BE(total - 12, 8);
  b.writeInt32BE(options.partitionLeaderEpoch ?? -1, 12);
  b.writeInt8(2, 16);
  b.writeInt16BE(attributes, 21);
  b.writeInt32BE(options.lastOffsetDelta ?? records.length - 1, 23);
  b.writeBigInt64BE(BigInt(baseTimestamp), 27);
  b.writeBigInt64BE(BigInt(maxTimestamp), 35);
  b.writeBigInt64BE(BigInt(options.producerId ?? -1), 43);
  b.writeInt16BE(options.producerEpoch ?? -1, 51);
  b.writeInt32BE(options.baseSequence ?? -1, 53);
  b.writeInt32BE(options.recordsCount ?? records.length, 57);
  payload.copy(b, 61);
  b.writeUInt32BE(crc32c(b, 21, total), 17);
  return b;
}

/** Recomputes the CRC of the batch at `pos` (after a test changed bytes it covers). */
export function reseal(b: Buffer, pos = 0): void {
  const total = 12 + b.readInt32BE(pos + 8);
  b.writeUInt32BE(crc32c(b, pos + 21, pos + total), pos + 17);
}
