/**
 * Kafka transactions are all or nothing across SIGKILL at any moment. A child
 * (test/helpers/kafka-txn-crash-worker.cjs) serves the broker and runs a kafkajs transactional
 * producer in the same process: each transaction writes three records over the partitions of
 * "out" and moves group "crash-g"'s offset, and every fourth aborts. The parent kills the process
 * at random moments (seeded; the seed is printed) and restarts it with new transaction numbers.
 * After each kill, read committed (in process, and at the end by a kafkajs read_committed
 * consumer through a new server): every transaction is whole or absent, none that aborted is
 * there, every commit the child reported is, and the group's offset is the one of the last
 * transaction committed.
 */
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/index';
import { Server } from '../../lib/kafka';
import { tmpDir } from '../helpers/tmp';
import { mulberry32 } from '../helpers/prng';
import { spawnChild } from '../helpers/broker-spawn.cjs';

const ROUNDS = 8;
const ROUND_SPAN = 1000;

/** What read committed returns of "out", by transaction: its records' indexes. */
function byTransaction(values: string[]): Map<number, number[]> {
  const txns = new Map<number, number[]>();
  for (const v of values) {
    const m = /^t(\d+)-(\d)$/.exec(v);
    expect(m, v).not.toBeNull();
    const i = Number(m![1]);
    txns.set(i, [...(txns.get(i) ?? []), Number(m![2])]);
  }
  return txns;
}

function checkWhole(values: string[], reported: Set<number>): Map<number, number[]> {
  const txns = byTransaction(values);
  for (const [i, parts] of txns) {
    expect(i % 4, `transaction ${i} aborted, yet read`).not.toBe(3);
    expect(parts.sort(), `transaction ${i} whole, once`).toEqual([0, 1, 2]);
  }
  for (const r of reported) expect(txns.has(r), `reported commit ${r} is there`).toBe(true);
  return txns;
}

async function check(dir: string, reported: Set<number>): Promise<number> {
  const broker = await Broker.open(dir);
  try {
    for (const p of broker.describeTopic('out').partitions) expect(p.lastStableOffset).toBe(p.highWatermark);
    const reader = broker.consumer({ group: `check-${Math.random()}`, topics: 'out', start: 'earliest' });
    const values: string[] = [];
    for (;;) {
      const got = await reader.poll(1000, { timeoutMs: 0 });
      if (got.length === 0) break;
      values.push(...got.map((m) => String(m.value)));
    }
    await reader.close();
    const txns = checkWhole(values, reported);
    const last = Math.max(-1, ...txns.keys());
    const [offset] = broker.groupOffsets.fetch('crash-g', 'in', [0]);
    expect(offset?.offset ?? -1, 'the group offset moved with the last committed transaction').toBe(last < 0 ? -1 : last + 1);
    return txns.size;
  } finally {
    await broker.close();
  }
}

/** What a kafkajs read_committed consumer reads of "out" (the client filters aborted records itself). */
async function kafkajsView(dir: string, count: number): Promise<string[]> {
  const broker = await Broker.open(dir);
  const server = await Server.start({ broker, port: 0, groupInitialRebalanceDelayMs: 0 });
  const kafka = new Kafka({ clientId: 'check', brokers: [`127.0.0.1:${server.address.port}`], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: 'kafkajs-check', maxWaitTimeInMs: 100 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: 'out', fromBeginning: true });
    const got: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push(String(message.value));
          if (got.length === count) resolve();
        },
      });
    });
    return got;
  } finally {
    await consumer.disconnect();
    await server.close();
    await broker.close();
  }
}

describe('Kafka transactions across SIGKILL', () => {
  it('leave every transaction whole or absent, aborted ones absent, offsets with their commit', async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`kafka-transactions-survive-kill: SLUICE_TEST_SEED=${seed}`);
    const random = mulberry32(seed);
    const dir = tmpDir('sluice-ktxn-crash-');
    const broker = await Broker.open(dir);
    await broker.createTopic('out', { partitions: 3, sync: 'always' });
    await broker.createTopic('in', { partitions: 1 });
    // Offsets past a partition's end are brought down to it at open: "in" holds every offset committed.
    await broker.sendBatch('in', Array.from({ length: ROUNDS * ROUND_SPAN }, (_, i) => ({ value: String(i) })));
    await broker.close();
    const reported = new Set<number>();
    let committed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const first = round * ROUND_SPAN;
      const child = spawnChild('kafka-txn-crash-worker.cjs', { dir, first });
      const target = first + 1 + Math.floor(random() * 6);
      await child.waitFor((lines: string[]) => lines.some((l) => l === `committed ${target}` || l === `aborted ${target}`), `transaction ${target}`);
      await new Promise((r) => setTimeout(r, Math.floor(random() * 8)));
      await child.kill9();
      for (const l of child.lines) if (l.startsWith('committed ')) reported.add(Number(l.slice(10)));
      committed = await check(dir, reported);
    }
    expect(committed).toBeGreaterThan(0);
    // A Kafka client sees the same: it passes aborted records over with the fetch's aborted list.
    const seen = await kafkajsView(dir, committed * 3);
    checkWhole(seen, reported);
    expect(byTransaction(seen).size).toBe(committed);
  }, 120_000);
});
