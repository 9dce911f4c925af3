/**
 * Delayed messages (broker/delay/): `delayMs` and `deliverAt` make a message durable at once and
 * invisible until due, then delivered in due order, exactly once, also across a restart (the
 * overdue ones at once). The in-memory index is bounded: with a tiny capacity, thousands of
 * pending messages still come out in due order through scans of the delay log, and the delay
 * log's fully moved segments are deleted. Time is a ManualClock: nothing sleeps.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, SluiceError, type Broker, type OffsetMessage } from '../../lib/index';
import { delayTuning, INDEX_CAPACITY } from '../../lib/broker/delay/delay-store';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, eventually, openBroker, SMALL, text } from './broker-fixtures';

const T0 = 1_800_000_000_000;

async function setup(dir = tmpDir('sluice-delay-'), clock = new ManualClock(T0), partitions = 1) {
  const b = await openBroker({ clock }, dir);
  if (!b.listTopics().includes('t')) await b.createTopic('t', { ...SMALL, partitions });
  return { b, clock, dir };
}

/** Values read by a fresh offset-model group from the start, in offset order per partition. */
async function everything(b: Broker, group = `g${Math.random()}`): Promise<string[]> {
  const c = b.consumer({ group, topics: 't', start: 'earliest' });
  const got = (await drain(c)) as OffsetMessage[];
  await c.close();
  return got.map(text);
}

function pending(b: Broker): number {
  return b.describe().delayed!.pending;
}

const SEGMENT_BYTES = delayTuning.segmentBytes;
afterEach(() => {
  delayTuning.indexCapacity = INDEX_CAPACITY;
  delayTuning.segmentBytes = SEGMENT_BYTES;
});

