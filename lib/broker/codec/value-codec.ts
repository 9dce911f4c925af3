/**
 * Message values as bytes.
 *
 * Top level. Buffers, Uint8Arrays and strings are stored as they are (strings as UTF-8) and come
 * back as Buffers. Other ArrayBufferViews (Float64Array, Int16Array, DataView...) are stored as
 * their bytes too, in the platform's byte order, and also come back as Buffers: the consumer
 * rebuilds the view it wants. A null value stays null (Kafka's tombstone); undefined is refused
 * (use null). Any other value is encoded with msgpackr as described below, and the record gets the
 * header `sluice.codec: msgpack`; a consumer sees such a value decoded, and does not see the
 * header. The header name is reserved: producers may not set it themselves.
 *
 * Encoded values. What round-trips (reads back toStrictEqual, as the same class):
 *   null; undefined (as an element or a property, not as the whole value); booleans; numbers (NaN,
 *   ±Infinity and -0 included); strings without lone surrogates; BigInts from -2^63 to 2^64 - 1;
 *   Dates (invalid ones included); arrays without holes; plain objects (prototype Object.prototype)
 *   with string keys; Maps with any of these as keys and values; Sets; ArrayBuffers; DataViews;
 *   Buffers; every TypedArray kind of Node 20 (Int8, Uint8, Uint8Clamped, Int16, Uint16, Int32,
 *   Uint32, Float32, Float64, BigInt64, BigUint64). A nested Uint8Array comes back a Uint8Array and
 *   a nested Buffer a Buffer (a view of the stored bytes, as top-level values are); other views come
 *   back over a fresh, aligned copy of their bytes. Containers (arrays, objects, Maps, Sets) nest at
 *   most DEPTH_MAX deep. Shared references are encoded once per reference (a DAG comes back a tree).
 *
 *   What is refused, with a TypeError that names the message and the path inside the value
 *   (`message 0: value.samples[2]: a Symbol cannot be encoded`): functions; symbols (as values or
 *   keys); class instances other than the types above (subclasses included: RegExp, Error, Promise,
 *   WeakMap, boxed primitives, SharedArrayBuffer, Float16Array...); objects with a null prototype
 *   (they would come back as plain objects); a property named `__proto__` (msgpackr renames it on
 *   decoding); holes in sparse arrays (they would come back as undefined); strings with lone
 *   surrogates (UTF-8 cannot carry them); BigInts outside 64 bits; circular references; nesting
 *   deeper than DEPTH_MAX; more than VALUES_MAX parts in all. A value is checked by one walk that
 *   copies nothing but the entries of Maps and, shallowly, the containers on the way to a Map or a
 *   -0 (see below).
 *   Non-index properties of arrays and non-enumerable properties are not encoded (as in JSON).
 *
 * Bytes. Standard MessagePack for plain values, so any decoder reads plain objects, arrays,
 * strings and numbers: nil, true/false, int (integers from -2^31 to 2^32 - 1), float 64 (other numbers, -0
 * included), str (UTF-8), array, map (plain objects, string keys), bin (Buffer), int 64 / uint 64
 * (BigInt), and the timestamp extension -1 (Date). Beyond that, msgpackr's extensions (its
 * `moreTypes` option) and one of Sluice's own:
 *   fixext 1, type 0, data 0              undefined (msgpackr's, as notepack's)
 *   fixext 1, type -1, data 0xff          an invalid Date (msgpackr's)
 *   ext, type 0x74 ('t'), kind byte, bytes  a typed array, in the platform's byte order; kind: 0
 *                                         Int8, 1 Uint8, 2 Uint8Clamped, 3 Int16, 4 Uint16, 5
 *                                         Int32, 6 Uint32, 7 Float32, 8 Float64, 9 BigInt64, 10
 *                                         BigUint64, 16 ArrayBuffer, 17 DataView (msgpackr's)
 *   fixext 1, type 0x73 ('s'), data 0, then an array of the elements     a Set (msgpackr's)
 *   fixext 1, type 0x4d ('M'), data 0, then an array [key0, value0, key1, value1...]   a Map
 * msgpackr has no extension for Map (it writes Maps as plain maps, decoded as objects), so the
 * walk puts a private Substitute in place of each Map, which msgpackr hands to the extension
 * below; -0 gets one too (msgpackr writes it as the integer 0), and so does a plain object with
 * both an own `constructor` property and a `toJSON` one (msgpackr would call toJSON, taking the
 * object for a class instance; the substitute writes it as a plain map). msgpackr's extensions are
 * process-wide: a Packr of the application's own decodes type 0x4d as a Map too, and an
 * application extension of type 0x4d would clash with this one.
 */
