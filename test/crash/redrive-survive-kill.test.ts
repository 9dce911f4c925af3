/**
 * Redrive is exactly once across SIGKILL at any moment: "in.dlq" holds 200 dead letters; a child
 * (test/helpers/redrive-crash-worker.cjs) redrives them to "out" a few at a time; the parent
 * kills it at random moments (seeded; the seed is printed) and starts it again until it reports
 * done. After every kill "out" holds no message twice; at the end it holds every one once.
 */
import { describe, expect, it } from 'vitest';
import { Broker, type AckMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { mulberry32 } from '../helpers/prng';
import { spawnChild } from '../helpers/broker-spawn.cjs';
import { readTopic } from '../helpers/read-topic';

const LETTERS = 200;

async function outValues(dir: string): Promise<string[]> {
  const broker = await Broker.open(dir);
  try {
    return (await readTopic(broker, 'out')).map((m) => m.value);
  } finally {
    await broker.close();
  }
}

describe('redrive across SIGKILL', () => {
  it('each dead letter is redriven exactly once', async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`redrive-survive-kill: SLUICE_TEST_SEED=${seed}`);
    const random = mulberry32(seed);
    const dir = tmpDir('sluice-redrive-crash-');
    const broker = await Broker.open(dir);
    await broker.createTopic('in', { segmentBytes: 1 << 20 });
    await broker.createTopic('out', { segmentBytes: 1 << 20 });
    await broker.sendBatch('in', Array.from({ length: LETTERS }, (_, i) => ({ value: String(i) })));
    const c = broker.consumer({ group: 'w', topics: 'in', model: 'ack', maxDeliveries: 1 });
    for (let rejected = 0; rejected < LETTERS; ) {
      const got = (await c.poll(100, { timeoutMs: 1000 })) as AckMessage[];
      for (const m of got) m.reject({ reason: 'test' });
      rejected += got.length;
    }
    const dlqEnd = () => (broker.listTopics().includes('in.dlq') ? broker.describeTopic('in.dlq').partitions[0].endOffset : 0);
    while (dlqEnd() < LETTERS) await new Promise((r) => setTimeout(r, 10));
    await c.close();
    await broker.close();
    let done = false;
    for (let round = 0; round < 20 && !done; round++) {
      const child = spawnChild('redrive-crash-worker.cjs', { dir });
      const killAfter = round >= 15 ? 30_000 : 20 + Math.floor(random() * 200);
      const finished = child.waitFor((lines: string[]) => lines.includes('done'), 'done').then(() => true, () => false);
      done = await Promise.race([finished, new Promise<boolean>((r) => setTimeout(() => r(false), killAfter))]);
      await child.kill9();
      const values = await outValues(dir);
      expect(new Set(values).size, `round ${round}: a dead letter redriven twice`).toBe(values.length);
    }
    expect(done).toBe(true);
    expect((await outValues(dir)).map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: LETTERS }, (_, i) => i));
  });
});
