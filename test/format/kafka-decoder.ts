/**
 * An independent reader of Kafka's on-disk formats, written for the tests from the spec in
 * /work/shared/notes/kafka-log-format.md and the layouts at the top of native/include/sluice/*.h.
 * It shares no code with the engine (its own CRC-32C table, its own varint decoder), so that bytes
 * it accepts are Kafka bytes, not merely bytes that Sluice reads back.
 *
 * Every decoder throws a plain Error naming the file position when the bytes are malformed.
 */
import { Buffer } from 'node:buffer';

// ---- CRC-32C (Castagnoli), reflected polynomial 0x82F63B78 --------------------------------------

const CRC32C_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C of bytes [start, end) of `buf`. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = CRC32C_TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ---- Zig-zag varints ----------------------------------------------------------------------------

/** Reads a zig-zag varint (at most 5 bytes, 32-bit) or varlong (at most 10 bytes, 64-bit). */
function readZigZag(buf: Uint8Array, pos: number, end: number, maxBytes: 5 | 10): { value: number; pos: number } {
  let raw = 0n;
  for (let i = 0; i < maxBytes; i++) {
    if (pos >= end) throw new Error(`varint runs past its bounds at ${pos}`);
    const b = buf[pos++];
    raw |= BigInt(b & 0x7f) << BigInt(7 * i);
    if ((b & 0x80) === 0) {
      const value = (raw >> 1n) ^ -(raw & 1n);
      if (maxBytes === 5 && (value < -(2n ** 31n) || value >= 2n ** 31n)) throw new Error(`varint out of 32-bit range at ${pos}`);
      if (value < BigInt(Number.MIN_SAFE_INTEGER) || value > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new Error(`varlong beyond the safe integer range at ${pos}`);
      }
      return { value: Number(value), pos };
    }
  }
  throw new Error(`varint longer than ${maxBytes} bytes at ${pos}`);
}

// ---- RecordBatch v2 -----------------------------------------------------------------------------

export const BATCH_HEADER_BYTES = 61;

export interface DecodedHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: DecodedHeader[];
}

export interface DecodedBatch {
  /** Where the batch starts in the buffer it was decoded from. */
  position: number;
  totalBytes: number;
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  /** CRC-32C computed here over bytes 21..end. */
  computedCrc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
  records: DecodedRecord[];
  lastOffset: number;
  nextOffset: number;
}

function safeBigInt(v: bigint, what: string, pos: number): number {
  if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`${what} ${v} at ${pos} is beyond the safe integer range`);
  }
  return Number(v);
}

function readBytesField(buf: Buffer, pos: number, end: number, what: string): { value: Buffer | null; pos: number } {
  const len = readZigZag(buf, pos, end, 5);
  pos = len.pos;
  if (len.value < -1) throw new Error(`${what} length ${len.value} at ${pos}`);
  if (len.value === -1) return { value: null, pos };
  if (pos + len.value > end) throw new Error(`${what} of ${len.value} bytes runs past the record at ${pos}`);
  return { value: buf.subarray(pos, pos + len.value), pos: pos + len.value };
}

function decodeRecord(buf: Buffer, pos: number, end: number, batch: { baseOffset: number; baseTimestamp: number }): { record: DecodedRecord; pos: number } {
  const length = readZigZag(buf, pos, end, 5);
  pos = length.pos;
  if (length.value < 0 || pos + length.value > end) throw new Error(`record length ${length.value} at ${pos} runs past the batch`);
  const recordEnd = pos + length.value;
  const attributes = buf.readInt8(pos);
  pos += 1;
  const tsDelta = readZigZag(buf, pos, recordEnd, 10);
  pos = tsDelta.pos;
  const offDelta = readZigZag(buf, pos, recordEnd, 5);
  pos = offDelta.pos;
  const key = readBytesField(buf, pos, recordEnd, 'key');
  pos = key.pos;
  const value = readBytesField(buf, pos, recordEnd, 'value');
  pos = value.pos;
  const count = readZigZag(buf, pos, recordEnd, 5);
  pos = count.pos;
  if (count.value < 0) throw new Error(`negative header count at ${pos}`);
  const headers: DecodedHeader[] = [];
  for (let i = 0; i < count.value; i++) {
    const hk = readBytesField(buf, pos, recordEnd, 'header key');
    if (hk.value === null) throw new Error(`null header key at ${pos}`);
    pos = hk.pos;
    const hv = readBytesField(buf, pos, recordEnd, 'header value');
    pos = hv.pos;
    headers.push({ key: hk.value.toString('utf8'), value: hv.value });
  }
  if (pos !== recordEnd) throw new Error(`record at ${recordEnd - length.value} has ${recordEnd - pos} unread bytes`);
  return {
    record: {
      offset: batch.baseOffset + offDelta.value,
      timestamp: batch.baseTimestamp + tsDelta.value,
      attributes,
      timestampDelta: tsDelta.value,
      offsetDelta: offDelta.value,
      key: key.value,
      value: value.value,
      headers,
    },
    pos: recordEnd,
  };
}

/**
 * Decodes the batch at `pos`. Throws on a malformed batch; the CRC is computed, not enforced. The
 * records of a compressed batch are left undecoded (`records` empty).
 */
