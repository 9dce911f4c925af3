/**
 * Reading a partition's files as they are on disk, for `sluice inspect` (the way Kafka's
 * DumpLogSegments does): the batches of a `.log` segment (header fields, CRC checked, records
 * parsed, compressed batches decompressed, control batches named), and the entries of `.index`,
 * `.timeindex` and `.txnindex` files. The formats are documented in native/include/sluice/
 * (record_batch.h, offset_index.h, time_index.h, txn_index.h); this reads them without the Log,
 * so it also shows what the Log would refuse. Reads whole files: for inspection, not serving.
 */
import * as fs from 'node:fs';
import { native } from '../native';
import { codecName, decompressRecords } from './compression';

const HEADER_BYTES = 61;
const CRC_START = 21;

export interface DumpedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

export interface DumpedBatch {
  position: number;
  baseOffset: number;
  lastOffset: number;
  count: number;
  bytes: number;
  magic: number;
  crc: number;
  crcValid: boolean;
  codec: string;
  timestampType: 'create' | 'log-append';
  transactional: boolean;
  control: boolean;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** A control batch: 'commit' or 'abort' (or the type number). */
  marker?: string;
  /** When records were asked for and could be parsed. */
  records?: DumpedRecord[];
  /** What is wrong with the batch, if anything (its records could not be read). */
  problem?: string;
}

export interface SegmentDump {
  batches: DumpedBatch[];
  /** Bytes after the last whole batch (zeros: the preallocated tail; else a torn or damaged batch). */
  tail: { position: number; bytes: number; zeros: boolean } | null;
}

/** The batches of a `.log` file. */
export function dumpSegment(file: string, withRecords: boolean): SegmentDump {
  const buf = fs.readFileSync(file);
  const batches: DumpedBatch[] = [];
  let pos = 0;
  while (pos + HEADER_BYTES <= buf.length) {
    const length = buf.readInt32BE(pos + 8);
    const total = length + 12;
    if (length <= 0 || buf.readInt8(pos + 16) !== 2 || pos + total > buf.length || total < HEADER_BYTES) break;
    batches.push(batchAt(buf, pos, total, withRecords));
    pos += total;
  }
  const rest = buf.subarray(pos);
  return { batches, tail: rest.length === 0 ? null : { position: pos, bytes: rest.length, zeros: rest.every((b) => b === 0) } };
}

function batchAt(buf: Buffer, pos: number, total: number, withRecords: boolean): DumpedBatch {
  const attributes = buf.readInt16BE(pos + 21);
  const baseOffset = Number(buf.readBigInt64BE(pos));
  const count = buf.readInt32BE(pos + 57);
  const crc = buf.readUInt32BE(pos + 17);
  const b: DumpedBatch = {
    position: pos,
    baseOffset,
    lastOffset: baseOffset + buf.readInt32BE(pos + 23),
    count,
    bytes: total,
    magic: buf.readInt8(pos + 16),
    crc,
    crcValid: native.crc32c(buf.subarray(pos + CRC_START, pos + total)) === crc,
    codec: codecName(attributes),
    timestampType: attributes & 0x08 ? 'log-append' : 'create',
    transactional: (attributes & 0x10) !== 0,
    control: (attributes & 0x20) !== 0,
    baseTimestamp: Number(buf.readBigInt64BE(pos + 27)),
    maxTimestamp: Number(buf.readBigInt64BE(pos + 35)),
    producerId: Number(buf.readBigInt64BE(pos + 43)),
    producerEpoch: buf.readInt16BE(pos + 51),
    baseSequence: buf.readInt32BE(pos + 53),
  };
  if (!b.crcValid) {
    b.problem = 'CRC mismatch';
    return b;
  }
  if (!b.control && !withRecords) return b;
  try {
    let payload = buf.subarray(pos + HEADER_BYTES, pos + total);
    if ((attributes & 0x07) !== 0) payload = decompressRecords(attributes, payload);
    const records = parseRecords(payload, b, count);
    if (b.control) b.marker = markerOf(records[0]);
    if (withRecords) b.records = records;
  } catch (e) {
    b.problem = (e as Error).message;
  }
  return b;
}