describe('delayed messages', () => {
  it('are invisible until due, then delivered; the confirm says when', async () => {
    const { b, clock } = await setup();
    const c = b.consumer({ group: 'g', topics: 't' });
    const confirm = await b.send('t', { value: 'later', delayMs: 5000 });
    expect(confirm).toEqual({ topic: 't', partition: 0, offset: -1, durable: true, deliverAt: T0 + 5000, delayId: 0 });
    await b.send('t', { value: 'now' });
    expect((await drain(c)).map(text)).toEqual(['now']);
    clock.advance(4999);
    expect((await drain(c)).map(text)).toEqual([]);
    expect(b.describe().delayed).toEqual({ pending: 1, nextDueAt: T0 + 5000, dropped: 0 });
    clock.advance(1);
    await eventually(() => pending(b) === 0, 'the move');
    expect((await drain(c)).map(text)).toEqual(['later']);
  });

  it('come out in due order (then send order), with deliverAt as a Date or ms, a past time meaning now', async () => {
    const { b, clock } = await setup();
    await b.sendBatch('t', [
      { value: 'c', delayMs: 3000 },
      { value: 'a', deliverAt: new Date(T0 + 1000) },
      { value: 'b1', deliverAt: T0 + 2000 },
      { value: 'b2', delayMs: 2000 },
      { value: 'past', deliverAt: T0 - 5 },
      { value: 'zero', delayMs: 0 },
    ]);
    expect(await everything(b)).toEqual(['past', 'zero']);
    clock.advance(10_000);
    await eventually(() => pending(b) === 0, 'the moves');
    expect(await everything(b)).toEqual(['past', 'zero', 'a', 'b1', 'b2', 'c']);
  });

  it('keep key, headers and partition; ttlMs counts from the due time', async () => {
    const { b, clock } = await setup(undefined, undefined, 4);
    const sent = await b.send('t', { value: 'v', key: 'customer-7', headers: { h: 'x' }, delayMs: 1000, ttlMs: 500 });
    clock.advance(1000);
    await eventually(() => pending(b) === 0, 'the move');
    const c = b.consumer({ group: 'g', topics: 't', start: 'earliest' });
    const [m] = (await drain(c)) as OffsetMessage[];
    expect(m.partition).toBe(sent.partition);
    expect(m.key?.toString()).toBe('customer-7');
    expect(m.headers.map((h) => [h.key, h.value?.toString()])).toEqual([
      ['h', 'x'],
      ['sluice.expires', String(T0 + 1500)],
    ]);
    expect(m.timestamp).toBe(T0 + 1000);
    // Still within its ttl (500 ms from the due time): a consumer got it above.
  });

  it('survive a restart: the overdue ones are delivered at once, in due order, each once', async () => {
    const { b, clock, dir } = await setup();
    for (let i = 0; i < 10; i++) await b.send('t', { value: `m${9 - i}`, delayMs: 10_000 + (9 - i) * 100 });
    clock.advance(10_450); // m0 to m4 are due and moved
    await eventually(() => pending(b) === 5, 'the first moves');
    await closeBroker(b);
    clock.advance(60_000);
    const again = await openBroker({ clock }, dir);
    await eventually(() => pending(again) === 0, 'the moves after the restart');
    expect(await everything(again)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    await closeBroker(again);
    const third = await openBroker({ clock }, dir);
    await new Promise((r) => setTimeout(r, 20));
    expect(pending(third)).toBe(0);
    expect((await everything(third)).length).toBe(10);
  });

  it('a message due in months waits on the clock (longer than one Node timer)', async () => {
    const { b, clock } = await setup();
    await b.send('t', { value: 'next year', delayMs: 200 * 24 * 3600 * 1000 });
    clock.advance(199 * 24 * 3600 * 1000);
    expect(await everything(b)).toEqual([]);
    clock.advance(24 * 3600 * 1000);
    await eventually(() => pending(b) === 0, 'the move');
    expect(await everything(b)).toEqual(['next year']);
  });

  it('with a tiny index: thousands pending come out in due order through scans, and moved segments are deleted', async () => {
    delayTuning.indexCapacity = 16;
    const { b, clock, dir } = await setup();
    const n = 3000;
    // Due times in a scrambled order (a permutation), 10 ms apart.
    const order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    for (let i = 0; i < n; i += 100) await b.sendBatch('t', order.slice(i, i + 100).map((k) => ({ value: `m${String(k).padStart(5, '0')}`, delayMs: 1000 + k * 10 })));
    expect(pending(b)).toBe(n);
    for (let step = 0; step < 40 && pending(b) > 0; step++) {
      clock.advance(1000);
      const left = order.filter((k) => T0 + 1000 + k * 10 > clock.now()).length;
      await eventually(() => pending(b) === left, `the moves due by step ${step}`);
    }
    expect(pending(b)).toBe(0);
    const got = await everything(b);
    expect(got).toEqual([...got].sort());
    expect(got.length).toBe(n);
    const files = fs.readdirSync(path.join(dir, 'delayed')).filter((f) => f.endsWith('.log'));
    expect(files.length).toBeGreaterThan(0);
  });

  it('messages sent while a refill scan runs, and dropped from a full index meanwhile, still come out', async () => {
    delayTuning.indexCapacity = 8;
    const { b, clock, dir } = await setup();
    await b.sendBatch('t', Array.from({ length: 7 }, (_, i) => ({ value: `early${i}`, delayMs: 10 })));
    const late = 2000;
    await b.sendBatch('t', Array.from({ length: late }, (_, i) => ({ value: `late${i}`, delayMs: 1_000_000 })));
    clock.advance(10);
    await eventually(() => pending(b) === late, 'the early ones moved');
    // The move left the index nearly empty: a refill scan is running. These overflow the index.
    await b.sendBatch('t', Array.from({ length: 30 }, (_, i) => ({ value: `mid${i}`, delayMs: 500 })));
    clock.advance(600);
    await eventually(() => pending(b) === late, 'the middle ones moved');
    clock.advance(1_000_000);
    await eventually(() => pending(b) === 0, 'the late ones moved');
    await closeBroker(b);
    const again = await openBroker({ clock }, dir);
    const got = await everything(again);
    expect(got.length).toBe(7 + late + 30);
    expect(new Set(got).size).toBe(got.length);
  });

  it('moved segments of the delay log are deleted while the broker runs', async () => {
    delayTuning.segmentBytes = 64 * 1024;
    const { b, clock, dir } = await setup();
    const big = 'x'.repeat(1000);
    for (let i = 0; i < 5; i++) await b.sendBatch('t', Array.from({ length: 100 }, () => ({ value: big, delayMs: 1000 })));
    const segments = () => fs.readdirSync(path.join(dir, 'delayed')).filter((f) => f.endsWith('.log')).length;
    const before = segments();
    expect(before).toBeGreaterThan(2);
    clock.advance(1000);
    await eventually(() => pending(b) === 0, 'the moves');
    clock.advance(10_000); // reclaiming runs at most every 10 s of moves
    await b.send('t', { value: 'one more', delayMs: 1 });
    clock.advance(1);
    await eventually(() => pending(b) === 0, 'the last move');
    await eventually(() => segments() < before, 'segments deleted');
  });

  it('a due message whose topic was deleted is dropped and counted', async () => {
    const { b, clock } = await setup();
    await b.send('t', { value: 'orphan', delayMs: 1000 });
    await b.deleteTopic('t');
    clock.advance(1000);
    await eventually(() => pending(b) === 0, 'the drop');
    expect(b.describe().delayed!.dropped).toBe(1);
  });

  it('bad input is a clear error', async () => {
    const { b } = await setup();
    await expect(b.send('t', { value: 'x', delayMs: -1 })).rejects.toThrow(/delayMs must be a non-negative integer/);
    await expect(b.send('t', { value: 'x', delayMs: 1.5 })).rejects.toThrow(/delayMs must be a non-negative integer/);
    await expect(b.send('t', { value: 'x', delayMs: 10, deliverAt: T0 })).rejects.toThrow(/not both/);
    await expect(b.send('t', { value: 'x', deliverAt: new Date('nope') })).rejects.toThrow(/invalid Date/);
    await expect(b.send('t', { value: 'x', deliverAt: '2030-01-01' as never })).rejects.toThrow(/deliverAt must be a Date/);
    await expect(b.send('t', { value: 'x', deliverAt: Date.UTC(10000, 0, 1) })).rejects.toThrow(/beyond the supported range/);
    await expect(b.send('t', { value: 'x', delayMs: 1000, headers: { 'sluice.delay.topic': 'x' } })).rejects.toThrow(/reserved/);
    await expect(b.send('nope', { value: 'x', delayMs: 1000 })).rejects.toSatisfy((e: unknown) => e instanceof SluiceError && e.code === 'UNKNOWN_TOPIC');
    await expect(b.transaction((tx) => tx.send('t', { value: 'x', delayMs: 1000 }))).rejects.toThrow(/cannot send delayed messages/);
    expect(pending(b)).toBe(0);
  });

  it('a read-only broker describes no delay store and refuses delayed sends', async () => {
    const { b, dir } = await setup();
    await b.send('t', { value: 'x', delayMs: 1000 });
    await closeBroker(b);
    const ro = await openBroker({ readOnly: true }, dir);
    expect(ro.describe().delayed).toBeNull();
    await expect(ro.send('t', { value: 'x', delayMs: 1000 })).rejects.toSatisfy((e: unknown) => e instanceof SluiceError && e.code === 'READ_ONLY');
  });
});
