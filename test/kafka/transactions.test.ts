/**
 * Kafka transactions through the protocol: kafkajs 2.2.4's transactional producer commits (read
 * by read_committed consumers) and aborts (never read by them, read as records by
 * read_uncommitted ones); consume-transform-produce with sendOffsets moves the group's committed
 * offset only on commit; a second producer of the same transactional id fences the first; a
 * restart with a transaction open aborts it (also one that had only added offsets) and keeps the
 * id's producer id (the epoch bumped); a
 * transaction past its timeout is aborted (time driven by a ManualClock); readers stop at a
 * transaction's first record, not at its AddPartitionsToTxn; requests out of step
 * get Kafka's error codes; kcat's and python3-confluent-kafka's (librdkafka's) transactional
 * producers commit and abort.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, type BrokerOptions } from '../../lib/broker/broker';
import { ManualClock } from '../../lib/broker/time/manual-clock';
import { Server } from '../../lib/kafka';
import { KafkaError } from '../../lib/kafka/protocol/error-codes';
import {
  decodeAddOffsetsToTxnResponse,
  decodeAddPartitionsToTxnResponse,
  decodeEndTxnResponse,
  decodeFetchResponse,
  decodeFindCoordinatorResponse,
  decodeInitProducerIdResponse,
  decodeProduceResponse,
  decodeTxnOffsetCommitResponse,
  encodeAddOffsetsToTxnRequest,
  encodeAddPartitionsToTxnRequest,
  encodeEndTxnRequest,
  encodeFetchRequest,
  encodeFindCoordinatorRequest,
  encodeInitProducerIdRequest,
  encodeProduceRequest,
  encodeTxnOffsetCommitRequest,
} from '../../lib/kafka/protocol/generated';
import { encodeBatch } from '../helpers/kafka-batch-encoder';
import { exchange } from '../helpers/kafka-wire';
import { tmpDir } from '../helpers/tmp';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

interface Running {
  broker: Broker;
  server: Server;
  port: number;
  kafka: Kafka;
  stop: () => Promise<void>;
}

async function open(dir: string, options: BrokerOptions = {}): Promise<Running> {
  const broker = await Broker.open(dir, options);
  const server = await Server.start({ broker, port: 0, groupInitialRebalanceDelayMs: 0 });
  const port = server.address.port;
  const kafka = new Kafka({ clientId: 'txn-test', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await server.close();
    await broker.close();
  };
  cleanup.push(stop);
  return { broker, server, port, kafka, stop };
}

async function txnProducer(kafka: Kafka, transactionalId: string, transactionTimeout?: number): Promise<Producer> {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout, retry: { retries: 3, initialRetryTime: 50 } });
  await producer.connect();
  cleanup.push(() => producer.disconnect());
  return producer;
}

/** Every record value of a partition as a Fetch of `isolation` (0 read_uncommitted, 1 read_committed) returns it, control batches left out. */
async function fetchValues(port: number, topic: string, partition: number, isolation: 0 | 1): Promise<{ values: string[]; aborted: { producerId: number; firstOffset: number }[]; lso: number; hw: number }> {
  const res = await exchange(port, 1, 11, encodeFetchRequest, decodeFetchResponse, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 10 << 20,
    isolationLevel: isolation,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 10 << 20 }] }],
    forgottenTopicsData: [],
    rackId: '',
  });
  const p = res.responses[0].partitions[0];
  const records = p.records as unknown as Buffer;
  return { values: batchValues(records), aborted: (p.abortedTransactions ?? []).map((a) => ({ producerId: Number(a.producerId), firstOffset: Number(a.firstOffset) })), lso: Number(p.lastStableOffset), hw: Number(p.highWatermark) };
}

/** The values of the uncompressed records in `bytes`, skipping control batches (attributes bit 5). */
function batchValues(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at + 61 <= bytes.length; ) {
    const total = 12 + bytes.readInt32BE(at + 8);
    if ((bytes.readInt16BE(at + 21) & 0x20) === 0) {
      let pos = at + 61;
      for (let i = 0, n = bytes.readInt32BE(at + 57); i < n; i++) {
        const len = varint(bytes, pos);
        let p = len.next + 1; // attributes
        p = varint(bytes, p).next; // timestamp delta
        p = varint(bytes, p).next; // offset delta
        const keyLen = varint(bytes, p);
        p = keyLen.next + Math.max(0, keyLen.value);
        const valueLen = varint(bytes, p);
        out.push(bytes.subarray(valueLen.next, valueLen.next + valueLen.value).toString());
        pos = len.next + len.value;
      }
    }
    at += total;
  }
  return out;
}

