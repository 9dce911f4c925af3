/**
 * The drivers of the independent power-loss harness: each runs a child under the shim (shim.ts)
 * that reports every confirmation on stdout before it is counted, kills it with SIGKILL at a
 * seeded moment, cuts the power (power-cut.ts), reopens what is left in this process and checks
 * that nothing confirmed is missing. Each throws an Error naming the seed and iteration at the
 * first lost confirmation.
 *  - log: test/helpers/durability-crash-writer.cjs through the crash loop of
 *    durability-crash-loop.ts (sync 'always', 128 KiB segments), both write paths.
 *  - broker: test/helpers/broker-crash-worker.cjs producing to a sync 'always' topic and acking as
 *    an ack-model group: confirmed sends are in the topic after every cut, and at the end no
 *    confirmed ack is delivered again.
 *  - kafka: `sluice serve` (dist/cli/sluice.js) with a kafkajs producer in this process, acks -1:
 *    every acknowledged message is in the topic exactly once after every cut.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { Broker, type AckMessage } from '../../../lib/index';
import { crashDirectory, emptyStats, Prng } from '../durability-crash-loop';
import { absorbWorkerLines, spawnChild } from '../broker-spawn.cjs';
import { emptyCutStats, PowerCut, type CutStats } from './power-cut';

export const DRIVERS = ['log', 'broker', 'kafka'] as const;
export type DriverName = (typeof DRIVERS)[number];

export interface DriverRun {
  driver: DriverName;
  seed: number;
  iterations: number;
  /** Where to work: a fresh, empty directory. */
  workDir: string;
  /** The planted short sync (native/include/sluice/fault.h) in every child. */
  planted?: boolean;
  /**
   * The broker's and the server's topic: 'always' (the default) confirms only what is durable;
   * 'interval' confirms before the sync, which the harness must see as lost confirmations.
   */
  topicSync?: TopicSync;
}

type TopicSync = 'always' | 'interval';

export interface DriverResult {
  cuts: CutStats;
  /** Confirmations the children reported (sends, acks, Kafka acknowledgements). */
  confirmed: number;
}

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TOPIC_SEGMENT_BYTES = 1 << 20;
// Only turns a hang into a failure with a message (never a timing claim).
const CHILD_HANG_MS = 60_000;

function plantEnv(run: DriverRun): Record<string, string> {
  return run.planted ? { SLUICE_TEST_PLANT_SHORT_SYNC: '1' } : {};
}

export function runDriver(run: DriverRun): Promise<DriverResult> {
  if (run.driver === 'log') return logDriver(run);
  if (run.driver === 'broker') return brokerDriver(run);
  return kafkaDriver(run);
}

async function logDriver(run: DriverRun): Promise<DriverResult> {
  const cuts = emptyCutStats();
  const stats = emptyStats();
  const dataDir = path.join(run.workDir, 'log');
  const power = new PowerCut(dataDir, path.join(run.workDir, 'journal'), cuts, plantEnv(run));
  // The planted bug lives in the mmap write path's sync; without it both paths take turns.
  const writePath = run.planted || new Prng(run.seed).chance(0.5) ? 'mmap' : 'pwrite';
  const harness = { childEnv: () => power.childEnv(), writePath, afterStop: (_dir: string, rand: Prng) => void power.cut(rand) } as const;
  await crashDirectory('kill', dataDir, run.seed, 0, run.iterations, stats, harness);
  return { cuts, confirmed: stats.confirmed };
}

