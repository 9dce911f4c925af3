/**
 * Quotas and connection limits through real sockets. The assertions are about behaviour and the
 * server's accounting, never about how fast anything went: a client over its quota gets
 * throttle_time_ms in its responses, the server counts the throttled requests, and the time taken
 * is at least what the quota allows for the bytes sent, less one window (a lower bound, which a
 * slow machine only makes easier to meet). Windows are short (5 samples of 100 ms) to keep each
 * test to a second or two. A raw client that pipelines everything shows that the server itself
 * mutes the connection; kafkajs shows that a real client sees the throttle time.
 */
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server, type ConnectionProblem, type ServerOptions } from '../../lib/kafka';
import { decodeFetchResponse, decodeProduceResponse, encodeFetchRequest, encodeProduceRequest, encodeApiVersionsRequest, decodeApiVersionsResponse, type FetchResponse } from '../../lib/kafka/protocol/generated';
import { encodeBatch } from '../helpers/kafka-batch-encoder';
import { decoded, WireConnection } from '../helpers/kafka-wire';
import { tmpDir } from '../helpers/tmp';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const WINDOW = { windowSamples: 5, windowSampleMs: 100 };
/** The longest time a rate is measured over: what a client may have sent before it counts against it. */
const WINDOW_MS = WINDOW.windowSamples * WINDOW.windowSampleMs;

async function serve(options: Partial<ServerOptions> = {}): Promise<{ broker: Broker; server: Server; problems: ConnectionProblem[]; port: number }> {
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  await broker.createTopic('t', { partitions: 1, sync: 'none' });
  const problems: ConnectionProblem[] = [];
  const server = await Server.start({ broker, port: 0, onClientError: (p) => problems.push(p), ...options });
  cleanup.push(() => server.close());
  return { broker, server, problems, port: server.address.port };
}

async function connect(port: number): Promise<WireConnection> {
  const c = await WireConnection.open(port);
  cleanup.push(() => c.close());
  return c;
}

const RECORD = Buffer.alloc(10_000, 7);

function produce(c: WireConnection, clientId: string): Promise<{ throttleTimeMs: number; errorCode: number }> {
  const records = encodeBatch([{ value: RECORD }]);
  const req = { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] };
  return c.request(0, 7, encodeProduceRequest, req, clientId).then((f) => {
    const r = decoded(f, decodeProduceResponse, 7);
    return { throttleTimeMs: r.throttleTimeMs, errorCode: r.responses[0].partitionResponses[0].errorCode };
  });
}

function fetch(c: WireConnection, offset: number, clientId = 'consumer'): Promise<FetchResponse> {
  const req = { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 10_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic: 't', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: 10_000_000 }] }], forgottenTopicsData: [], rackId: '' };
  return c.request(1, 11, encodeFetchRequest, req, clientId).then((f) => decoded(f, decodeFetchResponse, 11));
}

describe('Kafka server: produce quota', () => {
  it('throttles a client that pipelines past its quota: the responses say so and the connection is muted', async () => {
    const quota = 200_000;
    const { broker, server, port } = await serve({ quotas: { default: { produceBytesPerSec: quota }, ...WINDOW } });
    const c = await connect(port);
    const n = 40;
    const started = performance.now();
    // All at once: only the server's muting can spread them out.
    const responses = await Promise.all(Array.from({ length: n }, () => produce(c, 'fast-producer')));
    const elapsed = performance.now() - started;
    expect(responses.every((r) => r.errorCode === 0)).toBe(true);
    expect(broker.describeTopic('t').partitions[0].endOffset).toBe(n);
    const throttled = responses.filter((r) => r.throttleTimeMs > 0);
    expect(throttled.length).toBeGreaterThan(0);
    const stats = server.stats().quotas;
    expect(stats.throttledRequests.produce).toBe(throttled.length);
    expect(stats.throttleTimeMs.produce).toBe(throttled.reduce((a, r) => a + r.throttleTimeMs, 0));
    const bytes = n * (RECORD.length + 150);
    expect(elapsed).toBeGreaterThanOrEqual(((bytes - 2 * RECORD.length) / quota) * 1000 - WINDOW_MS);
    expect(server.stats().connectionsThrottled).toBeLessThanOrEqual(1);
  });

  it('reaches kafkajs, which sees throttle_time_ms, and spreads a producer out to its quota', async () => {
    const quota = 200_000;
    const { broker, server, port } = await serve({ quotas: { default: { produceBytesPerSec: quota }, ...WINDOW } });
    const throttleLogs: string[] = [];
    const logCreator = () => (e: LogEntry) => {
      if (/throttl/i.test(e.log.message)) throttleLogs.push(e.log.message);
    };
    const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], clientId: 'throttled', logLevel: logLevel.DEBUG, logCreator, retry: { retries: 2 } });
    const producer = kafka.producer();
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    const n = 30;
    const started = performance.now();
    for (let i = 0; i < n; i++) await producer.send({ topic: 't', acks: 1, messages: [{ value: RECORD }] });
    const elapsed = performance.now() - started;
    expect(broker.describeTopic('t').partitions[0].endOffset).toBe(n);
    expect(server.stats().quotas.throttledRequests.produce).toBeGreaterThan(0);
    expect(throttleLogs.some((m) => /Client side throttling in effect for \d+ms/.test(m))).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(((n * RECORD.length - 2 * RECORD.length) / quota) * 1000 - WINDOW_MS);
  });

  it('lets a client id override beat the default, and a principal override beat the client id', async () => {
    const { server, port } = await serve({
      quotas: { default: { produceBytesPerSec: 1000 }, clientIds: { bulk: { produceBytesPerSec: 100_000_000 }, capped: { produceBytesPerSec: 100_000_000 } }, principals: { 'User:ANONYMOUS': { clientIds: { capped: { produceBytesPerSec: 1000 } } } }, ...WINDOW },
    });
    const c = await connect(port);
    const bulk = await Promise.all(Array.from({ length: 10 }, () => produce(c, 'bulk')));
    expect(bulk.map((r) => r.throttleTimeMs)).toEqual(Array(10).fill(0));
    expect(server.stats().quotas.throttledRequests.produce).toBe(0);
    // The default: one 10 KB request is ten seconds of a 1000 B/s quota.
    expect((await produce(c, 'other')).throttleTimeMs).toBeGreaterThan(1000);
    // The anonymous principal with client id capped: its own entry, not the client id's.
    const d = await connect(port);
    expect((await produce(d, 'capped')).throttleTimeMs).toBeGreaterThan(1000);
    expect(server.stats().quotas.throttledRequests.produce).toBe(2);
  });
});

