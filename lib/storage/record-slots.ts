/**
 * Records from the read slots the native record parser fills (native/include/sluice/record_slots.h):
 * READ_HEADER_SLOTS doubles, then RECORD_SLOT_FIELDS per record, with positions relative to the
 * bytes the records lie in (a segment's mapping, or a decompressed batch). Keys, values and header
 * values come out as zero-copy views of those bytes. Fields are read by their RECORD_SLOT
 * positions (lib/limits.ts checks them against the addon once).
 */
import { Buffer } from 'node:buffer';
import { READ_HEADER_SLOTS, RECORD_SLOT_FIELDS } from '../limits';
import { decodeHeaders, EMPTY_HEADERS, type RecordHeader } from './record-headers';

// Read once: a module binding can compile to a getter (esbuild's CommonJS interop), which on this
// loop measured 7% of a sequential read.
const HEADER_SLOTS = READ_HEADER_SLOTS;
const FIELDS = RECORD_SLOT_FIELDS;
const NO_HEADERS = EMPTY_HEADERS;

export type RecordFactory<R> = (offset: number, timestamp: number, key: Buffer | null, value: Buffer | null, headers: readonly RecordHeader[]) => R;

/** The `n` records described in `slots`, cut from `bytes`. */
export function recordsFromSlots<R>(slots: Float64Array, n: number, bytes: Buffer, make: RecordFactory<R>): R[] {
  const out: R[] = new Array(n);
  // Buffer.from over the ArrayBuffer: measured faster than subarray on this hot path.
  const ab = bytes.buffer;
  const at = bytes.byteOffset;
  for (let i = 0, p = HEADER_SLOTS; i < n; i++, p += FIELDS) {
    const keyLen = slots[p + 3];
    const valueLen = slots[p + 5];
    const headerCount = slots[p + 7];
    out[i] = make(
      slots[p],
      slots[p + 1],
      keyLen < 0 ? null : Buffer.from(ab, at + slots[p + 2], keyLen),
      valueLen < 0 ? null : Buffer.from(ab, at + slots[p + 4], valueLen),
      headerCount === 0 ? NO_HEADERS : decodeHeaders(bytes, slots[p + 6], headerCount),
    );
  }
  return out;
}
