/**
 * Record headers in Kafka's wire form (see native/include/sluice/record_batch.h): a zig-zag varint
 * count, then per header a varint key length, the UTF-8 key, a varint value length (-1 = null) and
 * the value. Encoded here, checked again natively; decoded here from views into the mapping.
 */
import { Buffer } from 'node:buffer';

export type HeaderValue = Buffer | Uint8Array | string | null;
/** Headers as an object (one value per key) or as ordered pairs (duplicates allowed, as in Kafka). */
export type HeadersInput = Readonly<Record<string, HeaderValue>> | ReadonlyArray<readonly [string, HeaderValue]>;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export const EMPTY_HEADERS: readonly RecordHeader[] = Object.freeze([]);

function varintSize(n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

function putVarint(buf: Buffer, pos: number, n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    buf[pos++] = (z & 0x7f) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[pos++] = z;
  return pos;
}

function toBytes(v: HeaderValue, what: string): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(`${what} must be a Buffer, Uint8Array, string or null`);
}

/** Encodes headers, or returns undefined when there are none. */
export function encodeHeaders(headers: HeadersInput | undefined): Buffer | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers !== 'object') throw new TypeError('headers must be an object or an array of [key, value] pairs');
  const pairs: Array<readonly [string, HeaderValue]> = Array.isArray(headers)
    ? (headers as ReadonlyArray<readonly [string, HeaderValue]>).slice()
    : Object.entries(headers as Record<string, HeaderValue>);
  if (pairs.length === 0) return undefined;
  const encoded: Array<[Buffer, Buffer | null]> = [];
  let size = varintSize(pairs.length);
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
      throw new TypeError('each header must be a [string, value] pair');
    }
    const key = Buffer.from(pair[0], 'utf8');
    const value = toBytes(pair[1], `header ${JSON.stringify(pair[0])}`);
    size += varintSize(key.length) + key.length + varintSize(value === null ? -1 : value.length) + (value?.length ?? 0);
    encoded.push([key, value]);
  }
  const out = Buffer.allocUnsafe(size);
  let pos = putVarint(out, 0, encoded.length);
  for (const [key, value] of encoded) {
    pos = putVarint(out, pos, key.length);
    pos += key.copy(out, pos);
    pos = putVarint(out, pos, value === null ? -1 : value.length);
    if (value !== null) pos += value.copy(out, pos);
  }
  return out;
}

/** Decodes `count` headers starting at `pos` of `buf` (already checked natively). */
export function decodeHeaders(buf: Buffer, pos: number, count: number): RecordHeader[] {
  const out: RecordHeader[] = new Array(count);
  for (let i = 0; i < count; i++) {
    let z = 0;
    let shift = 1;
    let b: number;
    do {
      b = buf[pos++];
      z += (b & 0x7f) * shift;
      shift *= 128;
    } while (b & 0x80);
    const keyLen = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    const key = buf.toString('utf8', pos, pos + keyLen);
    pos += keyLen;
    z = 0;
    shift = 1;
    do {
      b = buf[pos++];
      z += (b & 0x7f) * shift;
      shift *= 128;
    } while (b & 0x80);
    const valueLen = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    let value: Buffer | null = null;
    if (valueLen >= 0) {
      value = buf.subarray(pos, pos + valueLen);
      pos += valueLen;
    }
    out[i] = { key, value };
  }
  return out;
}
