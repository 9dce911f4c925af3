/**
 * A confirmed ack (or commit) survives kill -9; one that was not yet written does not. Method: the
 * parent writes three messages and closes the broker; a child (test/helpers/broker-crash-acker.cjs)
 * takes them, has the first one's ack (offset model: commit) confirmed and reports it, then calls
 * the second one's ack and blocks its event loop before the end of the tick, where acks are
 * written; it reports that too, and the parent kills it with SIGKILL. Reopening the directory, the
 * group must not see the first message again and must see the second and third (in the ack model
 * with delivery count 2).
 */
import { describe, expect, it } from 'vitest';
import { Broker, type AckMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { spawnChild } from '../helpers/broker-spawn.cjs';

describe.each(['ack', 'offset'] as const)('%s model', (model) => {
  it('never redelivers after a confirmed settlement, and redelivers after an unwritten one', async () => {
    const dir = tmpDir('sluice-broker-crash-');
    let broker = await Broker.open(dir);
    await broker.createTopic('t', { segmentBytes: 1 << 20 });
    await broker.sendBatch('t', [{ value: 'first' }, { value: 'second' }, { value: 'third' }]);
    await broker.close();

    const child = spawnChild('broker-crash-acker.cjs', { dir, model });
    await child.waitFor((lines: string[]) => lines.some((l) => l.startsWith('called ')), 'the second settlement');
    await child.kill9();
    // Under the default group sync ('always') a confirm means on stable storage.
    expect(child.lines).toEqual(['confirmed 0 true', 'called 1']);

    broker = await Broker.open(dir);
    try {
      const c = broker.consumer({ group: 'g', topics: 't', model });
      await new Promise((r) => setImmediate(r));
      const again = await c.poll(10, { timeoutMs: 0 });
      expect(again.map((m) => (m.value as Buffer).toString())).toEqual(['second', 'third']);
      if (model === 'ack') expect(again.map((m) => (m as AckMessage).deliveryCount)).toEqual([2, 2]);
    } finally {
      await broker.close();
    }
  });
});
