/**
 * The value codec through a real broker: typed arrays, DataViews, Buffers and ArrayBuffers nested
 * in objects, arrays and Maps read back as what was sent (they used to come back as Buffers of
 * truncated elements and encoder garbage); Maps come back as Maps, with any keys (a Map with object
 * keys used to be confirmed and then never decode); what cannot round-trip is refused at send with
 * a TypeError naming the message and the path inside the value, and nothing is written; plain
 * values stay standard MessagePack, byte for byte.
 */
import { describe, expect, it } from 'vitest';
import type { Broker } from '../../lib/index';
import { DEPTH_MAX } from '../../lib/broker/codec/value-codec';
import { drain, openBroker, SMALL } from './broker-fixtures';

async function topic(): Promise<Broker> {
  const b = await openBroker();
  await b.createTopic('t', SMALL);
  return b;
}

/** Sends each value as one message and reads them all back. */
async function roundTrip(b: Broker, values: readonly unknown[]): Promise<unknown[]> {
  await b.sendBatch(
    't',
    values.map((value) => ({ value })),
  );
  return (await drain(b.consumer({ group: `g${Math.random()}`, topics: 't' }))).map((m) => m.value);
}

/** The error send() rejects with; checks that nothing was written. */
async function refusal(b: Broker, value: unknown): Promise<Error> {
  const before = b.describeTopic('t').partitions[0].endOffset;
  const err = await b.send('t', { value }).then(
    () => new Error('the value was accepted'),
    (e: unknown) => e as Error,
  );
  expect(b.describeTopic('t').partitions[0].endOffset).toBe(before);
  return err;
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe('value codec', () => {
  it('reads back a Float64Array inside an object as the same Float64Array', async () => {
    const b = await topic();
    const [got] = await roundTrip(b, [{ samples: new Float64Array([3.14, -2.5, 1000.25]) }]);
    expect(got).toStrictEqual({ samples: new Float64Array([3.14, -2.5, 1000.25]) });
    expect((got as { samples: unknown }).samples).toBeInstanceOf(Float64Array);
  });

  it('reads back every typed array kind, DataView, Buffer and ArrayBuffer, nested in objects, arrays and Maps, as the same class', async () => {
    const b = await topic();
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    const views: unknown[] = [
      new Int8Array([-128, 0, 127]),
      new Uint8Array([0, 255]),
      new Uint8ClampedArray([0, 255]),
      new Int16Array([-32768, 32767]),
      new Uint16Array([65535]),
      new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
      new Uint32Array([2 ** 32 - 1]),
      new Float32Array([1.5, -0, NaN, Infinity]),
      new Float64Array([Math.PI, -0, NaN, -Infinity]),
      new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
      new BigUint64Array([2n ** 64n - 1n]),
      new Float64Array(bytes.slice(0, 16).buffer).subarray(1), // a view at an offset
      new DataView(bytes.buffer, 3, 5),
      Buffer.from('buffer'),
      Buffer.from('pooled').subarray(1), // shares the Buffer pool
      bytes.slice(2, 9).buffer,
    ];
    const sent = [{ views }, views, new Map(views.map((v, i) => [i, { v }])), [[[{ deep: new Map([['k', views]]) }]]]];
    const got = await roundTrip(b, sent);
    expect(got).toStrictEqual(sent);
    const gotViews = (got[0] as { views: unknown[] }).views;
    for (let i = 0; i < views.length; i++) expect(Object.getPrototypeOf(gotViews[i])).toBe(Object.getPrototypeOf(views[i]));
  });

  it('reads back Maps as Maps, with object keys, Sets as Sets, and the numbers MessagePack would bend', async () => {
    const b = await topic();
    const sent: unknown[] = [
      new Map([[{ id: 1 }, 'x']]),
      { m: new Map<unknown, unknown>([[1, 'one'], ['1', 'string one'], [[1, 2], new Map([[null, undefined]])], [new Date(5), -0]]) },
      new Set([1, 'a', { s: new Set([new Map()]) }]),
      [-0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 31) - 1, 0.1, Number.MIN_VALUE],
      { big: [-(2n ** 63n), 2n ** 64n - 1n, 0n], dates: [new Date(-1), new Date(8.64e15), new Date(-8.64e15), new Date(NaN)] },
      { u: undefined, a: [undefined, null], constructor: 'x', toJSON: 1 },
      -0,
      new ArrayBuffer(0),
    ];
    expect(await roundTrip(b, sent)).toStrictEqual(sent);
  });

  it('accepts nesting of DEPTH_MAX levels and refuses one more', async () => {
    const b = await topic();
    let deep: unknown = [];
    for (let i = 1; i < DEPTH_MAX; i++) deep = [deep];
    expect(await roundTrip(b, [deep])).toStrictEqual([deep]);
    const err = await refusal(b, { d: deep });
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe(`message 0: value.d${'[0]'.repeat(DEPTH_MAX - 1)}: containers nested deeper than ${DEPTH_MAX} levels cannot be encoded`);
  });

  it('refuses what cannot round-trip with a TypeError naming the message and the path, writing nothing', async () => {
    const b = await topic();
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = { back: circular };
    const shared = { n: 1 }; // referenced twice, not circular: accepted
    const cases: [unknown, string][] = [
      [{ samples: [1, 2, Symbol('s')] }, 'value.samples[2]: a Symbol cannot be encoded'],
      [Symbol('top'), 'value: a Symbol cannot be encoded'],
      [{ f: () => 1 }, 'value.f: a function cannot be encoded'],
      [{ p: new Point(1, 2) }, 'value.p: a Point cannot be encoded'],
      [{ r: /x/g }, 'value.r: a RegExp cannot be encoded'],
      [[new Error('e')], 'value[0]: an Error cannot be encoded'],
      [{ n: Object.create(null) }, 'value.n: an object with a null prototype (copy it into a plain object) cannot be encoded'],
      [circular, 'value.self.back: a circular reference cannot be encoded'],
      [{ 'a key': [1, , 3] }, 'value["a key"][1]: a hole (sparse array) cannot be encoded'],
      [JSON.parse('{"o":{"__proto__":{}}}'), 'value.o.__proto__: a property named __proto__ cannot be encoded'],
      [{ s: 'ok\ud800' }, 'value.s: a string with a lone surrogate cannot be encoded (UTF-8 cannot carry it)'],
      [{ ['k\udc00']: 1 }, 'value["k\\udc00"]: a property name with a lone surrogate cannot be encoded'],
      [{ b: 2n ** 64n }, 'value.b: a BigInt outside 64 bits (-2^63 to 2^64 - 1) cannot be encoded'],
      [{ b: -(2n ** 63n) - 1n }, 'value.b: a BigInt outside 64 bits (-2^63 to 2^64 - 1) cannot be encoded'],
      [{ [Symbol('k')]: 1 }, 'value: a Symbol key (Symbol(k)) cannot be encoded'],
      [new Map<unknown, unknown>([['ok', 1], [{ f() {} }, 2]]), 'value<entry 1 key>.f: a function cannot be encoded'],
      [{ m: new Map([['k', new WeakMap()]]) }, 'value.m<entry 0 value>: a WeakMap cannot be encoded'],
      [new Set([1, new Set([Promise.resolve()])]), 'value<element 1><element 0>: a Promise cannot be encoded'],
      [{ n: new Number(1) }, 'value.n: a Number cannot be encoded'],
      [{ s: new SharedArrayBuffer(4) }, 'value.s: a SharedArrayBuffer cannot be encoded'],
      [{ t: new (class Samples extends Float64Array {})(2) }, 'value.t: a Samples cannot be encoded'],
      [{ d: new (class Day extends Date {})() }, 'value.d: a Day cannot be encoded'],
      [{ ok: [shared, shared], bad: [undefined, () => 1] }, 'value.bad[1]: a function cannot be encoded'],
    ];
    for (const [value, path] of cases) {
      const err = await refusal(b, value);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toBe(`message 0: ${path}`);
    }
    expect(b.describeTopic('t').messages).toBe(0);
    // In a batch, the index is the message's.
    const err = await b.sendBatch('t', [{ value: { ok: 1 } }, { value: { s: Symbol('x') } }]).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe('message 1: value.s: a Symbol cannot be encoded');
    expect(b.describeTopic('t').messages).toBe(0);
  });

  it('writes plain values as standard MessagePack, -0 as a float 64, and Maps with its extension 0x4d', async () => {
    const b = await topic();
    await b.sendBatch('t', [{ value: { a: [1, 'x', true, null, 1.5, -1] } }, { value: -0 }, { value: new Map([[1, 2]]) }]);
    const got = await drain(b.consumer({ group: 'g', topics: 't' }));
    expect(got.map((m) => m.rawValue!.toString('hex'))).toEqual([
      '81a16196' + '01a178c3c0cb3ff8000000000000ff', // {a: [1, 'x', true, null, 1.5, -1]}
      'cb8000000000000000',
      'd44d00920102', // fixext 1 0x4d, then [1, 2]
    ]);
  });
});