export function decodeBatch(buf: Buffer, pos: number): DecodedBatch {
  if (pos + BATCH_HEADER_BYTES > buf.length) throw new Error(`batch header at ${pos} runs past the end (${buf.length})`);
  const baseOffset = safeBigInt(buf.readBigInt64BE(pos), 'baseOffset', pos);
  const batchLength = buf.readInt32BE(pos + 8);
  const totalBytes = 12 + batchLength;
  if (batchLength < BATCH_HEADER_BYTES - 12 || pos + totalBytes > buf.length) {
    throw new Error(`batchLength ${batchLength} at ${pos} is impossible`);
  }
  const end = pos + totalBytes;
  const b: DecodedBatch = {
    position: pos,
    totalBytes,
    baseOffset,
    batchLength,
    partitionLeaderEpoch: buf.readInt32BE(pos + 12),
    magic: buf.readInt8(pos + 16),
    crc: buf.readUInt32BE(pos + 17),
    computedCrc: crc32c(buf, pos + 21, end),
    attributes: buf.readInt16BE(pos + 21),
    lastOffsetDelta: buf.readInt32BE(pos + 23),
    baseTimestamp: safeBigInt(buf.readBigInt64BE(pos + 27), 'baseTimestamp', pos),
    maxTimestamp: safeBigInt(buf.readBigInt64BE(pos + 35), 'maxTimestamp', pos),
    producerId: safeBigInt(buf.readBigInt64BE(pos + 43), 'producerId', pos),
    producerEpoch: buf.readInt16BE(pos + 51),
    baseSequence: buf.readInt32BE(pos + 53),
    recordsCount: buf.readInt32BE(pos + 57),
    records: [],
    lastOffset: 0,
    nextOffset: 0,
  };
  if (b.magic !== 2) throw new Error(`magic ${b.magic} at ${pos}`);
  if (b.recordsCount < 0) throw new Error(`negative record count at ${pos}`);
  b.lastOffset = b.baseOffset + b.lastOffsetDelta;
  b.nextOffset = b.lastOffset + 1;
  // A compressed batch (codec in attributes bits 0-2) holds a codec stream, not records.
  if ((b.attributes & 0x07) !== 0) return b;
  let p = pos + BATCH_HEADER_BYTES;
  for (let i = 0; i < b.recordsCount; i++) {
    const r = decodeRecord(buf, p, end, b);
    b.records.push(r.record);
    p = r.pos;
  }
  if (p !== end) throw new Error(`batch at ${pos} has ${end - p} bytes after its last record`);
  b.lastOffset = b.baseOffset + b.lastOffsetDelta;
  b.nextOffset = b.lastOffset + 1;
  return b;
}

function allZero(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

export interface DecodedLogFile {
  batches: DecodedBatch[];
  /** The byte after the last batch. */
  dataEnd: number;
  /** Whether every byte from dataEnd to the end of the buffer is zero (the preallocated tail). */
  zeroTail: boolean;
}

/**
 * Decodes a whole `.log` segment file (or a slice of one): batches back to back from 0, ending at
 * the end of the buffer or at an all-zero 61-byte header (the preallocated tail).
 */
export function decodeLogFile(buf: Buffer): DecodedLogFile {
  const batches: DecodedBatch[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const headerEnd = Math.min(pos + BATCH_HEADER_BYTES, buf.length);
    if (allZero(buf, pos, headerEnd)) break;
    const b = decodeBatch(buf, pos);
    batches.push(b);
    pos += b.totalBytes;
  }
  return { batches, dataEnd: pos, zeroTail: allZero(buf, pos, buf.length) };
}

// ---- Index files --------------------------------------------------------------------------------

export interface OffsetIndexEntry {
  relativeOffset: number;
  position: number;
}

/** `.index`: 8-byte entries, u32 relative offset | u32 position, big-endian. */
export function parseOffsetIndex(buf: Buffer): OffsetIndexEntry[] {
  if (buf.length % 8 !== 0) throw new Error(`offset index of ${buf.length} bytes is not a whole number of entries`);
  const out: OffsetIndexEntry[] = [];
  for (let p = 0; p < buf.length; p += 8) out.push({ relativeOffset: buf.readUInt32BE(p), position: buf.readUInt32BE(p + 4) });
  return out;
}

export interface TimeIndexEntry {
  timestamp: number;
  relativeOffset: number;
}

/** `.timeindex`: 12-byte entries, i64 timestamp | u32 relative offset, big-endian. */
export function parseTimeIndex(buf: Buffer): TimeIndexEntry[] {
  if (buf.length % 12 !== 0) throw new Error(`time index of ${buf.length} bytes is not a whole number of entries`);
  const out: TimeIndexEntry[] = [];
  for (let p = 0; p < buf.length; p += 12) {
    out.push({ timestamp: safeBigInt(buf.readBigInt64BE(p), 'timestamp', p), relativeOffset: buf.readUInt32BE(p + 8) });
  }
  return out;
}

// ---- Segment names ------------------------------------------------------------------------------

/** The base offsets of the `<20 digits>.log` files among `names`, sorted. */
export function segmentBases(names: readonly string[]): number[] {
  return names
    .filter((n) => /^\d{20}\.log$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
}

export function segmentName(base: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return String(base).padStart(20, '0') + suffix;
}
