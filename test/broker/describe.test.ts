/**
 * Observability: describe() on the broker, a topic, a group and a consumer returns plain data
 * (it survives JSON unchanged) with lag, messages in flight and redeliveries per group and
 * partition.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/index';
import { openBroker, SMALL, turns, values } from './broker-fixtures';

describe('describe()', () => {
  it('reports lag, in-flight and redeliveries per group and partition, as plain data', async () => {
    const clock = new ManualClock(5_000_000);
    const b = await openBroker({ clock });
    await b.createTopic('t', { ...SMALL, partitions: 2, maxBacklog: 1000 });
    await b.sendBatch('t', [...values(6).map((m) => ({ ...m, partition: 0 })), ...values(4).map((m) => ({ ...m, partition: 1 }))]);
    const q = b.consumer({ group: 'q', topics: 't', model: 'ack', visibilityTimeoutMs: 100 });
    const o = b.consumer({ group: 'o', topics: 't' });
    await turns();
    const ms = await q.poll(100);
    expect(ms).toHaveLength(10);
    for (const m of ms.filter((m) => m.partition === 1)) m.ack();
    ms[0].ack();
    clock.advance(100); // the rest of partition 0 times out
    await o.poll(3);

    const topic = b.describeTopic('t');
    expect(topic).toMatchObject({ name: 't', messages: 10, backlog: 10, waitingSends: 0, groups: ['o', 'q'] });
    expect(topic.partitions).toEqual([
      // Out: partition 0 was read whole by both groups (o buffered all 6 to hand out 3), 1 by q.
      { partition: 0, startOffset: 0, endOffset: 6, highWatermark: 6, lastStableOffset: 6, durableOffset: expect.any(Number), messagesIn: 6, bytesIn: expect.any(Number), messagesOut: 12, bytesOut: 12 * 2, failure: null },
      { partition: 1, startOffset: 0, endOffset: 4, highWatermark: 4, lastStableOffset: 4, durableOffset: expect.any(Number), messagesIn: 4, bytesIn: expect.any(Number), messagesOut: 4, bytesOut: 4 * 2, failure: null },
    ]);
    // Stored bytes: the records in their batch framing (61-byte batch header each at least).
    expect(topic.partitions[0].bytesIn).toBeGreaterThan(6 * 2 + 61);
    expect(topic.confirmLatency.count).toBeGreaterThanOrEqual(1);

    const gq = b.describeGroup('q');
    expect(gq).toMatchObject({ name: 'q', model: 'ack', createdAt: 5_000_000, lag: 5, inFlight: 0 });
    expect(gq.partitions).toEqual([
      { topic: 't', partition: 0, member: q.name, committedOffset: 1, endOffset: 6, lag: 5, inFlight: 0, redeliveries: 0, ackedAhead: 0, pendingRedelivery: 5 },
      { topic: 't', partition: 1, member: q.name, committedOffset: 4, endOffset: 4, lag: 0, inFlight: 0, redeliveries: 0, ackedAhead: 0, pendingRedelivery: 0 },
    ]);
    const again = await q.poll(100);
    expect(again).toHaveLength(5);
    const gq2 = b.describeGroup('q');
    expect(gq2).toMatchObject({ inFlight: 5, redeliveries: 5, deadLetters: 0 });
    expect(b.describeTopic('t').partitions[0].messagesOut).toBe(12 + 5); // redeliveries count out again
    expect(gq2.members).toEqual([
      { name: q.name, group: 'q', model: 'ack', topics: ['t'], assignment: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }], inFlight: 5, paused: false, running: false },
    ]);

    const go = b.describeGroup('o');
    expect(go.model).toBe('offset');
    expect(go.inFlight).toBe(3);
    expect(go.lag).toBe(10);

    const all = b.describe();
    expect(all.topics.map((t) => t.name)).toEqual(['t']);
    expect(all.groups.map((g) => g.name)).toEqual(['o', 'q']);
    expect(all.groupLog.generation).toBe(0);
    expect(JSON.parse(JSON.stringify(all))).toEqual(all);
  });
});
