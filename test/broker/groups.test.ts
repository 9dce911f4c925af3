/**
 * Point-to-point inside a group, publish/subscribe across groups, in both delivery models: the
 * members of one group share the partitions and each message reaches exactly one of them; every
 * group receives every message.
 */
import { describe, expect, it } from 'vitest';
import type { AckMessage, ConsumedMessage, Consumer, OffsetMessage } from '../../lib/index';
import { eventually, openBroker, SMALL, text } from './broker-fixtures';

const N = 1000;

function collect<M extends ConsumedMessage>(c: Consumer<M>, into: Map<string, string[]>, name: string): Promise<void> {
  return c.run(async (m) => {
    const key = `${m.partition}:${m.offset}`;
    into.set(key, [...(into.get(key) ?? []), name]);
    // Yield to the event loop now and then, so that members interleave.
    if (m.offset % 7 === 0) await new Promise((r) => setImmediate(r));
  });
}

async function produce(b: Awaited<ReturnType<typeof openBroker>>, topic: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    await b.sendBatch(
      topic,
      Array.from({ length: Math.min(100, n - i) }, (_, k) => ({ key: `key-${(i + k) % 37}`, value: `v${i + k}` })),
    );
  }
}

describe.each(['offset', 'ack'] as const)('%s model', (model) => {
  it('delivers each message to exactly one member of a group (point-to-point)', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 4 });
    const got = new Map<string, string[]>();
    const c1 = b.consumer({ group: 'g', topics: 't', model });
    const c2 = b.consumer({ group: 'g', topics: 't', model });
    const runs = [collect(c1 as Consumer<OffsetMessage | AckMessage>, got, 'c1'), collect(c2 as Consumer<OffsetMessage | AckMessage>, got, 'c2')];
    await produce(b, 't', N);
    await eventually(() => got.size === N, 'every message');
    await eventually(() => b.describeGroup('g').lag === 0, 'everything committed');
    expect([...got.values()].every((names) => names.length === 1)).toBe(true);
    const byMember = (name: string): number => [...got.values()].filter((n) => n[0] === name).length;
    expect(byMember('c1')).toBeGreaterThan(0);
    expect(byMember('c2')).toBeGreaterThan(0);
    // Each partition went to one member.
    const owners = new Map<string, Set<string>>();
    for (const [k, [name]] of got) {
      const p = k.split(':')[0];
      owners.set(p, (owners.get(p) ?? new Set()).add(name));
    }
    expect([...owners.values()].every((s) => s.size === 1)).toBe(true);
    expect(c1.assignment().length + c2.assignment().length).toBe(4);
    expect(c1.assignment()).toHaveLength(2);
    await Promise.all([c1.close(), c2.close()]);
    await Promise.all(runs);
  });

  it('delivers every message to every group (publish/subscribe)', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 3 });
    const a = new Map<string, string[]>();
    const z = new Map<string, string[]>();
    const other = model === 'offset' ? 'ack' : 'offset';
    const ca = b.consumer({ group: 'a', topics: 't', model });
    const cz = b.consumer({ group: 'z', topics: 't', model: other });
    const runs = [collect(ca as Consumer<ConsumedMessage>, a, 'a'), collect(cz as Consumer<ConsumedMessage>, z, 'z')];
    await produce(b, 't', N);
    await eventually(() => a.size === N && z.size === N, 'every message in both groups');
    expect([...a.values(), ...z.values()].every((names) => names.length === 1)).toBe(true);
    await eventually(() => b.describeGroup('a').lag === 0 && b.describeGroup('z').lag === 0, 'both groups committed');
    expect(b.describeTopic('t').groups).toEqual(['a', 'z']);
    await Promise.all([ca.close(), cz.close()]);
    await Promise.all(runs);
  });

  it('pulls with poll() and for await, every message once', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await produce(b, 't', 300);
    const c = b.consumer({ group: 'g', topics: 't', model });
    const seen: string[] = [];
    const first = await c.poll(50);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThanOrEqual(50);
    for (const m of first) {
      seen.push(text(m));
      if (model === 'ack') (m as AckMessage).ack();
    }
    for await (const m of c) {
      seen.push(text(m));
      if (model === 'ack') (m as AckMessage).ack();
      if (seen.length === 300) break;
    }
    expect(new Set(seen).size).toBe(300);
    if (model === 'offset') await c.commit();
    expect(b.describeGroup('g').lag).toBe(0);
  });
});