function varint(b: Buffer, at: number): { value: number; next: number } {
  let v = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    const byte = b[i++];
    v |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  return { value: (v >>> 1) ^ -(v & 1), next: i };
}

/** What an in-process consumer (read committed) reads of `topic`, from the start. */
async function committedValues(broker: Broker, topic: string): Promise<string[]> {
  const reader = broker.consumer({ group: `check-${Math.random()}`, topics: topic, start: 'earliest' });
  const got: string[] = [];
  for (;;) {
    const batch = await reader.poll(1000, { timeoutMs: 0 });
    if (batch.length === 0) break;
    got.push(...batch.map((m) => String(m.value)));
  }
  await reader.close();
  return got;
}

function initProducerId(port: number, transactionalId: string | null, version = 1, timeoutMs = 60_000) {
  return exchange(port, 22, version, encodeInitProducerIdRequest, decodeInitProducerIdResponse, { transactionalId, transactionTimeoutMs: timeoutMs, producerId: -1, producerEpoch: -1 }, version >= 2);
}

function addPartitions(port: number, transactionalId: string, producerId: number, producerEpoch: number, topics: { name: string; partitions: number[] }[], version = 1) {
  return exchange(port, 24, version, encodeAddPartitionsToTxnRequest, decodeAddPartitionsToTxnResponse, { transactionalId, producerId, producerEpoch, topics }, version >= 3);
}

function endTxn(port: number, transactionalId: string, producerId: number, producerEpoch: number, committed: boolean, version = 1) {
  return exchange(port, 26, version, encodeEndTxnRequest, decodeEndTxnResponse, { transactionalId, producerId, producerEpoch, committed }, version >= 3);
}

