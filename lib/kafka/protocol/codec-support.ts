/**
 * What the generated codecs (./generated/) share: version checks, arrays and the element readers
 * and writers of arrays of primitives.
 */
import { ErrorCode, SluiceError } from '../../errors';
import { malformed, type Reader } from './reader';
import type { Writer } from './writer';

export const EMPTY: Buffer = Buffer.alloc(0);
export const ZERO_UUID: Buffer = Buffer.alloc(16);

export function checkVersion(api: string, version: number, min: number, max: number): void {
  if (!Number.isInteger(version) || version < min || version > max) {
    throw new SluiceError(`${api} version ${version} is not supported (this codec handles ${min} to ${max})`, ErrorCode.MALFORMED_REQUEST);
  }
}

type ReadElement<T> = (r: Reader, v: number, flex: boolean) => T;
type WriteElement<T> = (w: Writer, v: number, flex: boolean, item: T) => void;

/** An array that may be null: its count (compact in flexible versions), then its elements. */
export function readNullableArray<T>(r: Reader, v: number, flex: boolean, minBytes: number, read: ReadElement<T>): T[] | null {
  const n = r.arrayCount(flex, minBytes);
  if (n < 0) return null;
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = read(r, v, flex);
  return out;
}

export function readArray<T>(r: Reader, v: number, flex: boolean, minBytes: number, read: ReadElement<T>): T[] {
  const out = readNullableArray(r, v, flex, minBytes, read);
  if (out === null) throw malformed('null array where an array is required');
  return out;
}

export function writeArray<T>(w: Writer, v: number, flex: boolean, items: readonly T[] | null, write: WriteElement<T>): void {
  if (items === null) {
    w.arrayCount(null, flex);
    return;
  }
  w.arrayCount(items.length, flex);
  for (let i = 0; i < items.length; i++) write(w, v, flex, items[i]);
}

export const READ_INT8: ReadElement<number> = (r) => r.int8();
export const READ_INT16: ReadElement<number> = (r) => r.int16();
export const READ_INT32: ReadElement<number> = (r) => r.int32();
export const READ_INT64: ReadElement<number> = (r) => r.int64();
export const READ_UUID: ReadElement<Buffer> = (r) => r.uuid();
export const READ_STRING: ReadElement<string> = (r, _v, flex) => (flex ? r.compactString() : r.string());

export const WRITE_INT8: WriteElement<number> = (w, _v, _f, x) => w.int8(x);
export const WRITE_INT16: WriteElement<number> = (w, _v, _f, x) => w.int16(x);
export const WRITE_INT32: WriteElement<number> = (w, _v, _f, x) => w.int32(x);
export const WRITE_INT64: WriteElement<number> = (w, _v, _f, x) => w.int64(x);
export const WRITE_UUID: WriteElement<Buffer> = (w, _v, _f, x) => w.uuid(x);
export const WRITE_STRING: WriteElement<string> = (w, _v, flex, x) => (flex ? w.compactString(x) : w.string(x));

/** Skips a tagged-field block of which this struct knows no field. */
export function skipTaggedFields(r: Reader): void {
  const n = r.uvarint();
  for (let i = 0; i < n; i++) {
    r.uvarint(); // tag
    r.skip(r.uvarint());
  }
}
