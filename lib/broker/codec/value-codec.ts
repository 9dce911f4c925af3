/**
 * Message values as bytes. Buffers, Uint8Arrays and strings are stored as they are (strings as
 * UTF-8) and come back as Buffers. Other ArrayBufferViews (Float64Array, Int16Array, DataView...)
 * are stored as their bytes too, in the platform's byte order, and also come back as Buffers: the
 * consumer rebuilds the view it wants (msgpackr would copy them element by element into a byte
 * array, truncating every element to a byte). Any other value (numbers, booleans, objects, arrays, Dates,
 * Maps...) is encoded with msgpackr in standard MessagePack (no record extension, so any
 * MessagePack decoder can read it) and the record gets the header `sluice.codec: msgpack`; a
 * consumer sees such a value decoded, and does not see the header. A null value stays null
 * (Kafka's tombstone). The header name is reserved: producers may not set it themselves.
 */
import { Buffer } from 'node:buffer';
import { Packr } from 'msgpackr';
import type { HeadersInput, RecordHeader } from '../../storage/log';

export const CODEC_HEADER = 'sluice.codec';
export const MSGPACK = 'msgpack';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const MSGPACK_BYTES = Buffer.from(MSGPACK);

/** True for values stored as they are: null, strings and byte arrays. */
export function isRawValue(value: unknown): value is Buffer | Uint8Array | string | null {
  return value === null || typeof value === 'string' || value instanceof Uint8Array;
}

/** A non-byte ArrayBufferView as a Buffer over the same memory; any other value as it is. */
export function viewAsBytes(value: unknown): unknown {
  if (value instanceof Uint8Array || !ArrayBuffer.isView(value)) return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The MessagePack encoding of a value that is not raw; a TypeError naming message `index` if it has none. */
export function packValue(value: unknown, index: number): Buffer {
  if (value === undefined) throw new TypeError(`message ${index}: value is undefined (use null for an empty value)`);
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw new TypeError(`message ${index}: a ${typeof value} cannot be a message value`);
  }
  try {
    return packr.pack(value);
  } catch (e) {
    // msgpackr throws a plain Error (a symbol inside an object) or a RangeError (a BigInt over 64 bits).
    throw new TypeError(`message ${index}: the value cannot be encoded as MessagePack: ${(e as Error).message}`);
  }
}

export function unpackValue(bytes: Buffer): unknown {
  return packr.unpack(bytes);
}

/** Checks that user headers do not use the reserved name. */
export function checkUserHeaders(headers: HeadersInput | undefined): void {
  if (headers === undefined) return;
  if (headers === null || typeof headers !== 'object') throw new TypeError('headers must be an object or an array of [key, value] pairs');
  if (Array.isArray(headers)) {
    for (const pair of headers) {
      if (Array.isArray(pair) && pair[0] === CODEC_HEADER) throw new TypeError(`the header name ${CODEC_HEADER} is reserved`);
    }
  } else if (Object.prototype.hasOwnProperty.call(headers, CODEC_HEADER)) {
    throw new TypeError(`the header name ${CODEC_HEADER} is reserved`);
  }
}

/** User headers plus the codec mark. */
export function withCodecHeader(headers: HeadersInput | undefined): HeadersInput {
  if (headers === undefined) return CODEC_ONLY;
  if (Array.isArray(headers)) return [...(headers as ReadonlyArray<readonly [string, string | Uint8Array | null]>), [CODEC_HEADER, MSGPACK]];
  return { ...(headers as Record<string, string | Uint8Array | null>), [CODEC_HEADER]: MSGPACK };
}
const CODEC_ONLY: HeadersInput = Object.freeze({ [CODEC_HEADER]: MSGPACK });

/** Whether stored headers carry the msgpack mark. */
export function isPacked(headers: readonly RecordHeader[]): boolean {
  for (let i = headers.length - 1; i >= 0; i--) {
    const h = headers[i];
    if (h.key === CODEC_HEADER) return h.value !== null && h.value.equals(MSGPACK_BYTES);
  }
  return false;
}

/** Stored headers without the codec mark. */
export function userHeaders(headers: readonly RecordHeader[]): readonly RecordHeader[] {
  if (headers.length === 0) return headers;
  let found = false;
  for (const h of headers) if (h.key === CODEC_HEADER) found = true;
  return found ? headers.filter((h) => h.key !== CODEC_HEADER) : headers;
}
