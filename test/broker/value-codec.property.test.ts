/**
 * Property test of the value codec through a real broker (fast-check): nested values built from
 * the supported set (every leaf kind, arrays, plain objects with awkward keys, Maps with any keys,
 * Sets, nested up to a few levels) read back toStrictEqual once send() confirms them (top-level
 * strings and byte views as the Buffer of their bytes, as documented); values with one refused
 * part somewhere inside (a Symbol, a function, a class instance, a null-prototype object, a hole,
 * a lone surrogate, a BigInt over 64 bits, a cycle, nesting over DEPTH_MAX...) are refused with a
 * TypeError naming message 0, and the topic's end offset does not move.
 *
 * The seed is printed; replay a failure with SLUICE_TEST_SEED=<seed> (fast-check also prints the
 * seed and the shrunk counterexample of a failing run).
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEPTH_MAX } from '../../lib/broker/codec/value-codec';
import { openBroker, SMALL } from './broker-fixtures';

function seedFromEnv(): number {
  const s = process.env.SLUICE_TEST_SEED;
  const seed = s !== undefined ? Number(s) : Math.floor(Math.random() * 2 ** 31);
  console.log(`value-codec.property.test.ts seed=${seed} (replay with SLUICE_TEST_SEED=${seed})`);
  return seed;
}

const SEED = seedFromEnv();
const RUNS = 200;

class Point {
  constructor(readonly x = 1) {}
}

/** Property names, with the ones JavaScript and msgpackr treat specially (but not __proto__, which is refused). */
const key = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 8 }).filter((k) => k !== '__proto__'),
  fc.constantFrom('constructor', 'toJSON', 'hasOwnProperty', 'valueOf', '__proto_', 'length', '0', '-1', ''),
);

const short = { maxLength: 6 };
const viewAt = <T extends { subarray(start: number): T; length: number }>(a: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.tuple(a, fc.nat()).map(([x, n]) => x.subarray(x.length === 0 ? 0 : n % x.length));

const bytes = fc.oneof(
  fc.int8Array(short),
  fc.uint8Array(short),
  fc.uint8ClampedArray(short),
  fc.int16Array(short),
  fc.uint16Array(short),
  fc.int32Array(short),
  fc.uint32Array(short),
  fc.float32Array(short),
  fc.float64Array(short),
  fc.bigInt64Array(short),
  fc.bigUint64Array(short),
  viewAt(fc.float64Array(short)),
  viewAt(fc.int16Array(short)),
  fc.uint8Array(short).map((a) => Buffer.from(a)),
  fc.uint8Array(short).map((a) => a.buffer),
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat(), fc.nat()).map(([a, i, n]) => {
    const offset = i % a.length;
    return new DataView(a.buffer, offset, n % (a.length - offset + 1));
  }),
);

const leaf = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.date({ noInvalidDate: false }),
  bytes,
);

/**
 * A plain object of these entries. toStrictEqual compares objects' `constructor` properties by
 * identity (its type check), so a `constructor` property gets a value equal to its copy by ===.
 */
function plainObject(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) o[k] = k === 'constructor' && !(typeof v === 'string' || typeof v === 'boolean') ? 'a constructor' : v;
  return o;
}

const { value } = fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown>; map: Map<unknown, unknown>; set: Set<unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, leaf, tie('array'), tie('object'), tie('map'), tie('set')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map(plainObject),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((es) => new Map(es)),
  set: fc.array(tie('value'), { maxLength: 4 }).map((a) => new Set(a)),
}));

/** One refused part, made fresh for each value. */
const refusedLeaf = fc.constantFrom<(() => unknown)[]>(
  () => Symbol('s'),
  () => () => 1,
  () => new Point(),
  () => Object.create(null),
  () => /x/,
  () => new Error('e'),
  () => [1, , 2],
  () => 'a\ud800b',
  () => ({ ['\udfffk']: 1 }),
  () => 2n ** 64n,
  () => -(2n ** 63n) - 1n,
  () => new WeakMap(),
  () => new Number(1),
  () => new SharedArrayBuffer(2),
  () => new (class Bytes extends Uint8Array {})(1),
  () => new (class Day extends Date {})(),
  () => ({ [Symbol('k')]: 1 }),
  () => JSON.parse('{"__proto__": 1}'),
  () => {
    const o: Record<string, unknown> = { a: 1 };
    o.me = [o];
    return o;
  },
  () => {
    let deep: unknown = [];
    for (let i = 0; i < DEPTH_MAX; i++) deep = [deep];
    return deep; // DEPTH_MAX + 1 levels
  },
);

const { refused } = fc.letrec<{ refused: unknown; inArray: unknown[]; inObject: object; inMapKey: Map<unknown, unknown>; inMapValue: Map<unknown, unknown>; inSet: Set<unknown> }>((tie) => ({
  refused: fc.oneof({ depthSize: 'small', maxDepth: 3 }, refusedLeaf.map((make) => make()), tie('inArray'), tie('inObject'), tie('inMapKey'), tie('inMapValue'), tie('inSet')),
  inArray: fc.tuple(fc.array(value, { maxLength: 3 }), tie('refused'), fc.nat()).map(([a, x, i]) => {
    const out = a.slice();
    out.splice(i % (a.length + 1), 0, x);
    return out;
  }),
  inObject: fc.tuple(fc.array(fc.tuple(key, value), { maxLength: 3 }), key, tie('refused')).map(([es, k, x]) => Object.assign(plainObject(es), { [k]: x })),
  inMapKey: fc.tuple(fc.array(fc.tuple(value, value), { maxLength: 3 }), tie('refused'), value).map(([es, x, v]) => new Map([...es, [x, v]])),
  inMapValue: fc.tuple(fc.array(fc.tuple(value, value), { maxLength: 3 }), value, tie('refused')).map(([es, k, x]) => new Map([...es, [k, x]])),
  inSet: fc.tuple(fc.array(value, { maxLength: 3 }), tie('refused')).map(([a, x]) => new Set([...a, x])),
}));

/** What a consumer reads for a value sent as a whole: strings and byte views are stored as their bytes. */
function expected(v: unknown): unknown {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

describe('value codec (property)', () => {
  it('reads back every value send() confirms, toStrictEqual', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't' });
    await fc.assert(
      fc.asyncProperty(
        value.filter((v) => v !== undefined),
        async (v) => {
          const confirm = await b.send('t', { value: v });
          const [m] = await c.poll(1);
          expect(m.offset).toBe(confirm.offset);
          expect(m.value).toStrictEqual(expected(v));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    await c.close();
  });

  it('refuses every value with a refused part, with a TypeError, before anything is written', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.send('t', { value: 'first' });
    await fc.assert(
      fc.asyncProperty(
        // Top-level strings and byte views are stored as bytes, whatever they hold.
        refused.filter((v) => typeof v !== 'string' && !ArrayBuffer.isView(v)),
        async (v) => {
          const err = await b.send('t', { value: v }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(TypeError);
          expect((err as Error).message).toMatch(/^message 0: value.*cannot be encoded/s);
          expect(b.describeTopic('t').partitions[0].endOffset).toBe(1);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
