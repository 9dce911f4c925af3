/**
 * Sluice over the Kafka protocol: a Broker and the Kafka-compatible Server in this process on
 * 127.0.0.1 (a free port), with kafkajs clients: producers send with acks=-1 (the server confirms
 * as the topic's sync policy says), consumers are kafkajs group members reading from the earliest
 * offset with eachBatch and automatic offset commits. The Kafka protocol has no acks, so this
 * driver always uses the offset model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import { Broker } from '../../broker/broker';
import { Server } from '../../kafka/server';
import type { BenchDriver, ConsumerHandle, DriverFactory, ProducerHandle, SettingValue } from '../driver';
import { topicName } from '../driver';
import type { Workload } from '../workload';
import { sluiceSettings, sluiceTopicConfig } from './sluice-driver';

const JOIN_TIMEOUT_MS = 30_000;

class SluiceKafkaDriver implements BenchDriver {
  readonly name = 'sluice-kafka';
  readonly settings: Record<string, SettingValue>;
  #broker: Broker | null = null;
  #server: Server | null = null;
  #kafka: Kafka | null = null;
  readonly #dir: string;

  constructor(private readonly w: Workload, dir: string) {
    this.#dir = path.join(dir, 'sluice-kafka');
    this.settings = {
      transport: 'Kafka protocol on 127.0.0.1 (Server in-process)',
      client: 'kafkajs 2.2.4',
      acks: -1,
      model: 'offset (Kafka groups commit offsets; eachBatch, autoCommit)',
      ...sluiceSettings(this.w),
    };
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.#dir, { recursive: true });
    this.#broker = await Broker.open(this.#dir);
    for (let t = 0; t < this.w.topics; t++) await this.#broker.createTopic(topicName(this.w, t), sluiceTopicConfig(this.w));
    this.#server = await Server.start({ broker: this.#broker, host: '127.0.0.1', port: 0 });
    this.#kafka = new Kafka({ clientId: 'sluice-bench', brokers: [`127.0.0.1:${this.#server.address.port}`], logLevel: logLevel.NOTHING });
  }

  async producer(topic: string): Promise<ProducerHandle> {
    const p: Producer = this.#kafka!.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await p.connect();
    return {
      send: async (payloads) => {
        await p.send({ topic, acks: -1, messages: payloads.map((value) => ({ value })) });
      },
      close: () => p.disconnect(),
    };
  }

  async consumer(topic: string, group: string, onMessages: (p: Buffer[]) => void): Promise<ConsumerHandle> {
    const c: Consumer = this.#kafka!.consumer({ groupId: group, maxWaitTimeInMs: 100, retry: { retries: 3 } });
    let joined!: () => void;
    const join = new Promise<void>((r) => (joined = r));
    const off = c.on(c.events.GROUP_JOIN, () => joined());
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      eachBatch: async ({ batch }) => {
        onMessages(batch.messages.map((m) => m.value ?? Buffer.alloc(0)));
      },
    });
    const timer = setTimeout(() => joined(), JOIN_TIMEOUT_MS);
    await join;
    clearTimeout(timer);
    off();
    return { close: () => c.disconnect() };
  }

  async stop(): Promise<void> {
    await this.#server?.close();
    await this.#broker?.close();
    this.#server = null;
    this.#broker = null;
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

export const sluiceKafkaFactory: DriverFactory = {
  family: 'sluice-kafka',
  unavailable: () => null,
  create: (w, dir) => [new SluiceKafkaDriver(w, dir)],
};
