/**
 * Compressed record batches on the JS side of the log: the native core stores and checks them
 * (CRC, lengths, offsets) but has no codecs, so a read that reaches one hands its payload's place
 * to JS (see log_binding.cc, Read), which decompresses it (./compression.ts) and has the one native
 * record parser fill the usual slots over the decompressed buffer; records are zero-copy views of
 * that buffer. appendRaw checks compressed batches here the same way before anything is written.
 */
import { Buffer } from 'node:buffer';
import { ErrorCode, SluiceError } from '../errors';
import type { NativeLog } from '../native';
import { codecName, decompressRecords } from './compression';
import { READ_HEADER_SLOTS } from '../limits';
import { recordsFromSlots, type RecordFactory } from './record-slots';

const LOG_APPEND_TIME = 0x08;

/** A compressed batch of a segment, decompressed. */
export interface DecompressedBatch {
  segmentBase: number;
  /** The batch's position in its segment. */
  position: number;
  baseOffset: number;
  baseTimestamp: number;
  /** Every record's timestamp for a log-append-time batch, else -1. */
  appendTime: number;
  count: number;
  records: Buffer;
}

type CorruptError = (segmentBase: number, position: number, what: string) => SluiceError;

/** What went wrong with a batch's records, from parseRecords' -(i + 1). */
export function recordsProblem(badRecord: number, count: number): string {
  return badRecord === count
    ? `bytes are left after its ${count} records`
    : `record ${badRecord} of ${count} is malformed, missing or out of order (offsetDelta must be its index)`;
}

/**
 * The batch described in the first record slot (payload position and length, attributes, base
 * offset, base timestamp, max timestamp, record count, batch position; s[0] the segment's base
 * offset, s[2] the end of the segment's sealed data),
 * decompressed, or `cached` when that is the same batch.
 */
export function readCompressedBatch(
  s: Float64Array,
  cached: DecompressedBatch | null,
  segment: (base: number, end: number) => Buffer,
  corrupt: CorruptError,
): DecompressedBatch {
  const segmentBase = s[0];
  const [payloadPos, payloadLen, attributes, baseOffset, baseTimestamp, maxTimestamp, count, position] = s.subarray(READ_HEADER_SLOTS, READ_HEADER_SLOTS + 8);
  if (cached !== null && cached.segmentBase === segmentBase && cached.position === position) return cached;
  let records: Buffer;
  try {
    records = decompressRecords(attributes, segment(segmentBase, s[2]).subarray(payloadPos, payloadPos + payloadLen));
  } catch (e) {
    throw corrupt(segmentBase, position, `its ${codecName(attributes)} payload does not decompress: ${(e as Error).message}`);
  }
  return { segmentBase, position, baseOffset, baseTimestamp, appendTime: attributes & LOG_APPEND_TIME ? maxTimestamp : -1, count, records };
}

/**
 * The records of `batch` from `offset`, as many as `slots` holds (READ_HEADER_SLOTS + 8 per record). Every record
 * of the batch is parsed (bounds-checked natively), so damage anywhere in it is CORRUPT.
 */
export function batchRecords<R>(native: NativeLog, batch: DecompressedBatch, offset: number, slots: Float64Array, corrupt: CorruptError, make: RecordFactory<R>): R[] {
  const { records } = batch;
  const n = native.parseRecords(records, batch.count, batch.baseOffset, batch.baseTimestamp, batch.appendTime, offset, slots);
  if (n < 0) throw corrupt(batch.segmentBase, batch.position, recordsProblem(-n - 1, batch.count));
  return recordsFromSlots(slots, n, records, make);
}

function rawBatchError(index: number, position: number, what: string): SluiceError {
  const e = new SluiceError(`appendRaw: batch ${index} at byte ${position}: ${what}`, ErrorCode.CORRUPT);
  e.position = position;
  return e;
}

/**
 * appendRaw's check of compressed batches, after native checkRaw passed (so the headers can be
 * walked safely): each payload decompresses and holds exactly recordsCount well-formed records.
 */
export function checkCompressedRecords(native: NativeLog, bytes: Uint8Array): void {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let pos = 0, i = 0; pos < buf.length; i++) {
    const total = 12 + buf.readInt32BE(pos + 8);
    const attributes = buf.readInt16BE(pos + 21);
    if ((attributes & 0x07) !== 0) {
      const count = buf.readInt32BE(pos + 57);
      let records: Buffer;
      try {
        records = decompressRecords(attributes, buf.subarray(pos + 61, pos + total));
      } catch (e) {
        throw rawBatchError(i, pos, `its ${codecName(attributes)} payload does not decompress: ${(e as Error).message}`);
      }
      const r = native.parseRecords(records, count, 0, 0, -1, 0, null);
      if (r < 0) throw rawBatchError(i, pos, `${recordsProblem(-r - 1, count)} once decompressed`);
    }
    pos += total;
  }
}