import { CODEC_HEADER, RESERVED_HEADERS } from './reserved-headers';
import { Buffer } from 'node:buffer';
import { addExtension, Packr } from 'msgpackr';
import type { HeadersInput, RecordHeader } from '../../storage/log';

export { CODEC_HEADER };
export const MSGPACK = 'msgpack';

/** Containers nested deeper than this are refused: decoding recurses once per level. */
export const DEPTH_MAX = 64;
/**
 * Parts (values of any kind, each element counted) of one message value, at most: each encodes to
 * at least a byte and no message can exceed a segment (under 2 GiB), so a value with more could
 * never be stored. It bounds the walk over a value that references one object many times (a DAG
 * of depth 64 whose nodes are shared has 2^64 paths).
 */
export const VALUES_MAX = 2 ** 31 - 1;

/** Sluice's extension type for Maps. */
const MAP_EXT = 0x4d;

const enum Kind {
  Map,
  NegativeZero,
  PlainObject,
}

/** What the walk puts in place of a value msgpackr would encode wrongly; `entries` are [key0, value0, key1...]. */
class Substitute {
  constructor(
    readonly kind: Kind,
    readonly entries: unknown[],
  ) {}
}
const NEGATIVE_ZERO = new Substitute(Kind.NegativeZero, []);

interface Allocation {
  target: Uint8Array;
  targetView: DataView;
  position: number;
}

addExtension({
  Class: Substitute,
  type: MAP_EXT,
  // msgpackr calls pack(value, allocateForWrite, pack) for an extension with a pack function:
  // what it allocates it writes as is (this is how its own Date and Set extensions work).
  pack(s: Substitute, allocateForWrite: (bytes: number) => Allocation, pack: (value: unknown) => void): void {
    const entries = s.entries;
    if (s.kind === Kind.NegativeZero) {
      const { target, targetView, position } = allocateForWrite(9);
      target[position] = 0xcb; // float 64
      targetView.setFloat64(position + 1, -0);
    } else if (s.kind === Kind.Map) {
      const { target, position } = allocateForWrite(3);
      target[position] = 0xd4; // fixext 1
      target[position + 1] = MAP_EXT;
      target[position + 2] = 0;
      pack(entries);
    } else {
      const n = entries.length / 2;
      const { target, targetView, position } = allocateForWrite(n < 0x10 ? 1 : n < 0x10000 ? 3 : 5);
      if (n < 0x10) {
        target[position] = 0x80 | n; // fixmap
      } else if (n < 0x10000) {
        target[position] = 0xde; // map 16
        targetView.setUint16(position + 1, n);
      } else {
        target[position] = 0xdf; // map 32
        targetView.setUint32(position + 1, n);
      }
      for (let i = 0; i < entries.length; i++) pack(entries[i]);
    }
  },
  read(entries: unknown): Map<unknown, unknown> {
    if (!Array.isArray(entries) || entries.length % 2 !== 0) throw new Error('a Map extension must be followed by an array of even length');
    const map = new Map<unknown, unknown>();
    for (let i = 0; i < entries.length; i += 2) map.set(entries[i], entries[i + 1]);
    return map;
  },
} as unknown as Parameters<typeof addExtension>[0]);

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true, variableMapSize: true });
const MSGPACK_BYTES = Buffer.from(MSGPACK);

/** Prototypes of the byte containers that round-trip (leaves of the walk: nothing inside is checked). */
const BYTE_TYPES = new Set<object>([
  Buffer.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Int8Array.prototype,
  Uint8Array.prototype,
  Uint8ClampedArray.prototype,
  Int16Array.prototype,
  Uint16Array.prototype,
  Int32Array.prototype,
  Uint32Array.prototype,
  Float32Array.prototype,
  Float64Array.prototype,
  BigInt64Array.prototype,
  BigUint64Array.prototype,
]);

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/** Thrown inside the walk; each container on the way out adds its step to the path. */
class Refusal {
  readonly steps: string[] = [];
  constructor(readonly what: string) {}
}