async function produceTxn(port: number, transactionalId: string | null, producerId: number, producerEpoch: number, baseSequence: number, values: string[], topic = 't') {
  const records = encodeBatch(values.map((value) => ({ value })), { attributes: 0x10, producerId, producerEpoch, baseSequence });
  const res = await exchange(port, 0, 7, encodeProduceRequest, decodeProduceResponse, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  return res.responses[0].partitionResponses[0];
}

describe('Kafka transactions with kafkajs', () => {
  it('commits what read_committed consumers read, and aborts what only read_uncommitted ones see', async () => {
    const s = await open(tmpDir());
    await s.broker.createTopic('out', { partitions: 1 });
    const producer = await txnProducer(s.kafka, 'tx-commit');
    const a = await producer.transaction();
    await a.send({ topic: 'out', messages: [{ value: 'c1' }, { value: 'c2' }] });
    // Open: nothing of it is read committed yet.
    expect((await fetchValues(s.port, 'out', 0, 1)).values).toEqual([]);
    expect(await committedValues(s.broker, 'out')).toEqual([]);
    await a.commit();
    const b = await producer.transaction();
    await b.send({ topic: 'out', messages: [{ value: 'x1' }] });
    await b.send({ topic: 'out', messages: [{ value: 'x2' }] });
    await b.abort();
    const c = await producer.transaction();
    await c.send({ topic: 'out', messages: [{ value: 'c3' }] });
    await c.commit();

    const committed = await fetchValues(s.port, 'out', 0, 1);
    expect(committed.lso).toBe(committed.hw);
    expect(committed.aborted).toHaveLength(1);
    const uncommitted = await fetchValues(s.port, 'out', 0, 0);
    expect(uncommitted.values).toEqual(['c1', 'c2', 'x1', 'x2', 'c3']);
    expect(await committedValues(s.broker, 'out')).toEqual(['c1', 'c2', 'c3']);

    // kafkajs consumers: read_committed (its default) passes the aborted records over.
    const read = async (readUncommitted: boolean, want: number): Promise<string[]> => {
      const consumer = s.kafka.consumer({ groupId: `read-${readUncommitted}`, readUncommitted, maxWaitTimeInMs: 100 });
      await consumer.connect();
      cleanup.push(() => consumer.disconnect());
      await consumer.subscribe({ topic: 'out', fromBeginning: true });
      const got: string[] = [];
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            got.push(String(message.value));
            if (got.length === want) resolve();
          },
        });
      });
      await consumer.disconnect();
      return got;
    };
    expect(await read(false, 3)).toEqual(['c1', 'c2', 'c3']);
    expect(await read(true, 5)).toEqual(['c1', 'c2', 'x1', 'x2', 'c3']);
  });

  it('moves the group committed offset with the transaction that consumed: on commit, never on abort', async () => {
    const dir = tmpDir();
    let s = await open(dir);
    await s.broker.createTopic('in', { partitions: 1 });
    await s.broker.createTopic('out', { partitions: 1 });
    await s.broker.sendBatch('in', ['1', '2', '3', '4'].map((v) => ({ value: v })));
    const admin = s.kafka.admin();
    await admin.connect();
    cleanup.push(() => admin.disconnect());
    const committedOffset = async (): Promise<string> => (await admin.fetchOffsets({ groupId: 'ctp', topics: ['in'] }))[0].partitions[0].offset;

    // Consume-transform-produce: each message read becomes one output and its offset, atomically.
    const producer = await txnProducer(s.kafka, 'tx-ctp');
    const consumer = s.kafka.consumer({ groupId: 'ctp', maxWaitTimeInMs: 100 });
    await consumer.connect();
    cleanup.push(() => consumer.disconnect());
    await consumer.subscribe({ topic: 'in', fromBeginning: true });
    let handled = 0;
    await new Promise<void>((resolve, reject) => {
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          try {
            const tx = await producer.transaction();
            await tx.send({ topic: 'out', messages: [{ value: `done ${String(message.value)}` }] });
            await tx.sendOffsets({ consumerGroupId: 'ctp', topics: [{ topic, partitions: [{ partition, offset: String(Number(message.offset) + 1) }] }] });
            if (String(message.value) === '3') {
              await tx.abort(); // the output and the offset go together: neither happens
            } else {
              await tx.commit();
            }
            if (++handled === 4) resolve();
          } catch (e) {
            reject(e);
          }
        },
      });
    });
    await consumer.disconnect();
    expect(await committedValues(s.broker, 'out')).toEqual(['done 1', 'done 2', 'done 4']);
    expect(await committedOffset()).toBe('4');

    // An open transaction's offsets are not visible; an aborted one's never are.
    const tx = await producer.transaction();
    await tx.sendOffsets({ consumerGroupId: 'ctp', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '1' }] }] });
    expect(await committedOffset()).toBe('4');
    await tx.abort();
    expect(await committedOffset()).toBe('4');
    const tx2 = await producer.transaction();
    await tx2.sendOffsets({ consumerGroupId: 'ctp', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '2' }] }] });
    await tx2.commit();
    expect(await committedOffset()).toBe('2');
    await admin.disconnect();
    await producer.disconnect();
    await s.stop();
    s = await open(dir);
    expect(s.broker.describeGroup('ctp').partitions[0].committedOffset).toBe(2);
  });

  it('fences a producer once another initialises the same transactional id', async () => {
    const s = await open(tmpDir());
    await s.broker.createTopic('out', { partitions: 1 });
    const first = await txnProducer(s.kafka, 'tx-fence');
    const t1 = await first.transaction();
    await t1.send({ topic: 'out', messages: [{ value: 'from the first' }] });
    const second = await txnProducer(s.kafka, 'tx-fence');
    const t2 = await second.transaction(); // kafkajs initialises the id here: the first one's transaction is aborted
    await expect(t1.commit()).rejects.toThrow(/epoch/i);
    await t2.send({ topic: 'out', messages: [{ value: 'from the second' }] });
    await t2.commit();
    // The coordinator holds the second one's epoch, the first's next one.
    expect(s.broker.transactions.describe('tx-fence')).toMatchObject({ epoch: 1, state: 'idle' });
    expect(await committedValues(s.broker, 'out')).toEqual(['from the second']);
    expect((await fetchValues(s.port, 'out', 0, 0)).values).toEqual(['from the first', 'from the second']);
  });

  it('aborts a transaction left open by a restart and keeps the id, fencing the old epoch', async () => {
    const dir = tmpDir();
    let s = await open(dir);
    await s.broker.createTopic('out', { partitions: 2 });
    const producer = await txnProducer(s.kafka, 'tx-restart');
    const done = await producer.transaction();
    await done.send({ topic: 'out', messages: [{ key: 'k', value: 'kept' }] });
    await done.commit();
    const open1 = await producer.transaction();
    await open1.send({ topic: 'out', messages: [{ key: 'k', value: 'lost' }] });
    // The producer's id and epoch, as the coordinator holds them.
    const before = await initProducerIdPeek(s.broker, 'tx-restart');
    await producer.disconnect();
    await s.stop();

    s = await open(dir);
    const after = await initProducerIdPeek(s.broker, 'tx-restart');
    expect(after.producerId).toBe(before.producerId);
    expect(after.epoch).toBe(before.epoch + 1); // the restart's abort fenced the old epoch
    const parts = s.broker.describeTopic('out').partitions;
    for (const p of parts) expect(p.lastStableOffset).toBe(p.highWatermark);
    expect(await committedValues(s.broker, 'out')).toEqual(['kept']);
    // The old epoch is fenced; a new init gets the same producer id at the next epoch.
    expect((await endTxn(s.port, 'tx-restart', before.producerId, before.epoch, true)).errorCode).toBe(KafkaError.INVALID_PRODUCER_EPOCH);
    const init = await initProducerId(s.port, 'tx-restart');
    expect(init).toMatchObject({ errorCode: 0, producerId: before.producerId, producerEpoch: before.epoch + 2 });
  });

  it('fences at a restart a transaction that had only added offsets, which never apply', async () => {
    const dir = tmpDir();
    let s = await open(dir);
    await s.broker.createTopic('in', { partitions: 1 });
    await s.broker.sendBatch('in', ['a', 'b', 'c'].map((value) => ({ value })));
    const { producerId, producerEpoch } = await initProducerId(s.port, 'offsets-only');
    expect((await exchange(s.port, 25, 1, encodeAddOffsetsToTxnRequest, decodeAddOffsetsToTxnResponse, { transactionalId: 'offsets-only', producerId, producerEpoch, groupId: 'g' })).errorCode).toBe(0);
    const commitOffsets = (epoch: number) => exchange(s.port, 28, 1, encodeTxnOffsetCommitRequest, decodeTxnOffsetCommitResponse, { transactionalId: 'offsets-only', groupId: 'g', producerId, producerEpoch: epoch, topics: [{ name: 'in', partitions: [{ partitionIndex: 0, committedOffset: 3, committedMetadata: null }] }] });
    expect((await commitOffsets(producerEpoch)).topics[0].partitions[0].errorCode).toBe(0);
    await s.stop();
    s = await open(dir);
    expect(s.broker.transactions.describe('offsets-only')).toMatchObject({ producerId, epoch: producerEpoch + 1, state: 'idle' });
    expect((await commitOffsets(producerEpoch)).topics[0].partitions[0].errorCode).toBe(KafkaError.INVALID_PRODUCER_EPOCH);
    expect((await endTxn(s.port, 'offsets-only', producerId, producerEpoch, true)).errorCode).toBe(KafkaError.INVALID_PRODUCER_EPOCH);
    expect(s.broker.groupOffsets.fetch('g', 'in', [0])).toEqual([null]);
    // An offsets-only transaction that commits: its end is its commit point.
    const again = await initProducerId(s.port, 'offsets-only');
    expect((await exchange(s.port, 25, 1, encodeAddOffsetsToTxnRequest, decodeAddOffsetsToTxnResponse, { transactionalId: 'offsets-only', producerId, producerEpoch: again.producerEpoch, groupId: 'g' })).errorCode).toBe(0);
    expect((await commitOffsets(again.producerEpoch)).topics[0].partitions[0].errorCode).toBe(0);
    expect((await endTxn(s.port, 'offsets-only', producerId, again.producerEpoch, true)).errorCode).toBe(0);
    expect((await endTxn(s.port, 'offsets-only', producerId, again.producerEpoch, true)).errorCode).toBe(0);
    expect(s.broker.groupOffsets.fetch('g', 'in', [0])).toEqual([{ offset: 3, metadata: '' }]);
  });

  it('aborts a transaction past its timeout and fences its producer', async () => {
    const clock = new ManualClock(Date.now());
    const s = await open(tmpDir(), { clock });
    await s.broker.createTopic('t', { partitions: 1 });
    const init = await initProducerId(s.port, 'tx-slow', 1, 5000);
    expect(init.errorCode).toBe(0);
    const { producerId, producerEpoch } = init;
    expect((await addPartitions(s.port, 'tx-slow', producerId, producerEpoch, [{ name: 't', partitions: [0] }])).resultsByTopic[0].resultsByPartition[0].partitionErrorCode).toBe(0);
    expect((await produceTxn(s.port, 'tx-slow', producerId, producerEpoch, 0, ['slow'])).errorCode).toBe(0);
    expect(s.broker.describeTopic('t').partitions[0].lastStableOffset).toBe(0);
    clock.advance(4999);
    expect(s.broker.describeTopic('t').partitions[0].lastStableOffset).toBe(0);
    clock.advance(1);
    await waitFor(() => s.broker.describeTopic('t').partitions[0].lastStableOffset === s.broker.describeTopic('t').partitions[0].highWatermark);
    expect((await endTxn(s.port, 'tx-slow', producerId, producerEpoch, true)).errorCode).toBe(KafkaError.INVALID_PRODUCER_EPOCH);
    expect((await endTxn(s.port, 'tx-slow', producerId, producerEpoch, true, 2)).errorCode).toBe(KafkaError.PRODUCER_FENCED);
    expect(await committedValues(s.broker, 't')).toEqual([]);
    expect((await fetchValues(s.port, 't', 0, 1)).aborted).toEqual([{ producerId, firstOffset: 0 }]);
  });
});

