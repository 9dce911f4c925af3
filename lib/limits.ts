/**
 * The engine's limits, named once. The native ones are defined in the C++ headers (LogOptions in
 * native/include/sluice/log.h, record_batch.h) and exported by the addon; they are re-exported
 * here with the TypeScript-only ones beside them. Every bound that lib/ checks on a Log option, a
 * read or a message size comes from this file.
 */
import { native, type NativeLimits } from './native';

export const LIMITS: NativeLimits = native.limits;

/** Records one `Log.read` returns at most (the native read fills no more either). */
export const READ_RECORDS_MAX = LIMITS.readRecordsMax;
/** `Log.read` defaults: whole batches up to 1 MiB, at most 8192 records. */
export const READ_MAX_BYTES_DEFAULT = 1024 * 1024;
export const READ_RECORDS_DEFAULT = 8192;

/**
 * The read slot layout: NativeLog.read fills READ_HEADER_SLOTS doubles (the segment's base offset,
 * the next offset, the end of the bytes the records lie in), then RECORD_SLOT_FIELDS doubles per
 * record in the order of RECORD_SLOT, which lib/storage/log.ts reads by these literal positions
 * (checked against the addon below, once).
 */
export const READ_HEADER_SLOTS = LIMITS.readHeaderSlots;
export const RECORD_SLOT_FIELDS = LIMITS.recordSlotFields;
export const RECORD_SLOT = Object.freeze({
  offset: 0,
  timestamp: 1,
  keyPos: 2,
  keyLen: 3,
  valuePos: 4,
  valueLen: 5,
  headersPos: 6,
  headerCount: 7,
} as const);
for (const [field, index] of Object.entries(RECORD_SLOT)) {
  if (LIMITS.recordSlot[field as keyof typeof RECORD_SLOT] !== index || index >= RECORD_SLOT_FIELDS) {
    throw new Error(`the addon's read slot layout disagrees with lib/limits.ts (${field}): rebuild it (npm run install)`);
  }
}

/**
 * The largest payload (key + value + encoded headers, in bytes) that surely fits a batch of
 * `messageBytesMax` on its own: whatever its lengths' varints, a record adds at most
 * firstRecordOverheadBytesMax bytes and the batch header batchHeaderBytes. Only a message above it
 * needs its exact size, from singleRecordBatchBytes; the producer and the stager check each
 * message against this value first so that the common case never calls into native code.
 */
export function payloadBytesSurelyFitting(messageBytesMax: number): number {
  return messageBytesMax - LIMITS.batchHeaderBytes - LIMITS.firstRecordOverheadBytesMax;
}

/**
 * The bytes a record takes as the first of its batch, batch header included: what the native side
 * compares with messageBytesMax (batch::record_size). Lengths are -1 for null, headersLen 0 for
 * none. A native call: use it only past payloadBytesSurelyFitting.
 */
export const singleRecordBatchBytes: (keyLen: number, valueLen: number, headersLen: number) => number = native.singleRecordBatchBytes;
