/**
 * Queue features, each beside its plain counterpart in the same run (one broker, topics with
 * sync 'always', group state sync 'always', 100 B values):
 *   - `transaction of N`: broker.transaction() sending N messages to one partition, awaited
 *     until committed (two group-state syncs, the partition's flush, the marker's flush);
 *     baseline `sendBatch of N`: the same N messages in one awaited sendBatch;
 *   - `dead-letter 100`: an ack-model consumer rejects 100 messages it polled, until all 100 are
 *     readable in the dead-letter topic (each a transaction of its own); baseline `ack 100`: the
 *     same 100 messages acked, each ack awaited as durable.
 * "vs baseline" compares messages per second.
 */
import { Broker } from '../lib/broker/broker';
import type { AckMessage, Consumer } from '../lib/index';
import { makeDir, removeDir, runSuite, tiny, type BenchCase } from './harness';

const VALUE = Buffer.alloc(100, 0x61);
const DLQ_BATCH = 100;

let broker: Broker;
let dir: string;
let seq = 0;

async function setup(): Promise<void> {
  dir = makeDir('sluice-bench-queue-');
  broker = await Broker.open(dir);
  await broker.createTopic('plain', { sync: 'always' });
  await broker.createTopic('txn', { sync: 'always' });
  await broker.createTopic('work', { sync: 'always' });
  await broker.createTopic('work.dlq', { sync: 'always' });
}

function batchOf(n: number): { value: Buffer }[] {
  return Array.from({ length: n }, () => ({ value: VALUE }));
}

function transactionCases(n: number): BenchCase[] {
  const messages = batchOf(n);
  return [
    {
      name: `sendBatch of ${n} x 100 B (baseline)`,
      messagesPerIteration: n,
      payloadBytesPerIteration: n * VALUE.length,
      fn: async () => {
        await broker.sendBatch('plain', messages);
      },
    },
    {
      name: `transaction of ${n} x 100 B`,
      messagesPerIteration: n,
      payloadBytesPerIteration: n * VALUE.length,
      baseline: `sendBatch of ${n} x 100 B (baseline)`,
      fn: async () => {
        await broker.transaction(async (tx) => {
          const sends = [];
          for (const m of messages) sends.push(tx.send('txn', { ...m, partition: 0 }));
          await Promise.all(sends);
        });
      },
    },
  ];
}

/** 100 fresh messages polled by an ack-model member of its own group (a new group per iteration). */
async function polled(): Promise<{ consumer: Consumer<AckMessage> }> {
  const group = `g${seq++}`;
  const consumer = broker.consumer({ group, topics: 'work', model: 'ack', start: 'latest', deadLetterTopic: 'work.dlq', maxInFlight: DLQ_BATCH });
  await broker.sendBatch('work', batchOf(DLQ_BATCH));
  return { consumer };
}

let dlqRead: Consumer<AckMessage> | undefined;

function deadLetterCases(): BenchCase[] {
  return [
    {
      name: `ack ${DLQ_BATCH} polled messages, each durable (baseline)`,
      messagesPerIteration: DLQ_BATCH,
      payloadBytesPerIteration: DLQ_BATCH * VALUE.length,
      fn: async () => {
        const group = `a${seq++}`;
        const c = broker.consumer({ group, topics: 'work', model: 'ack', start: 'latest', maxInFlight: DLQ_BATCH });
        await broker.sendBatch('work', batchOf(DLQ_BATCH));
        const got: AckMessage[] = [];
        while (got.length < DLQ_BATCH) got.push(...(await c.poll(DLQ_BATCH - got.length)));
        await Promise.all(got.map((m) => m.ack()));
        await c.close();
      },
    },
    {
      name: `dead-letter ${DLQ_BATCH} polled messages (reject), until readable in the DLQ`,
      messagesPerIteration: DLQ_BATCH,
      payloadBytesPerIteration: DLQ_BATCH * VALUE.length,
      baseline: `ack ${DLQ_BATCH} polled messages, each durable (baseline)`,
      fn: async () => {
        const { consumer } = await polled();
        const got: AckMessage[] = [];
        while (got.length < DLQ_BATCH) got.push(...(await consumer.poll(DLQ_BATCH - got.length)));
        for (const m of got) m.reject();
        dlqRead ??= broker.consumer({ group: 'dlq-reader', topics: 'work.dlq', model: 'ack', maxInFlight: 100_000 });
        let dead = 0;
        while (dead < DLQ_BATCH) {
          const letters = await dlqRead.poll(DLQ_BATCH - dead);
          for (const l of letters) l.ack();
          dead += letters.length;
        }
        await consumer.close();
      },
    },
  ];
}

async function main(): Promise<void> {
  await setup();
  try {
    await runSuite({
      name: 'queue',
      title: 'Queue features: transactions and dead letters beside plain sends and acks',
      cases: [...transactionCases(1), ...transactionCases(10), ...transactionCases(100), ...deadLetterCases()],
      notes: [
        'Topics and group state with sync \'always\' (every commit point and marker on stable storage), 100 B values, one broker in this process.',
        'A transaction pays: TXN_ADD made durable before its first record, the partition flushed, the TXN_COMMIT record synced, the commit marker flushed, TXN_DONE. A sendBatch pays one sync of the partition.',
        'Dead-lettering: each rejected message is its own transaction (append to the dead-letter topic and ack); the task ends when all of them are read from the dead-letter topic. The baseline acks the same number of polled messages and awaits every ack as durable.',
        tiny ? 'BENCH_TINY: a few iterations only.' : '',
      ].filter((n) => n.length > 0),
    });
  } finally {
    await broker.close();
    removeDir(dir);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
