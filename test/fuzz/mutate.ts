/**
 * Mutations of seed requests, as fast-check arbitraries: a fuzz input is a seed index and one to
 * eight edits applied in order. The edits are the ones that find decoder bugs: bytes and bits
 * changed, an integer of 1, 2, 4 or 8 bytes overwritten with a boundary value (lengths and counts:
 * -1, 0, 2^31 - 1, 2^32 - 1, ...), an unsigned varint written over the bytes (compact lengths and
 * counts, tag numbers), bytes inserted, deleted, repeated or cut off, a run of another seed spliced
 * in, and the API version changed (a body decoded as another version of its API). Positions are
 * taken modulo the input's length, so every edit applies to every input.
 */
import fc from 'fast-check';

const BOUNDARY = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, -1, -2, 16, 64, 1000];
const VARINTS = [0, 1, 2, 0x7f, 0x80, 0x3fff, 0x4000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

export type Edit =
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'int'; at: number; width: 1 | 2 | 4 | 8; value: number }
  | { kind: 'varint'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'repeat'; at: number; length: number }
  | { kind: 'cut'; at: number }
  | { kind: 'splice'; at: number; seed: number; from: number; length: number }
  | { kind: 'version'; value: number };

const at = fc.nat();
const EDIT: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('byte' as const), at, value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('int' as const), at, width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const), value: fc.constantFrom(...BOUNDARY) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('varint' as const), at, value: fc.constantFrom(...VARINTS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat' as const), at, length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), at, seed: fc.nat(), from: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('version' as const), value: fc.integer({ min: -1, max: 14 }) }) },
);

export interface FuzzInput {
  seed: number;
  edits: Edit[];
}

export const FUZZ_INPUT: fc.Arbitrary<FuzzInput> = fc.record({ seed: fc.nat(), edits: fc.array(EDIT, { minLength: 1, maxLength: 8 }) });

function writeUvarint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

function overwrite(b: Buffer, pos: number, bytes: Buffer): Buffer {
  const out = Buffer.from(b);
  bytes.copy(out, pos, 0, Math.min(bytes.length, out.length - pos));
  return out;
}

function intBytes(width: 1 | 2 | 4 | 8, value: number): Buffer {
  const out = Buffer.alloc(width);
  const v32 = value >>> 0;
  if (width === 1) out[0] = v32 & 0xff;
  else if (width === 2) out.writeUInt16BE(v32 & 0xffff);
  else if (width === 4) out.writeUInt32BE(v32);
  else {
    out.writeInt32BE(value < 0 ? -1 : 0, 0);
    out.writeUInt32BE(v32, 4);
  }
  return out;
}

/** Applies one edit (a new buffer; `seeds` for splices). */
export function applyEdit(b: Buffer, e: Edit, seeds: readonly Buffer[]): Buffer {
  if (e.kind === 'version') {
    if (b.length < 4) return b;
    const out = Buffer.from(b);
    out.writeInt16BE(e.value, 2);
    return out;
  }
  if (b.length === 0) return e.kind === 'insert' ? Buffer.from(e.bytes) : b;
  const pos = e.at % b.length;
  switch (e.kind) {
    case 'byte':
      return overwrite(b, pos, Buffer.from([e.value]));
    case 'flip':
      return overwrite(b, pos, Buffer.from([b[pos] ^ (1 << e.bit)]));
    case 'int':
      return overwrite(b, pos, intBytes(e.width, e.value));
    case 'varint':
      return overwrite(b, pos, writeUvarint(e.value));
    case 'insert':
      return Buffer.concat([b.subarray(0, pos), e.bytes, b.subarray(pos)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, pos), b.subarray(pos + e.length)]);
    case 'repeat':
      return Buffer.concat([b.subarray(0, pos + e.length), b.subarray(pos)]);
    case 'cut':
      return b.subarray(0, pos);
    case 'splice': {
      const other = seeds[e.seed % seeds.length];
      const from = other.length === 0 ? 0 : e.from % other.length;
      return Buffer.concat([b.subarray(0, pos), other.subarray(from, from + e.length), b.subarray(pos)]);
    }
  }
}

/** The seed with every edit applied. */
export function mutate(input: FuzzInput, seeds: readonly Buffer[]): Buffer {
  let b = seeds[input.seed % seeds.length];
  for (const e of input.edits) b = applyEdit(b, e, seeds);
  return b;
}
