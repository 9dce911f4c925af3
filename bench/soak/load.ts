/**
 * The soak's clients, all in the soak's own process: a steady kafkajs producer (idempotent, acks
 * -1) at a fixed rate, short-lived clients that open and close connections (kafkajs and
 * @platformatic/kafka producers and metadata clients in turn), and consumer groups whose members
 * join and leave. Every message carries a sequence number from the ledger, and lands on the
 * partition its key names (key index modulo the partition count), so each acknowledged message's
 * offset is known from the produce response.
 *
 * Lifetime: each class's stop() waits for its work in flight; nothing here outlives the run.
 */
import { Kafka, logLevel, type Consumer, type Message, type Producer } from 'kafkajs';
import { encodeValue, decodeSeq, type GroupTally, type Ledger } from './ledger';

const KEYS = 1000;
const PRODUCE_TICK_MS = 100;
/** Errors kept for the summary (the first of each kind). */
const ERRORS_KEPT = 5;
const CHURN_MESSAGES = 3;
const CHURN_TIMEOUT_MS = 20_000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function kafkaClient(address: string, clientId: string): Kafka {
  return new Kafka({ brokers: [address], clientId, logLevel: logLevel.NOTHING, retry: { retries: 8 } });
}

/** Keyed messages for `count` sequence numbers from `first`, grouped by the partition they go to. */
function keyedMessages(first: number, count: number, partitions: number, valueBytes: number, rng: () => number): { messages: Message[]; seqsOf: Map<number, number[]> } {
  const messages: Message[] = [];
  const seqsOf = new Map<number, number[]>();
  for (let seq = first; seq < first + count; seq++) {
    const key = Math.floor(rng() * KEYS);
    const partition = key % partitions;
    messages.push({ key: `key-${key}`, value: encodeValue(seq, valueBytes), partition });
    let seqs = seqsOf.get(partition);
    if (seqs === undefined) seqsOf.set(partition, (seqs = []));
    seqs.push(seq);
  }
  return { messages, seqsOf };
}

/** Records a kafkajs send's answer: each partition's messages took consecutive offsets from its base. */
function ackAll(ledger: Ledger, seqsOf: Map<number, number[]>, answer: { partition: number; baseOffset?: string }[]): void {
  for (const a of answer) {
    const seqs = seqsOf.get(a.partition) ?? [];
    const base = Number(a.baseOffset);
    seqs.forEach((seq, j) => ledger.ack(seq, a.partition, base + j));
  }
}

export interface ProduceTarget {
  address: string;
  topic: string;
  partitions: number;
  valueBytes: number;
  /**
   * At most this many messages per send, so that after a stall the backlog goes out in batches
   * the topic accepts: each partition's batch well under its max.message.bytes (the segment size
   * here). A 10-second stall once made a 1,753-message send whose 138 KB batches the server
   * rightly refused (MESSAGE_TOO_LARGE).
   */
  sendMessagesMax: number;
}

/** Keeps the first error of each message, for the summary. */
function keep(errors: string[], e: unknown): void {
  const m = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (errors.length < ERRORS_KEPT && !errors.includes(m)) errors.push(m);
}

/** One idempotent kafkajs producer sending `rate` messages a second, acks -1, until stop(). */
export class SteadyProducer {
  readonly #producer: Producer;
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();
  errors = 0;
  readonly errorMessages: string[] = [];
  sends = 0;

  constructor(
    readonly target: ProduceTarget,
    readonly ledger: Ledger,
    readonly rate: number,
    readonly rng: () => number,
  ) {
    this.#producer = kafkaClient(target.address, 'soak-steady').producer({ idempotent: true, maxInFlightRequests: 1 });
  }

