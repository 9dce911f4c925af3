/**
 * The Kafka-protocol server on 127.0.0.1 and a free port, with real clients: kafkajs 2.2.4's admin
 * and kcat (librdkafka 2.0.2, installed by .ci/run) see the broker's topics; Metadata creates the
 * topics it is asked about with the server's defaults; bad frames close only their own connection
 * (an oversized size prefix without allocating it, random bytes, unknown APIs, half-sent frames),
 * and an unsupported ApiVersions version is answered in the layout every client reads.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server, type ConnectionProblem } from '../../lib/kafka';
import { decodeApiVersionsResponse, decodeMetadataResponse, encodeMetadataRequest, type MetadataResponse } from '../../lib/kafka/protocol/generated';
import { Writer } from '../../lib/kafka/protocol/writer';
import { Reader } from '../../lib/kafka/protocol/reader';
import * as net from 'node:net';
import { frame, raw } from '../helpers/kafka-wire';
import { tmpDir } from '../helpers/tmp';

const run = promisify(execFile);
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(options: Partial<Parameters<typeof Server.start>[0]> = {}): Promise<{ broker: Broker; server: Server; problems: ConnectionProblem[]; address: string }> {
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  const problems: ConnectionProblem[] = [];
  const server = await Server.start({ broker, port: 0, onClientError: (p) => problems.push(p), ...options });
  cleanup.push(() => server.close());
  return { broker, server, problems, address: `127.0.0.1:${server.address.port}` };
}

function kafkajs(address: string): Kafka {
  return new Kafka({ brokers: [address], clientId: 'sluice-test', logLevel: logLevel.NOTHING, retry: { retries: 2 } });
}

describe('Server: metadata for real clients', () => {
  it('shows the broker topics to kafkajs admin, and creates a topic Metadata asks for', async () => {
    const { broker, address } = await serve({ topicDefaults: { partitions: 2 } });
    await broker.createTopic('existing', { partitions: 3 });
    const admin = kafkajs(address).admin();
    await admin.connect();
    cleanup.push(() => admin.disconnect());
    expect(await admin.listTopics()).toEqual(['existing']);
    const meta = await admin.fetchTopicMetadata({ topics: ['existing'] });
    expect(meta.topics[0].partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr])).toEqual([
      [0, 0, [0], [0]],
      [1, 0, [0], [0]],
      [2, 0, [0], [0]],
    ]);
    // kafkajs's admin asks without allowAutoTopicCreation: nothing is made.
    await expect(admin.fetchTopicMetadata({ topics: ['not-made'] })).rejects.toThrow(/does not host this topic-partition/);
    expect(broker.listTopics()).toEqual(['existing']);
  });

  it('creates the topics a Metadata request asks for, with the server defaults, when the request allows it', async () => {
    const { broker, server } = await serve({ topicDefaults: { partitions: 2 } });
    const ask = async (version: number, allow: boolean): Promise<MetadataResponse> => {
      const w = new Writer();
      encodeMetadataRequest(w, version, { topics: [{ name: `made-v${version}-${allow}` }], allowAutoTopicCreation: allow });
      const flexible = version >= 9;
      const r = await raw(server.address.port, frame(3, version, 5, w.toBuffer(), flexible), 300);
      return decodeMetadataResponse(new Reader(r.data, flexible ? 9 : 8), version);
    };
    for (const v of [0, 3, 4, 9]) {
      const m = await ask(v, true);
      expect(m.topics[0]).toMatchObject({ errorCode: 0, name: `made-v${v}-true` });
      expect(m.topics[0].partitions.length).toBe(2);
      expect(broker.describeTopic(`made-v${v}-true`).config).toMatchObject({ partitions: 2, sync: 'always' });
    }
    const refused = await ask(4, false);
    expect(refused.topics[0]).toMatchObject({ errorCode: 3, partitions: [] });
  });

  it('does not create topics when autoCreateTopics is off', async () => {
    const { broker, address } = await serve({ autoCreateTopics: false });
    const admin = kafkajs(address).admin();
    await admin.connect();
    cleanup.push(() => admin.disconnect());
    await expect(admin.fetchTopicMetadata({ topics: ['nope'] })).rejects.toThrow(/does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION|not exist/i);
    expect(broker.listTopics()).toEqual([]);
  });

  it('answers kcat -L (librdkafka: ApiVersions v3, then Metadata)', async () => {
    const { broker, address } = await serve();
    await broker.createTopic('events', { partitions: 2 });
    const { stdout } = await run('kcat', ['-b', address, '-L', '-m', '5']);
    expect(stdout).toContain(`broker 0 at ${address} (controller)`);
    expect(stdout).toContain('topic "events" with 2 partitions');
    expect(stdout).toContain('partition 1, leader 0, replicas: 0, isrs: 0');
  });
});

describe('Server: bad frames', () => {
  it('closes a connection whose size prefix claims more than requestBytesMax, before reading it', async () => {
    const { server, problems } = await serve({ requestBytesMax: 64 * 1024 });
    const huge = Buffer.alloc(4);
    huge.writeInt32BE(2 ** 31 - 1);
    const r = await raw(server.address.port, huge);
    expect(r.closedByServer).toBe(true);
    expect(problems[0].reason).toMatch(/request frame of 2147483647 bytes/);
    const negative = Buffer.from([0xff, 0xff, 0xff, 0xfe]);
    expect((await raw(server.address.port, negative)).closedByServer).toBe(true);
  });

  it('closes on an unknown API key and on an unsupported version, but answers ApiVersions v99 with UNSUPPORTED_VERSION in the v0 layout', async () => {
    const { server, problems } = await serve();
    expect((await raw(server.address.port, frame(9999, 0, 1))).closedByServer).toBe(true);
    expect((await raw(server.address.port, frame(3, 99, 2))).closedByServer).toBe(true);
    expect(problems.map((p) => p.reason)).toEqual([expect.stringMatching(/API key 9999/), expect.stringMatching(/Metadata version 99/)]);
    const r = await raw(server.address.port, frame(18, 99, 77), 300);
    expect(r.closedByServer).toBe(false);
    expect(r.data.readInt32BE(0)).toBe(r.data.length - 4);
    expect(r.data.readInt32BE(4)).toBe(77);
    const body = decodeApiVersionsResponse(new Reader(r.data, 8), 0);
    expect(body.errorCode).toBe(35);
    expect(body.apiKeys.find((a) => a.apiKey === 18)).toEqual({ apiKey: 18, minVersion: 0, maxVersion: 3 });
  });

  it('survives a seeded stream of random and truncated frames, and keeps serving other connections', async () => {
    const { server, address } = await serve({ requestBytesMax: 1024 * 1024, frameTimeoutMs: 200 });
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const attempts: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const len = Math.floor(rand() * 64);
      const junk = Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
      // Half the time a plausible frame: a real header of a served API with a garbage body.
      const bytes = i % 2 === 0 ? junk : frame([3, 18][i % 4 === 0 ? 0 : 1], Math.floor(rand() * 4), i, junk);
      attempts.push(raw(server.address.port, bytes, 400));
    }
    await Promise.all(attempts);
    const admin = kafkajs(address).admin();
    await admin.connect();
    cleanup.push(() => admin.disconnect());
    expect(await admin.listTopics()).toEqual([]);
  });

  it('handles nothing after a bad frame in the same chunk, and answers 100 pipelined requests in order', async () => {
    const { broker, server } = await serve();
    await broker.createTopic('t', { partitions: 1 });
    // An unknown API, then a Metadata request that would create a topic: the second is never handled.
    const w = new Writer();
    encodeMetadataRequest(w, 4, { topics: [{ name: 'never-made' }], allowAutoTopicCreation: true });
    const r = await raw(server.address.port, Buffer.concat([frame(9999, 0, 1), frame(3, 4, 2, w.toBuffer())]));
    expect(r.closedByServer).toBe(true);
    expect(broker.listTopics()).toEqual(['t']);
    // Past the in-flight limit the rest waits in the buffer, and is answered in order after.
    const many = Buffer.concat(Array.from({ length: 100 }, (_, i) => frame(18, 2, i)));
    const answered = await raw(server.address.port, many, 1500);
    const ids: number[] = [];
    for (let at = 0; at + 8 <= answered.data.length; at += 4 + answered.data.readInt32BE(at)) ids.push(answered.data.readInt32BE(at + 4));
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('drops a client that leaves half a frame unsent', async () => {
    const { server, problems } = await serve({ frameTimeoutMs: 100 });
    const half = frame(18, 2, 1).subarray(0, 9);
    const r = await raw(server.address.port, half, 2000);
    expect(r.closedByServer).toBe(true);
    expect(problems[0].reason).toMatch(/half a request frame/);
  });
});

describe('Server: lifecycle', () => {
  it('refuses bad options with a plain sentence', async () => {
    await expect(Server.start({} as never)).rejects.toThrow(/broker must be a Broker/);
    const broker = await Broker.open(tmpDir());
    cleanup.push(() => broker.close());
    await expect(Server.start({ broker, port: 70000 })).rejects.toThrow(RangeError);
    await expect(Server.start({ broker, prot: 1 } as never)).rejects.toThrow(/unknown server option "prot"/);
  });

  it('close() completes while a client keeps sending', async () => {
    const { server } = await serve();
    const s = net.connect(server.address.port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const spam = setInterval(() => s.write(frame(18, 2, 1)), 5);
    await new Promise((r) => setTimeout(r, 50));
    await server.close();
    clearInterval(spam);
    s.destroy();
  });

  it('close() answers requests already read, then closes connections; the broker stays open', async () => {
    const { broker, server } = await serve();
    const pending = raw(server.address.port, Buffer.concat([frame(18, 0, 1), frame(18, 1, 2)]), 2000);
    await new Promise((r) => setTimeout(r, 100));
    await server.close();
    const r = await pending;
    expect(r.closedByServer).toBe(true);
    expect(r.data.readInt32BE(4)).toBe(1);
    expect(broker.closed).toBe(false);
  });
});