/** The transactional id's producer id and epoch as the coordinator holds them (an InitProducerId would bump them). */
async function initProducerIdPeek(broker: Broker, id: string): Promise<{ producerId: number; epoch: number }> {
  const d = broker.transactions.describe(id);
  if (d === null) throw new Error(`no transactional id ${id}`);
  return d;
}

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('Kafka transactions and the last stable offset', () => {
  it('hold readers back from a transaction\'s first record until it ends, not from its AddPartitionsToTxn', async () => {
    const s = await open(tmpDir());
    await s.broker.createTopic('t', { partitions: 1 });
    const { producerId, producerEpoch } = await initProducerId(s.port, 'lso');
    await addPartitions(s.port, 'lso', producerId, producerEpoch, [{ name: 't', partitions: [0] }]);
    await s.broker.send('t', { value: 'before' }); // added, nothing written yet: readable
    expect(await committedValues(s.broker, 't')).toEqual(['before']);
    expect((await produceTxn(s.port, 'lso', producerId, producerEpoch, 0, ['txn'])).baseOffset).toBe(1);
    await s.broker.send('t', { value: 'after' }); // behind the open transaction: held back
    expect(s.broker.describeTopic('t').partitions[0]).toMatchObject({ lastStableOffset: 1, highWatermark: 3 });
    expect((await fetchValues(s.port, 't', 0, 1)).values).toEqual(['before']);
    expect((await endTxn(s.port, 'lso', producerId, producerEpoch, true)).errorCode).toBe(0);
    expect((await fetchValues(s.port, 't', 0, 1)).values).toEqual(['before', 'txn', 'after']);
  });
});

