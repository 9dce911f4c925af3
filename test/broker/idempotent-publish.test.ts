/**
 * Idempotent publish (topic/dedup-window.ts): a send with an id already in the topic's dedup
 * window resolves with the first one's confirm, marked duplicate, and writes nothing; also for
 * sends racing each other, ids repeated within a batch, and after a restart (the window is
 * rebuilt from the log). The window is bounded by time and by count; a failed send frees its id.
 * Time is a ManualClock: nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, SluiceError } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, openBroker, SMALL } from './broker-fixtures';

async function setup(config: Record<string, unknown> = {}, dir = tmpDir('sluice-idem-'), clock = new ManualClock()) {
  const b = await openBroker({ clock }, dir);
  if (!b.listTopics().includes('orders')) await b.createTopic('orders', { ...SMALL, partitions: 3, ...config });
  const end = () => b.describeTopic('orders').partitions.reduce((n, p) => n + p.endOffset, 0);
  return { b, clock, dir, end };
}

describe('idempotent publish', () => {
  it('a second send of an id resolves with the first confirm and writes nothing', async () => {
    const { b, end } = await setup();
    const first = await b.send('orders', { id: 'order-1', value: 'a' });
    expect(first.duplicate).toBeUndefined();
    const again = await b.send('orders', { id: 'order-1', value: 'a (retry)' });
    expect(again).toEqual({ ...first, durable: again.durable, duplicate: true });
    expect(end()).toBe(1);
    await b.send('orders', { id: 'order-2', value: 'b' });
    expect(end()).toBe(2);
  });

  it('sends racing each other and ids repeated in a batch write once', async () => {
    const { b, end } = await setup();
    const [x, y] = await Promise.all([b.send('orders', { id: 'r', value: '1' }), b.send('orders', { id: 'r', value: '2' })]);
    expect([x.duplicate, y.duplicate]).toEqual([undefined, true]);
    expect(y.offset).toBe(x.offset);
    const batch = await b.sendBatch('orders', [{ id: 'p', value: 'p' }, { value: 'no id' }, { id: 'p', value: 'p again' }, { id: 'r', value: 'r again' }, { id: 'q', value: 'q' }]);
    expect(batch.map((c) => c.duplicate ?? false)).toEqual([false, false, true, true, false]);
    expect(batch[2].offset).toBe(batch[0].offset);
    expect(batch[3]).toMatchObject({ partition: x.partition, offset: x.offset });
    expect(end()).toBe(4);
  });

  it('the window is rebuilt from the log after a restart', async () => {
    const { b, dir, clock } = await setup();
    const sent = await b.sendBatch('orders', Array.from({ length: 50 }, (_, i) => ({ id: `o${i}`, value: String(i), key: `k${i}` })));
    await closeBroker(b);
    const { b: again, end } = await setup({}, dir, clock);
    const retried = await again.sendBatch('orders', Array.from({ length: 60 }, (_, i) => ({ id: `o${i}`, value: String(i), key: `k${i}` })));
    expect(retried.slice(0, 50).map((c) => [c.partition, c.offset, c.duplicate])).toEqual(sent.map((c) => [c.partition, c.offset, true]));
    expect(retried.slice(50).every((c) => c.duplicate === undefined)).toBe(true);
    expect(end()).toBe(60);
  });

  it('an id is forgotten past the window: its time or its count', async () => {
    const { b, clock, end } = await setup({ dedupWindowMs: 10_000, dedupWindowCount: 3 });
    await b.send('orders', { id: 'a', value: 'a' });
    clock.advance(10_001);
    expect((await b.send('orders', { id: 'a', value: 'a' })).duplicate).toBeUndefined();
    for (const id of ['b', 'c', 'd']) await b.send('orders', { id, value: id });
    expect((await b.send('orders', { id: 'a', value: 'a' })).duplicate).toBeUndefined(); // pushed out by b, c, d
    expect((await b.send('orders', { id: 'd', value: 'd' })).duplicate).toBe(true);
    expect(end()).toBe(6);
  });

  it('a send that failed frees its id', async () => {
    const { b, end } = await setup({ maxBacklog: 1 });
    const c = b.consumer({ group: 'g', topics: 'orders', model: 'ack' });
    await b.send('orders', { value: 'fills it' });
    await expect(b.send('orders', { id: 'x', value: 'x' })).rejects.toSatisfy((e: unknown) => e instanceof SluiceError && e.code === 'QUEUE_FULL');
    const [m] = await c.poll(1, { timeoutMs: 1000 });
    await m.ack();
    expect((await b.send('orders', { id: 'x', value: 'x' })).duplicate).toBeUndefined();
    expect(end()).toBe(2);
  });

  it('bad ids and misuse are clear errors', async () => {
    const { b } = await setup();
    await expect(b.send('orders', { id: '', value: 'x' })).rejects.toThrow(/id must be a string of 1 to 256/);
    await expect(b.send('orders', { id: 'x'.repeat(257), value: 'x' })).rejects.toThrow(/id must be a string of 1 to 256/);
    await expect(b.send('orders', { id: 7 as never, value: 'x' })).rejects.toThrow(/id must be a string/);
    await expect(b.send('orders', { id: 'x', value: 'x', delayMs: 1000 })).rejects.toThrow(/delayed message cannot have an id/);
    await expect(b.sendBatch('orders', [{ value: 'd', delayMs: 1000 }, { id: 'x', value: 'x', delayMs: 1000 }])).rejects.toThrow(/delayed message cannot have an id/);
    await expect(b.send('orders', { value: 'x', headers: { 'sluice.id': 'x' } })).rejects.toThrow(/reserved/);
    await expect(b.transaction((tx) => tx.send('orders', { id: 'x', value: 'x' }))).rejects.toThrow(/id is for send and sendBatch/);
    await expect(b.createTopic('bad', { dedupWindowCount: 0 })).rejects.toThrow(/dedupWindowCount/);
  });
});
