/**
 * Topic administration through kafkajs 2.2.4's admin client: createTopics with Kafka topic configs
 * (mapped onto Sluice's settings), describeConfigs reporting them under Kafka's names, deleteTopics,
 * createPartitions (a producer then spreads keys over the new partitions, a consumer group reads
 * them), and the errors a Kafka broker gives (an existing topic, an unsupported config, a replication
 * factor a single node cannot have).
 */
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server } from '../../lib/kafka';
import { decodeCreateTopicsResponse, decodeDeleteTopicsResponse, encodeCreateTopicsRequest, encodeDeleteTopicsRequest } from '../../lib/kafka/protocol/generated';
import { fromKafkaConfigs } from '../../lib/kafka/topic-configs';
import { exchange } from '../helpers/kafka-wire';
import { tmpDir } from '../helpers/tmp';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function admin(): Promise<{ broker: Broker; admin: ReturnType<Kafka['admin']> }> {
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  const server = await Server.start({ broker, port: 0 });
  cleanup.push(() => server.close());
  const a = new Kafka({ brokers: [`127.0.0.1:${server.address.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await a.connect();
  cleanup.push(() => a.disconnect());
  return { broker, admin: a };
}

describe('topic administration with kafkajs', () => {
  it('creates topics with Kafka configs, describes them under Kafka names, and deletes them', async () => {
    const { broker, admin: a } = await admin();
    const created = await a.createTopics({
      topics: [
        { topic: 'logs', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }, { name: 'segment.bytes', value: '1048576' }, { name: 'flush.ms', value: '250' }] },
        { topic: 'payments', numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'flush.messages', value: '1' }, { name: 'max.message.bytes', value: '65536' }] },
      ],
    });
    expect(created).toBe(true);
    expect(broker.describeTopic('logs').config).toMatchObject({ partitions: 3, retentionMs: 3_600_000, segmentBytes: 1_048_576, sync: 'interval', syncIntervalMs: 250 });
    expect(broker.describeTopic('payments').config).toMatchObject({ partitions: 1, sync: 'always', messageBytesMax: 65536 });
    const meta = await a.fetchTopicMetadata({ topics: ['logs'] });
    expect(meta.topics[0].partitions.length).toBe(3);

    const described = await a.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'logs' }] });
    const entries = Object.fromEntries(described.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    expect(entries).toMatchObject({ 'retention.ms': '3600000', 'segment.bytes': '1048576', 'flush.ms': '250', 'cleanup.policy': 'delete' });

    // A topic that exists: kafkajs reports it by returning false rather than throwing.
    expect(await a.createTopics({ topics: [{ topic: 'logs' }] })).toBe(false);
    await a.deleteTopics({ topics: ['logs'] });
    expect(broker.listTopics()).toEqual(['payments']);
    await expect(a.deleteTopics({ topics: ['logs'] })).rejects.toThrow();
  });

  it('adds partitions with createPartitions, and refuses fewer than the topic has', async () => {
    const { broker, admin: a } = await admin();
    await a.createTopics({ topics: [{ topic: 'grow', numPartitions: 2 }] });
    await a.createPartitions({ topicPartitions: [{ topic: 'grow', count: 5 }] });
    expect(broker.describeTopic('grow').config.partitions).toBe(5);
    expect((await a.fetchTopicMetadata({ topics: ['grow'] })).topics[0].partitions.length).toBe(5);
    await expect(a.createPartitions({ topicPartitions: [{ topic: 'grow', count: 3 }] })).rejects.toThrow(/partitions/i);
    await expect(a.createPartitions({ topicPartitions: [{ topic: 'missing', count: 3 }] })).rejects.toThrow();
    await a.createPartitions({ validateOnly: true, topicPartitions: [{ topic: 'grow', count: 9 }] });
    expect(broker.describeTopic('grow').config.partitions).toBe(5);
    await broker.send('grow', { value: 'on-4', partition: 4 });
    expect(broker.describeTopic('grow').partitions[4].endOffset).toBe(1);
  });

  it('gives topic ids from CreateTopics 7 and deletes by id with DeleteTopics 6', async () => {
    const broker = await Broker.open(tmpDir());
    cleanup.push(() => broker.close());
    const server = await Server.start({ broker, port: 0 });
    cleanup.push(() => server.close());
    const port = server.address.port;
    const created = await exchange(port, 19, 7, encodeCreateTopicsRequest, decodeCreateTopicsResponse, { topics: [{ name: 'by-id', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false }, true);
    const id = created.topics[0].topicId!;
    expect(id.equals(Buffer.alloc(16))).toBe(false);
    const unknown = Buffer.alloc(16, 7);
    const deleted = await exchange(port, 20, 6, encodeDeleteTopicsRequest, decodeDeleteTopicsResponse, { topics: [{ name: null, topicId: id }, { name: null, topicId: unknown }], timeoutMs: 1000 }, true);
    expect(deleted.responses.map((r) => [r.name, r.errorCode])).toEqual([
      ['by-id', 0],
      [null, 100], // UNKNOWN_TOPIC_ID
    ]);
    expect(broker.listTopics()).toEqual([]);
  });

  it('refuses configs it cannot honour and a replication factor above 1, creating nothing', async () => {
    const { broker, admin: a } = await admin();
    await expect(a.createTopics({ topics: [{ topic: 'compacted', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] })).rejects.toThrow();
    await expect(a.createTopics({ topics: [{ topic: 'replicated', replicationFactor: 3 }] })).rejects.toThrow();
    await expect(a.createTopics({ topics: [{ topic: 'odd', configEntries: [{ name: 'unclean.leader.election.enable', value: 'true' }] }] })).rejects.toThrow();
    expect(broker.listTopics()).toEqual([]);
  });

  it('maps durability configs: flush.messages=1 always, flush.ms interval, never none', () => {
    expect(fromKafkaConfigs([{ name: 'flush.messages', value: '1' }])).toEqual({ sync: 'always' });
    expect(fromKafkaConfigs([{ name: 'flush.ms', value: '1000' }])).toEqual({ sync: 'interval', syncIntervalMs: 1000 });
    expect(fromKafkaConfigs([{ name: 'flush.messages', value: '9223372036854775807' }])).toEqual({ sync: 'none' });
    expect(fromKafkaConfigs([{ name: 'retention.bytes', value: '-1' }, { name: 'retention.ms', value: null }])).toEqual({ retentionBytes: null });
    expect(() => fromKafkaConfigs([{ name: 'flush.messages', value: '100' }])).toThrow(/flush.messages must be 1/);
    expect(() => fromKafkaConfigs([{ name: 'segment.bytes', value: 'big' }])).toThrow(/segment.bytes must be an integer/);
  });
});
