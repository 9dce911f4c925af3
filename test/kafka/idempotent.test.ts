/**
 * Idempotent produce: InitProducerId hands out ids never used before (across restarts); a batch
 * sent twice is stored once and both answers carry its first offset; a gap in the sequence and an
 * older epoch are refused; the producer state is rebuilt from the log after a restart, so a
 * producer retrying across it is still deduplicated; a kafkajs idempotent producer whose produce
 * response is lost (the connection cut after the request went through) retries without a
 * duplicate.
 */
import * as net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server } from '../../lib/kafka';
import { decodeInitProducerIdResponse, decodeProduceResponse, encodeInitProducerIdRequest, encodeProduceRequest } from '../../lib/kafka/protocol/generated';
import { KafkaError } from '../../lib/kafka/protocol/error-codes';
import { encodeBatch } from '../helpers/kafka-batch-encoder';
import { exchange } from '../helpers/kafka-wire';
import { tmpDir } from '../helpers/tmp';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function open(dir: string, extra: Partial<Parameters<typeof Server.start>[0]> = {}): Promise<{ broker: Broker; server: Server; port: number; stop: () => Promise<void> }> {
  const broker = await Broker.open(dir);
  const server = await Server.start({ broker, port: 0, ...extra });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await server.close();
    await broker.close();
  };
  cleanup.push(stop);
  return { broker, server, port: server.address.port, stop };
}

async function initProducerId(port: number, version = 1, current?: { producerId: number; producerEpoch: number }) {
  return exchange(port, 22, version, encodeInitProducerIdRequest, decodeInitProducerIdResponse, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: current?.producerId ?? -1, producerEpoch: current?.producerEpoch ?? -1 }, version >= 2);
}

function batch(producerId: number, producerEpoch: number, baseSequence: number, values: string[], baseTimestamp = Date.now()): Buffer {
  return encodeBatch(values.map((v) => ({ value: v })), { producerId, producerEpoch, baseSequence, baseTimestamp });
}

async function produce(port: number, records: Buffer): Promise<{ errorCode: number; baseOffset: number }> {
  const res = await exchange(port, 0, 7, encodeProduceRequest, decodeProduceResponse, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] });
  return res.responses[0].partitionResponses[0];
}

