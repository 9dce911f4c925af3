/**
 * The end-to-end latency clients of bench/kafka.bench.ts, each run as a child process of its own
 * so that no side shares another's event loop:
 *
 *   node --import tsx bench/kafka-e2e-client.ts consume PORT TOPIC COUNT
 *       a kafkajs 2.2.4 consumer (its own group, from the end): prints "ready" once it has joined
 *       and its first fetch is parked, then the latency summary once COUNT messages arrived (or
 *       10 s after the last one did)
 *   node --import tsx bench/kafka-e2e-client.ts produce PORT TOPIC RATE MS ACKS
 *       a kafkajs producer, one message per send with acks ACKS, on a fixed schedule
 *   node --import tsx bench/kafka-e2e-client.ts inproc DIR RATE MS
 *       the baseline: an in-process broker in DIR (topic sync 'always'), send() and a consumer
 *       polling, in this one process
 *
 * Messages go out on a fixed schedule (RATE per second for MS), each carrying its intended send
 * time (wall clock, performance.timeOrigin + now(), the same in every process of the host); its
 * latency runs from that time (so a stalled sender is charged for it: no coordinated omission)
 * to its arrival at the consumer. The first second is a warm-up, not counted. The summary is one
 * JSON line: {count, lost, p50, p99, p999, max} in µs.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Broker } from '../lib/broker/broker';
import { latencyHistogram, recordUs, summarize } from './harness';

const [mode, ...args] = process.argv.slice(2);
const WARM_UP_MS = 1000;
const wallNow = (): number => performance.timeOrigin + performance.now();

function payload(i: number, intended: number): Buffer {
  const b = Buffer.alloc(100);
  b.writeUInt32BE(i, 0);
  b.writeDoubleBE(intended, 4);
  return b;
}

/** Records arrivals; `done` resolves once `n` arrived, or `idleMs` after the last one. */
function collector(n: number, warm: number, idleMs: number): { arrived(value: Buffer): void; done: Promise<void>; report(): string } {
  const h = latencyHistogram();
  const seen = new Uint8Array(n);
  let count = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => (finish = r));
  let idle = setTimeout(finish, 60_000);
  return {
    arrived(value) {
      const i = value.readUInt32BE(0);
      if (i >= n || seen[i]) return;
      seen[i] = 1;
      if (i >= warm) recordUs(h, (wallNow() - value.readDoubleBE(4)) * 1000);
      clearTimeout(idle);
      idle = setTimeout(finish, idleMs);
      if (++count === n) {
        clearTimeout(idle);
        finish();
      }
    },
    done,
    report: () => JSON.stringify({ ...summarize(h), lost: n - count }),
  };
}

/** Sends message i at start + i / rate (late, never early: lateness counts). */
async function schedule(rate: number, ms: number, send: (value: Buffer) => Promise<unknown>): Promise<void> {
  const n = Math.round((rate * ms) / 1000);
  const start = wallNow() + 200;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const intended = start + (i * 1000) / rate;
    const wait = intended - wallNow();
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.ceil(wait)));
    sends.push(send(payload(i, intended)));
  }
  await Promise.all(sends);
}

const total = (rate: number, ms: number): { n: number; warm: number } => ({ n: Math.round((rate * (ms + WARM_UP_MS)) / 1000), warm: rate });

async function consume(port: number, topic: string, n: number, warm: number): Promise<void> {
  const client = new Kafka({ clientId: 'e2e-consumer', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
  const consumer = client.consumer({ groupId: `e2e-${process.pid}`, maxWaitTimeInMs: 500, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  const c = collector(n, warm, 10_000);
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  await consumer.run({ eachMessage: async ({ message }) => c.arrived(message.value!) });
  await joined;
  await new Promise((r) => setTimeout(r, 500)); // its first fetch is parked at the end
  process.stdout.write('ready\n');
  await c.done;
  process.stdout.write(`${c.report()}\n`);
  await consumer.disconnect();
}

async function produce(port: number, topic: string, rate: number, ms: number, acks: number): Promise<void> {
  const client = new Kafka({ clientId: 'e2e-producer', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
  const producer = client.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await schedule(rate, ms + WARM_UP_MS, (value) => producer.send({ topic, acks, messages: [{ value }] }));
  await producer.disconnect();
}

async function inproc(dir: string, rate: number, ms: number): Promise<void> {
  const broker = await Broker.open(dir);
  await broker.createTopic('e2e', { partitions: 1, sync: 'always' });
  const consumer = broker.consumer({ group: 'e2e', topics: 'e2e', start: 'latest' });
  const { n, warm } = total(rate, ms);
  const c = collector(n, warm, 10_000);
  let running = true;
  const loop = (async () => {
    while (running) for (const m of await consumer.poll(1000, { timeoutMs: 100 })) c.arrived(m.rawValue as Buffer);
  })();
  await schedule(rate, ms + WARM_UP_MS, (value) => broker.send('e2e', { value }));
  await c.done;
  running = false;
  await loop;
  process.stdout.write(`${c.report()}\n`);
  await consumer.close();
  await broker.close();
}

function main(): Promise<void> {
  switch (mode) {
    case 'consume': {
      const [port, topic, rate, ms] = args;
      const { n, warm } = total(Number(rate), Number(ms));
      return consume(Number(port), topic, n, warm);
    }
    case 'produce':
      return produce(Number(args[0]), args[1], Number(args[2]), Number(args[3]), Number(args[4]));
    default:
      return inproc(args[0], Number(args[1]), Number(args[2]));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
