/**
 * The Kafka server target: test/helpers/server-crash-child.cjs serves the data directory on one
 * port for the whole run, and this parent is its clients. A kafkajs idempotent producer (acks -1,
 * one request in flight) lives across the server's crashes and restarts, so a batch in flight at
 * a crash is retried into the next server, which must deduplicate it from the log (README: "a
 * producer retrying across a crash is still deduplicated"); a producer whose send failed is
 * replaced (its sequence numbers are no longer known). Each iteration a fresh kafkajs consumer
 * joins group "kg" and commits after each batch. Topic "k" has 3 partitions at sync 'always' and
 * 64 KiB segments. After each crash the parent opens the broker and checks:
 *   - every message whose produce was acknowledged is in the topic exactly once;
 *   - no message is there twice (the idempotent producer's batches are stored once);
 *   - group "kg"'s committed offset in each partition is at least the last one acknowledged.
 */
import * as fs from 'node:fs';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { freePort } from '../../lib/bench/peer-process';
import { CRASH_POINTS } from '../../lib/crash-points';
import { Broker } from '../../lib/index';
import type { Prng } from '../helpers/durability-crash-loop';
import { readTopic } from '../helpers/read-topic';
import { spawnChild } from '../helpers/broker-spawn.cjs';
import { checkStopped, crashEnv, failer, sleep, type ChildExit, type ChildHandle, type Stop, type Target, type Workload } from './targets';

const TOPIC = 'k';
const PARTITIONS = 3;
const PAD = 'x'.repeat(2000);


export class ServerTarget implements Target {
  readonly name = 'server';
  readonly points = ['log.mid-roll', 'index.mid-write', 'meta.mid-write', ...CRASH_POINTS.filter((p) => p.startsWith('group.'))];
  readonly busyMs: number;
  readonly pointWaitMs: number;
  readonly checks = { acknowledged: 0, produceFailures: 0, commitsAcknowledged: 0, messagesRead: 0, producersReplaced: 0, commitsClamped: 0 };
  #dir = '';
  #port = 0;
  #kafka: Kafka | null = null;
  /** A consumer lives one iteration: its client gives up on a dead server at once. */
  #consumerKafka: Kafka | null = null;
  #cycle: Cycle | null = null;
  #committed = new Map<number, number>();
  /** A power loss since the last check (see BrokerTarget: a commit past what survived is clamped). */
  #powerLost = false;
  #next = 0;
  /** The producer pump runs while a server is up; in-flight sends straddle crashes. */
  #serving = false;
  #wake: (() => void) | null = null;

  constructor(workload: Workload) {
    this.busyMs = workload === 'ci' ? 150 : 400;
    this.pointWaitMs = workload === 'ci' ? 1000 : 3000;
  }

