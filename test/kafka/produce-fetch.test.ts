/**
 * Produce, Fetch and ListOffsets with real clients on 127.0.0.1: kcat (librdkafka 2.0.2) produces
 * keyed messages, compressed with each codec, and consumes them to the end; kafkajs 2.2.4 produces
 * keyed messages with headers (acks -1) that in-process consumers receive on the partitions
 * keyPartition names, with keys, headers and timestamps intact; an in-process send is read by
 * kcat the same way. Errors per partition: unknown topic or partition, a corrupt batch, a message
 * over the topic's messageBytesMax, an offset out of range, a bounded topic without room.
 */
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { keyPartition } from '../../lib/broker/produce/partitioner';
import { Server } from '../../lib/kafka';
import { decodeFetchResponse, decodeListOffsetsResponse, decodeProduceResponse, encodeFetchRequest, encodeListOffsetsRequest, encodeProduceRequest } from '../../lib/kafka/protocol/generated';
import { kcat } from '../helpers/kafka-clients';
import { exchange } from '../helpers/kafka-wire';
import { tmpDir } from '../helpers/tmp';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(): Promise<{ broker: Broker; server: Server; address: string; port: number }> {
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  const server = await Server.start({ broker, port: 0 });
  cleanup.push(() => server.close());
  return { broker, server, address: `127.0.0.1:${server.address.port}`, port: server.address.port };
}

async function consumeAll(broker: Broker, topic: string, count: number): Promise<{ partition: number; offset: number; key: string | null; value: string; headers: Record<string, string>; timestamp: number }[]> {
  const c = broker.consumer({ group: `check-${topic}-${Math.random()}`, topics: topic, model: 'offset' });
  const out = [];
  while (out.length < count) {
    for (const m of await c.poll(1000)) {
      out.push({
        partition: m.partition,
        offset: m.offset,
        key: m.key?.toString() ?? null,
        value: m.rawValue!.toString(),
        headers: Object.fromEntries(m.headers.map((h) => [h.key, h.value?.toString() ?? ''])),
        timestamp: m.timestamp,
      });
    }
  }
  await c.close();
  return out;
}

describe('Produce and Fetch with kcat (librdkafka 2.0.2)', () => {
  it('produces keyed messages from stdin and consumes them to the end', async () => {
    const { broker, address } = await serve();
    await broker.createTopic('events', { partitions: 1 });
    await kcat(['-b', address, '-P', '-t', 'events', '-K:'], 'k1:hello\nk2:world\nk3:again\n');
    const out = await kcat(['-b', address, '-C', '-t', 'events', '-e', '-f', '%p %o %k=%s\\n']);
    expect(out.trim().split('\n')).toEqual(['0 0 k1=hello', '0 1 k2=world', '0 2 k3=again']);
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'])('produces with -z %s, read back by kcat and by an in-process consumer', async (codec) => {
    const { broker, address } = await serve();
    await broker.createTopic('z', { partitions: 1 });
    const lines = Array.from({ length: 50 }, (_, i) => `${codec}-${i}-${'x'.repeat(i)}`);
    await kcat(['-b', address, '-P', '-t', 'z', '-z', codec], `${lines.join('\n')}\n`);
    const out = await kcat(['-b', address, '-C', '-t', 'z', '-e', '-f', '%s\\n']);
    expect(out.trim().split('\n')).toEqual(lines);
    expect((await consumeAll(broker, 'z', 50)).map((m) => m.value)).toEqual(lines);
  });

  it('reads an in-process send with its key, headers and timestamp', async () => {
    const { broker, address } = await serve();
    await broker.createTopic('mixed', { partitions: 1 });
    await broker.send('mixed', { key: 'order-7', value: Buffer.from('paid'), headers: { source: 'app' }, timestamp: 1_700_000_000_123 });
    const out = await kcat(['-b', address, '-C', '-t', 'mixed', '-e', '-f', '%k|%s|%h|%T\\n']);
    expect(out.trim()).toBe('order-7|paid|source=app|1700000000123');
  });
});

