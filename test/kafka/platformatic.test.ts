/**
 * @platformatic/kafka 1.35 (a client that speaks only flexible versions: ApiVersions 3, Metadata 9,
 * Produce 7-8) produces keyed messages with headers that in-process consumers receive intact.
 * Its consumer needs the group coordinator, which the server does not serve yet.
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
