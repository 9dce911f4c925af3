/**
 * @platformatic/kafka 1.35 (a client that speaks only flexible versions: ApiVersions 3, Metadata 9,
 * Produce 7-8) produces keyed messages with headers that in-process consumers receive intact.
 * Its consumer (JoinGroup 6, SyncGroup 4, Heartbeat 4, OffsetCommit/OffsetFetch 8, Fetch 12) joins a
 * group and receives messages sent in process, with keys, headers and timestamps; its commits are
 * the broker's. Its transactional producer commits and aborts.
 */
import { afterEach, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { keyPartition } from '../../lib/broker/produce/partitioner';
import { Server } from '../../lib/kafka';
import { tmpDir } from '../helpers/tmp';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

it('produces to a topic Metadata creates, with keys on keyPartition and headers intact', async () => {
  const { Producer, stringSerializers } = await import('@platformatic/kafka');
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  const server = await Server.start({ broker, port: 0, topicDefaults: { partitions: 4 } });
  cleanup.push(() => server.close());
  const producer = new Producer({ clientId: 'plt', bootstrapBrokers: [`127.0.0.1:${server.address.port}`], serializers: stringSerializers, autocreateTopics: true });
  cleanup.push(() => producer.close());
  const messages = Array.from({ length: 200 }, (_, i) => ({ topic: 'plt-events', key: `user-${i % 11}`, value: `event-${i}`, headers: { seq: String(i) } }));
  await producer.send({ messages, acks: -1 });
  expect(broker.describeTopic('plt-events').config.partitions).toBe(4);
  const c = broker.consumer({ group: 'check', topics: 'plt-events', model: 'offset' });
  const got: { key: string; value: string; seq: string; partition: number }[] = [];
  while (got.length < messages.length) {
    for (const m of await c.poll(500)) got.push({ key: m.key!.toString(), value: m.rawValue!.toString(), seq: m.headers.find((h) => h.key === 'seq')!.value!.toString(), partition: m.partition });
  }
  await c.close();
  got.sort((a, b) => Number(a.seq) - Number(b.seq));
  got.forEach((m, i) => {
    expect(m).toMatchObject({ key: `user-${i % 11}`, value: `event-${i}`, seq: String(i) });
    // Its default partitioner is Kafka's murmur2 over the key, the same as keyPartition.
    expect(m.partition).toBe(keyPartition(`user-${i % 11}`, 4));
  });
});

it('consumes as a group member, with keys, headers and timestamps of in-process sends, and commits', async () => {
  const { Consumer, stringDeserializers } = await import('@platformatic/kafka');
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  const server = await Server.start({ broker, port: 0, groupInitialRebalanceDelayMs: 100 });
  cleanup.push(() => server.close());
  await broker.createTopic('in-process', { partitions: 2 });
  await broker.sendBatch(
    'in-process',
    Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`v${i}`), headers: { n: String(i) }, timestamp: 1_700_000_000_000 + i })),
  );
  const consumer = new Consumer({ groupId: 'plt-group', clientId: 'plt-consumer', bootstrapBrokers: [`127.0.0.1:${server.address.port}`], deserializers: stringDeserializers });
  cleanup.push(() => consumer.close(true));
  const stream = await consumer.consume({ autocommit: 100, topics: ['in-process'], sessionTimeout: 10000, heartbeatInterval: 500, mode: 'earliest' } as never);
  const got: { key: string; value: string; n: string; timestamp: bigint }[] = [];
  (stream as unknown as NodeJS.EventEmitter).on('data', (m: any) => got.push({ key: m.key, value: m.value, n: String(m.headers.get('n')), timestamp: m.timestamp }));
  for (let i = 0; i < 400 && got.length < 40; i++) await new Promise((r) => setTimeout(r, 25));
  got.sort((a, b) => Number(a.n) - Number(b.n));
  got.forEach((m, i) => expect(m).toMatchObject({ key: `k${i}`, value: `v${i}`, n: String(i), timestamp: BigInt(1_700_000_000_000 + i) }));
  // Its autocommits land in the broker's group state: no lag left.
  for (let i = 0; i < 200 && !(broker.listGroups().includes('plt-group') && broker.describeGroup('plt-group').lag === 0); i++) await new Promise((r) => setTimeout(r, 50));
  expect(broker.describeGroup('plt-group').lag).toBe(0);
  await stream.close?.();
});