  async reset(dir: string): Promise<void> {
    this.#stopPump();
    this.#dir = dir;
    this.#committed = new Map();
    fs.mkdirSync(dir, { recursive: true });
    const b = await Broker.open(dir);
    await b.createTopic(TOPIC, { partitions: PARTITIONS, segmentBytes: 64 * 1024, sync: 'always' });
    await b.close();
    if (this.#port === 0) this.#port = await freePort();
    this.#kafka ??= new Kafka({
      clientId: 'torture',
      brokers: [`127.0.0.1:${this.#port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 5000,
      // Long enough to span a crash, the parent's check and the next server's start.
      retry: { retries: 40, initialRetryTime: 50, maxRetryTime: 400 },
    });
    this.#consumerKafka ??= new Kafka({ clientId: 'torture-consumer', brokers: [`127.0.0.1:${this.#port}`], logLevel: logLevel.NOTHING, connectionTimeout: 500, requestTimeout: 3000, retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 } });
    const cycle: Cycle = { acked: new Set(), closed: false, producer: null };
    this.#cycle = cycle;
    void this.#produce(cycle);
  }

  async iteration(stop: Stop, rand: Prng, where: string, last: boolean): Promise<{ fired: boolean }> {
    const fail = failer(where);
    const arg = { dir: this.#dir, port: this.#port, checkpointBytes: 2048, powerAfterMs: stop.kind === 'power' ? stop.afterMs : null };
    const child = spawnChild('server-crash-child.cjs', arg, crashEnv(stop)) as ChildHandle;
    let consumer: Promise<Consumer> | null = null;
    let exit: ChildExit;
    try {
      const ready = await child.waitFor((lines) => lines.some((l) => l.startsWith('ready ')), 'ready').then(
        () => true,
        () => false,
      );
      if (ready) {
        this.#setServing(true);
        // Not waited for: the crash may come while the consumer joins.
        consumer = this.#consume();
      }
      exit = await this.#stopChild(child, stop, ready);
    } finally {
      this.#setServing(false);
      // The consumer's session died with the server; its disconnect waits on nothing.
      void consumer?.then((c) => c.disconnect()).catch(() => {});
    }
    const fired = checkStopped(child, exit, stop, fail);
    if (stop.kind === 'power') this.#powerLost = true;
    if (!last && rand.chance(1 / 3)) return { fired };
    await this.#check(fail);
    return { fired };
  }

  async #stopChild(child: ChildHandle, stop: Stop, ready: boolean): Promise<ChildExit> {
    if (stop.kind === 'kill') {
      if (ready) await sleep(stop.afterMs);
      return child.kill9();
    }
    const bound = stop.kind === 'point' ? stop.fallbackMs : 20_000;
    const timer = setTimeout(() => void child.kill9(), bound);
    const exit = await child.exited;
    clearTimeout(timer);
    return exit;
  }

  /** A fresh member of group "kg" that commits after each batch it is given. */
  async #consume(): Promise<Consumer> {
    const consumer = this.#consumerKafka!.consumer({
      groupId: 'kg',
      sessionTimeout: 6000,
      rebalanceTimeout: 3000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 50,
      retry: { retries: 0, restartOnFailure: async () => false },
    });
    await consumer.connect().catch(() => {});
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true }).catch(() => {});
    // Counted when the commit's response came back without error: kafkajs's commitOffsets also
    // resolves when it gave up because the consumer stopped (the server died meanwhile).
    consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
      for (const t of payload.topics) {
        for (const p of t.partitions) this.#committed.set(p.partition, Math.max(this.#committed.get(p.partition) ?? 0, Number(p.offset)));
      }
      this.checks.commitsAcknowledged++;
    });
    void consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          await consumer.commitOffsets([{ topic: TOPIC, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
        },
      })
      .catch(() => {});
    return consumer;
  }

  #setServing(on: boolean): void {
    this.#serving = on;
    if (on && this.#wake !== null) {
      this.#wake();
      this.#wake = null;
    }
  }

  /** Sends batches while a server is up; a send that failed replaces the producer. */
  async #produce(cycle: Cycle): Promise<void> {
    const kafka = this.#kafka!;
    while (!cycle.closed) {
      if (!this.#serving) {
        await new Promise<void>((r) => (this.#wake = r));
        continue;
      }
      try {
        if (cycle.producer === null) {
          const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
          await p.connect();
          cycle.producer = p;
        }
        const values = Array.from({ length: 1 + (this.#next % 10) }, () => `s${this.#next++}`);
        // Padded (by the id, so replays pad alike) so that partitions roll every few dozen batches.
        const messages = values.map((v, i) => ({ key: `k${(this.#next + i) % 7}`, value: `${v}:${PAD.slice(0, (this.#next * 131 + i * 977) % PAD.length)}` }));
        await cycle.producer.send({ topic: TOPIC, acks: -1, messages });
        for (const v of values) cycle.acked.add(v);
        if (!cycle.closed) this.checks.acknowledged += values.length;
      } catch {
        if (!cycle.closed) this.checks.produceFailures++;
        const p = cycle.producer;
        cycle.producer = null;
        if (p !== null) {
          this.checks.producersReplaced++;
          await p.disconnect().catch(() => {});
        }
        await sleep(20);
      }
    }
    await cycle.producer?.disconnect().catch(() => {});
  }

  /**
   * Ends the current directory's pump. A send still retrying is not waited for (it finishes or
   * gives up on its own): what it reports goes to its own cycle, never to the next directory's.
   */
  #stopPump(): void {
    if (this.#cycle !== null) this.#cycle.closed = true;
    this.#wake?.();
    this.#wake = null;
  }

  async #check(fail: (what: string) => never): Promise<void> {
    const broker = await Broker.open(this.#dir);
    try {
      const read = await readTopic(broker, TOPIC);
      this.checks.messagesRead += read.length;
      const seen = new Set<string>();
      for (const m of read) {
        const id = m.value.slice(0, m.value.indexOf(':'));
        if (seen.has(id)) fail(`${id} is in the topic twice: the idempotent producer's batch was stored again`);
        seen.add(id);
      }
      for (const v of this.#cycle!.acked) if (!seen.has(v)) fail(`acknowledged message ${v} is missing`);
      const g = this.#committed.size === 0 ? [] : broker.describeGroup('kg').partitions;
      for (const [p, offset] of this.#committed) {
        const progress = g.find((x) => x.partition === p);
        const got = progress?.committedOffset ?? -1;
        if (got < offset && this.#powerLost && progress !== undefined && got === progress.endOffset) {
          this.#committed.set(p, got); // clamped to what the power loss left
          this.checks.commitsClamped++;
        } else if (got < offset) fail(`group kg's commit of ${offset} in partition ${p} was acknowledged but it stands at ${got}`);
      }
      this.#powerLost = false;
    } finally {
      await broker.close();
    }
  }

  async close(): Promise<void> {
    this.#stopPump();
  }
}

/** One data directory's producer: what it had acknowledged, and whether the directory is done. */
interface Cycle {
  acked: Set<string>;
  closed: boolean;
  producer: Producer | null;
}
