/**
 * Writes the Kafka protocol's primitive types into a response (or, for tests and load generators,
 * a request). The output is a list of parts: bytes the writer produced, record Buffers passed
 * through without a copy, and out-of-band record regions (a range of a segment file the connection
 * sends itself) that the writer only counts. `length` is the total, for the frame's size prefix.
 */

/** Record bytes that are not in memory: the connection sends them (sendfile); the codec only counts them. */
export interface OutOfBandRecords {
  readonly byteLength: number;
  readonly outOfBand: true;
}

export type RecordsValue = Buffer | OutOfBandRecords | null;

export type Part = Buffer | OutOfBandRecords;

const CHUNK_BYTES = 16 * 1024;
/** Record Buffers at least this long go out as their own part instead of being copied. */
// (Every write takes its position from #room() first and only then reads #chunk: #room() may
// start a new chunk, and an expression like `this.#chunk.writeInt32BE(v, this.#room(4))` would
// write into the old one.)
const PASS_THROUGH_BYTES = 1024;

export class Writer {
  readonly parts: Part[] = [];
  length = 0;
  #chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  #start = 0;
  #pos = 0;

  #room(n: number): number {
    if (this.#chunk.length - this.#pos < n) {
      this.#cut();
      this.#chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, n));
      this.#start = 0;
      this.#pos = 0;
    }
    const at = this.#pos;
    this.#pos += n;
    this.length += n;
    return at;
  }

  /** Ends the current run of written bytes as a part. */
  #cut(): void {
    if (this.#pos > this.#start) this.parts.push(this.#chunk.subarray(this.#start, this.#pos));
    this.#start = this.#pos;
  }

  int8(v: number): void {
    const at = this.#room(1);
    this.#chunk.writeInt8(v, at);
  }
  bool(v: boolean): void {
    const at = this.#room(1);
    this.#chunk[at] = v ? 1 : 0;
  }
  int16(v: number): void {
    const at = this.#room(2);
    this.#chunk.writeInt16BE(v, at);
  }
  uint16(v: number): void {
    const at = this.#room(2);
    this.#chunk.writeUInt16BE(v, at);
  }
  int32(v: number): void {
    const at = this.#room(4);
    this.#chunk.writeInt32BE(v, at);
  }
  int64(v: number): void {
    const at = this.#room(8);
    this.#chunk.writeBigInt64BE(BigInt(Math.trunc(v)), at);
  }
  float64(v: number): void {
    const at = this.#room(8);
    this.#chunk.writeDoubleBE(v, at);
  }
  uuid(v: Buffer | null): void {
    const at = this.#room(16);
    if (v === null) this.#chunk.fill(0, at, at + 16);
    else v.copy(this.#chunk, at, 0, 16);
  }

  uvarint(v: number): void {
    while (v >= 0x80) {
      const at = this.#room(1);
      this.#chunk[at] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    const at = this.#room(1);
    this.#chunk[at] = v;
  }

  #raw(b: Uint8Array): void {
    if (b.length >= PASS_THROUGH_BYTES) {
      this.#cut();
      this.parts.push(b as Buffer);
      this.length += b.length;
      return;
    }
    const at = this.#room(b.length);
    this.#chunk.set(b, at);
  }

  nullableString(v: string | null): void {
    if (v === null) return this.int16(-1);
    const len = Buffer.byteLength(v, 'utf8');
    this.int16(len);
    const at = this.#room(len);
    this.#chunk.write(v, at, len, 'utf8');
  }
  string(v: string): void {
    this.nullableString(v);
  }
  compactNullableString(v: string | null): void {
    if (v === null) return this.uvarint(0);
    const len = Buffer.byteLength(v, 'utf8');
    this.uvarint(len + 1);
    const at = this.#room(len);
    this.#chunk.write(v, at, len, 'utf8');
  }
  compactString(v: string): void {
    this.compactNullableString(v);
  }
  nullableBytes(v: Uint8Array | null): void {
    if (v === null) return this.int32(-1);
    this.int32(v.length);
    this.#raw(v);
  }
  bytes(v: Uint8Array): void {
    this.nullableBytes(v);
  }
  compactNullableBytes(v: Uint8Array | null): void {
    if (v === null) return this.uvarint(0);
    this.uvarint(v.length + 1);
    this.#raw(v);
  }
  compactBytes(v: Uint8Array): void {
    this.compactNullableBytes(v);
  }

  /** Record data: bytes in memory, or a region the connection sends out of band. */
  records(v: RecordsValue, compact: boolean): void {
    const len = v === null ? -1 : Buffer.isBuffer(v) ? v.length : v.byteLength;
    if (compact) this.uvarint(len + 1);
    else this.int32(len);
    if (v === null) return;
    if (Buffer.isBuffer(v)) return this.#raw(v);
    this.#cut();
    this.parts.push(v);
    this.length += v.byteLength;
  }

  arrayCount(n: number | null, compact: boolean): void {
    if (compact) this.uvarint(n === null ? 0 : n + 1);
    else this.int32(n === null ? -1 : n);
  }

  /** Appends another writer's bytes (a tagged field's value, measured first). */
  append(other: Writer): void {
    this.#raw(other.toBuffer());
  }

  /** The parts so far, ending the current run of bytes. */
  finish(): Part[] {
    this.#cut();
    return this.parts;
  }

  /** Everything as one Buffer (throws on an out-of-band region: for tests and tagged fields). */
  toBuffer(): Buffer {
    const parts = this.finish();
    for (const p of parts) if (!Buffer.isBuffer(p)) throw new Error('out-of-band records cannot be flattened');
    return Buffer.concat(parts as Buffer[], this.length);
  }
}
