/**
 * A transaction's send and ack are one atomic step across SIGKILL at any moment. A child
 * (test/helpers/txn-crash-worker.cjs) turns each message of "in" into "done <value>" on "out" and
 * acks it in one transaction; the parent kills it at random moments (seeded; the seed is printed)
 * and restarts it, until every message is done. Since the child works in order, the group's acked
 * messages are a prefix of "in": after each kill, "out" must hold "done i" exactly once for each
 * acked message and nothing for the others, and every commit the child reported must be acked.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { mulberry32 } from '../helpers/prng';
import { spawnChild } from '../helpers/broker-spawn.cjs';

const MESSAGES = 60;

async function check(dir: string, reported: Set<number>): Promise<number> {
  const broker = await Broker.open(dir);
  try {
    const acked = broker.describeGroup('w').partitions[0].committedOffset;
    const reader = broker.consumer({ group: `check-${Date.now()}-${Math.random()}`, topics: 'out', start: 'earliest' });
    await new Promise((r) => setImmediate(r));
    const done: string[] = [];
    for (;;) {
      const got = await reader.poll(1000, { timeoutMs: 0 });
      if (got.length === 0) break;
      done.push(...got.map((m) => (m.value as Buffer).toString()));
    }
    await reader.close();
    expect(done).toEqual(Array.from({ length: acked }, (_, i) => `done ${i}`));
    for (const r of reported) expect(r).toBeLessThan(acked);
    return acked;
  } finally {
    await broker.close();
  }
}

describe('transactions across SIGKILL', () => {
  it('never leave a send without its ack, or an ack without its send', async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`transactions-survive-kill: SLUICE_TEST_SEED=${seed}`);
    const random = mulberry32(seed);
    const dir = tmpDir('sluice-txn-crash-');
    const broker = await Broker.open(dir);
    await broker.createTopic('in', { segmentBytes: 1 << 20 });
    await broker.createTopic('out', { segmentBytes: 1 << 20 });
    await broker.sendBatch('in', Array.from({ length: MESSAGES }, (_, i) => ({ value: String(i) })));
    await broker.close();
    const reported = new Set<number>();
    let acked = 0;
    for (let round = 0; round < 12 && acked < MESSAGES; round++) {
      const child = spawnChild('txn-crash-worker.cjs', { dir });
      const target = Math.min(MESSAGES, acked + 1 + Math.floor(random() * 8));
      await child.waitFor((lines: string[]) => lines.some((l) => l === `committed ${target - 1}` || l === 'idle'), `commit ${target - 1}`);
      await new Promise((r) => setTimeout(r, Math.floor(random() * 6)));
      await child.kill9();
      for (const l of child.lines) if (l.startsWith('committed ')) reported.add(Number(l.slice(10)));
      acked = await check(dir, reported);
    }
    expect(acked).toBeGreaterThan(0);
  });
});
