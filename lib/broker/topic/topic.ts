/**
 * A topic: its normalised config, one Log per partition, and the backlog gate producers pass.
 * Created by the broker (partition logs first, topic.json last) and opened from topic.json on
 * every broker open. Lifetime: until the broker closes or deletes it; thread-confined.
 */
import { ErrorCode, SluiceError } from '../../errors';
import { Log, type LogOptions } from '../../storage/log';
import { BacklogGate } from './backlog-gate';
import type { BrokerDirectory, TopicMeta } from '../store/broker-directory';
import { TOPIC_FORMAT } from '../store/broker-directory';
import type { Clock } from '../time/clock';
import type { PartitionDescription } from '../describe';
import { DurationHistogram, type DurationSnapshot } from '../../storage/duration-histogram';
import { logOptionsOf, type TopicConfig } from './topic-config';
import { TopicPartition } from './topic-partition';
import type { PartitionReopen } from './partition-reopen';
import { DedupWindow } from './dedup-window';

/**
 * How a topic's partition Logs are opened (see LogOptions): `repair` truncates at mid-log
 * corruption, `readOnly` changes nothing on disk, and `create: false` (every open of an existing
 * topic) makes a partition whose files were removed CORRUPT instead of a new empty log.
 */
export interface OpenMode {
  repair?: boolean;
  readOnly?: boolean;
  create?: boolean;
}
const CREATE: OpenMode = {};

export class Topic {
  readonly name: string;
  readonly createdAt: number;
  readonly gate: BacklogGate;
  #config: TopicConfig;
  readonly #partitions: TopicPartition[];
  #closed = false;

  private constructor(meta: TopicMeta, partitions: TopicPartition[], backlog: (t: Topic) => number, clock: Clock) {
    this.name = meta.name;
    this.#config = meta.config;
    this.createdAt = meta.createdAt;
    this.#partitions = partitions;
    const retains = meta.config.retentionMs !== null || meta.config.retentionBytes !== null;
    this.gate = new BacklogGate(meta.name, meta.config.maxBacklog, () => backlog(this), clock, retains ? () => this.retain(clock.now()) : null);
  }

  get config(): TopicConfig {
    return this.#config;
  }