function markerOf(r: DumpedRecord | undefined): string {
  if (r?.key === null || r === undefined || r.key.length < 4) return 'unreadable';
  const type = r.key.readInt16BE(2);
  return type === 0 ? 'abort' : type === 1 ? 'commit' : `type ${type}`;
}

/** The records of a batch's (decompressed) payload. */
function parseRecords(p: Buffer, b: DumpedBatch, count: number): DumpedRecord[] {
  const cursor = { at: 0 };
  const out: DumpedRecord[] = [];
  for (let i = 0; i < count; i++) {
    const length = varint(p, cursor);
    const end = cursor.at + length;
    if (length < 0 || end > p.length) throw new Error(`record ${i} runs past its batch`);
    cursor.at++; // attributes
    const timestampDelta = varint(p, cursor);
    const offsetDelta = varint(p, cursor);
    const key = bytes(p, cursor);
    const value = bytes(p, cursor);
    const headerCount = varint(p, cursor);
    const headers: DumpedRecord['headers'] = [];
    for (let h = 0; h < headerCount; h++) {
      const k = bytes(p, cursor);
      headers.push({ key: k?.toString('utf8') ?? '', value: bytes(p, cursor) });
    }
    if (cursor.at !== end) throw new Error(`record ${i} is ${length} bytes long but its fields take ${cursor.at - (end - length)}`);
    const timestamp = b.timestampType === 'log-append' ? b.maxTimestamp : b.baseTimestamp + timestampDelta;
    out.push({ offset: b.baseOffset + offsetDelta, timestamp, key, value, headers });
  }
  if (cursor.at !== p.length) throw new Error(`bytes are left after its ${count} records`);
  return out;
}

/** A zig-zag varint (up to 64 bits, as a safe number). */
function varint(p: Buffer, c: { at: number }): number {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (c.at >= p.length) throw new Error('a varint runs past its batch');
    const byte = p[c.at++];
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) break;
    shift += 7n;
    if (shift > 63n) throw new Error('a varint is too long');
  }
  return Number((result >> 1n) ^ -(result & 1n));
}

function bytes(p: Buffer, c: { at: number }): Buffer | null {
  const n = varint(p, c);
  if (n < 0) return null;
  if (c.at + n > p.length) throw new Error('a field runs past its batch');
  const out = p.subarray(c.at, c.at + n);
  c.at += n;
  return out;
}

/** Entries of an `.index` file: [relative offset, position]. */
export function dumpOffsetIndex(file: string): { relativeOffset: number; position: number }[] {
  const buf = fs.readFileSync(file);
  const out = [];
  for (let i = 0; i + 8 <= buf.length; i += 8) out.push({ relativeOffset: buf.readUInt32BE(i), position: buf.readUInt32BE(i + 4) });
  return out;
}

/** Entries of a `.timeindex` file: [timestamp, relative offset]. */
export function dumpTimeIndex(file: string): { timestamp: number; relativeOffset: number }[] {
  const buf = fs.readFileSync(file);
  const out = [];
  for (let i = 0; i + 12 <= buf.length; i += 12) out.push({ timestamp: Number(buf.readBigInt64BE(i)), relativeOffset: buf.readUInt32BE(i + 8) });
  return out;
}

/** Entries of a `.txnindex` file (aborted transactions). */
export function dumpTxnIndex(file: string): { version: number; producerId: number; firstOffset: number; lastOffset: number; lastStableOffset: number }[] {
  const buf = fs.readFileSync(file);
  const out = [];
  for (let i = 0; i + 34 <= buf.length; i += 34) {
    out.push({
      version: buf.readInt16BE(i),
      producerId: Number(buf.readBigInt64BE(i + 2)),
      firstOffset: Number(buf.readBigInt64BE(i + 10)),
      lastOffset: Number(buf.readBigInt64BE(i + 18)),
      lastStableOffset: Number(buf.readBigInt64BE(i + 26)),
    });
  }
  return out;
}
