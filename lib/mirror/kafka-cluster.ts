/**
 * KafkaCluster: what `sluice mirror` needs of a Kafka-protocol cluster (a `sluice serve`, Kafka,
 * Redpanda), over @platformatic/kafka: topic metadata, CreateTopics, read_committed end offsets,
 * read_committed fetches from an offset without joining any group (aborted records and control
 * batches dropped here, as Kafka's Java consumer does), and a transactional producer.
 *
 * @platformatic/kafka is published as an ES module only, and this package is CommonJS (tsc turns
 * `import()` into `require()`, which Node 20 refuses for ES modules): it is loaded by a real
 * dynamic import, once. Types come from its declarations. One instance per cluster; closed by
 * close(). Not thread-safe (one event loop).
 */
import type * as Plt from '@platformatic/kafka';
import type { MirrorRecord } from './mirror-record';

type PltModule = typeof Plt;
let loading: Promise<PltModule> | undefined;
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<PltModule>;

export function platformatic(): Promise<PltModule> {
  return (loading ??= importEsm('@platformatic/kafka'));
}

/** Kafka's isolation levels (FetchRequest, ListOffsetsRequest). */
const READ_COMMITTED = 1;
/** ListOffsets timestamps: the latest (end) and earliest (start) offsets. */
const LATEST = -1n;
const EARLIEST = -2n;
const IS_CONTROL = 1 << 5;
const IS_TRANSACTIONAL = 1 << 4;
const LOG_APPEND_TIME = 1 << 3;

export interface ClusterOptions {
  brokers: string[];
  clientId: string;
  /** How long a connection attempt or a request may take, ms. */
  timeoutMs: number;
  /** Attempts after a failed request (a broker unreachable fails after this many). */
  retries: number;
}

export interface FetchResult {
  records: MirrorRecord[];
  /** Where the next fetch starts (past markers and aborted records too). */
  nextOffset: number;
}

export class KafkaCluster {
  readonly #plt: PltModule;
  readonly #o: ClusterOptions;
  readonly #reader: Plt.Consumer;
  readonly #admin: Plt.Admin;
  readonly #producers: Plt.Producer[] = [];

  private constructor(plt: PltModule, o: ClusterOptions) {
    this.#plt = plt;
    this.#o = o;
    const base = { clientId: o.clientId, bootstrapBrokers: o.brokers, connectTimeout: o.timeoutMs, requestTimeout: o.timeoutMs, timeout: o.timeoutMs, retries: o.retries, retryDelay: 100 };
    // A consumer only for Metadata, ListOffsets and Fetch: it never joins its group.
    this.#reader = new plt.Consumer({ ...base, groupId: `${o.clientId}.reader`, isolationLevel: READ_COMMITTED } as Plt.ConsumerOptions<Buffer, Buffer, Buffer, Buffer>);
    this.#admin = new plt.Admin(base);
  }

  /** Connects (a Metadata request), failing with a plain sentence when no broker answers. */
  static async connect(o: ClusterOptions): Promise<KafkaCluster> {
    const c = new KafkaCluster(await platformatic(), o);
    try {
      await c.#reader.metadata({ topics: [] });
    } catch (e) {
      await c.close();
      throw new Error(`cannot reach the Kafka cluster at ${o.brokers.join(',')}: ${causeOf(e)}`);
    }
    return c;
  }

  /** The cluster id Metadata reports (null when the cluster gives none). */
  async clusterId(): Promise<string | null> {
    const m = await this.#reader.metadata({ topics: [] });
    return m.id === '' ? null : m.id;
  }