  /** The ids of its latest messages sent with one (idempotent publish), made on first use. */
  get dedup(): DedupWindow {
    return (this.#dedup ??= new DedupWindow(() => this.#partitions, this.#config.dedupWindowMs, this.#config.dedupWindowCount));
  }
  #dedup: DedupWindow | undefined;

  /** Its partitions, in order; more may be added (grow), none removed. */
  get partitions(): readonly TopicPartition[] {
    return this.#partitions;
  }

  /**
   * Adds partitions up to `total`: the marker, the new partition logs, then topic.json with the
   * new count (the commit point; see broker-directory.ts). A failure before the commit removes
   * what was made and leaves the topic as it was.
   */
  async grow(directory: BrokerDirectory, total: number): Promise<void> {
    const from = this.#partitions.length;
    const config: TopicConfig = { ...this.#config, partitions: total };
    await directory.beginGrowth(this.name);
    const added: TopicPartition[] = [];
    try {
      for (let p = from; p < total; p++) added.push(new TopicPartition(this.name, p, await Log.open(directory.partitionDir(this.name, p), logOptionsOf(config)), config.messageTtlMs));
      await directory.commitGrowth({ format: TOPIC_FORMAT, name: this.name, config, createdAt: this.createdAt });
    } catch (e) {
      const reason = new SluiceError(`partitions could not be added to topic ${JSON.stringify(this.name)}`, ErrorCode.CLOSED);
      await Promise.allSettled(added.map((tp) => tp.close(reason, true)));
      await directory.abandonGrowth(this.name, from, total).catch(() => {});
      throw e;
    }
    // Committed: from here on nothing undoes the growth.
    await directory.finishGrowth(this.name).catch(() => {});
    if (this.#closed) {
      // Deleted or closed meanwhile: the new logs close as the others did.
      await Promise.all(added.map((tp) => tp.close(new SluiceError(`topic ${JSON.stringify(this.name)} is closed`, ErrorCode.CLOSED), true)));
      return;
    }
    this.#partitions.push(...added);
    this.#config = config;
  }

  /**
   * Reopens partition `index` if its Log failed (see TopicPartition.reopen): the same directory and
   * options, never creating it anew (a partition whose files are gone is CORRUPT).
   */
  reopenPartition(directory: BrokerDirectory, index: number): Promise<PartitionReopen | null> {
    const options: LogOptions = { ...logOptionsOf(this.#config), create: false };
    return this.#partitions[index].reopen(() => Log.open(directory.partitionDir(this.name, index), options));
  }

  /** Applies the retention limits now (the Logs do on every segment roll); true if anything went. */
  retain(nowMs: number): boolean {
    let deleted = false;
    for (const tp of this.partitions) if (tp.retain(nowMs)) deleted = true;
    return deleted;
  }

  /** Opens the partition logs of a topic described by `meta`. */
  static async open(directory: BrokerDirectory, meta: TopicMeta, backlog: (t: Topic) => number, clock: Clock, mode: OpenMode = CREATE): Promise<Topic> {
    const options: LogOptions = { ...logOptionsOf(meta.config), ...mode };
    const partitions: TopicPartition[] = [];
    try {
      for (let p = 0; p < meta.config.partitions; p++) {
        const log = await Log.open(directory.partitionDir(meta.name, p), options);
        partitions.push(new TopicPartition(meta.name, p, log, meta.config.messageTtlMs ?? null));
      }
    } catch (e) {
      const reason = new SluiceError(`topic ${JSON.stringify(meta.name)} failed to open`, ErrorCode.CLOSED);
      await Promise.allSettled(partitions.map((tp) => tp.close(reason, true)));
      throw e;
    }
    return new Topic(meta, partitions, backlog, clock);
  }

  /**
   * Creates the topic: its directory with the creation marker, the partition logs, then
   * topic.json (the commit point). A failure before the commit removes what was made.
   */
  static async create(directory: BrokerDirectory, name: string, config: TopicConfig, backlog: (t: Topic) => number, clock: Clock): Promise<Topic> {
    const meta: TopicMeta = { format: TOPIC_FORMAT, name, config, createdAt: clock.now() };
    await directory.beginTopic(name);
    let topic: Topic | undefined;
    try {
      topic = await Topic.open(directory, meta, backlog, clock, CREATE);
      await directory.commitTopic(meta);
    } catch (e) {
      await topic?.close(new SluiceError(`topic ${JSON.stringify(name)} could not be created`, ErrorCode.CLOSED), true);
      await directory.abandonTopic(name);
      throw e;
    }
    return topic;
  }

  /** Messages retained in all partitions (what the backlog is when no group consumes the topic). */
  retainedMessages(): number {
    let n = 0;
    for (const tp of this.partitions) n += tp.size;
    return n;
  }

  /** Every partition's offsets, traffic and health, and the partitions' confirm and sync durations merged. */
  describePartitions(): { partitions: PartitionDescription[]; confirmLatency: DurationSnapshot; syncDuration: DurationSnapshot } {
    const confirm = new DurationHistogram();
    const sync = new DurationHistogram();
    const partitions = this.partitions.map((tp) => {
      const stats = tp.stats();
      confirm.merge(stats.confirmLatency);
      sync.merge(stats.syncDuration);
      return tp.describeFull(stats);
    });
    return { partitions, confirmLatency: confirm.snapshot(), syncDuration: sync.snapshot() };
  }

  /**
   * Closes every partition: `reason` is what later appends, reads and (with `failPending`, for a
   * delete) pending confirms fail with.
   */
  async close(reason: SluiceError, failPending: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.partitions.map((tp) => tp.close(reason, failPending)));
  }

  /** Fault injection (SLUICE_FAULT_INJECTION=1): a power failure of every partition now. */
  simulatePowerLoss(reason: SluiceError): void {
    this.#closed = true;
    for (const tp of this.partitions) tp.simulatePowerLoss(reason);
  }
}