  async start(): Promise<void> {
    await this.#producer.connect();
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const t0 = Date.now();
    let sent = 0;
    while (!this.#stopped) {
      const due = Math.min(Math.floor((this.rate * (Date.now() - t0)) / 1000) - sent, this.target.sendMessagesMax);
      if (due <= 0) {
        await sleep(PRODUCE_TICK_MS);
        continue;
      }
      const first = this.ledger.allocate(due);
      const { messages, seqsOf } = keyedMessages(first, due, this.target.partitions, this.target.valueBytes, this.rng);
      sent += due;
      try {
        ackAll(this.ledger, seqsOf, await this.#producer.send({ topic: this.target.topic, acks: -1, messages }));
        this.sends++;
      } catch (e) {
        this.ledger.fail(due);
        this.errors++;
        keep(this.errorMessages, e);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await this.#producer.disconnect();
  }
}

type ChurnKind = 'kafkajs-producer' | 'kafkajs-metadata' | 'platformatic-producer' | 'platformatic-metadata';
const CHURN_KINDS: ChurnKind[] = ['kafkajs-producer', 'kafkajs-metadata', 'platformatic-producer', 'platformatic-metadata'];

/** Short-lived clients, one every `everyMs`, each connecting, doing one thing and closing. */
export class Churn {
  #timer: NodeJS.Timeout | null = null;
  #inFlight = new Set<Promise<void>>();
  readonly clients: Record<ChurnKind, number> = { 'kafkajs-producer': 0, 'kafkajs-metadata': 0, 'platformatic-producer': 0, 'platformatic-metadata': 0 };
  errors = 0;
  readonly errorMessages: string[] = [];
  #n = 0;

  constructor(
    readonly target: ProduceTarget,
    readonly ledger: Ledger,
    readonly everyMs: number,
    readonly rng: () => number,
  ) {}

  start(): void {
    this.#timer = setInterval(() => {
      const kind = CHURN_KINDS[this.#n++ % CHURN_KINDS.length];
      const p = this.#once(kind).then(
        () => void this.clients[kind]++,
        (e: unknown) => {
          this.errors++;
          keep(this.errorMessages, e);
        },
      );
      this.#inFlight.add(p);
      void p.finally(() => this.#inFlight.delete(p));
    }, this.everyMs);
  }

  get total(): number {
    return Object.values(this.clients).reduce((a, b) => a + b, 0);
  }

  async #once(kind: ChurnKind): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${kind} took over ${CHURN_TIMEOUT_MS} ms`)), CHURN_TIMEOUT_MS)));
    try {
      await Promise.race([this.#client(kind), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #client(kind: ChurnKind): Promise<void> {
    const { address, topic } = this.target;
    const id = `soak-churn-${this.#n}`;
    if (kind === 'kafkajs-producer') {
      const producer = kafkaClient(address, id).producer();
      await producer.connect();
      try {
        const first = this.ledger.allocate(CHURN_MESSAGES);
        const { messages, seqsOf } = keyedMessages(first, CHURN_MESSAGES, this.target.partitions, this.target.valueBytes, this.rng);
        ackAll(this.ledger, seqsOf, await producer.send({ topic, acks: -1, messages }).catch((e: unknown) => {
          this.ledger.fail(CHURN_MESSAGES);
          throw e;
        }));
      } finally {
        await producer.disconnect();
      }
    } else if (kind === 'kafkajs-metadata') {
      const admin = kafkaClient(address, id).admin();
      await admin.connect();
      try {
        await admin.fetchTopicMetadata({ topics: [topic] });
      } finally {
        await admin.disconnect();
      }
    } else if (kind === 'platformatic-producer') {
      await this.#platformaticProduce(id);
    } else {
      const { Admin } = await import('@platformatic/kafka');
      const admin = new Admin({ clientId: id, bootstrapBrokers: [address] });
      try {
        await admin.metadata({ topics: [topic] });
      } finally {
        await admin.close();
      }
    }
  }

  /** One message to each of the first partitions, so each answer's offset is that message's. */
  async #platformaticProduce(id: string): Promise<void> {
    const { Producer } = await import('@platformatic/kafka');
    const { address, topic, partitions, valueBytes } = this.target;
    const producer = new Producer({ clientId: id, bootstrapBrokers: [address] });
    const count = Math.min(CHURN_MESSAGES, partitions);
    const first = this.ledger.allocate(count);
    try {
      const messages = Array.from({ length: count }, (_, p) => ({ topic, partition: p, key: Buffer.from(`key-${p}`), value: encodeValue(first + p, valueBytes) }));
      const answer = await producer.send({ messages, acks: -1 }).catch((e: unknown) => {
        this.ledger.fail(count);
        throw e;
      });
      for (const o of answer.offsets ?? []) this.ledger.ack(first + o.partition, o.partition, Number(o.offset));
    } finally {
      await producer.close();
    }
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    await Promise.allSettled([...this.#inFlight]);
  }
}

/**
 * Paces a group's processing to `rate` messages a second (shared by its members) until `untilMs`,
 * then lets it run free. Time lost waiting for a fetch or to a busy CPU is made up for over the
 * next PACE_CATCH_UP_MS, so the group's rate is the one asked for, not less, on a loaded host.
 */
const PACE_CATCH_UP_MS = 2_000;

export class Pace {
  #nextAt = 0;
  /** Set when the load starts (the members join first). */
  untilMs = Infinity;
  constructor(readonly rate: number) {}

  async take(): Promise<void> {
    const now = Date.now();
    if (now >= this.untilMs) return;
    this.#nextAt = Math.max(this.#nextAt, now - PACE_CATCH_UP_MS) + 1000 / this.rate;
    const wait = this.#nextAt - now;
    if (wait >= 1) await sleep(wait);
  }
}

/** A kafkajs consumer group whose members join and leave; counts the generations it completes. */
export class Group {
  readonly #members: Consumer[] = [];
  /** Generations completed: leader joins, one per rebalance. */
  generations = 0;
  crashes = 0;
  joins = 0;
  leaves = 0;
  #n = 0;

  constructor(
    readonly name: string,
    readonly target: ProduceTarget,
    readonly tally: GroupTally,
    readonly pace: Pace | null,
  ) {}

  get size(): number {
    return this.#members.length;
  }

  async join(): Promise<void> {
    const c = kafkaClient(this.target.address, `${this.name}-${this.#n++}`).consumer({ groupId: this.name, sessionTimeout: 30_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 1_000 });
    c.on(c.events.GROUP_JOIN, (e) => {
      if (e.payload.isLeader) this.generations++;
    });
    c.on(c.events.CRASH, () => void this.crashes++);
    await c.connect();
    await c.subscribe({ topic: this.target.topic, fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        await this.pace?.take();
        this.tally.record(decodeSeq(message.value), partition, Number(message.offset), Date.now());
      },
    });
    this.#members.push(c);
    this.joins++;
  }

  /** The newest member leaves (LeaveGroup). */
  async leave(): Promise<void> {
    const c = this.#members.pop();
    if (c === undefined) return;
    await c.disconnect();
    this.leaves++;
  }

  async stop(): Promise<void> {
    while (this.#members.length > 0) await this.leave();
  }
}