  /** Topic names, internal ones (`__...`) left out. */
  async topics(): Promise<string[]> {
    return (await this.#admin.listTopics({ includeInternals: false })).filter((t) => !t.startsWith('__')).sort();
  }

  /** A topic's partition count, or null when it does not exist. */
  async partitionCount(topic: string): Promise<number | null> {
    if (!(await this.topics()).includes(topic)) return null;
    const m = await this.#reader.metadata({ topics: [topic], forceUpdate: true });
    return m.topics.get(topic)?.partitionsCount ?? null;
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    await this.#admin.createTopics({ topics: [topic], partitions, replicas: -1 });
  }

  /** Per partition: the read_committed end (the last stable offset) and the start offset. */
  async offsets(topic: string): Promise<{ start: number[]; end: number[] }> {
    const end = await this.#reader.listOffsets({ topics: [topic], timestamp: LATEST, isolationLevel: READ_COMMITTED });
    const start = await this.#reader.listOffsets({ topics: [topic], timestamp: EARLIEST, isolationLevel: READ_COMMITTED });
    return { start: (start.get(topic) ?? []).map(Number), end: (end.get(topic) ?? []).map(Number) };
  }

  /** Committed records of one partition from `offset` (read_committed), about `maxBytes` of them. */
  async fetch(topic: string, partition: number, offset: number, maxBytes: number): Promise<FetchResult> {
    const m = await this.#reader.metadata({ topics: [topic] });
    const t = m.topics.get(topic);
    if (t === undefined || partition >= t.partitionsCount) throw new Error(`topic ${topic} has no partition ${partition}`);
    const response = await this.#reader.fetch({
      node: t.partitions[partition].leader,
      topics: [{ topicId: t.id, partitions: [{ partition, fetchOffset: BigInt(offset), partitionMaxBytes: maxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      isolationLevel: READ_COMMITTED,
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes,
    });
    const p = response.responses[0]?.partitions[0];
    if (p === undefined) return { records: [], nextOffset: offset };
    if (p.errorCode !== 0) throw new Error(`fetching ${topic}/${partition} at ${offset}: Kafka error code ${p.errorCode}`);
    return committedRecords(p.records ?? [], p.abortedTransactions, offset, Number(p.lastStableOffset));
  }

  /** A transactional, idempotent producer (acks -1) of `transactionalId`; closed with the cluster. */
  producer(transactionalId: string): Plt.Producer {
    const p = new this.#plt.Producer({
      clientId: this.#o.clientId,
      bootstrapBrokers: this.#o.brokers,
      connectTimeout: this.#o.timeoutMs,
      requestTimeout: this.#o.timeoutMs,
      timeout: this.#o.timeoutMs,
      retries: this.#o.retries,
      retryDelay: 100,
      transactionalId,
      idempotent: true,
      acks: -1,
      autocreateTopics: false,
    });
    this.#producers.push(p);
    return p;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#reader.close(true), this.#admin.close(), ...this.#producers.map((p) => p.close(true))]);
  }
}

/**
 * The records of fetched batches that a read_committed consumer gets: from `offset` on, below the
 * last stable offset, without control batches and without the batches of the aborted
 * transactions the response lists (each from its first offset to its producer's abort marker).
 */
export function committedRecords(batches: readonly Plt.RecordsBatch[], aborted: readonly { producerId: bigint; firstOffset: bigint }[], offset: number, lastStable: number): FetchResult {
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedNow = new Set<bigint>();
  const records: MirrorRecord[] = [];
  let next = offset;
  for (const b of batches) {
    const first = Number(b.firstOffset);
    const last = first + b.lastOffsetDelta;
    if (first >= lastStable) break;
    while (pending.length > 0 && Number(pending[0].firstOffset) <= last) abortedNow.add(pending.shift()!.producerId);
    next = Math.max(next, last + 1);
    if ((b.attributes & IS_CONTROL) !== 0) {
      abortedNow.delete(b.producerId);
      continue;
    }
    if ((b.attributes & IS_TRANSACTIONAL) !== 0 && abortedNow.has(b.producerId)) continue;
    for (const r of b.records) {
      const at = first + r.offsetDelta;
      if (at < offset || at >= lastStable) continue;
      const timestamp = (b.attributes & LOG_APPEND_TIME) !== 0 ? Number(b.maxTimestamp) : Number(b.firstTimestamp + r.timestampDelta);
      records.push({ offset: at, timestamp, key: r.key, value: r.value, headers: r.headers.map(([k, v]) => [k ?? Buffer.alloc(0), v]) });
    }
  }
  return { records, nextOffset: Math.min(next, Math.max(offset, lastStable)) };
}

function causeOf(e: unknown): string {
  const err = e as { message?: string; errors?: unknown[]; cause?: unknown };
  const inner = err.errors?.[0] ?? err.cause;
  if (inner !== undefined && inner !== e) return causeOf(inner);
  return err.message ?? String(e);
}
