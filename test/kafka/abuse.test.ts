/**
 * The server under abuse, at a scale CI runs in seconds (`npm run abuse` is the full one): 500
 * connections that say nothing, slowloris senders (a request one byte at a time), frames
 * claiming 2 GiB, and clients that pipeline 50 MiB fetches and never read. Meanwhile a kafkajs
 * producer and consumer keep working. Behaviour, not timings: the slowloris senders are dropped
 * for their half-sent frames (frameTimeoutMs is short here), the huge claims are closed, the idle
 * connections and the non-readers are held, the normal client's every message round-trips, and
 * the process's memory grows by a bounded amount: the non-readers ask for 4 x 32 x 8 MiB, which
 * would be a gigabyte were responses buffered rather than sent from the files as the socket
 * takes them. Client and server share this process, so the bound covers both. And clients that
 * each leave most of a large frame unsent are held to the server-wide request buffer budget while
 * a small request still gets its answer, then dropped for their half-sent frames.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server, type ConnectionProblem } from '../../lib/kafka';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { encodeApiVersionsRequest, decodeApiVersionsResponse } from '../../lib/kafka/protocol/generated';
import { decoded, frame, WireConnection } from '../helpers/kafka-wire';
import { hugeClaims, idleConnections, nonReaders, slowloris, type Abusers } from '../helpers/abusers';
import { tmpDir } from '../helpers/tmp';
import { SHARE_BYTES_MAX } from '../../lib/kafka/request-buffers';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const IDLE = 500;
const SLOWLORIS = 5;
const CLAIMS = 20;
const NON_READERS = 4;
const FETCHES_EACH = 32;
const BIG_TOPIC_BYTES = 8 * 1024 * 1024;
const MIB = 1024 * 1024;

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The descriptors this process may open (Linux; elsewhere assumed enough). */
function descriptorLimit(): number {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    return Number(line?.split(/\s+/)[3] ?? Infinity);
  } catch {
    return Infinity;
  }
}

describe('Kafka server under abuse', () => {
  it('has the file descriptors it needs', () => {
    expect(descriptorLimit(), 'raise the hard limit of open files (ulimit -Hn) to run the abuse test').toBeGreaterThanOrEqual(2 * IDLE + 200);
  });

  it('holds idle connections and non-readers, drops slowloris and 2 GiB claims, and keeps serving a normal client in bounded memory', async () => {
    const broker = await Broker.open(tmpDir());
    cleanup.push(() => broker.close());
    await broker.createTopic('big', { partitions: 1, sync: 'none' });
    const chunk = Buffer.alloc(MIB / 2, 3);
    for (let i = 0; i < BIG_TOPIC_BYTES / chunk.length; i++) await broker.send('big', { value: chunk });
    await broker.createTopic('normal', { partitions: 1, sync: 'none' });
    const problems: ConnectionProblem[] = [];
    const server = await Server.start({ broker, port: 0, frameTimeoutMs: 500, groupInitialRebalanceDelayMs: 0, onClientError: (p) => problems.push(p) });
    cleanup.push(() => server.close());
    const port = server.address.port;

    const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], clientId: 'normal', logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: 'normal', maxWaitTimeInMs: 100 });
    await producer.connect();
    await consumer.connect();
    cleanup.push(() => producer.disconnect(), () => consumer.disconnect());
    await consumer.subscribe({ topic: 'normal', fromBeginning: true });
    const got: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
    await producer.send({ topic: 'normal', messages: [{ value: 'warm-up' }] });
    await until('the consumer is running', () => got.length === 1, 20_000);

    global.gc?.();
    const before = process.memoryUsage();
    const abusers: Abusers[] = [];
    cleanup.push(() => Promise.all(abusers.map((a) => a.close())));
    abusers.push(await idleConnections(port, IDLE));
    const readers = await nonReaders(port, NON_READERS, 'big', FETCHES_EACH);
    const lorises = slowloris(port, SLOWLORIS, 20);
    abusers.push(readers, lorises);
    await hugeClaims(port, CLAIMS);

    for (let i = 0; i < 50; i++) await producer.send({ topic: 'normal', acks: 1, messages: [{ value: `m${i}` }] });
    await until('the consumer has every message', () => got.length === 51);
    await until('the slowloris senders are dropped', () => lorises.closedByServer === SLOWLORIS);
    const during = process.memoryUsage();

    expect(problems.filter((p) => /half a request frame/.test(p.reason))).toHaveLength(SLOWLORIS);
    expect(problems.filter((p) => /a request frame of (2147483647|-2147483648) bytes/.test(p.reason))).toHaveLength(CLAIMS);
    expect(abusers[0].closedByServer).toBe(0);
    expect(readers.closedByServer).toBe(0);
    expect(server.stats().connections).toBeGreaterThanOrEqual(IDLE + NON_READERS);
    expect(during.rss - before.rss).toBeLessThan(256 * MIB);
    expect(during.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * MIB);
  });
});

describe('Kafka server: the request buffer budget', () => {
  it('stops reading from clients that hoard half-sent frames past the budget, answers a small request meanwhile, then drops them', async () => {
    const broker = await Broker.open(tmpDir());
    cleanup.push(() => broker.close());
    const problems: ConnectionProblem[] = [];
    const budget = 8 * MIB;
    const server = await Server.start({ broker, port: 0, requestBufferBytesMax: budget, frameTimeoutMs: 1000, onClientError: (p) => problems.push(p) });
    cleanup.push(() => server.close());
    const port = server.address.port;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, server.stats().requestBytesBuffered)), 1);
    cleanup.push(() => clearInterval(sampler));

    // Each claims an 8 MiB Produce frame and sends 6 MiB of it: 60 MiB were they all read.
    const hoarders = 10;
    const claim = frame(0, 7, 1, Buffer.alloc(8 * MIB));
    const sockets = await Promise.all(
      Array.from({ length: hoarders }, () => new Promise<net.Socket>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', () => {});
      })),
    );
    cleanup.push(() => sockets.forEach((s) => s.destroy()));
    for (const s of sockets) s.write(claim.subarray(0, 6 * MIB));
    await until('the budget is reached', () => server.stats().requestBytesBuffered > budget);

    const c = await WireConnection.open(port);
    cleanup.push(() => c.close());
    const answer = await c.request(18, 0, encodeApiVersionsRequest, { clientSoftwareName: '', clientSoftwareVersion: '' });
    expect(decoded(answer, decodeApiVersionsResponse, 0).errorCode).toBe(0);

    await until('the hoarders are dropped', () => problems.filter((p) => /half a request frame/.test(p.reason)).length === hoarders);
    await until('their bytes are freed', () => server.stats().requestBytesBuffered === 0);
    // At most the budget, and a share for each (SHARE_BYTES_MAX) with what one read brings.
    expect(peak).toBeLessThanOrEqual(budget + hoarders * (SHARE_BYTES_MAX + 128 * 1024));
  });
});
