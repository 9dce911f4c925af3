/**
 * Consumer groups with real clients: kafkajs 2.2.4's admin creates a 3-partition topic, a producer
 * sends 10,000 keyed messages with acks -1 (each on the partition keyPartition names), and two
 * kafkajs members receive every message exactly once between them; their commits are the broker's (describeGroup
 * shows the lag) and survive a server and broker restart, where a new member resumes at the
 * committed offsets; a third member joining causes one rebalance, not a storm; kcat -G consumes
 * as a group; OffsetCommit metadata round-trips through OffsetFetch.
 */
import { spawn } from 'node:child_process';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server } from '../../lib/kafka';
import { decodeOffsetCommitResponse, decodeOffsetFetchResponse, encodeOffsetCommitRequest, encodeOffsetFetchRequest } from '../../lib/kafka/protocol/generated';
import { exchange } from '../helpers/kafka-wire';
import { keyPartition } from '../../lib/broker/produce/partitioner';
import { tmpDir } from '../helpers/tmp';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

async function start(dir: string): Promise<{ broker: Broker; server: Server; address: string }> {
  const broker = await Broker.open(dir);
  const server = await Server.start({ broker, port: 0, groupInitialRebalanceDelayMs: 300 });
  return { broker, server, address: `127.0.0.1:${server.address.port}` };
}

