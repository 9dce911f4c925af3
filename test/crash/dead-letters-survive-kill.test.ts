/**
 * Dead-lettering is exactly once across SIGKILL at any moment: a child
 * (test/helpers/dlq-crash-worker.cjs) fails every message of "in" once with maxDeliveries 1, so
 * each goes to "in.dlq" in a transaction with its ack; the parent kills it at random moments
 * (seeded; the seed is printed) and restarts it until it reports nothing left. After every kill
 * "in.dlq" holds no message twice; at the end it holds every message of "in" exactly once, and
 * the group has acked them all.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { mulberry32 } from '../helpers/prng';
import { spawnChild } from '../helpers/broker-spawn.cjs';

const MESSAGES = 80;

async function deadLetterOffsets(dir: string): Promise<{ offsets: number[]; lag: number }> {
  const broker = await Broker.open(dir);
  try {
    const lag = broker.listGroups().includes('w') ? broker.describeGroup('w').partitions[0].lag : MESSAGES; // killed before it joined
    if (!broker.listTopics().includes('in.dlq')) return { offsets: [], lag };
    const reader = broker.consumer({ group: `check-${Date.now()}-${Math.random()}`, topics: 'in.dlq', start: 'earliest' });
    await new Promise((r) => setImmediate(r));
    const offsets: number[] = [];
    for (;;) {
      const got = await reader.poll(1000, { timeoutMs: 0 });
      if (got.length === 0) break;
      for (const m of got) offsets.push(Number(m.headers.find((h) => h.key === 'sluice.dlq.offset')!.value!.toString()));
    }
    await reader.close();
    return { offsets, lag };
  } finally {
    await broker.close();
  }
}

describe('dead letters across SIGKILL', () => {
  it('each message is dead-lettered exactly once', async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`dead-letters-survive-kill: SLUICE_TEST_SEED=${seed}`);
    const random = mulberry32(seed);
    const dir = tmpDir('sluice-dlq-crash-');
    const broker = await Broker.open(dir);
    await broker.createTopic('in', { segmentBytes: 1 << 20 });
    await broker.sendBatch('in', Array.from({ length: MESSAGES }, (_, i) => ({ value: String(i) })));
    await broker.close();
    let done = false;
    for (let round = 0; round < 20 && !done; round++) {
      const child = spawnChild('dlq-crash-worker.cjs', { dir });
      const killAfter = round >= 15 ? 30_000 : 5 + Math.floor(random() * 60);
      const idle = child.waitFor((lines: string[]) => lines.includes('idle'), 'idle').then(() => true, () => false);
      done = await Promise.race([idle, new Promise<boolean>((r) => setTimeout(() => r(false), killAfter))]);
      await child.kill9();
      const { offsets } = await deadLetterOffsets(dir);
      expect(new Set(offsets).size).toBe(offsets.length); // never twice
    }
    const { offsets, lag } = await deadLetterOffsets(dir);
    expect(done).toBe(true);
    expect(lag).toBe(0);
    expect([...offsets].sort((a, b) => a - b)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
  });
});