/** The offset after the last batch in `records`. */
function nextOffset(records: Buffer): number {
  let next = 0;
  for (let at = 0; at + 61 <= records.length; at += 12 + records.readInt32BE(at + 8)) next = Number(records.readBigInt64BE(at)) + records.readInt32BE(at + 23) + 1;
  return next;
}

describe('Kafka server: fetch quota', () => {
  it('answers a consumer past its quota with no records and a throttle time, and caps each fetch at a window of the quota', async () => {
    const quota = 100_000;
    const { broker, server, port } = await serve({ quotas: { default: { fetchBytesPerSec: quota }, ...WINDOW } });
    const n = 12;
    for (let i = 0; i < n; i++) await broker.send('t', { value: RECORD });
    const c = await connect(port);
    const perFetchMax = (quota * (WINDOW.windowSamples - 1) * WINDOW.windowSampleMs) / 1000;
    let offset = 0;
    let throttledEmpty = 0;
    let bytes = 0;
    const started = performance.now();
    while (offset < n) {
      const r = await fetch(c, offset);
      const records = r.responses[0]?.partitions[0].records as Buffer | undefined;
      if (r.throttleTimeMs > 0) {
        expect(r.responses).toEqual([]);
        throttledEmpty++;
        continue;
      }
      expect(records!.length).toBeGreaterThan(0);
      expect(records!.length).toBeLessThanOrEqual(Math.max(perFetchMax, RECORD.length + 200));
      bytes += records!.length;
      offset = nextOffset(records!);
    }
    const elapsed = performance.now() - started;
    expect(throttledEmpty).toBeGreaterThan(0);
    expect(server.stats().quotas.throttledRequests.fetch).toBe(throttledEmpty);
    expect(elapsed).toBeGreaterThanOrEqual(((bytes - perFetchMax) / quota) * 1000 - WINDOW_MS);
  });
});

describe('Kafka server: fetch quota with kafkajs', () => {
  it('lets a kafkajs consumer over its quota read every message, throttled', async () => {
    const { broker, server, port } = await serve({ quotas: { default: { fetchBytesPerSec: 100_000 }, ...WINDOW }, groupInitialRebalanceDelayMs: 0 });
    const n = 12;
    for (let i = 0; i < n; i++) await broker.send('t', { value: RECORD });
    const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], clientId: 'slow-consumer', logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: 'g', maxWaitTimeInMs: 100 });
    await consumer.connect();
    cleanup.push(() => consumer.disconnect());
    await consumer.subscribe({ topic: 't', fromBeginning: true });
    let got = 0;
    await consumer.run({ eachMessage: async () => void got++ });
    for (const deadline = Date.now() + 20_000; got < n && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    expect(got).toBe(n);
    expect(server.stats().quotas.throttledRequests.fetch).toBeGreaterThan(0);
  });
});

describe('Kafka server: connections per IP address', () => {
  async function answered(c: WireConnection): Promise<boolean> {
    const f = await c.request(18, 0, encodeApiVersionsRequest, { clientSoftwareName: '', clientSoftwareVersion: '' });
    return decoded(f, decodeApiVersionsResponse, 0).errorCode === 0;
  }

  it('refuses the N+1th connection from an address, and accepts again once one closes', async () => {
    const { server, problems, port } = await serve({ connectionsPerIpMax: 2 });
    const a = await connect(port);
    const b = await connect(port);
    expect(await answered(a)).toBe(true);
    expect(await answered(b)).toBe(true);
    const refused = await connect(port);
    await refused.closed;
    expect(server.stats().connectionsRefusedPerIp).toBe(1);
    expect(problems.map((p) => p.reason)).toEqual(['more than 2 connections from 127.0.0.1']);
    a.close();
    while (server.stats().connections > 1) await new Promise((r) => setTimeout(r, 5));
    const again = await connect(port);
    expect(await answered(again)).toBe(true);
    expect(await answered(b)).toBe(true);
    expect(server.stats().connectionsRefusedPerIp).toBe(1);
  });

  it('takes an override of the address, 0 refusing it', async () => {
    const { server, port } = await serve({ connectionsPerIpMax: 100, connectionsPerIpOverrides: { '127.0.0.1': 0 } });
    const c = await connect(port);
    await c.closed;
    expect(server.stats().connectionsRefusedPerIp).toBe(1);
    expect(server.stats().connectionsAccepted).toBe(0);
  });
});