describe('Kafka transaction requests out of step', () => {
  it('answer with the error codes Kafka gives', async () => {
    const s = await open(tmpDir());
    await s.broker.createTopic('t', { partitions: 1 });
    // Coordinators: this node for transactional ids too; an unknown key type is refused.
    const fc = await exchange(s.port, 10, 1, encodeFindCoordinatorRequest, decodeFindCoordinatorResponse, { key: 'tx', keyType: 1 });
    expect(fc).toMatchObject({ errorCode: 0, nodeId: 0, port: s.port });
    expect((await exchange(s.port, 10, 1, encodeFindCoordinatorRequest, decodeFindCoordinatorResponse, { key: 'tx', keyType: 2 })).errorCode).toBe(KafkaError.INVALID_REQUEST);
    // InitProducerId: the timeout's bounds, an empty id.
    expect((await initProducerId(s.port, 'tx', 1, 0)).errorCode).toBe(KafkaError.INVALID_TRANSACTION_TIMEOUT);
    expect((await initProducerId(s.port, 'tx', 1, 900_001)).errorCode).toBe(KafkaError.INVALID_TRANSACTION_TIMEOUT);
    expect((await initProducerId(s.port, '', 1)).errorCode).toBe(KafkaError.INVALID_REQUEST);
    // Unknown transactional ids.
    expect((await endTxn(s.port, 'nobody', 5, 0, true)).errorCode).toBe(KafkaError.INVALID_PRODUCER_ID_MAPPING);
    expect((await addPartitions(s.port, 'nobody', 5, 0, [{ name: 't', partitions: [0] }])).resultsByTopic[0].resultsByPartition[0].partitionErrorCode).toBe(KafkaError.INVALID_PRODUCER_ID_MAPPING);

    const { producerId, producerEpoch } = await initProducerId(s.port, 'tx');
    // Wrong epoch: INVALID_PRODUCER_EPOCH before version 2, PRODUCER_FENCED from it; a wrong producer id.
    const code = async (epoch: number, version: number, pid = producerId) => (await addPartitions(s.port, 'tx', pid, epoch, [{ name: 't', partitions: [0] }], version)).resultsByTopic[0].resultsByPartition[0].partitionErrorCode;
    expect(await code(producerEpoch + 1, 1)).toBe(KafkaError.INVALID_PRODUCER_EPOCH);
    expect(await code(producerEpoch + 1, 2)).toBe(KafkaError.PRODUCER_FENCED);
    expect(await code(producerEpoch + 1, 3)).toBe(KafkaError.PRODUCER_FENCED);
    expect(await code(producerEpoch, 1, producerId + 1)).toBe(KafkaError.INVALID_PRODUCER_ID_MAPPING);
    // Nothing open: EndTxn is INVALID_TXN_STATE; TxnOffsetCommit without AddOffsetsToTxn too.
    expect((await endTxn(s.port, 'tx', producerId, producerEpoch, true)).errorCode).toBe(KafkaError.INVALID_TXN_STATE);
    const txnCommit = await exchange(s.port, 28, 1, encodeTxnOffsetCommitRequest, decodeTxnOffsetCommitResponse, { transactionalId: 'tx', groupId: 'g', producerId, producerEpoch, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }] });
    expect(txnCommit.topics[0].partitions[0].errorCode).toBe(KafkaError.INVALID_TXN_STATE);
    // A transactional batch to a partition not added; one whose request names no transactional id.
    expect((await produceTxn(s.port, 'tx', producerId, producerEpoch, 0, ['early'])).errorCode).toBe(KafkaError.INVALID_TXN_STATE);
    expect((await produceTxn(s.port, null, producerId, producerEpoch, 0, ['anonymous'])).errorCode).toBe(KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    expect(s.broker.describeTopic('t').messages).toBe(0);
    // An unknown partition among known ones: it is UNKNOWN_TOPIC_OR_PARTITION, the others not attempted.
    const mixed = await addPartitions(s.port, 'tx', producerId, producerEpoch, [{ name: 't', partitions: [0, 7] }]);
    expect(mixed.resultsByTopic[0].resultsByPartition.map((p) => p.partitionErrorCode)).toEqual([KafkaError.OPERATION_NOT_ATTEMPTED, KafkaError.UNKNOWN_TOPIC_OR_PARTITION]);
    expect((await produceTxn(s.port, 'tx', producerId, producerEpoch, 0, ['still early'])).errorCode).toBe(KafkaError.INVALID_TXN_STATE);
    // Now properly: added, produced, an older epoch's batch refused, committed; a retried commit is done, an abort after it is not.
    expect((await addPartitions(s.port, 'tx', producerId, producerEpoch, [{ name: 't', partitions: [0] }])).resultsByTopic[0].resultsByPartition[0].partitionErrorCode).toBe(0);
    expect((await produceTxn(s.port, 'tx', producerId, producerEpoch, 0, ['in'])).errorCode).toBe(0);
    expect((await produceTxn(s.port, 'tx', producerId, producerEpoch + 1, 0, ['newer'])).errorCode).toBe(KafkaError.INVALID_PRODUCER_EPOCH);
    const addOffsets = await exchange(s.port, 25, 1, encodeAddOffsetsToTxnRequest, decodeAddOffsetsToTxnResponse, { transactionalId: 'tx', producerId, producerEpoch, groupId: 'g' });
    expect(addOffsets.errorCode).toBe(0);
    const unknownTopic = await exchange(s.port, 28, 1, encodeTxnOffsetCommitRequest, decodeTxnOffsetCommitResponse, { transactionalId: 'tx', groupId: 'g', producerId, producerEpoch, topics: [{ name: 'nope', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }, { name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: 'm' }] }] });
    expect(unknownTopic.topics.map((t) => t.partitions[0].errorCode)).toEqual([KafkaError.UNKNOWN_TOPIC_OR_PARTITION, 0]);
    expect((await endTxn(s.port, 'tx', producerId, producerEpoch, true)).errorCode).toBe(0);
    expect((await endTxn(s.port, 'tx', producerId, producerEpoch, true)).errorCode).toBe(0);
    expect((await endTxn(s.port, 'tx', producerId, producerEpoch, false)).errorCode).toBe(KafkaError.INVALID_TXN_STATE);
    expect(await committedValues(s.broker, 't')).toEqual(['in']);
    expect(s.broker.groupOffsets.fetch('g', 't', [0])).toEqual([{ offset: 1, metadata: 'm' }]);
    // Flexible versions (librdkafka's TxnOffsetCommit 3, @platformatic/kafka's 3+) decode and answer alike.
    const flex = await initProducerId(s.port, 'tx', 4);
    expect(flex).toMatchObject({ errorCode: 0, producerId, producerEpoch: producerEpoch + 1 });
    expect((await endTxn(s.port, 'tx', producerId, producerEpoch, true, 3)).errorCode).toBe(KafkaError.PRODUCER_FENCED);
  });
});