describe('Produce with kafkajs 2.2.4', () => {
  it('sends keyed messages with headers (acks -1) that land where keyPartition says, intact for in-process consumers', async () => {
    const { broker, address } = await serve();
    await broker.createTopic('orders', { partitions: 3, sync: 'always' });
    const kafka = new Kafka({ brokers: [address], clientId: 'orders-app', logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    const n = 1000;
    const sent = Array.from({ length: n }, (_, i) => ({ key: `customer-${i % 37}`, value: `order-${i}`, headers: { seq: String(i) }, timestamp: String(1_700_000_000_000 + i) }));
    for (let i = 0; i < n; i += 100) {
      const acks = await producer.send({ topic: 'orders', acks: -1, messages: sent.slice(i, i + 100) });
      for (const a of acks) expect(a.errorCode).toBe(0);
    }
    const got = await consumeAll(broker, 'orders', n);
    expect(got.length).toBe(n);
    const bySeq = new Map(got.map((m) => [m.headers.seq, m]));
    for (let i = 0; i < n; i++) {
      const m = bySeq.get(String(i))!;
      expect(m.value).toBe(`order-${i}`);
      expect(m.key).toBe(`customer-${i % 37}`);
      expect(m.partition).toBe(keyPartition(`customer-${i % 37}`, 3));
      expect(m.timestamp).toBe(1_700_000_000_000 + i);
    }
    const described = broker.describeTopic('orders');
    expect(described.partitions.reduce((s, p) => s + p.durableOffset, 0)).toBe(n); // acks -1 on a sync 'always' topic: durable
  });

  it('sends gzip-compressed batches', async () => {
    const { broker, address } = await serve();
    await broker.createTopic('gz', { partitions: 1 });
    const producer = new Kafka({ brokers: [address], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    await producer.send({ topic: 'gz', compression: CompressionTypes.GZIP, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    expect((await consumeAll(broker, 'gz', 3)).map((m) => m.value)).toEqual(['a', 'b', 'c']);
  });
});

describe('per-partition errors', () => {
  /** A valid single-record batch from kafkajs's own encoder would do; here one from the broker's log. */
  async function oneBatch(): Promise<Buffer> {
    const broker = await Broker.open(tmpDir());
    cleanup.push(() => broker.close());
    await broker.createTopic('src', { partitions: 1 });
    await broker.send('src', { value: Buffer.from('v') });
    const p = broker.partition('src', 0);
    await p.visible(0);
    const s = p.slice(0, 1 << 20)!;
    const fs = await import('node:fs');
    const buf = Buffer.alloc(s.length);
    fs.readSync(s.fd, buf, 0, s.length, s.position);
    fs.closeSync(s.fd);
    return buf;
  }

  it('answers UNKNOWN_TOPIC_OR_PARTITION, CORRUPT_MESSAGE and MESSAGE_TOO_LARGE per partition, appending nothing', async () => {
    const { broker, port } = await serve();
    await broker.createTopic('small', { partitions: 2, messageBytesMax: 1024 });
    const good = await oneBatch();
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 1] ^= 0xff; // the CRC covers it
    const big = Buffer.alloc(2000); // a claimed batch bigger than messageBytesMax: TOO_LARGE before parsing
    big.writeInt32BE(2000 - 12, 8);
    big[16] = 2;
    const res = await exchange(port, 0, 7, encodeProduceRequest, decodeProduceResponse, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        { name: 'small', partitionData: [{ index: 0, records: good }, { index: 1, records: corrupt }, { index: 5, records: good }] },
        { name: 'nope', partitionData: [{ index: 0, records: good }] },
      ],
    });
    const codes = res.responses.map((t) => t.partitionResponses.map((p) => [p.index, p.errorCode]));
    expect(codes).toEqual([
      [
        [0, 0],
        [1, 2],
        [5, 3],
      ],
      [[0, 3]],
    ]);
    expect(res.responses[0].partitionResponses[0].baseOffset).toBe(0);
    const tooBig = await exchange(port, 0, 8, encodeProduceRequest, decodeProduceResponse, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: 'small', partitionData: [{ index: 0, records: big }] }] });
    expect(tooBig.responses[0].partitionResponses[0].errorCode).toBe(10);
    expect(tooBig.responses[0].partitionResponses[0].errorMessage).toMatch(/messageBytesMax|larger|large/i);
    expect(broker.describeTopic('small').partitions.map((p) => p.endOffset)).toEqual([1, 0]);
    const old = await exchange(port, 0, 2, encodeProduceRequest, decodeProduceResponse, { acks: 1, timeoutMs: 1000, topicData: [{ name: 'small', partitionData: [{ index: 0, records: good }] }] });
    expect(old.responses[0].partitionResponses[0].errorCode).toBe(35);
  });

  it('answers INVALID_REQUIRED_ACKS for acks other than 0, 1 and -1, and cuts long error texts to fit', async () => {
    const { broker, port } = await serve();
    await broker.createTopic('t', { partitions: 1 });
    const good = await oneBatch();
    const odd = await exchange(port, 0, 8, encodeProduceRequest, decodeProduceResponse, { transactionalId: null, acks: 5, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: good }] }] });
    expect(odd.responses[0].partitionResponses[0].errorCode).toBe(21);
    // An unknown topic whose name fills a protocol string: the error text quoting it must still fit one.
    const long = 'x'.repeat(32_000);
    const res = await exchange(port, 0, 8, encodeProduceRequest, decodeProduceResponse, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: long, partitionData: [{ index: 0, records: good }] }] });
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(3);
    expect(res.responses[0].partitionResponses[0].errorMessage!.length).toBeLessThan(1100);
    expect(broker.describeTopic('t').partitions[0].endOffset).toBe(0);
  });

  it('answers a bounded topic without room with a retriable error', async () => {
    const { broker, port } = await serve();
    await broker.createTopic('bounded', { partitions: 1, maxBacklog: 1 });
    const good = await oneBatch();
    const send = () => exchange(port, 0, 7, encodeProduceRequest, decodeProduceResponse, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'bounded', partitionData: [{ index: 0, records: good }] }] });
    expect((await send()).responses[0].partitionResponses[0].errorCode).toBe(0);
    expect((await send()).responses[0].partitionResponses[0].errorCode).toBe(19);
  });

  it('Fetch: OFFSET_OUT_OF_RANGE past the end, nothing at the high watermark; ListOffsets earliest, latest, by time', async () => {
    const { broker, port } = await serve();
    await broker.createTopic('t', { partitions: 1 });
    for (let i = 0; i < 3; i++) await broker.send('t', { value: Buffer.from(`m${i}`), timestamp: 1000 * (i + 1) });
    await broker.partition('t', 0).visible(2);
    const fetch = (offset: number) =>
      exchange(port, 1, 11, encodeFetchRequest, decodeFetchResponse, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 1,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
    const past = (await fetch(10)).responses[0].partitions[0];
    expect(past.errorCode).toBe(1);
    const atEnd = (await fetch(3)).responses[0].partitions[0];
    expect(atEnd).toMatchObject({ errorCode: 0, highWatermark: 3, lastStableOffset: 3 });
    expect((atEnd.records as Buffer).length).toBe(0);
    const from1 = (await fetch(1)).responses[0].partitions[0];
    expect((from1.records as Buffer).length).toBeGreaterThan(0);
    const lo = await exchange(port, 2, 3, encodeListOffsetsRequest, decodeListOffsetsResponse, {
      replicaId: -1,
      isolationLevel: 1,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: -2 }, { partitionIndex: 0, timestamp: -1 }, { partitionIndex: 0, timestamp: 1500 }, { partitionIndex: 0, timestamp: 99999 }] }],
    });
    expect(lo.topics[0].partitions.map((p) => [p.errorCode, p.offset, p.timestamp])).toEqual([
      [0, 0, -1],
      [0, 3, -1],
      [0, 1, 2000], // the found record's own timestamp, not the one asked for
      [0, -1, -1],
    ]);
  });

  it('Fetch long-polls until data arrives', async () => {
    const { broker, port } = await serve();
    await broker.createTopic('wait', { partitions: 1 });
    const t0 = Date.now();
    const pending = exchange(port, 1, 4, encodeFetchRequest, decodeFetchResponse, {
      replicaId: -1,
      maxWaitMs: 10_000,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [{ topic: 'wait', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }],
    });
    setTimeout(() => void broker.send('wait', { value: Buffer.from('late') }), 200);
    const res = await pending;
    expect((res.responses[0].partitions[0].records as Buffer).length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(10_000); // woken by the append, not by the timeout
  });
});
