/**
 * Producers: confirms {topic, partition, offset, durable} in batch order; byte values stored as
 * they are; every other JS value round-trips through msgpackr, marked by a header consumers never
 * see; keys, headers and timestamps (the broker clock's by default) reach consumers; bad messages
 * fail the whole batch with nothing written.
 */
import { describe, expect, it } from 'vitest';
import { CODEC_HEADER, ErrorCode, ManualClock } from '../../lib/index';
import { drain, openBroker, SMALL } from './broker-fixtures';

describe('producer', () => {
  it('confirms every message with its partition and offset, in batch order', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 3 });
    const batch = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 5}`, value: `v${i}` }));
    const confirms = await b.sendBatch('t', batch);
    expect(confirms).toHaveLength(30);
    const next = [0, 0, 0];
    for (const c of confirms) {
      expect(c.topic).toBe('t');
      expect(c.offset).toBe(next[c.partition]++);
      expect(typeof c.durable).toBe('boolean');
    }
    const c = b.consumer({ group: 'g', topics: 't' });
    const got = await drain(c);
    const byPos = new Map(got.map((m) => [`${m.partition}:${m.offset}`, (m.value as Buffer).toString()]));
    confirms.forEach((c, i) => expect(byPos.get(`${c.partition}:${c.offset}`)).toBe(`v${i}`));
  });

  it('confirms durable messages on a sync always topic', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, sync: 'always' });
    expect(await b.send('t', { value: 'x' })).toEqual({ topic: 't', partition: 0, offset: 0, durable: true });
    expect((await b.sendBatch('t', [{ value: 'y' }, { value: 'z' }])).map((c) => c.durable)).toEqual([true, true]);
  });

  it('round-trips JS values through msgpackr and keeps bytes as bytes', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const sent: unknown[] = [
      { order: 42, items: ['a', 'b'], nested: { ok: true, n: null } },
      [1, 2.5, -3, 'x'],
      12345,
      -0.5,
      true,
      false,
      new Date(1_700_000_000_000),
      new Map([['a', 1]]),
      { buf: Buffer.from([1, 2, 3]) },
      2n ** 40n,
    ];
    await b.sendBatch(
      't',
      sent.map((value) => ({ value })),
    );
    await b.send('t', { value: 'plain string' });
    await b.send('t', { value: Buffer.from([0, 255]) });
    await b.send('t', { value: new Uint8Array([7, 8]) });
    await b.send('t', { value: null, key: 'tombstone' });
    const got = await drain(b.consumer({ group: 'g', topics: 't' }));
    const vals = got.map((m) => m.value);
    expect(vals.slice(0, 6)).toEqual(sent.slice(0, 6));
    expect(vals[6]).toEqual(new Date(1_700_000_000_000));
    expect(vals[7]).toStrictEqual(new Map([['a', 1]])); // a Map comes back a Map (Sluice's extension 0x4d)
    expect(Buffer.from((vals[8] as { buf: Uint8Array }).buf)).toEqual(Buffer.from([1, 2, 3]));
    expect(vals[9]).toBe(2n ** 40n);
    expect(vals[10]).toEqual(Buffer.from('plain string'));
    expect(vals[11]).toEqual(Buffer.from([0, 255]));
    expect(vals[12]).toEqual(Buffer.from([7, 8]));
    expect(vals[13]).toBeNull();
    // The codec mark is there on disk but hidden from consumers.
    for (const m of got) expect(m.headers.some((h) => h.key === CODEC_HEADER)).toBe(false);
    expect(got[0].record.headers.map((h) => h.key)).toEqual([CODEC_HEADER]);
    expect(got[10].record.headers).toEqual([]);
  });

  it('delivers keys, headers and timestamps; the broker clock stamps messages without one', async () => {
    const clock = new ManualClock(1_000_000);
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    await b.send('t', { key: 'k', value: { a: 1 }, headers: { trace: 'abc', bin: Buffer.from([1]) } });
    clock.advance(500);
    await b.send('t', { value: 'v', headers: [['dup', '1'], ['dup', '2']], timestamp: 42 });
    await b.send('t', { value: 'w' });
    const [m0, m1, m2] = await drain(b.consumer({ group: 'g', topics: 't' }));
    expect(m0.key).toEqual(Buffer.from('k'));
    expect(m0.timestamp).toBe(1_000_000);
    expect(m0.header('trace')).toBe('abc');
    expect(m0.headers.map((h) => h.key)).toEqual(['trace', 'bin']);
    expect(m1.timestamp).toBe(42);
    expect(m1.headers.map((h) => [h.key, h.value?.toString()])).toEqual([
      ['dup', '1'],
      ['dup', '2'],
    ]);
    expect(m1.header('dup')).toBe('2');
    expect(m2.timestamp).toBe(1_000_500);
  });

  it('rejects bad messages with TypeError or RangeError and writes nothing of the batch', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    const bad: unknown[] = [
      'not an object',
      null,
      {},
      { value: undefined },
      { value: 'x', key: 42 },
      { value: 'x', headers: 'h' },
      { value: 'x', headers: { [CODEC_HEADER]: 'msgpack' } },
      { value: 'x', timestamp: -1 },
      { value: 'x', timestamp: 1.5 },
      { value: () => 1 },
      { value: 'x', partition: -1 },
    ];
    const argumentError = (e: unknown): boolean => e instanceof TypeError || e instanceof RangeError;
    for (const m of bad) {
      expect(argumentError(await b.send('t', m as never).catch((e: unknown) => e))).toBe(true);
      expect(argumentError(await b.sendBatch('t', [{ value: 'good' }, m as never]).catch((e: unknown) => e))).toBe(true);
    }
    await expect(b.sendBatch('t', 'x' as never)).rejects.toThrow(TypeError);
    await expect(b.send('t', { value: 'x' }, { timeoutMs: -1 })).rejects.toThrow(RangeError);
    await expect(b.send(42 as never, { value: 'x' })).rejects.toThrow(TypeError);
    await expect(b.send('nope', { value: 'x' })).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    expect(b.describeTopic('t').messages).toBe(0);
    expect(await b.sendBatch('t', [])).toEqual([]);
  });

  it('stores any ArrayBufferView as its bytes (consumers get a Buffer)', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const f64 = new Float64Array([1.5, -2]);
    const i16 = new Int16Array([1, -2, 300, 4]).subarray(1, 3);
    const dv = new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2);
    await b.sendBatch('t', [{ value: f64 }, { value: i16, key: 'k' }, { value: dv, headers: { h: 'x' } }]);
    const got = await drain(b.consumer({ group: 'g', topics: 't' }));
    const bytes = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    expect(got.map((m) => m.value)).toEqual([bytes(f64), bytes(i16), Buffer.from([8, 7])]);
    expect(new Float64Array(new Uint8Array(got[0].value as Buffer).buffer)).toEqual(f64);
    expect(got[2].headers.map((h) => h.key)).toEqual(['h']); // bytes: no codec mark
  });

  it('fails a value MessagePack cannot encode with a TypeError naming the message', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    for (const value of [{ s: Symbol('x') }, 2n ** 70n, Symbol('y')]) {
      const err = await b.sendBatch('t', [{ value: 1 }, { value }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/^message 1: /);
    }
    expect(b.describeTopic('t').messages).toBe(0);
  });

  it('fails a message over messageBytesMax with TOO_LARGE', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, messageBytesMax: 4096 });
    await expect(b.send('t', { value: Buffer.alloc(8192) })).rejects.toMatchObject({ code: ErrorCode.TOO_LARGE });
    expect(b.describeTopic('t').messages).toBe(0);
  });

  it('fails a batch spanning partitions whole when one message is too large, naming its index in the batch', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2, messageBytesMax: 1024 });
    const batches = [
      [{ value: 'ok', partition: 0 }, { value: 'x'.repeat(5000), partition: 1 }],
      [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }, { value: Buffer.alloc(2000), key: 'k', partition: 1 }],
      [{ value: 'a', partition: 1 }, { value: 'b', partition: 0 }, { value: 'c', headers: { h: Buffer.alloc(2000) }, partition: 0 }],
    ];
    const where = [1, 2, 2];
    for (let i = 0; i < batches.length; i++) {
      const err = await b.sendBatch('t', batches[i]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.TOO_LARGE });
      expect((err as Error).message).toMatch(new RegExp(`^message ${where[i]} `));
    }
    // A message just under the limit passes the same checks.
    await b.sendBatch('t', [{ value: 'a', partition: 0 }, { value: Buffer.alloc(900), partition: 1 }]);
    expect(b.describeTopic('t').partitions.map((p) => p.endOffset)).toEqual([1, 1]);
  });
});
