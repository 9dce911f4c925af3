/**
 * Reads the Kafka protocol's primitive types from one request frame (big-endian integers, int16-
 * and int32-prefixed strings and bytes, and the flexible versions' unsigned-varint "compact" forms
 * and tagged fields). Every length and count is checked against the bytes left before anything is
 * allocated for it, so a frame that claims more than it holds costs nothing: it throws
 * MALFORMED_REQUEST. Bytes and records come back as views of the frame, not copies.
 */
import { ErrorCode, SluiceError } from '../../errors';

export function malformed(what: string): SluiceError {
  return new SluiceError(`malformed request: ${what}`, ErrorCode.MALFORMED_REQUEST);
}

const TWO_32 = 4294967296;

export class Reader {
  pos: number;
  readonly buf: Buffer;
  readonly end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  #need(n: number, what: string): number {
    const at = this.pos;
    if (n > this.end - at) throw malformed(`${what} needs ${n} bytes at position ${at}, ${this.end - at} left`);
    this.pos = at + n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.#need(1, 'an int8'));
  }
  bool(): boolean {
    return this.buf[this.#need(1, 'a bool')] !== 0;
  }
  int16(): number {
    return this.buf.readInt16BE(this.#need(2, 'an int16'));
  }
  uint16(): number {
    return this.buf.readUInt16BE(this.#need(2, 'a uint16'));
  }
  int32(): number {
    return this.buf.readInt32BE(this.#need(4, 'an int32'));
  }
  /** An int64 as a number: exact within ±2^53 (offsets, timestamps, ids), rounded beyond. */
  int64(): number {
    const at = this.#need(8, 'an int64');
    return this.buf.readInt32BE(at) * TWO_32 + this.buf.readUInt32BE(at + 4);
  }
  float64(): number {
    return this.buf.readDoubleBE(this.#need(8, 'a float64'));
  }
  uuid(): Buffer {
    const at = this.#need(16, 'a uuid');
    return this.buf.subarray(at, at + 16);
  }

  /** An unsigned varint of at most 32 bits (compact lengths, tag numbers and sizes). */
  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.buf[this.#need(1, 'a varint')];
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
    }
    throw malformed(`varint longer than 32 bits before position ${this.pos}`);
  }

  /** A length prefix: -1 (null) or 0..remaining. */
  #length(raw: number, what: string): number {
    if (raw < -1) throw malformed(`${what} length ${raw}`);
    if (raw > this.end - this.pos) throw malformed(`${what} of ${raw} bytes at position ${this.pos}, ${this.end - this.pos} left`);
    return raw;
  }

  #text(len: number): string {
    const at = this.pos;
    this.pos += len;
    return this.buf.toString('utf8', at, at + len);
  }

  #view(len: number): Buffer {
    const at = this.pos;
    this.pos += len;
    return this.buf.subarray(at, at + len);
  }

  nullableString(): string | null {
    const len = this.#length(this.int16(), 'string');
    return len < 0 ? null : this.#text(len);
  }
  string(): string {
    const s = this.nullableString();
    if (s === null) throw malformed('null string where a string is required');
    return s;
  }
  compactNullableString(): string | null {
    const len = this.#length(this.uvarint() - 1, 'compact string');
    return len < 0 ? null : this.#text(len);
  }
  compactString(): string {
    const s = this.compactNullableString();
    if (s === null) throw malformed('null compact string where a string is required');
    return s;
  }
  nullableBytes(): Buffer | null {
    const len = this.#length(this.int32(), 'bytes');
    return len < 0 ? null : this.#view(len);
  }
  bytes(): Buffer {
    const b = this.nullableBytes();
    if (b === null) throw malformed('null bytes where bytes are required');
    return b;
  }
  compactNullableBytes(): Buffer | null {
    const len = this.#length(this.uvarint() - 1, 'compact bytes');
    return len < 0 ? null : this.#view(len);
  }
  compactBytes(): Buffer {
    const b = this.compactNullableBytes();
    if (b === null) throw malformed('null compact bytes where bytes are required');
    return b;
  }

  /**
   * An array's element count (int32, or compact when `compact`): -1 for null. Refused when the
   * elements, at `minBytes` each (at least 1), could not fit in what is left of the frame.
   */
  arrayCount(compact: boolean, minBytes: number): number {
    const n = compact ? this.uvarint() - 1 : this.int32();
    if (n < -1) throw malformed(`array count ${n}`);
    if (n > 0 && n * Math.max(1, minBytes) > this.end - this.pos) {
      throw malformed(`array of ${n} elements at position ${this.pos}, ${this.end - this.pos} bytes left`);
    }
    return n;
  }

  /** A reader of the next `size` bytes (a tagged field's value); this one moves past them. */
  sub(size: number): Reader {
    const at = this.#need(size, 'a tagged field');
    return new Reader(this.buf, at, at + size);
  }

  skip(size: number): void {
    this.#need(size, 'a skipped field');
  }
}