function kafka(address: string, clientId: string): Kafka {
  return new Kafka({ brokers: [address], clientId, logLevel: logLevel.NOTHING });
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('consumer groups with kafkajs', () => {
  it('two members receive every message once; commits survive a restart; a third member rebalances once', async () => {
    const dir = tmpDir();
    let { broker, server, address } = await start(dir);
    const admin = kafka(address, 'admin').admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] });
    await admin.disconnect();
    const producer = kafka(address, 'p').producer();
    await producer.connect();
    const total = 10_000;
    for (let i = 0; i < total; i += 1000) {
      await producer.send({ topic: 'orders', acks: -1, messages: Array.from({ length: 1000 }, (_, j) => ({ key: `k${(i + j) % 17}`, value: `v${i + j}` })) });
    }
    await producer.disconnect();
    // Each key on the partition keyPartition names.
    const placed = broker.consumer({ group: 'placement', topics: 'orders' });
    for (let seenAll = 0; seenAll < total; ) {
      for (const m of await placed.poll(2000)) {
        expect(m.partition).toBe(keyPartition(m.key!.toString(), 3));
        seenAll++;
      }
    }
    await placed.close();

    const seen = new Map<string, number>();
    // The generations the members heartbeat in: one per rebalance.
    const generations = new Set<number>();
    const members: Consumer[] = [];
    const member = async (name: string): Promise<Consumer> => {
      const c = kafka(address, name).consumer({ groupId: 'billing', sessionTimeout: 10_000, heartbeatInterval: 300 });
      c.on(c.events.HEARTBEAT, (e) => generations.add(e.payload.groupGenerationId));
      await c.connect();
      await c.subscribe({ topic: 'orders', fromBeginning: true });
      await c.run({ eachMessage: async ({ message }) => void seen.set(message.value!.toString(), (seen.get(message.value!.toString()) ?? 0) + 1) });
      members.push(c);
      return c;
    };
    await Promise.all([member('a'), member('b')]);
    await until(() => seen.size === total);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    await until(() => broker.describeGroup('billing').lag === 0 && generations.size > 0);
    // Both members joined one generation (the initial delay gathered them).
    expect(generations.size).toBe(1);
    const gen = [...generations][0];

    // A third member: one more generation, not a storm.
    // (The others learn of it at their next heartbeat, which kafkajs sends between long polls.)
    await member('c');
    await until(() => generations.size >= 2);
    await new Promise((r) => setTimeout(r, 2000));
    expect([...generations].sort()).toEqual([gen, gen + 1]);
    for (const c of members) await c.disconnect();

    await server.close();
    await broker.close();
    ({ broker, server, address } = await start(dir));
    cleanup.push(() => broker.close(), () => server.close());
    expect(broker.describeGroup('billing').lag).toBe(0);
    // New messages after the restart: a new member resumes at the committed offsets.
    const p2 = kafka(address, 'p2').producer();
    await p2.connect();
    await p2.send({ topic: 'orders', messages: Array.from({ length: 30 }, (_, i) => ({ value: `after-${i}` })) });
    await p2.disconnect();
    const after: string[] = [];
    const c = kafka(address, 'd').consumer({ groupId: 'billing', sessionTimeout: 10_000, heartbeatInterval: 300 });
    cleanup.push(() => c.disconnect());
    await c.connect();
    await c.subscribe({ topic: 'orders', fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => void after.push(message.value!.toString()) });
    await until(() => after.length >= 30);
    await new Promise((r) => setTimeout(r, 300));
    expect(after.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `after-${i}`).sort());
  }, 60_000);

  it('lists and describes groups for kafkajs admin', async () => {
    const { broker, server, address } = await start(tmpDir());
    cleanup.push(() => broker.close(), () => server.close());
    await broker.createTopic('t', { partitions: 1 });
    const c = kafka(address, 'watcher').consumer({ groupId: 'watchers', sessionTimeout: 10_000, heartbeatInterval: 300 });
    cleanup.push(() => c.disconnect());
    await c.connect();
    await c.subscribe({ topic: 't', fromBeginning: true });
    let joined = false;
    c.on(c.events.GROUP_JOIN, () => (joined = true));
    await c.run({ eachMessage: async () => {} });
    await until(() => joined);
    const admin = kafka(address, 'admin').admin();
    cleanup.push(() => admin.disconnect());
    await admin.connect();
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain('watchers');
    const [d] = (await admin.describeGroups(['watchers'])).groups;
    expect(d).toMatchObject({ groupId: 'watchers', state: 'Stable', protocolType: 'consumer' });
    expect(d.members.map((m) => m.clientId)).toEqual(['watcher']);
    const [dead] = (await admin.describeGroups(['nobody'])).groups;
    expect(dead.state).toBe('Dead');
  });

  it('round-trips commit metadata, also across a restart, and answers -1 for partitions never committed', async () => {
    const dir = tmpDir();
    const first = await start(dir);
    await first.broker.createTopic('t', { partitions: 2 });
    const commit = (port: number, metadata: string) =>
      exchange(port, 8, 2, encodeOffsetCommitRequest, decodeOffsetCommitResponse, {
        groupId: 'standalone',
        generationId: -1,
        memberId: '',
        retentionTimeMs: -1,
        topics: [{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 0, committedMetadata: metadata }] }],
      });
    expect((await commit(first.server.address.port, 'checkpoint-7')).topics[0].partitions[0].errorCode).toBe(0);
    expect((await commit(first.server.address.port, 'x'.repeat(4097))).topics[0].partitions[0].errorCode).toBe(12); // OFFSET_METADATA_TOO_LARGE
    await first.server.close();
    await first.broker.close();
    const { broker, server } = await start(dir);
    cleanup.push(() => broker.close(), () => server.close());
    const port = server.address.port;
    const fetched = await exchange(port, 9, 5, encodeOffsetFetchRequest, decodeOffsetFetchResponse, { groupId: 'standalone', topics: [{ name: 't', partitionIndexes: [0, 1] }] });
    expect(fetched.topics![0].partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata])).toEqual([
      [0, -1, ''],
      [1, 0, 'checkpoint-7'],
    ]);
  });

  it('kcat -G consumes as a group member', async () => {
    const { broker, server, address } = await start(tmpDir());
    cleanup.push(() => broker.close(), () => server.close());
    await broker.createTopic('logs', { partitions: 2 });
    await broker.sendBatch('logs', Array.from({ length: 20 }, (_, i) => ({ value: Buffer.from(`line-${i}`), partition: i % 2 })));
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('kcat', ['-b', address, '-G', 'kcat-group', '-u', '-X', 'auto.offset.reset=earliest', '-f', '%s\\n', 'logs']);
      let text = '';
      child.stdout.on('data', (d) => {
        text += d;
        if (text.trim().split('\n').length >= 20) child.kill('SIGTERM');
      });
      child.on('exit', () => resolve(text));
      child.on('error', reject);
      setTimeout(() => child.kill('SIGKILL'), 20_000);
    });
    expect(out.trim().split('\n').sort()).toEqual(Array.from({ length: 20 }, (_, i) => `line-${i}`).sort());
  }, 30_000);
});