it('its admin client creates topics (CreateTopics 7), adds partitions (CreatePartitions 3) and deletes topics (DeleteTopics 6)', async () => {
  const { Admin } = await import('@platformatic/kafka');
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  const server = await Server.start({ broker, port: 0 });
  cleanup.push(() => server.close());
  const admin = new Admin({ clientId: 'plt-admin', bootstrapBrokers: [`127.0.0.1:${server.address.port}`] });
  cleanup.push(() => admin.close());
  const created = await admin.createTopics({ topics: ['plt-a', 'plt-b'], partitions: 2, replicas: 1 });
  expect(created.map((t) => [t.name, t.partitions])).toEqual([
    ['plt-a', 2],
    ['plt-b', 2],
  ]);
  expect(created[0].id).not.toBe(created[1].id);
  await admin.createPartitions({ topics: [{ name: 'plt-a', count: 5 }] });
  expect(broker.describeTopic('plt-a').config.partitions).toBe(5);
  await admin.deleteTopics({ topics: ['plt-b'] });
  expect(broker.listTopics()).toEqual(['plt-a']);
  expect((await admin.listTopics()).sort()).toEqual(['plt-a']);
});

it('its idempotent producer (InitProducerId 3+) produces once per message', async () => {
  const { Producer, stringSerializers } = await import('@platformatic/kafka');
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  const server = await Server.start({ broker, port: 0 });
  cleanup.push(() => server.close());
  await broker.createTopic('plt-idem', { partitions: 1 });
  const producer = new Producer({ clientId: 'plt-idem', bootstrapBrokers: [`127.0.0.1:${server.address.port}`], serializers: stringSerializers, idempotent: true });
  cleanup.push(() => producer.close());
  for (let i = 0; i < 3; i++) await producer.send({ messages: Array.from({ length: 10 }, (_, j) => ({ topic: 'plt-idem', value: `m${i * 10 + j}` })), acks: -1 });
  expect(broker.describeTopic('plt-idem').partitions[0].endOffset).toBe(30);
});

it('its transactional producer (flexible AddPartitionsToTxn, EndTxn and InitProducerId) commits and aborts', async () => {
  const { Producer, stringSerializers } = await import('@platformatic/kafka');
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  const server = await Server.start({ broker, port: 0 });
  cleanup.push(() => server.close());
  await broker.createTopic('plt-tx', { partitions: 1 });
  const producer = new Producer({ clientId: 'plt-tx', bootstrapBrokers: [`127.0.0.1:${server.address.port}`], serializers: stringSerializers, idempotent: true, transactionalId: 'plt-1' } as never);
  cleanup.push(() => producer.close());
  const committed = await producer.beginTransaction();
  await committed.send({ messages: [{ topic: 'plt-tx', value: 'a' }, { topic: 'plt-tx', value: 'b' }] });
  await committed.commit();
  const aborted = await producer.beginTransaction();
  await aborted.send({ messages: [{ topic: 'plt-tx', value: 'x' }] });
  await aborted.abort();
  // Two records and a commit marker, one record and an abort marker; read committed: the first two.
  expect(broker.describeTopic('plt-tx').partitions[0]).toMatchObject({ endOffset: 5, lastStableOffset: 5 });
  const c = broker.consumer({ group: 'check-tx', topics: 'plt-tx', start: 'earliest' });
  const got = (await c.poll(10, { timeoutMs: 0 })).map((m) => String(m.value));
  await c.close();
  expect(got).toEqual(['a', 'b']);
  expect(broker.transactions.describe('plt-1')).toMatchObject({ epoch: 0, state: 'idle' });
});
