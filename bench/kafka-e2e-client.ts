/**
 * The end-to-end latency client of bench/kafka.bench.ts, run as a child process so that neither
 * side shares the server's event loop:
 *
 *   node --import tsx bench/kafka-e2e-client.ts kafka PORT TOPIC RATE MS ACKS
 *       a kafkajs 2.2.4 consumer (its own group, from the end) and producer (one message per
 *       send, acks ACKS) against the server on 127.0.0.1:PORT
 *   node --import tsx bench/kafka-e2e-client.ts inproc DIR RATE MS
 *       the baseline: an in-process broker in DIR (topic sync 'always'), send() and a consumer
 *       polling, in this one process
 *
 * Messages go out on a fixed schedule (RATE per second for MS); each one's latency runs from its
 * intended send time (so a stalled sender is charged for it: no coordinated omission) to its
 * arrival at the consumer. Prints one JSON line: {count, lost, p50, p99, p999, max} in µs.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Broker } from '../lib/broker/broker';
import { latencyHistogram, recordUs, summarize } from './harness';

const [mode, ...args] = process.argv.slice(2);

interface Run {
  rate: number;
  ms: number;
  send(i: number, payload: Buffer): Promise<unknown>;
}

/** Sends on schedule; `arrived(i)` records message i's latency. Resolves once all arrived or 5 s after the last send. */
async function schedule(run: Run, onReady: (arrived: (i: number) => void) => void): Promise<void> {
  const n = Math.round((run.rate * run.ms) / 1000);
  const h = latencyHistogram();
  const start = performance.now() + 200;
  const intended = (i: number): number => start + (i * 1000) / run.rate;
  let count = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((r) => (done = r));
  const seen = new Uint8Array(n);
  onReady((i) => {
    if (i < 0 || i >= n || seen[i]) return;
    seen[i] = 1;
    recordUs(h, (performance.now() - intended(i)) * 1000);
    if (++count === n) done();
  });
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = intended(i) - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.ceil(wait))); // late, never early: lateness counts
    const payload = Buffer.alloc(100);
    payload.writeUInt32BE(i, 0);
    sends.push(run.send(i, payload));
  }
  await Promise.all(sends);
  await Promise.race([all, new Promise((r) => setTimeout(r, 5000))]);
  process.stdout.write(`${JSON.stringify({ ...summarize(h), lost: n - count })}\n`);
}

async function kafka(port: number, topic: string, rate: number, ms: number, acks: number): Promise<void> {
  const client = new Kafka({ clientId: 'e2e', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
  const consumer = client.consumer({ groupId: `e2e-${process.pid}`, maxWaitTimeInMs: 500, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  const producer = client.producer({ allowAutoTopicCreation: false });
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic, fromBeginning: false });
  let arrived: (i: number) => void = () => {};
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  await consumer.run({ eachMessage: async ({ message }) => arrived(message.value!.readUInt32BE(0)) });
  await joined;
  await new Promise((r) => setTimeout(r, 500)); // the first fetch is parked at the end
  await schedule({ rate, ms, send: (_i, value) => producer.send({ topic, acks, messages: [{ value }] }) }, (a) => (arrived = a));
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
}

async function inproc(dir: string, rate: number, ms: number): Promise<void> {
  const broker = await Broker.open(dir);
  await broker.createTopic('e2e', { partitions: 1, sync: 'always' });
  const consumer = broker.consumer({ group: 'e2e', topics: 'e2e', start: 'latest' });
  let arrived: (i: number) => void = () => {};
  let running = true;
  const loop = (async () => {
    while (running) for (const m of await consumer.poll(1000, { timeoutMs: 100 })) arrived((m.rawValue as Buffer).readUInt32BE(0));
  })();
  await schedule({ rate, ms, send: (_i, value) => broker.send('e2e', { value }) }, (a) => (arrived = a));
  running = false;
  await loop;
  await consumer.close();
  await broker.close();
}

(mode === 'kafka' ? kafka(Number(args[0]), args[1], Number(args[2]), Number(args[3]), Number(args[4])) : inproc(args[0], Number(args[1]), Number(args[2]))).catch((e) => {
  console.error(e);
  process.exit(1);
});