interface Walk {
  values: number;
  /** The containers enclosing the one being walked (at most DEPTH_MAX). */
  readonly ancestors: object[];
}

/** True for values stored as they are: null, strings and byte arrays. */
export function isRawValue(value: unknown): value is Buffer | Uint8Array | string | null {
  return value === null || typeof value === 'string' || value instanceof Uint8Array;
}

/** A non-byte ArrayBufferView as a Buffer over the same memory; any other value as it is. */
export function viewAsBytes(value: unknown): unknown {
  if (value instanceof Uint8Array || !ArrayBuffer.isView(value)) return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * The MessagePack encoding of a value that is not raw; a TypeError naming message `index` and the
 * path inside the value if it is not one of the values that round-trip (see the top of this file).
 */
export function packValue(value: unknown, index: number): Buffer {
  if (value === undefined) throw new TypeError(`message ${index}: value is undefined (use null for an empty value)`);
  let encodable: unknown;
  try {
    encodable = check(value, { values: 0, ancestors: [] }, 1);
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    throw new TypeError(`message ${index}: value${e.steps.reverse().join('')}: ${e.what}`);
  }
  try {
    return packr.pack(encodable);
  } catch (e) {
    // Not expected once the walk passed; kept so that no msgpackr error escapes as anything but a TypeError.
    throw new TypeError(`message ${index}: the value cannot be encoded as MessagePack: ${(e as Error).message}`);
  }
}

/** The value decoded; throws what msgpackr throws for bytes that are not MessagePack it can read. */
export function unpackValue(bytes: Buffer): unknown {
  // A Buffer of its own (no copy), because msgpackr caches a DataView on the Buffer it decodes
  // as an own property, which would show on the message's rawValue.
  return packr.unpack(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/**
 * Checks one value of the walk; returns what to encode in its place: the value itself, except for
 * -0, Maps, and containers holding one (a shallow copy with the substitutes). `level` is the
 * nesting level a container here would have (1 for the whole value).
 */
function check(v: unknown, walk: Walk, level: number): unknown {
  if (++walk.values > VALUES_MAX) throw new Refusal(`the value has more than ${VALUES_MAX} parts and cannot be encoded`);
  switch (typeof v) {
    case 'number':
      return v === 0 && 1 / v < 0 ? NEGATIVE_ZERO : v;
    case 'string':
      if (!isWellFormed.call(v)) throw new Refusal('a string with a lone surrogate cannot be encoded (UTF-8 cannot carry it)');
      return v;
    case 'boolean':
    case 'undefined':
      return v;
    case 'bigint':
      if (v < INT64_MIN || v > UINT64_MAX) throw new Refusal('a BigInt outside 64 bits (-2^63 to 2^64 - 1) cannot be encoded');
      return v;
    case 'symbol':
      throw new Refusal('a Symbol cannot be encoded');
    case 'function':
      throw new Refusal('a function cannot be encoded');
    default:
      return v === null ? v : checkObject(v as object, walk, level);
  }
}

function checkObject(v: object, walk: Walk, level: number): unknown {
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Date.prototype || BYTE_TYPES.has(proto as object)) return v;
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== Map.prototype && proto !== Set.prototype) {
    throw new Refusal(`${describeObject(v, proto)} cannot be encoded`);
  }
  const ancestors = walk.ancestors;
  if (ancestors.includes(v)) throw new Refusal('a circular reference cannot be encoded');
  if (level > DEPTH_MAX) throw new Refusal(`containers nested deeper than ${DEPTH_MAX} levels cannot be encoded`);
  ancestors.push(v);
  let out: unknown;
  if (proto === Object.prototype) out = checkPlainObject(v as Record<string, unknown>, walk, level);
  else if (proto === Array.prototype) out = checkArray(v as unknown[], walk, level);
  else if (proto === Map.prototype) out = checkMap(v as Map<unknown, unknown>, walk, level);
  else out = checkSet(v as Set<unknown>, walk, level);
  ancestors.pop();
  return out;
}

function checkPlainObject(o: Record<string, unknown>, walk: Walk, level: number): unknown {
  const keys = Object.keys(o);
  let copy: Record<string, unknown> | undefined;
  let ownConstructor = false;
  let i = 0;
  try {
    for (; i < keys.length; i++) {
      const k = keys[i];
      if (k === '__proto__') throw new Refusal('a property named __proto__ cannot be encoded');
      if (k === 'constructor') ownConstructor = true;
      if (!isWellFormed.call(k)) throw new Refusal('a property name with a lone surrogate cannot be encoded');
      const x = o[k];
      const y = check(x, walk, level + 1);
      if (y !== x) (copy ??= { ...o })[k] = y;
    }
  } catch (e) {
    if (e instanceof Refusal) e.steps.push(propertyStep(keys[i]));
    throw e;
  }
  const symbols = Object.getOwnPropertySymbols(o);
  for (const s of symbols) {
    if (Object.prototype.propertyIsEnumerable.call(o, s)) throw new Refusal(`a Symbol key (${String(s)}) cannot be encoded`);
  }
  const out = copy ?? o;
  if (ownConstructor && out.toJSON) {
    const entries = new Array<unknown>(keys.length * 2);
    for (let j = 0; j < keys.length; j++) {
      entries[2 * j] = keys[j];
      entries[2 * j + 1] = out[keys[j]];
    }
    return new Substitute(Kind.PlainObject, entries);
  }
  return out;
}

function checkArray(a: unknown[], walk: Walk, level: number): unknown {
  let copy: unknown[] | undefined;
  let i = 0;
  try {
    for (; i < a.length; i++) {
      const x = a[i];
      if (x === undefined && !(i in a)) throw new Refusal('a hole (sparse array) cannot be encoded');
      const y = check(x, walk, level + 1);
      if (y !== x) (copy ??= a.slice())[i] = y;
    }
  } catch (e) {
    if (e instanceof Refusal) e.steps.push(`[${i}]`);
    throw e;
  }
  return copy ?? a;
}

function checkMap(m: Map<unknown, unknown>, walk: Walk, level: number): Substitute {
  const entries = new Array<unknown>(m.size * 2);
  let i = 0;
  let step = 'key';
  try {
    for (const [k, x] of m) {
      step = 'key';
      entries[2 * i] = check(k, walk, level + 1);
      step = 'value';
      entries[2 * i + 1] = check(x, walk, level + 1);
      i++;
    }
  } catch (e) {
    if (e instanceof Refusal) e.steps.push(`<entry ${i} ${step}>`);
    throw e;
  }
  return new Substitute(Kind.Map, entries);
}

function checkSet(s: Set<unknown>, walk: Walk, level: number): unknown {
  let copy: unknown[] | undefined;
  let i = 0;
  try {
    for (const x of s) {
      const y = check(x, walk, level + 1);
      if (y !== x) (copy ??= [...s])[i] = y;
      i++;
    }
  } catch (e) {
    if (e instanceof Refusal) e.steps.push(`<element ${i}>`);
    throw e;
  }
  return copy === undefined ? s : new Set(copy);
}

function propertyStep(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** "a RegExp", "an Error", "an object with a null prototype"... */
function describeObject(v: object, proto: unknown): string {
  if (proto === null) return 'an object with a null prototype (copy it into a plain object)';
  let name = 'class instance';
  try {
    const ctor = (proto as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function' && ctor.name !== '') name = ctor.name;
    else if (v instanceof Error) name = 'Error';
  } catch {
    // A throwing getter on the prototype: the generic name will do.
  }
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

/** Checks that user headers use none of the names the broker sets itself (reserved-headers.ts). */

export function checkUserHeaders(headers: HeadersInput | undefined): void {
  if (headers === undefined) return;
  if (headers === null || typeof headers !== 'object') throw new TypeError('headers must be an object or an array of [key, value] pairs');
  if (Array.isArray(headers)) {
    for (const pair of headers) {
      if (Array.isArray(pair) && RESERVED_HEADERS.includes(pair[0] as string)) throw new TypeError(`the header name ${pair[0]} is reserved`);
    }
  } else {
    for (const name of RESERVED_HEADERS) if (Object.prototype.hasOwnProperty.call(headers, name)) throw new TypeError(`the header name ${name} is reserved`);
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
