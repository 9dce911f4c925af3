/**
 * Captures the requests real clients send to the corpus (corpus.ts): `node --import tsx
 * test/fuzz/capture-clients.ts`. Starts a broker and server, puts a recording proxy in front of it,
 * and drives kafkajs (admin calls, plain, gzip, idempotent and transactional producers, a consumer
 * group), kcat (metadata, produce, a group consumer) and @platformatic/kafka (admin, an idempotent
 * producer, a consumer group: the flexible versions) through it. Every request frame of an
 * advertised API version is kept as <api>-v<N>/<client>-<i>.bin, at most FRAMES_PER_VERSION per
 * client and version, skipping duplicates. kcat is skipped when it is not installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { Broker } from '../../lib/broker/broker';
import { Server } from '../../lib/kafka';
import { advertised } from '../../lib/kafka/protocol/versions';
import { addSeed, corpusDirOf } from './corpus';

const FRAMES_PER_VERSION = 3;

/** A proxy to `upstream().port` that hands each client-to-server frame to `onFrame`. */
async function recordingProxy(upstreamPort: () => number, onFrame: (frame: Buffer) => void): Promise<net.Server> {
  const proxy = net.createServer((client) => {
    const upstream = net.connect(upstreamPort(), '127.0.0.1');
    let buffered = Buffer.alloc(0);
    client.on('data', (d: Buffer) => {
      upstream.write(d);
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        onFrame(Buffer.from(buffered.subarray(4, 4 + size)));
        buffered = buffered.subarray(4 + size);
      }
    });
    upstream.on('data', (d) => client.write(d));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return proxy;
}

function recorder(client: { name: string }, counts: Map<string, number>): (frame: Buffer) => void {
  return (frame) => {
    if (frame.length < 4) return;
    const api = advertised(frame.readInt16BE(0));
    const v = frame.readInt16BE(2);
    if (api === undefined || v < api.minVersion || v > api.maxVersion) return;
    const key = `${client.name} ${corpusDirOf(api.name, v)}`;
    if ((counts.get(key) ?? 0) >= FRAMES_PER_VERSION) return;
    if (addSeed(api.name, v, client.name, frame) !== null) counts.set(key, (counts.get(key) ?? 0) + 1);
  };
}

async function kafkajsSession(address: string): Promise<void> {
  const kafka = new Kafka({ brokers: [address], clientId: 'fuzz-capture', logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'capture-a', numPartitions: 2 }, { topic: 'capture-b' }] });
  await admin.fetchTopicMetadata({ topics: ['capture-a'] });
  await admin.describeConfigs({ resources: [{ type: 2, name: 'capture-a' }], includeSynonyms: false });
  await admin.createPartitions({ topicPartitions: [{ topic: 'capture-b', count: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'capture-a', messages: [{ key: 'k', value: 'v', headers: { h: 'x' } }, { value: 'w' }] });
  await producer.send({ topic: 'capture-a', compression: CompressionTypes.GZIP, messages: [{ value: 'gzipped' }] });
  await producer.disconnect();
  const idempotent = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await idempotent.connect();
  await idempotent.send({ topic: 'capture-b', messages: [{ value: 'once' }] });
  await idempotent.disconnect();
  const consumer = kafka.consumer({ groupId: 'capture-group', sessionTimeout: 10_000, heartbeatInterval: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'capture-a', fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async () => {
        if (++seen === 3) resolve();
      },
    });
  });
  await new Promise((r) => setTimeout(r, 500)); // a heartbeat and an offset commit
  await consumer.disconnect();
  const txn = kafka.producer({ transactionalId: 'capture-txn', idempotent: true, maxInFlightRequests: 1 });
  await txn.connect();
  const t = await txn.transaction();
  await t.send({ topic: 'capture-b', messages: [{ value: 'in a transaction' }] });
  await t.sendOffsets({ consumerGroupId: 'capture-group', topics: [{ topic: 'capture-a', partitions: [{ partition: 0, offset: '1' }] }] });
  await t.commit();
  await txn.disconnect();
  await admin.listGroups();
  await admin.describeGroups(['capture-group']);
  await admin.fetchOffsets({ groupId: 'capture-group', topics: ['capture-a'] });
  await admin.fetchTopicOffsets('capture-a');
  await admin.deleteTopics({ topics: ['capture-b'] });
  await admin.disconnect();
}

async function platformaticSession(address: string): Promise<void> {
  const { Admin, Consumer, Producer, stringDeserializers, stringSerializers } = await import('@platformatic/kafka');
  const bootstrapBrokers = [address];
  const admin = new Admin({ clientId: 'plt-capture', bootstrapBrokers });
  await admin.createTopics({ topics: ['plt-a', 'plt-b'], partitions: 2, replicas: 1 });
  await admin.createPartitions({ topics: [{ name: 'plt-a', count: 3 }] });
  const producer = new Producer({ clientId: 'plt-capture', bootstrapBrokers, serializers: stringSerializers, idempotent: true });
  await producer.send({ messages: [{ topic: 'plt-a', key: 'k', value: 'v', headers: { h: 'x' } }], acks: -1 });
  await producer.close();
  const consumer = new Consumer({ groupId: 'plt-group', clientId: 'plt-capture', bootstrapBrokers, deserializers: stringDeserializers });
  const stream = await consumer.consume({ autocommit: 100, topics: ['plt-a'], sessionTimeout: 10000, heartbeatInterval: 200, mode: 'earliest' } as never);
  await new Promise((r) => setTimeout(r, 1500));
  await (stream as unknown as { close(): Promise<void> }).close();
  await consumer.close(true);
  await admin.deleteTopics({ topics: ['plt-b'] });
  await admin.close();
}

/** kcat with `args` (and `input` on stdin); asynchronous, as the proxy runs in this process. */
function kcat(address: string, args: string[], input = ''): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('kcat', ['-b', address, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill(), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) console.log(`kcat ${args.join(' ')}: exit ${code}: ${err}`);
      resolve();
    });
    child.stdin.end(input);
  });
}

async function kcatSession(address: string): Promise<void> {
  if (spawnSync('kcat', ['-V']).error !== undefined) {
    console.log('kcat is not installed: its frames are not captured');
    return;
  }
  await kcat(address, ['-L']);
  await kcat(address, ['-P', '-t', 'capture-a', '-z', 'snappy'], 'one\ntwo\n');
  await kcat(address, ['-P', '-t', 'capture-a', '-K:'], 'key:value\n');
  await kcat(address, ['-C', '-t', 'capture-a', '-o', 'beginning', '-e']);
  await kcat(address, ['-G', 'capture-kcat', '-o', 'beginning', '-e', 'capture-a']);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-capture-'));
  const broker = await Broker.open(dir);
  const counts = new Map<string, number>();
  const client = { name: '' };
  let server: Server | undefined;
  // Clients connect to the address Metadata advertises: the proxy's, so that they stay behind it.
  const proxy = await recordingProxy(() => server!.address.port, recorder(client, counts));
  const proxyPort = (proxy.address() as net.AddressInfo).port;
  server = await Server.start({ broker, port: 0, advertisedPort: proxyPort, groupInitialRebalanceDelayMs: 0 });
  for (const [name, session] of [
    ['kafkajs', kafkajsSession],
    ['kcat', kcatSession],
    ['platformatic', platformaticSession],
  ] as const) {
    client.name = name;
    await session(`127.0.0.1:${proxyPort}`);
  }
  proxy.close();
  await server.close();
  await broker.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`${[...counts.values()].reduce((a, b) => a + b, 0)} client frames captured`);
}

void main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