describe('idempotent produce', () => {
  it('hands out producer ids never used before, also after a restart, whatever id a request names', async () => {
    const dir = tmpDir();
    let s = await open(dir);
    const a = await initProducerId(s.port);
    const b = await initProducerId(s.port, 3);
    expect(a).toMatchObject({ errorCode: 0, producerEpoch: 0 });
    expect(b.producerId).not.toBe(a.producerId);
    // Without a transactional id a named id and epoch are not trusted (Kafka's rule): a new id.
    const named = await initProducerId(s.port, 4, { producerId: b.producerId, producerEpoch: 0 });
    expect(named).toMatchObject({ errorCode: 0, producerEpoch: 0 });
    expect([a.producerId, b.producerId]).not.toContain(named.producerId);
    await s.stop();
    s = await open(dir);
    const c = await initProducerId(s.port);
    expect([a.producerId, b.producerId]).not.toContain(c.producerId);
    expect(c.producerId).toBeGreaterThan(b.producerId);
    // A transactional id's producer id comes from the same sequence (see transactions.test.ts).
    const tx = await exchange(s.port, 22, 1, encodeInitProducerIdRequest, decodeInitProducerIdResponse, { transactionalId: 'tx', transactionTimeoutMs: 60_000 });
    expect(tx).toMatchObject({ errorCode: KafkaError.NONE, producerEpoch: 0 });
    expect(tx.producerId).toBeGreaterThan(c.producerId);
  });

  it('stores a retried batch once, refuses gaps and old epochs, and remembers across a restart', async () => {
    const dir = tmpDir();
    let s = await open(dir);
    await s.broker.createTopic('t', { partitions: 1 });
    const { producerId } = await initProducerId(s.port);
    await produce(s.port, batch(-1, -1, -1, ['plain'])); // offset 0, no producer
    const first = batch(producerId, 0, 0, ['a', 'b', 'c']);
    expect(await produce(s.port, first)).toMatchObject({ errorCode: 0, baseOffset: 1 });
    expect(await produce(s.port, first)).toMatchObject({ errorCode: 0, baseOffset: 1 });
    expect(s.broker.partition('t', 0).offsets().endOffset).toBe(4);
    expect(await produce(s.port, batch(producerId, 0, 5, ['gap']))).toMatchObject({ errorCode: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER });
    expect(await produce(s.port, batch(producerId, 0, 3, ['d']))).toMatchObject({ errorCode: 0, baseOffset: 4 });
    // A new epoch starts at sequence 0; the old epoch is fenced from then on.
    expect(await produce(s.port, batch(producerId, 1, 1, ['x']))).toMatchObject({ errorCode: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER });
    expect(await produce(s.port, batch(producerId, 1, 0, ['e']))).toMatchObject({ errorCode: 0, baseOffset: 5 });
    expect(await produce(s.port, batch(producerId, 0, 4, ['old']))).toMatchObject({ errorCode: KafkaError.INVALID_PRODUCER_EPOCH });
    // Two batches of an idempotent producer in one partition's records are refused, also behind
    // a batch without a producer.
    expect(await produce(s.port, Buffer.concat([batch(producerId, 1, 1, ['f']), batch(producerId, 1, 2, ['g'])]))).toMatchObject({ errorCode: KafkaError.INVALID_RECORD });
    expect(await produce(s.port, Buffer.concat([batch(-1, -1, -1, ['p']), batch(producerId, 1, 1, ['f'])]))).toMatchObject({ errorCode: KafkaError.INVALID_RECORD });
    await s.stop();

    s = await open(dir);
    // Rebuilt from the log: the last batch of epoch 1 is a duplicate, the next sequence follows it.
    expect(await produce(s.port, batch(producerId, 1, 0, ['e']))).toMatchObject({ errorCode: 0, baseOffset: 5 });
    expect(await produce(s.port, batch(producerId, 0, 3, ['d']))).toMatchObject({ errorCode: KafkaError.INVALID_PRODUCER_EPOCH });
    expect(await produce(s.port, batch(producerId, 1, 1, ['f']))).toMatchObject({ errorCode: 0, baseOffset: 6 });
    expect(s.broker.partition('t', 0).offsets().endOffset).toBe(7);
  });

  it('remembers a producer whose timestamps lag far behind across a restart', async () => {
    const dir = tmpDir();
    let s = await open(dir);
    await s.broker.createTopic('t', { partitions: 1 });
    const { producerId } = await initProducerId(s.port);
    const old = batch(producerId, 0, 0, ['mirrored'], Date.now() - 20 * 60_000); // older than the 15-minute window
    expect(await produce(s.port, old)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    await s.stop();
    s = await open(dir);
    expect(await produce(s.port, old)).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(s.broker.partition('t', 0).offsets().endOffset).toBe(1);
  });

  it('a kafkajs idempotent producer whose response is lost retries without a duplicate', async () => {
    // A proxy in front of the server cuts the client's connection instead of passing on the first
    // Produce response: the batch is stored, the client never hears so, and sends it again.
    let cutsLeft = 1;
    const produceIds = new Set<number>();
    let upstreamPort = 0;
    const proxy = net.createServer((client) => {
      const server = net.connect(upstreamPort, '127.0.0.1');
      let fromClient = Buffer.alloc(0);
      let fromServer = Buffer.alloc(0);
      client.on('data', (d: Buffer) => {
        fromClient = Buffer.concat([fromClient, d]);
        while (fromClient.length >= 4 && fromClient.length >= 4 + fromClient.readInt32BE(0)) {
          const size = fromClient.readInt32BE(0);
          if (fromClient.readInt16BE(4) === 0) produceIds.add(fromClient.readInt32BE(8));
          server.write(fromClient.subarray(0, 4 + size));
          fromClient = fromClient.subarray(4 + size);
        }
      });
      server.on('data', (d: Buffer) => {
        fromServer = Buffer.concat([fromServer, d]);
        while (fromServer.length >= 4 && fromServer.length >= 4 + fromServer.readInt32BE(0)) {
          const size = fromServer.readInt32BE(0);
          if (produceIds.has(fromServer.readInt32BE(4)) && cutsLeft > 0) {
            cutsLeft--;
            client.destroy();
            server.destroy();
            return;
          }
          client.write(fromServer.subarray(0, 4 + size));
          fromServer = fromServer.subarray(4 + size);
        }
      });
      const end = (): void => {
        client.destroy();
        server.destroy();
      };
      client.on('error', end).on('close', end);
      server.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => proxy.close(() => r(undefined))));
    const proxyPort = (proxy.address() as net.AddressInfo).port;
    const s = await open(tmpDir(), { advertisedPort: proxyPort });
    upstreamPort = s.port;
    await s.broker.createTopic('t', { partitions: 1 });
    const kafka = new Kafka({ clientId: 'idem', brokers: [`127.0.0.1:${proxyPort}`], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    const sent = await producer.send({ topic: 't', acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    expect(cutsLeft).toBe(0); // the cut happened
    expect(sent[0]).toMatchObject({ errorCode: 0, baseOffset: '0' });
    expect(produceIds.size).toBe(2); // the batch went through twice
    await producer.send({ topic: 't', acks: -1, messages: [{ value: 'after' }] });
    const p = s.broker.partition('t', 0);
    expect(p.offsets().endOffset).toBe(11);
    const c = s.broker.consumer({ group: 'check', topics: 't', model: 'offset' });
    const values: string[] = [];
    while (values.length < 11) for (const m of await c.poll(1000)) values.push(m.rawValue!.toString());
    await c.close();
    expect(values).toEqual([...Array.from({ length: 10 }, (_, i) => `v${i}`), 'after']);
  });
});