/** Runs a client process (never spawnSync: the server under test shares this event loop). */
function run(cmd: string, args: string[], input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += String(c)));
    child.stderr.on('data', (c) => (stderr += String(c)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

function hasKcat(): boolean {
  return spawnSync('kcat', ['-V'], { encoding: 'utf8' }).status === 0;
}

/** A Python that has confluent_kafka (Debian's python3-confluent-kafka), or null. */
function pythonWithConfluentKafka(): string | null {
  for (const python of ['python3', '/usr/bin/python3']) {
    if (spawnSync(python, ['-c', 'import confluent_kafka'], { encoding: 'utf8' }).status === 0) return python;
  }
  return null;
}
const PYTHON = pythonWithConfluentKafka();

describe('Kafka transactions with librdkafka', () => {
  it.skipIf(PYTHON === null)('python3-confluent-kafka commits, aborts, and commits a group offset in a transaction', async () => {
    const s = await open(tmpDir());
    await s.broker.createTopic('py', { partitions: 1 });
    await s.broker.createTopic('py-out', { partitions: 1 });
    const r = await run(PYTHON!, [path.join(__dirname, '..', 'helpers', 'rdkafka-txn.py'), `127.0.0.1:${s.port}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ got: ['c1', 'c2'], committed: 2 });
    expect(await committedValues(s.broker, 'py')).toEqual(['c1', 'c2']);
    expect((await fetchValues(s.port, 'py', 0, 0)).values).toEqual(['c1', 'c2', 'x1']);
    expect(await committedValues(s.broker, 'py-out')).toEqual(['done']);
    expect(s.broker.groupOffsets.fetch('py-g', 'py', [0])).toEqual([{ offset: 2, metadata: '' }]);
  });


  it.skipIf(!hasKcat())('kcat -X transactional.id produces in one committed transaction', async () => {
    const s = await open(tmpDir());
    await s.broker.createTopic('lines', { partitions: 1 });
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    const r = await run('kcat', ['-b', `127.0.0.1:${s.port}`, '-P', '-t', 'lines', '-X', 'transactional.id=kcat-tx'], `${lines.join('\n')}\n`);
    expect(r.status, r.stderr).toBe(0);
    expect(await committedValues(s.broker, 'lines')).toEqual(lines);
    const p = s.broker.describeTopic('lines').partitions[0];
    expect(p.endOffset).toBe(lines.length + 1); // the records and one commit marker
  });
});
