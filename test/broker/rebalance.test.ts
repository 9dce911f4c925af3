/**
 * Rebalancing: partitions are shared evenly and stickily among members; when members join or
 * leave, partitions move only after their holder finished what it was processing, so nothing is
 * lost and, in the normal case, nothing is delivered twice; a holder that does not finish in
 * rebalanceTimeoutMs loses the partition and its unfinished messages go to the next member.
 */
import { describe, expect, it } from 'vitest';
import type { AckMessage, ConsumedMessage, Consumer } from '../../lib/index';
import { ManualClock } from '../../lib/index';
import { assign, type GroupMember, type PartitionSlot } from '../../lib/broker/group/group-coordinator';
import { drain, eventually, openBroker, SMALL, text, turns } from './broker-fixtures';

function member(name: string): GroupMember {
  return { name, topics: new Set(['t']), assign() {}, revoke() {}, dropTopic() {}, inFlightOf: () => 0 };
}

function slots(n: number, targets: (GroupMember | null)[] = []): PartitionSlot[] {
  return Array.from({ length: n }, (_, i) => ({ target: targets[i] ?? null }) as PartitionSlot);
}

describe('assignment', () => {
  it('is balanced', () => {
    const ms = ['a', 'b', 'c'].map(member);
    for (let p = 0; p <= 10; p++) {
      const out = assign(slots(p), ms);
      const counts = ms.map((m) => out.filter((x) => x === m).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(p);
    }
    expect(assign(slots(3), [])).toEqual([null, null, null]);
  });

  it('is sticky: members keep what they had up to their share', () => {
    const [a, b, c] = ['a', 'b', 'c'].map(member);
    const before = assign(slots(6), [a, b]); // a: 0,2,4  b: 1,3,5 or similar
    const after = assign(slots(6, before), [a, b, c]);
    let moved = 0;
    for (let i = 0; i < 6; i++) if (after[i] !== before[i]) moved++;
    expect(moved).toBe(2); // c takes one from each
    expect(after.filter((x) => x === c)).toHaveLength(2);
    const left = assign(slots(6, after), [a, c]); // b leaves: only b's partitions move
    for (let i = 0; i < 6; i++) if (after[i] !== b) expect(left[i]).toBe(after[i]);
  });
});

async function produce(b: Awaited<ReturnType<typeof openBroker>>, from: number, n: number): Promise<void> {
  await b.sendBatch(
    't',
    Array.from({ length: n }, (_, i) => ({ key: `k${(from + i) % 11}`, value: `v${from + i}` })),
  );
}

function runner(c: Consumer<ConsumedMessage>, seen: string[]): Promise<void> {
  return c.run(async (m) => {
    seen.push(text(m));
    if (m.offset % 3 === 0) await new Promise((r) => setImmediate(r));
  });
}

describe('rebalance (offset model)', () => {
  it('shares partitions with a member that joins, without loss or duplicates', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 4 });
    const seenA: string[] = [];
    const seenB: string[] = [];
    const a = b.consumer({ group: 'g', topics: 't', fetchMax: 20 });
    const runA = runner(a, seenA);
    await produce(b, 0, 400);
    await eventually(() => seenA.length >= 100, 'a started');
    const bb = b.consumer({ group: 'g', topics: 't', fetchMax: 20 });
    const runB = runner(bb, seenB);
    await produce(b, 400, 400);
    await eventually(() => seenA.length + seenB.length >= 800, 'every message');
    await turns(5);
    expect(a.assignment()).toHaveLength(2);
    expect(bb.assignment()).toHaveLength(2);
    const all = [...seenA, ...seenB];
    expect(all).toHaveLength(800);
    expect(new Set(all).size).toBe(800);
    expect(seenB.length).toBeGreaterThan(0);
    await Promise.all([a.close(), bb.close()]);
    await Promise.all([runA, runB]);
    expect(b.describeGroup('g').lag).toBe(0);
  });

  it('gives a leaving member partitions to the others, without loss or duplicates', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 4 });
    const seenA: string[] = [];
    const seenB: string[] = [];
    const a = b.consumer({ group: 'g', topics: 't', fetchMax: 20 });
    const bb = b.consumer({ group: 'g', topics: 't', fetchMax: 20 });
    const runA = runner(a, seenA);
    const runB = runner(bb, seenB);
    await produce(b, 0, 400);
    await eventually(() => seenB.length >= 50, 'b working');
    await bb.close(); // waits for b's handler, commits what b processed, hands its partitions over
    await runB;
    expect(a.assignment()).toHaveLength(4);
    await produce(b, 400, 400);
    await eventually(() => seenA.length + seenB.length >= 800, 'every message');
    await turns(5);
    const all = [...seenA, ...seenB];
    expect(all).toHaveLength(800);
    expect(new Set(all).size).toBe(800);
    await a.close();
    await runA;
  });

  it('hands a closing pull consumer\'s partition over after its last poll', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', { ...SMALL, partitions: 1 });
    await produce(b, 0, 10);
    const a = b.consumer({ group: 'g', topics: 't', rebalanceTimeoutMs: 5000 });
    const batch = await a.poll(3); // v0..v2 in progress
    expect(batch.map(text)).toEqual(['v0', 'v1', 'v2']);
    const c = b.consumer({ group: 'g', topics: 't' });
    expect(c.assignment()).toEqual([]); // sticky: a keeps the only partition
    // a polls again: its batch is processed (committed) and it keeps going.
    const next = await a.poll(2);
    expect(next.map(text)).toEqual(['v3', 'v4']);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(3);
    // Now `a` leaves with v3, v4 polled: closing counts them as processed (autoCommit, as Kafka
    // commits on close), so c goes on after them.
    await a.close();
    expect(c.assignment()).toEqual([{ topic: 't', partition: 0 }]);
    expect((await drain(c)).map(text)).toEqual(['v5', 'v6', 'v7', 'v8', 'v9']);
    expect(b.describeGroup('g').partitions[0].redeliveries).toBe(0);
  });

  it('moves a partition from a member that does not finish in time, redelivering its unfinished messages', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.sendBatch('t', [
      { value: 'p0-a', partition: 0 },
      { value: 'p0-b', partition: 0 },
      { value: 'p1-a', partition: 1 },
      { value: 'p1-b', partition: 1 },
    ]);
    const a = b.consumer({ group: 'g', topics: 't', rebalanceTimeoutMs: 5000 });
    await turns();
    const held = await a.poll(10); // all four, in progress
    expect(held).toHaveLength(4);
    const c = b.consumer({ group: 'g', topics: 't' });
    // One partition is to move to c, but a has messages of it in progress.
    expect(c.assignment()).toEqual([]);
    clock.advance(4999);
    expect(c.assignment()).toEqual([]);
    clock.advance(1);
    expect(c.assignment()).toHaveLength(1);
    const moved = c.assignment()[0].partition;
    const redelivered = await drain(c);
    expect(redelivered.map(text)).toEqual([`p${moved}-a`, `p${moved}-b`]);
    // a's late completion of the moved partition commits nothing there.
    await a.commit();
    await c.commit();
    const parts = b.describeGroup('g').partitions;
    expect(parts.map((p) => p.committedOffset)).toEqual([2, 2]);
    expect(parts[moved].member).toBe(c.name);
  });
});

describe('rebalance (ack model)', () => {
  it('redelivers what a leaving member had not acked to the others', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await produce(b, 0, 20);
    const a = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    await turns();
    const fromA = await a.poll(100);
    const fromC = await c.poll(100);
    expect(fromA.length + fromC.length).toBe(20);
    for (const m of fromA.slice(0, 3)) m.ack();
    for (const m of fromC) m.ack();
    const unacked = fromA.slice(3).map(text).sort();
    await a.close();
    expect(c.assignment()).toHaveLength(2);
    const again = (await drain(c)) as AckMessage[];
    expect(again.map(text).sort()).toEqual(unacked);
    expect(again.every((m) => m.deliveryCount === 2)).toBe(true);
    for (const m of again) m.ack();
    expect(b.describeGroup('q')).toMatchObject({ lag: 0, inFlight: 0 });
  });
});
