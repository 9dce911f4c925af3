/**
 * Kafka clients' regex subscriptions keep working through Metadata: a kafkajs consumer that
 * subscribes with a RegExp gets the messages of every matching topic (and none of the others),
 * including topics created in-process with the broker's own API.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server } from '../../lib/kafka';
import { tmpDir } from '../helpers/tmp';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

describe('regex subscriptions over the Kafka protocol', () => {
  it('a kafkajs consumer subscribed by RegExp gets every matching topic', async () => {
    const broker = await Broker.open(tmpDir());
    cleanup.push(() => broker.close());
    const server = await Server.start({ broker, port: 0, groupInitialRebalanceDelayMs: 100 });
    cleanup.push(() => server.close());
    for (const t of ['orders.eu', 'orders.us', 'other']) {
      await broker.createTopic(t, { segmentBytes: 1 << 20 });
      await broker.send(t, { value: t });
    }
    const kafka = new Kafka({ brokers: [`127.0.0.1:${server.address.port}`], clientId: 'regex', logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: 'regex-group' });
    cleanup.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topics: [/^orders\..*/], fromBeginning: true });
    const got: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void got.push(String(message.value)) });
    const end = Date.now() + 20_000;
    while (got.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    expect(got.sort()).toEqual(['orders.eu', 'orders.us']);
  });
});
