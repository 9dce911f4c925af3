/**
 * Redelivers what a killed consumer was processing. Method: the parent writes ten messages to a
 * one-partition topic and closes the broker; a child process (test/helpers/broker-crash-consumer.cjs)
 * opens it and consumes, finishing messages 0-3 (ack model: each ack confirmed; offset model:
 * committed, the commit confirmed) and hanging in the handler of message 4, which it reports on
 * stdout; the parent then kills it with SIGKILL. Reopening the directory in the parent, the group
 * must deliver messages 4-9 exactly once each and none of 0-3; in the ack model message 4 comes with a
 * delivery count one higher (the child fetched nothing ahead of it: its handler is async).
 */
import { describe, expect, it } from 'vitest';
import { Broker, type AckMessage, type ConsumedMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { spawnChild } from '../helpers/broker-spawn.cjs';

async function drainAll(c: { poll(max: number, o: { timeoutMs: number }): Promise<ConsumedMessage[]> }): Promise<ConsumedMessage[]> {
  const out: ConsumedMessage[] = [];
  for (;;) {
    await new Promise((r) => setImmediate(r));
    const got = await c.poll(100, { timeoutMs: 0 });
    if (got.length === 0) return out;
    out.push(...got);
  }
}

describe.each(['ack', 'offset'] as const)('%s model', (model) => {
  it('redelivers the messages a killed consumer had not finished, and only those', async () => {
    const dir = tmpDir('sluice-broker-crash-');
    let broker = await Broker.open(dir);
    await broker.createTopic('t', { segmentBytes: 1 << 20 });
    await broker.sendBatch('t', Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })));
    await broker.close();

    const child = spawnChild('broker-crash-consumer.cjs', { dir, model, stopAt: 4 });
    await child.waitFor((lines: string[]) => lines.some((l) => l.startsWith('processing ')), 'processing');
    expect(child.lines.find((l: string) => l.startsWith('processing '))).toBe(`processing 4 ${model === 'ack' ? 1 : 0}`);
    expect(await child.kill9()).toEqual({ code: null, signal: 'SIGKILL' });

    broker = await Broker.open(dir);
    try {
      expect(broker.describeGroup('g').partitions[0].committedOffset).toBe(4);
      const c = broker.consumer({ group: 'g', topics: 't', model });
      const again = await drainAll(c);
      expect(again.map((m) => (m.value as Buffer).toString())).toEqual(['m4', 'm5', 'm6', 'm7', 'm8', 'm9']);
      if (model === 'ack') {
        // The child's async handler made it fetch only the message it was handling: message 4
        // comes back a second time, the rest for the first.
        expect(again.map((m) => (m as AckMessage).deliveryCount)).toEqual([2, 1, 1, 1, 1, 1]);
        expect(broker.describeGroup('g').partitions[0]).toMatchObject({ committedOffset: 4, redeliveries: 1 });
      }
    } finally {
      await broker.close();
    }
  });
});