/** Every value of `topic`, read by a fresh offset-model group, with how often it is there. */
async function readTopic(broker: Broker, topic: string, group: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const partitions = broker.describeTopic(topic).partitions;
  const end = partitions.reduce((s, p) => s + p.endOffset - p.startOffset, 0);
  const c = broker.consumer({ group, topics: topic, model: 'offset' });
  let seen = 0;
  for (let empty = 0; seen < end; ) {
    const batch = await c.poll(1000, { timeoutMs: 100 });
    empty = batch.length === 0 ? empty + 1 : 0;
    if (empty > 100) throw new Error(`${topic} ends at ${end} messages, but only ${seen} could be read`);
    for (const m of batch) {
      seen++;
      const v = m.rawValue!.toString();
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
  }
  await c.close();
  // Gone again, so that audit groups never hold back a topic's backlog or grow the group state.
  await broker.deleteGroup(group);
  return counts;
}

async function createTopic(dir: string, name: string, partitions: number, sync: TopicSync): Promise<void> {
  const broker = await Broker.open(dir);
  // An interval no run reaches: under 'interval' nothing a child confirms is ever synced by it.
  await broker.createTopic(name, { partitions, sync, syncIntervalMs: 3_600_000, segmentBytes: TOPIC_SEGMENT_BYTES });
  await broker.close();
}

/** A broker directory with one topic, under the shim. */
async function brokerSetUp(run: DriverRun, topic: string, partitions: number): Promise<{ cuts: CutStats; rand: Prng; dataDir: string; power: PowerCut }> {
  const cuts = emptyCutStats();
  const dataDir = path.join(run.workDir, run.driver);
  const power = new PowerCut(dataDir, path.join(run.workDir, 'journal'), cuts, plantEnv(run));
  await createTopic(dataDir, topic, partitions, run.topicSync ?? 'always');
  return { cuts, rand: new Prng(run.seed), dataDir, power };
}

async function brokerDriver(run: DriverRun): Promise<DriverResult> {
  const { cuts, rand, dataDir, power } = await brokerSetUp(run, 't', 3);
  const sent = new Set<string>();
  const acking = new Set<string>();
  const acked = new Set<string>();
  for (let i = 0; i < run.iterations; i++) {
    const where = `driver=broker seed=${run.seed} iteration=${i}`;
    const child = spawnChild('broker-crash-worker.cjs', { dir: dataDir, run: i, seed: rand.next() }, power.childEnv());
    const target = rand.between(1, 300);
    await child.waitFor((lines: string[]) => lines.filter((l) => l.startsWith('acked ')).length >= target, `${target} acks [${where}]`);
    await child.kill9();
    absorbWorkerLines(child.lines as string[], { sent, acking, acked });
    power.cut(rand);
    const broker = await Broker.open(dataDir);
    try {
      const all = await readTopic(broker, 't', `audit-${i}`);
      for (const v of sent) if (!all.has(v)) throw new Error(`confirmed send ${v} is missing after the power cut [${where}]`);
    } finally {
      await broker.close();
    }
  }
  await checkAcks(dataDir, acking, acked, `driver=broker seed=${run.seed}`);
  return { cuts, confirmed: sent.size + acked.size };
}

/** Drains group "g": no confirmed ack comes back, and nothing never acked is lost. */
async function checkAcks(dir: string, acking: Set<string>, acked: Set<string>, where: string): Promise<void> {
  const broker = await Broker.open(dir);
  try {
    const all = await readTopic(broker, 't', 'audit-final');
    const g = broker.consumer({ group: 'g', topics: 't', model: 'ack', maxInFlight: 100_000 });
    const drained = new Set<string>();
    for (;;) {
      const batch = (await g.poll(10_000, { timeoutMs: 0 })) as AckMessage[];
      if (batch.length === 0) break;
      for (const m of batch) {
        const v = (m.value as Buffer).toString();
        if (acked.has(v)) throw new Error(`${v}: its ack was confirmed, but it is delivered again after the power cuts [${where}]`);
        drained.add(v);
        m.ack();
      }
      await new Promise((r) => setImmediate(r));
    }
    for (const v of all.keys()) {
      if (!acking.has(v) && !drained.has(v)) throw new Error(`${v} was never acked but is not delivered [${where}]`);
    }
  } finally {
    await broker.close();
  }
}

interface Server {
  address: string;
  kill(): Promise<void>;
}

function serve(dir: string, env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'sluice.js'), 'serve', '--data', dir, '--listen', '127.0.0.1:0', '--sync', 'always'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const hang = setTimeout(() => child.kill('SIGKILL'), CHILD_HANG_MS);
  const kill = async (): Promise<void> => {
    clearTimeout(hang);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d));
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ address: m[1], kill });
    });
    child.on('exit', () => reject(new Error(`sluice serve exited: ${out} ${err}`)));
  });
}

/** Sends batches of 5 from two senders until `target` batches are acknowledged, then kills. */
async function produceUntil(producer: Producer, server: Server, prefix: string, target: number): Promise<string[]> {
  const acked: string[] = [];
  let next = 0;
  let batches = 0;
  let stopped = false;
  const sender = async (): Promise<void> => {
    while (!stopped) {
      const values = Array.from({ length: 5 }, () => `${prefix}-${next++}`);
      try {
        await producer.send({ topic: 'durable', acks: -1, messages: values.map((value) => ({ value })) });
      } catch {
        return; // the server is gone: this batch is not acknowledged
      }
      acked.push(...values); // counted only now, when its acknowledgement has arrived
      if (++batches >= target && !stopped) {
        stopped = true;
        await server.kill();
      }
    }
  };
  await Promise.all([sender(), sender()]);
  return acked;
}

async function kafkaDriver(run: DriverRun): Promise<DriverResult> {
  const { cuts, rand, dataDir, power } = await brokerSetUp(run, 'durable', 2);
  const acked: string[] = [];
  for (let i = 0; i < run.iterations; i++) {
    const where = `driver=kafka seed=${run.seed} iteration=${i}`;
    const server = await serve(dataDir, power.childEnv());
    const kafka = new Kafka({ brokers: [server.address], logLevel: logLevel.NOTHING, retry: { retries: 0 }, requestTimeout: 5000 });
    const producer = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: false });
    try {
      await producer.connect();
      acked.push(...(await produceUntil(producer, server, `i${i}`, rand.between(1, 40))));
    } finally {
      await server.kill();
      await producer.disconnect().catch(() => {});
    }
    power.cut(rand);
    const broker = await Broker.open(dataDir);
    try {
      const counts = await readTopic(broker, 'durable', `audit-${i}`);
      for (const v of acked) {
        const n = counts.get(v) ?? 0;
        if (n !== 1) throw new Error(`acknowledged message ${v} is there ${n} times after the power cut [${where}]`);
      }
    } finally {
      await broker.close();
    }
  }
  fs.rmSync(path.join(run.workDir, 'journal'), { recursive: true, force: true });
  return { cuts, confirmed: acked.length };
}
