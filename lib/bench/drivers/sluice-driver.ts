/**
 * Sluice in-process: a Broker in a temp directory, producers calling sendBatch (the confirm
 * resolves as the topic's sync policy says: durable for 'always', visible for the others),
 * consumers polling as members of a group in the workload's model (ack: every message acked;
 * offset: committed automatically, after each poll).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Broker } from '../../broker/broker';
import type { Consumer } from '../../broker/consume/consumer';
import type { ConsumedMessage } from '../../broker/consume/consumed-message';
import type { TopicConfigInput } from '../../broker/topic/topic-config';
import type { BenchDriver, ConsumerHandle, DriverFactory, ProducerHandle, SettingValue } from '../driver';
import { topicName } from '../driver';
import type { Workload } from '../workload';

const POLL_MAX = 1000;

export function sluiceTopicConfig(w: Workload): TopicConfigInput {
  const c: TopicConfigInput = { partitions: w.partitionsPerTopic, sync: w.durability };
  if (w.durability === 'interval') c.syncIntervalMs = w.syncIntervalMs;
  if (w.maxBacklog > 0) c.maxBacklog = w.maxBacklog;
  return c;
}

export function sluiceSettings(w: Workload): Record<string, SettingValue> {
  return {
    sync: w.durability,
    ...(w.durability === 'interval' ? { syncIntervalMs: w.syncIntervalMs } : {}),
    partitions: w.partitionsPerTopic,
    maxBacklog: w.maxBacklog > 0 ? w.maxBacklog : 'unbounded',
    groupStateSync: 'always (default)',
  };
}

/** Polls a Sluice consumer until closed, handing each poll's values to onMessages. */
export function pollLoop(consumer: Consumer<ConsumedMessage>, model: 'ack' | 'offset', onMessages: (p: Buffer[]) => void): Promise<void> {
  return (async () => {
    for (;;) {
      const batch = await consumer.poll(POLL_MAX, { timeoutMs: 200 });
      if (consumer.closed) return;
      if (batch.length === 0) continue;
      onMessages(batch.map((m) => m.rawValue ?? Buffer.alloc(0)));
      if (model === 'ack') for (const m of batch) (m as unknown as { ack(): PromiseLike<unknown> }).ack().then(undefined, () => undefined);
    }
  })().catch(() => undefined);
}

class SluiceDriver implements BenchDriver {
  readonly name = 'sluice';
  readonly settings: Record<string, SettingValue>;
  #broker: Broker | null = null;
  readonly #dir: string;

  constructor(private readonly w: Workload, dir: string) {
    this.#dir = path.join(dir, 'sluice');
    this.settings = { transport: 'in-process (Broker API)', model: w.consumerModel, ...sluiceSettings(w), producer: 'sendBatch per due batch' };
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.#dir, { recursive: true });
    this.#broker = await Broker.open(this.#dir);
    for (let t = 0; t < this.w.topics; t++) await this.#broker.createTopic(topicName(this.w, t), sluiceTopicConfig(this.w));
  }

  async producer(topic: string): Promise<ProducerHandle> {
    const p = this.#broker!.producer();
    return {
      send: async (payloads) => {
        await p.sendBatch(topic, payloads.map((value) => ({ value })));
      },
      close: async () => undefined,
    };
  }

  async consumer(topic: string, group: string, onMessages: (p: Buffer[]) => void): Promise<ConsumerHandle> {
    const c = this.#broker!.consumer({ group, topics: topic, model: this.w.consumerModel } as never) as Consumer<ConsumedMessage>;
    const loop = pollLoop(c, this.w.consumerModel, onMessages);
    return {
      close: async () => {
        await c.close();
        await loop;
      },
    };
  }

  async stop(): Promise<void> {
    await this.#broker?.close();
    this.#broker = null;
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

export const sluiceFactory: DriverFactory = {
  family: 'sluice',
  unavailable: () => null,
  create: (w, dir) => [new SluiceDriver(w, dir)],
};
