/**
 * Broker: an in-process message broker over one data directory (see broker-directory.ts for the
 * layout). It owns the topics (one Log per partition), the consumer groups (their durable state in
 * the group-state log, their members and assignment in a GroupCoordinator each), and hands out
 * producers and consumers.
 *
 *   const broker = await Broker.open(dir);
 *   await broker.createTopic('orders', { partitions: 4, maxBacklog: 100_000 });
 *   await broker.send('orders', { key: 'customer-7', value: { total: 12 } });
 *   const c = broker.consumer({ group: 'billing', topics: 'orders', model: 'ack' });
 *   for await (const msg of c) { ...; await msg.ack(); }
 *
 * One broker per directory, across processes (a second open fails with LOCKED). Everything runs on
 * the thread that opened it. close() closes consumers (waiting for running handlers), writes the
 * group state, and closes every Log.
 */
import { Transaction, type TransactionLink } from './txn/transaction';
import { TransactionCoordinator } from './txn/txn-coordinator';
import { DelayStore, type DelayLink, type DelayedMessage } from './delay/delay-store';
import { Scheduler, type ScheduleDescription, type ScheduleOptions } from './schedule/scheduler';
import { HalfStore, PreparedMessage, type CheckOptions, type HalfLink, type TransactionCheck } from './txn/half-messages';
import type { Message } from '../storage/log';
import { DEAD_LETTER_SUFFIX, deadLetterMessage, type DeadLetterRequest } from './delivery/ack/dead-letters';
import { redrive, REDRIVE_GROUP, type RedriveLink, type RedriveOptions, type RedriveResult } from './delivery/ack/redrive';
import * as fs from 'node:fs';
import { ErrorCode, SluiceError } from '../errors';
import { lockDirectory, type DirectoryLock } from '../storage/directory-lock';
import type { RecoveryReport, SyncPolicy } from '../storage/log';
import { LIMITS } from '../limits';
import { boolean, checkKeys, integer, oneOf, optionsObject, shown } from '../validate';
import { deliveryModels } from './delivery/models';
import { ProducerIds } from './produce/producer-ids';
import { BrokerDirectory, corrupt, type TopicMeta } from './store/broker-directory';
import { checkClock, systemClock, withLongTimers, type Clock } from './time/clock';
import type { AckMessage, ConsumedMessage, OffsetMessage } from './consume/consumed-message';
import { Consumer } from './consume/consumer';
import { normalizeConsumerOptions, type ConsumerOptions, type StartPosition } from './consume/consumer-options';
import type { BrokerDescription, GroupDescription, GroupPartitionDescription, TopicDescription } from './describe';
import { GroupCoordinator, PartitionSlot } from './group/group-coordinator';
import { GroupState, type GroupRecord } from './group/group-state';
import { GroupStateLog } from './group/group-state-log';
import { asMessage, Producer, type ProducerMessage, type ProducerOptions, type SendConfirm, type SendOptions } from './produce/producer';
import { PartitionAccess } from './topic/partition-access';
import { GroupOffsets } from './group/group-offsets';
import { Topic } from './topic/topic';
import type { TopicPartition } from './topic/topic-partition';
import type { PartitionReopen, PartitionReopenOutcome } from './topic/partition-reopen';
import { checkTopicName, normalizeTopicConfig, PARTITIONS_MAX, type TopicConfigInput } from './topic/topic-config';
import { explain, type ExplainLink } from './explain/explain';
import type { Explanation, ExplainQuery } from './explain/explanation';

export interface BrokerOptions {
  /**
   * Open every partition Log with `repair`: mid-log corruption is truncated instead of failing
   * the open (the data past it is lost; `broker.recovery` says what was cut where). Default false.
   */
  repair?: boolean;
  /**
   * Open without changing anything: no lock (another broker may have the directory open), nothing
   * created, removed, truncated or rewritten, every partition and the group state opened
   * read-only. Topics, groups and their lag can be described, and `recovery` says what a normal
   * open would do; createTopic, deleteTopic, sends, consumers and deleteGroup fail with READ_ONLY.
   */
  readOnly?: boolean;
  /** Time for timestamps, timeouts and timers (default: the system clock). */
  clock?: Clock;
  /** Durability of acks and commits (the group-state Log's sync policy). Default 'always'. */
  groupSync?: SyncPolicy;
  /** For groupSync 'interval'. */
  groupSyncIntervalMs?: number;
  /** Bytes of group-state operations after which the state is checkpointed. Default 4 MiB. */
  groupCheckpointBytes?: number;
}

export interface PartitionRecovery extends RecoveryReport {
  topic: string;
  partition: number;
  endOffset: number;
}

export interface BrokerRecovery {
  /** Opened read-only: the partitions' reports say what a normal open would do. */
  readOnly: boolean;
  partitions: PartitionRecovery[];
  /** Directories of topic creations that crashed: removed at open (a read-only open leaves them). */
  halfMadeTopics: string[];
}

const BROKER_KEYS = new Set(['clock', 'groupSync', 'groupSyncIntervalMs', 'groupCheckpointBytes', 'repair', 'readOnly']);
const DEFAULT_CHECKPOINT_BYTES = 4 * 1024 * 1024;
const REDRIVE_KEYS = new Set(['to', 'filter', 'limit']);
const CHECK_KEYS = new Set(['afterMs', 'everyMs', 'maxChecks']);

export class Broker {
  readonly #directory: BrokerDirectory;
  /** Null for a read-only broker, which takes no lock. */
  readonly #lock: DirectoryLock | null;
  /** Topic directories of creations that crashed, found at open (removed unless read-only). */
  #halfMade: string[] = [];
  readonly #clock: Clock;
  /** The clock is the system clock: the Logs stamp messages themselves. */
  readonly #systemTime: boolean;
  readonly #topics = new Map<string, Topic>();
  readonly #creating = new Set<string>();
  /** Deletes still moving a topic's directory to the trash: the name stays reserved until then. */
  readonly #deleting = new Map<string, Promise<void>>();
  readonly #state: GroupState;
  readonly #groupLog: GroupStateLog;
  readonly #coordinators = new Map<string, GroupCoordinator>();
  readonly #consumers = new Set<Consumer<ConsumedMessage>>();
  readonly #defaultProducer: Producer;
  readonly #memberSeq = new Map<string, number>();
  #closing: Promise<void> | undefined;

  private constructor(directory: BrokerDirectory, lock: DirectoryLock | null, clock: Clock, systemTime: boolean, state: GroupState, groupLog: GroupStateLog) {
    this.#directory = directory;
    this.#lock = lock;
    this.#clock = clock;
    this.#systemTime = systemTime;
    this.#state = state;
    this.#groupLog = groupLog;
    this.#defaultProducer = this.producer();
    state.onProgress = (topic) => this.#topics.get(topic)?.gate.recheck();
    this.#scheduler = new Scheduler({
      clock,
      state,
      groupLog,
      topic: (name) => this.#topics.get(name),
      encode: (topic, message) => ({ partition: message.partition ?? null, message: asMessage(this.#defaultProducer.route(topic, message).prepared) }),
      transaction: this.#ownTransaction,
    });
  }

  /** Opens (creating if needed) the broker in `dir`, replaying the group state. */
  static async open(dir: string, options: BrokerOptions = {}): Promise<Broker> {
    if (typeof dir !== 'string') throw new TypeError(`dir must be a string, got ${shown(dir)}`);
    if (dir.length === 0) throw new RangeError('dir must not be empty');
    const o = optionsObject(options, 'broker options');
    checkKeys(o, BROKER_KEYS, 'broker option');
    const userClock = o.clock === undefined ? systemClock : checkClock(o.clock);
    const clock = withLongTimers(userClock);
    const groupSync = oneOf(o.groupSync, 'groupSync', ['always', 'interval', 'none'] as const, 'always');
    const groupSyncIntervalMs = o.groupSyncIntervalMs === undefined ? undefined : integer(o.groupSyncIntervalMs, 'groupSyncIntervalMs', 1, LIMITS.syncIntervalMsMax);
    const checkpointBytes = integer(o.groupCheckpointBytes, 'groupCheckpointBytes', 1, Number.MAX_SAFE_INTEGER, DEFAULT_CHECKPOINT_BYTES);
    const repair = boolean(o.repair, 'repair', false);
    const readOnly = boolean(o.readOnly, 'readOnly', false);
    const directory = new BrokerDirectory(dir);
    // A read-only open takes no lock and creates nothing, not even the directory.
    let lock: DirectoryLock | null = null;
    if (readOnly) await checkBrokerDirectory(directory);
    else {
      await fs.promises.mkdir(directory.root, { recursive: true });
      lock = lockDirectory(directory.root, 'broker directory');
    }
    const topics: Topic[] = [];
    let groupLog: GroupStateLog | undefined;
    let delays: DelayStore | null = null;
    let half: HalfStore | null = null;
    try {
      if (!readOnly) await directory.ensureLayout();
      const meta = await directory.readBrokerMeta();
      const trashed = await directory.trashedTopics();
      const state = new GroupState();
      const halfMade: string[] = [];
      const metas = await directory.loadTopics(checkTopicMeta, readOnly, halfMade);
      let broker: Broker | undefined;
      const backlog = (t: Topic): number => broker!.#backlog(t);
      const mode = readOnly ? { repair, readOnly, create: false } : { repair, create: false };
      for (const m of metas) topics.push(await Topic.open(directory, m, backlog, clock, mode));
      const stateOptions = readOnly ? { sync: 'none' as const, checkpointBytes, readOnly } : { sync: groupSync, syncIntervalMs: groupSyncIntervalMs, checkpointBytes, now: () => clock.now() };
      groupLog = await GroupStateLog.open(directory, state, stateOptions, meta, metas.length > 0, clock.now());
      broker = new Broker(directory, lock, clock, userClock === systemClock, state, groupLog);
      for (const t of topics) broker.#topics.set(t.name, t);
      broker.#halfMade = halfMade;
      await broker.#reconcile(trashed);
      if (!readOnly) await TransactionCoordinator.recover(state, groupLog, (name) => broker!.#topics.get(name), clock.now());
      if (!readOnly) await directory.emptyTrash();
      delays = await DelayStore.open(directory.delayDir, readOnly ? null : broker.#delayLink);
      broker.#delays = delays;
      await delays?.start();
      if (!readOnly) {
        half = await HalfStore.open(directory.halfDir, broker.#halfLink);
        broker.#half = half;
        broker.#scheduler.start();
      }
      return broker;
    } catch (e) {
      await half?.close().catch(() => {});
      await delays?.close().catch(() => {});
      await groupLog?.close().catch(() => {});
      await Promise.allSettled(topics.map((t) => t.close(new SluiceError('the broker failed to open', ErrorCode.CLOSED), true)));
      lock?.release();
      throw e;
    }
  }

  /**
   * Checks the group state against the topics found on disk, at open. Progress in a topic that is
   * gone is dropped only if the topic is in the trash (a delete that crashed before the group state
   * forgot it); otherwise the topic's files were lost and that is CORRUPT, as is progress in more
   * or fewer partitions than the topic has. Progress past a partition's end (the topic lost
   * unsynced messages the group state had seen) is brought down to it.
   */
  async #reconcile(trashed: ReadonlySet<string>): Promise<void> {
    const state = this.#state;
    let changed = false;
    for (const g of state.groups.values()) {
      for (const [topic, parts] of [...g.topics]) {
        const t = this.#topics.get(topic);
        if (t === undefined) {
          if (!trashed.has(topic)) {
            const e = new SluiceError(
              `group ${JSON.stringify(g.name)} has progress in topic ${JSON.stringify(topic)}, but ${this.#directory.topicDir(topic)} is missing: the topic's files were lost`,
              ErrorCode.CORRUPT,
            );
            e.path = this.#directory.topicDir(topic);
            throw e;
          }
          state.dropTopic(topic);
          changed = true;
          continue;
        }
        // Fewer: partitions were added and the broker stopped before the group state said so.
        if (parts.length < t.partitions.length) {
          state.growTopic(g, topic, t.partitions.length);
          changed = true;
        }
        if (parts.length !== t.partitions.length) {
          const e = new SluiceError(
            `group ${JSON.stringify(g.name)} has progress in ${parts.length} partitions of topic ${JSON.stringify(topic)}, which has ${t.partitions.length} (${this.#directory.topicMetaPath(topic)})`,
            ErrorCode.CORRUPT,
          );
          e.path = this.#directory.topicMetaPath(topic);
          throw e;
        }
        for (const p of parts) if (state.truncate(p, t.partitions[p.partition].endOffset)) changed = true;
      }
    }
    if (changed && this.#lock !== null) await this.#groupLog.confirm();
    for (const g of state.groups.values()) {
      const c = this.#coordinatorOf(g);
      for (const topic of g.topics.keys()) c.ensureTopic(topic);
    }
  }

  get dir(): string {
    return this.#directory.root;
  }

  /**
   * What opening found in each partition: the Log's recovery report (bytes truncated, segments
   * deleted, indexes rebuilt...) with the partition's end offset. After a `repair` open, a
   * partition whose `bytesTruncated` is non-zero was cut there.
   */
  get recovery(): BrokerRecovery {
    const partitions: PartitionRecovery[] = [];
    for (const t of [...this.#topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      for (const tp of t.partitions) partitions.push({ topic: t.name, partition: tp.index, endOffset: tp.endOffset, ...tp.recovery });
    }
    return { readOnly: this.#lock === null, partitions, halfMadeTopics: [...this.#halfMade] };
  }

  get clock(): Clock {
    return this.#clock;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  // ---- Topics ----

  /** Creates a topic; fails with TOPIC_EXISTS if there is one of that name. */
  async createTopic(name: string, config?: TopicConfigInput): Promise<TopicDescription> {
    this.#checkWritable('createTopic');
    checkTopicName(name);
    const normalized = normalizeTopicConfig(config);
    // A delete of this name in progress would rename the new topic's directory into the trash
    // (it renames by name once the old Logs are closed): create only once it is done.
    for (let d = this.#deleting.get(name); d !== undefined; d = this.#deleting.get(name)) await d.catch(() => {});
    this.#checkOpen();
    if (this.#topics.has(name) || this.#creating.has(name)) throw new SluiceError(`topic ${JSON.stringify(name)} already exists`, ErrorCode.TOPIC_EXISTS);
    this.#creating.add(name);
    try {
      const topic = await Topic.create(this.#directory, name, normalized, (t) => this.#backlog(t), this.#clock);
      if (this.#closing !== undefined) {
        await topic.close(this.#closedError(), true);
        throw this.#closedError();
      }
      this.#topics.set(name, topic);
      // Consumers subscribed by a pattern it matches take it up now.
      for (const c of this.#consumers) c.topicCreated(name);
      return this.describeTopic(name);
    } finally {
      this.#creating.delete(name);
    }
  }

  /**
   * Deletes a topic, its data and every group's progress in it. Its consumers stop getting it.
   * The rename into the trash is the commit point; the group state forgets the topic after it
   * (durably, before the files go), so a crash in between leaves a trashed topic whose progress
   * the next open drops, and never progress without its topic.
   */
  async deleteTopic(name: string): Promise<void> {
    this.#checkWritable('deleteTopic');
    // A growth in progress writes into the topic's directory: the delete renames it once that is done.
    for (let g = this.#growing.get(name); g !== undefined; g = this.#growing.get(name)) await g.catch(() => {});
    const topic = this.#topic(name);
    this.#topics.delete(name);
    topic.gate.close(unknownTopic(name));
    for (const c of this.#coordinators.values()) c.topicDeleted(name);
    const removal = (async () => {
      await topic.close(unknownTopic(name), true);
      const trashed = await this.#directory.trashTopic(name);
      this.#state.dropTopic(name);
      await this.#groupLog.confirm();
      await this.#directory.removeTrashed(trashed);
    })();
    this.#deleting.set(name, removal);
    try {
      await removal;
    } finally {
      if (this.#deleting.get(name) === removal) this.#deleting.delete(name);
    }
  }

  /**
   * Adds partitions to a topic until it has `total` (Kafka's CreatePartitions): new, empty
   * partitions that keyed sends now spread over too (a key's partition may change, as in Kafka).
   * Groups tracking the topic consume the new partitions from their start, and their members
   * share them out. RangeError unless `total` is more than the topic has and at most
   * PARTITIONS_MAX; UNKNOWN_TOPIC.
   */
  async addPartitions(name: string, total: number): Promise<TopicDescription> {
    this.#checkWritable('addPartitions');
    // One growth of a topic at a time: a second waits for the first, then is checked against it.
    for (let g = this.#growing.get(name); g !== undefined; g = this.#growing.get(name)) await g.catch(() => {});
    const t = this.#topic(name);
    if (!Number.isInteger(total) || total <= t.partitions.length || total > PARTITIONS_MAX) {
      throw new RangeError(`total must be an integer from ${t.partitions.length + 1} to ${PARTITIONS_MAX} (topic ${name} has ${t.partitions.length} partitions), got ${shown(total)}`);
    }
    const growth = t.grow(this.#directory, total);
    this.#growing.set(name, growth);
    try {
      await growth;
    } finally {
      this.#growing.delete(name);
    }
    if (this.#topics.get(name) !== t) throw unknownTopic(name); // deleted meanwhile
    // Committed: from here on the growth holds, even if the broker is closing meanwhile (the
    // group state then learns of it at the next open, if it was not written).
    for (const g of this.#state.groups.values()) this.#state.growTopic(g, name, total);
    for (const c of this.#coordinators.values()) c.topicGrown(name);
    try {
      await this.#groupLog.confirm();
    } catch (e) {
      if (this.#closing === undefined) throw e;
    }
    return this.#describe(t);
  }
  readonly #growing = new Map<string, Promise<void>>();

  listTopics(): string[] {
    this.#checkOpen();
    return [...this.#topics.keys()].sort();
  }

  describeTopic(name: string): TopicDescription {
    return this.#describe(this.#topic(name));
  }

  #describe(t: Topic): TopicDescription {
    const name = t.name;
    const groups = [...this.#state.groups.values()].filter((g) => g.topics.has(name)).map((g) => g.name);
    const { partitions, confirmLatency, syncDuration } = t.describePartitions();
    return {
      name: t.name,
      config: { ...t.config },
      createdAt: t.createdAt,
      partitions,
      messages: partitions.reduce((n, p) => n + p.endOffset - p.startOffset, 0),
      backlog: this.#backlog(t),
      waitingSends: t.gate.waiting,
      groups: groups.sort(),
      confirmLatency,
      syncDuration,
    };
  }

  #backlog(t: Topic): number {
    const lag = this.#state.backlog(
      t.name,
      (p) => t.partitions[p].endOffset,
      (p) => t.partitions[p].startOffset,
    );
    return lag ?? t.retainedMessages();
  }

  /** @internal The topic, or UNKNOWN_TOPIC. */
  #topic(name: unknown): Topic {
    this.#checkOpen();
    if (typeof name !== 'string') throw new TypeError(`topic must be a string, got ${typeof name}`);
    const t = this.#topics.get(name);
    if (t === undefined) throw unknownTopic(name);
    return t;
  }

  /**
   * One partition for a protocol front end (the Kafka server): raw batches in, file ranges out
   * (see PartitionAccess). UNKNOWN_TOPIC for a topic that does not exist, RangeError for an index
   * it does not have.
   */
  partition(topic: string, index: number): PartitionAccess {
    const t = this.#topic(topic);
    if (!Number.isInteger(index) || index < 0 || index >= t.partitions.length) {
      throw new RangeError(`partition ${index} does not exist (topic ${t.name} has partitions 0 to ${t.partitions.length - 1})`);
    }
    return new PartitionAccess(t, index, () => this.transactions);
  }

  /**
   * Reopens a partition whose Log failed (fail-stop after a failed write or sync: fix the disk
   * first): the failed Log is closed and its directory opened again, recovering what is on disk,
   * and appends resume from there. Resolves with what it did, or null when the partition had not
   * failed. Producers, groups and the Kafka server keep their handles. Readers had seen only what
   * was written; if the disk lost some of that (`lostVisible` > 0), every group's progress past the
   * new end is brought down to it, as an open does (in-process consumers holding the partition
   * keep their in-memory position: close and reopen them). If the open fails the partition stays
   * offline (appends fail READ_ONLY) and the error is thrown; a later call tries again.
   */
  async reopenPartition(topic: string, partition: number): Promise<PartitionReopen | null> {
    this.#checkWritable('reopenPartition');
    const t = this.#topic(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= t.partitions.length) {
      throw new RangeError(`partition ${partition} does not exist (topic ${t.name} has partitions 0 to ${t.partitions.length - 1})`);
    }
    const reopened = await t.reopenPartition(this.#directory, partition);
    if (reopened !== null && reopened.lostVisible > 0) await this.#truncateProgress(t.name, partition, reopened.endOffset);
    t.gate.recheck();
    return reopened;
  }

  /** Reopens every failed partition (see reopenPartition): what each reopen did or why it failed, by topic and partition. */
  async reopenFailedPartitions(): Promise<PartitionReopenOutcome[]> {
    this.#checkWritable('reopenFailedPartitions');
    const failed = [...this.#topics.values()].flatMap((t) => t.partitions.filter((tp) => tp.failure !== null));
    const outcomes = await Promise.all(
      failed.map((tp) =>
        this.reopenPartition(tp.topic, tp.index).then(
          (r): PartitionReopenOutcome | null => r,
          (e: unknown): PartitionReopenOutcome => ({ topic: tp.topic, partition: tp.index, error: e instanceof Error ? e : new Error(String(e)) }),
        ),
      ),
    );
    // null: another caller's reopen of the same partition got there first.
    return outcomes.filter((o): o is PartitionReopenOutcome => o !== null);
  }

  /** Brings every group's progress in a partition down to `end` (its Log lost records past it), durably. */
  async #truncateProgress(topic: string, partition: number, end: number): Promise<void> {
    let changed = false;
    for (const g of this.#state.groups.values()) {
      const p = g.topics.get(topic)?.[partition];
      if (p !== undefined && this.#state.truncate(p, end)) changed = true;
    }
    if (changed) await this.#groupLog.confirm();
  }

  /**
   * A producer id never handed out before in this data directory, for an idempotent producer
   * (Kafka's InitProducerId). READ_ONLY on a read-only broker.
   */
  /**
   * Runs `fn` as one transaction: its sends (`tx.send`), acks (`tx.ack`) and offset commits
   * (`tx.commit`) all apply, or none do, across a crash at any point. Consumers never read records
   * of an open or aborted transaction. Commits when `fn` resolves (resolving with its result, once
   * everything is durable), aborts when it throws (rethrowing) or calls `tx.abort()`. See
   * broker/txn/transaction.ts for how it is stored. TRANSACTION_NESTED inside another
   * transaction's function.
   */
  async transaction<T>(fn: (tx: Transaction) => T | Promise<T>): Promise<T> {
    this.#checkWritable('transaction');
    if (typeof fn !== 'function') throw new TypeError('transaction() takes a function (tx) => ...');
    if (Transaction.active() !== undefined) throw new SluiceError('transactions do not nest: use the tx you were given', ErrorCode.TRANSACTION_NESTED);
    const tx = new Transaction(this.#transactionLink, await this.newProducerId());
    return tx.run(fn);
  }

  /**
   * Sends dead letters of `topic` back to their original topics (or `to`), exactly once each
   * (see delivery/ack/redrive.ts): those `filter` accepts, at most `limit`. Resolves with how
   * many. Redrives run one at a time.
   */
  redrive(topic: string, options: RedriveOptions = {}): Promise<RedriveResult> {
    try {
      this.#checkWritable('redrive');
      const dlq = this.#topic(topic);
      const o = optionsObject(options, 'redrive options');
      checkKeys(o, REDRIVE_KEYS, 'redrive option');
      if (options.to !== undefined) this.#topic(options.to);
      if (options.filter !== undefined && typeof options.filter !== 'function') throw new TypeError('filter must be a function (letter) => boolean');
      const limit = integer(options.limit, 'limit', 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      const run = this.#redriving.then(() => redrive(this.#redriveLink, dlq, { ...options, limit }));
      this.#redriving = run.then(() => {}, () => {});
      return run;
    } catch (e) {
      return Promise.reject(e);
    }
  }
  #redriving: Promise<void> = Promise.resolve();

  get #redriveLink(): RedriveLink {
    return {
      progressOf: (t) => {
        const g = this.#state.groups.get(REDRIVE_GROUP) ?? this.#state.createGroup(REDRIVE_GROUP, 'ack', this.#clock.now());
        return this.#coordinatorOf(g).ensureTopic(t.name).map((slot) => slot.progress);
      },
      topic: (name) => this.#topic(name),
      transaction: async (fn) => {
        const tx = new Transaction(this.#transactionLink, await this.newProducerId());
        await tx.run(fn);
      },
    };
  }

  /**
   * An ack-model partition's dead letter: appended to the dead-letter topic (the default
   * `<topic>.dlq` created on first use, with the source's partitions and sync) and acked, in one
   * transaction.
   */
  readonly #deadLetterSink = async (r: DeadLetterRequest): Promise<void> => {
    const dlq = await this.#deadLetterTopic(r);
    const progress = this.#state.groups.get(r.group)?.topics.get(r.topic)?.[r.partition];
    if (progress === undefined || progress.isAcked(r.offset)) return;
    const tx = new Transaction(this.#transactionLink, await this.newProducerId());
    await tx.run(async () => {
      await tx.appendStored(dlq, r.partition % dlq.partitions.length, deadLetterMessage(r));
      tx.ackOffset(progress, r.offset);
    });
    this.#deadLettered.set(r.group, (this.#deadLettered.get(r.group) ?? 0) + 1);
  };
  /** Dead letters committed per group since open (describeGroup's deadLetters). */
  readonly #deadLettered = new Map<string, number>();

  async #deadLetterTopic(r: DeadLetterRequest): Promise<Topic> {
    const name = r.deadLetterTopic;
    for (let pending = this.#creating.has(name); pending; pending = this.#creating.has(name)) await new Promise((resolve) => setImmediate(resolve));
    const found = this.#topics.get(name);
    if (found !== undefined) return found;
    if (name !== r.topic + DEAD_LETTER_SUFFIX) throw unknownTopic(name);
    const source = this.#topic(r.topic).config;
    await this.createTopic(name, { partitions: source.partitions, sync: source.sync }).catch((e: unknown) => {
      if (!(e instanceof SluiceError && e.code === ErrorCode.TOPIC_EXISTS)) throw e;
    });
    return this.#topic(name);
  }

  /** The delay store's view of the broker: its moves are transactions of their own. */
  get #delayLink(): DelayLink {
    return {
      clock: this.#clock,
      state: this.#state,
      topic: (name) => this.#topics.get(name),
      transaction: this.#ownTransaction,
    };
  }

  /** A transaction of the broker's own (a delay store move, a schedule's firing, a dead letter). */
  readonly #ownTransaction = async (fn: (tx: Transaction) => Promise<void>): Promise<void> => {
    const tx = new Transaction(this.#transactionLink, await this.newProducerId());
    await tx.run(fn);
  };

  // ---- Half messages ----

  /** A half message to `topic` (see Producer.prepare and txn/half-messages.ts). */
  prepare(topic: string, message: ProducerMessage): Promise<PreparedMessage> {
    return this.#defaultProducer.prepare(topic, message);
  }

  /**
   * Registers the callback that settles half messages left unresolved: asked `afterMs` after one
   * was prepared, again every `everyMs` while it answers 'unknown', and after `maxChecks` such
   * answers the message is rolled back. Half messages found at open wait for it.
   */
  onTransactionCheck(fn: TransactionCheck, options: CheckOptions = {}): void {
    this.#checkWritable('onTransactionCheck');
    if (typeof fn !== 'function') throw new TypeError('onTransactionCheck takes a function (message) => "commit" | "rollback" | "unknown"');
    const o = optionsObject(options, 'check options');
    checkKeys(o, CHECK_KEYS, 'check option');
    const afterMs = integer(o.afterMs, 'afterMs', 0, Number.MAX_SAFE_INTEGER, 6000);
    this.#half!.onCheck(fn, {
      afterMs,
      everyMs: integer(o.everyMs, 'everyMs', 1, Number.MAX_SAFE_INTEGER, 6000),
      maxChecks: integer(o.maxChecks, 'maxChecks', 1, Number.MAX_SAFE_INTEGER, 15),
    });
  }

  readonly #prepareHalf = async (t: Topic, partition: number, message: Message): Promise<PreparedMessage> => {
    this.#checkWritable('prepare');
    const id = await this.#half!.prepare(t.name, partition, message);
    return new PreparedMessage(this.#half!, id, t.name, partition);
  };

  get #halfLink(): HalfLink {
    return { clock: this.#clock, state: this.#state, groupLog: this.#groupLog, topic: (name) => this.#topics.get(name), transaction: this.#ownTransaction };
  }
  #half: HalfStore | null = null;

  // ---- Schedules ----

  /**
   * Sends `options.message` to `options.topic` every `every` ms or at the times of a cron
   * expression, durably (see schedule/scheduler.ts: no firing twice across a crash; missed
   * firings per `missed`). A schedule of the same name is replaced. Resolves once it is durable.
   */
  schedule(name: string, options: ScheduleOptions): Promise<ScheduleDescription> {
    try {
      this.#checkWritable('schedule');
      return this.#scheduler.define(name, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Removes a schedule (false if there was none); resolves once that is durable. */
  unschedule(name: string): Promise<boolean> {
    try {
      this.#checkWritable('unschedule');
      return this.#scheduler.remove(name);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  listSchedules(): ScheduleDescription[] {
    this.#checkOpen();
    return this.#scheduler.list();
  }

  readonly #scheduler: Scheduler;
  #delays: DelayStore | null = null;

  readonly #storeDelayed = (messages: readonly DelayedMessage[]): Promise<number> => {
    this.#checkWritable('a delayed send');
    return this.#delays!.add(messages);
  };

  get #transactionLink(): TransactionLink {
    return (this.#txnLink ??= {
      state: this.#state,
      groupLog: this.#groupLog,
      producer: this.#defaultProducer,
      topic: (name) => this.#topics.get(name),
    });
  }
  #txnLink: TransactionLink | undefined;

  async newProducerId(): Promise<number> {
    this.#checkWritable('newProducerId');
    this.#producerIds ??= new ProducerIds(this.#directory);
    return this.#producerIds.next();
  }
  #producerIds: ProducerIds | undefined;

  /**
   * The transaction coordinator of Kafka transactional ids (the Kafka server's transactions):
   * see TransactionCoordinator. READ_ONLY on a read-only broker.
   */
  get transactions(): TransactionCoordinator {
    this.#checkWritable('transactions');
    this.#coordinator ??= new TransactionCoordinator({
      state: this.#state,
      groupLog: this.#groupLog,
      clock: this.#clock,
      topic: (name) => this.#topics.get(name),
      newProducerId: () => this.newProducerId(),
      offsets: this.groupOffsets,
    });
    return this.#coordinator;
  }
  #coordinator: TransactionCoordinator | undefined;

  /**
   * Committed offsets of groups whose members are outside this process (the Kafka server's
   * groups): see GroupOffsets.
   */
  get groupOffsets(): GroupOffsets {
    this.#checkOpen();
    this.#offsets ??= new GroupOffsets({
      state: this.#state,
      groupLog: this.#groupLog,
      clock: this.#clock,
      topic: (name) => this.#topic(name),
    });
    return this.#offsets;
  }
  #offsets: GroupOffsets | undefined;

  // ---- Producing ----

  /** A producer with its own partitioner state (the broker's send/sendBatch use a shared one). */
  producer(options?: ProducerOptions): Producer {
    return new Producer(
      {
        topic: (name) => this.#topic(name),
        clock: this.#clock,
        systemClock: this.#systemTime,
        delay: this.#storeDelayed,
        prepare: this.#prepareHalf,
      },
      options,
    );
  }

  send(topic: string, message: ProducerMessage, options?: SendOptions): Promise<SendConfirm> {
    return this.#defaultProducer.send(topic, message, options);
  }

  sendBatch(topic: string, messages: readonly ProducerMessage[], options?: SendOptions): Promise<SendConfirm[]> {
    return this.#defaultProducer.sendBatch(topic, messages, options);
  }

  // ---- Consuming ----

  /** Joins a consumer group (creating it on first use) and returns the member. */
  consumer(options: ConsumerOptions & { model: 'ack' }): Consumer<AckMessage>;
  consumer(options: ConsumerOptions & { model?: 'offset' }): Consumer<OffsetMessage>;
  consumer(options: ConsumerOptions): Consumer<ConsumedMessage>;
  consumer(options: ConsumerOptions): Consumer<ConsumedMessage> {
    this.#checkWritable('a consumer (its group state)');
    const named = normalizeConsumerOptions(options);
    for (const t of named.topics) this.#topic(t);
    // Patterns: the topics they match now (more join as they are created, see createTopic).
    const matched = [...this.#topics.keys()].filter((t) => !named.topics.includes(t) && named.patterns.some((p) => p.matches(t)));
    const o = { ...named, topics: [...named.topics, ...matched] };
    if (o.deadLetterTopic !== null) {
      if (o.model !== 'ack') throw new TypeError('deadLetterTopic is for ack-model consumers');
      if (!this.#topics.has(o.deadLetterTopic)) throw new SluiceError(`dead-letter topic ${JSON.stringify(o.deadLetterTopic)} does not exist (create it first, or leave deadLetterTopic out for <topic>.dlq)`, ErrorCode.UNKNOWN_TOPIC);
    }
    if (o.maxDeliveries !== null && o.model !== 'ack') throw new TypeError('maxDeliveries is for ack-model consumers');
    let record = this.#state.groups.get(o.group);
    if (record !== undefined && record.model !== o.model) {
      throw new SluiceError(`group ${JSON.stringify(o.group)} uses the ${record.model} model, not ${o.model}`, ErrorCode.GROUP_MODEL_MISMATCH);
    }
    record ??= this.#state.createGroup(o.group, o.model, this.#clock.now());
    const coordinator = this.#coordinatorOf(record);
    coordinator.checkFilter(o.filter?.source ?? null);
    const seq = (this.#memberSeq.get(o.group) ?? 0) + 1;
    this.#memberSeq.set(o.group, seq);
    const consumer = new Consumer<ConsumedMessage>(`${o.group}-${seq}`, o, {
      coordinator,
      state: this.#state,
      groupLog: this.#groupLog,
      clock: this.#clock,
      detach: (c) => this.#consumers.delete(c),
      topicExists: (t) => this.#topics.has(t),
    });
    if (consumer.closed) return consumer; // its signal had already aborted
    // A Kafka group's partitions never committed (-1): this member starts them where its options say.
    for (const t of o.topics) for (const slot of coordinator.ensureTopic(t, o.start)) if (slot.progress.committed < 0) this.#state.commit(slot.progress, startOffset(slot.tp, o.start));
    this.#consumers.add(consumer);
    coordinator.join(consumer.member, o.start);
    return consumer;
  }

  #coordinatorOf(record: GroupRecord): GroupCoordinator {
    let c = this.#coordinators.get(record.name);
    if (c === undefined || c.record !== record) {
      c = new GroupCoordinator(record, (g, topic, start, from) => this.#makeSlots(g, topic, start, from));
      this.#coordinators.set(record.name, c);
    }
    return c;
  }

  #makeSlots(g: GroupRecord, topic: string, start: StartPosition, from: number): PartitionSlot[] {
    const t = this.#topic(topic);
    const parts = g.topics.get(topic) ?? this.#state.initTopic(g, topic, t.partitions.map((tp) => startOffset(tp, start)));
    const model = deliveryModels[g.model];
    return t.partitions.slice(from).map((tp) => {
      const progress = parts[tp.index];
      const state = model.createPartition({ groupName: g.name, tp, progress, state: this.#state, groupLog: this.#groupLog, clock: this.#clock, deadLetters: this.#deadLetterSink });
      return new PartitionSlot(tp, progress, state);
    });
  }

  listGroups(): string[] {
    this.#checkOpen();
    return [...this.#state.groups.keys()].sort();
  }

  describeGroup(name: string): GroupDescription {
    this.#checkOpen();
    if (typeof name !== 'string') throw new TypeError('group must be a string');
    const g = this.#state.groups.get(name);
    if (g === undefined) throw new SluiceError(`unknown group ${JSON.stringify(name)}`, ErrorCode.UNKNOWN_GROUP);
    const c = this.#coordinatorOf(g);
    const partitions: GroupPartitionDescription[] = [];
    for (const topic of [...g.topics.keys()].sort()) {
      for (const slot of c.ensureTopic(topic)) {
        const p = slot.progress;
        const end = slot.tp.endOffset;
        partitions.push({
          topic,
          partition: slot.tp.index,
          member: slot.holder?.name ?? null,
          committedOffset: p.committed,
          endOffset: end,
          lag: p.unconsumed(slot.tp.startOffset, end),
          ...slot.state.report(slot),
        });
      }
    }
    const members = [...this.#consumers].filter((m) => m.group === name).map((m) => m.describe());
    return {
      name,
      model: g.model,
      createdAt: g.createdAt,
      members,
      partitions,
      lag: partitions.reduce((n, p) => n + p.lag, 0),
      inFlight: partitions.reduce((n, p) => n + p.inFlight, 0),
      redeliveries: partitions.reduce((n, p) => n + p.redeliveries, 0),
      deadLetters: this.#deadLettered.get(name) ?? 0,
    };
  }

  /**
   * Why has `group` not got this message? Where it stands for the group, from the broker's own
   * state (see explain/explanation.ts for every state): by topic, partition and offset, or for a
   * delayed message by the `delayId` its send confirmed. Reads, changes nothing; works read-only
   * (then from the durable state alone: no members, nothing known in flight).
   */
  explain(query: ExplainQuery): Explanation {
    this.#checkOpen();
    return explain(this.#explainLink, query);
  }

  get #explainLink(): ExplainLink {
    return {
      now: () => this.#clock.now(),
      partition: (topic, index) => {
        const t = this.#topic(topic);
        if (!Number.isSafeInteger(index) || index < 0 || index >= t.partitions.length) throw new RangeError(`topic ${topic} has partitions 0 to ${t.partitions.length - 1}, not ${String(index)}`);
        return t.partitions[index];
      },
      partitionsOf: (topic) => this.#topics.get(topic)?.partitions ?? null,
      group: (name) => this.#state.groups.get(name),
      slot: (g, topic, partition) => (g.topics.has(topic) && this.#topics.has(topic) ? (this.#coordinatorOf(g).ensureTopic(topic)[partition] ?? null) : null),
      members: (group) => [...this.#consumers].filter((m) => m.group === group).map((m) => m.describe()),
      filter: (group) => this.#coordinators.get(group)?.filter ?? null,
      whenPassed: (group, topic, partition, offset) => this.#groupLog.whenPassed(group, topic, partition, offset),
      delayStatus: (delayId) => this.#delays?.status(delayId, this.#state.delayWatermark) ?? null,
      readOnly: this.#lock === null,
    };
  }

  /** Deletes a group and its progress; fails with GROUP_ACTIVE while it has members. */
  /**
   * Moves a group's position in every partition of `topic` to `to`: 'earliest', 'latest', an
   * offset (each partition, clamped to what it holds) or a time (each partition's first message
   * at or after it). Everything the group had delivered, acked or failed past the new position
   * is forgotten, so those messages are delivered again (a rewind) or never (a skip). Refused
   * with GROUP_ACTIVE while the group has members. Resolves with each partition's new position
   * once it is durable.
   */
  async resetGroup(name: string, topic: string, to: ResetTarget): Promise<{ partition: number; offset: number }[]> {
    this.#checkWritable('resetGroup');
    const g = this.#state.groups.get(name);
    if (g === undefined) throw new SluiceError(`unknown group ${JSON.stringify(name)}`, ErrorCode.UNKNOWN_GROUP);
    const parts = g.topics.get(topic);
    if (parts === undefined) throw new SluiceError(`group ${name} does not consume topic ${JSON.stringify(topic)}`, ErrorCode.UNKNOWN_TOPIC);
    const c = this.#coordinators.get(name);
    if (c !== undefined && c.members.length > 0) {
      throw new SluiceError(`group ${JSON.stringify(name)} has ${c.members.length} member(s): close them first`, ErrorCode.GROUP_ACTIVE);
    }
    const t = this.#topic(topic);
    const target = resetPosition(to);
    // The delivery state in memory is rebuilt from the group state by the next member.
    c?.closeSlots(new SluiceError(`group ${JSON.stringify(name)} was reset`, ErrorCode.CLOSED));
    this.#coordinators.delete(name);
    const out = parts.map((p, i) => {
      const tp = t.partitions[i];
      const offset = target(tp);
      this.#state.truncate(p, offset);
      this.#state.commit(p, offset);
      return { partition: i, offset };
    });
    t.gate.recheck();
    await this.#groupLog.confirm();
    return out;
  }

  async deleteGroup(name: string): Promise<void> {
    this.#checkWritable('deleteGroup');
    if (typeof name !== 'string') throw new TypeError('group must be a string');
    const g = this.#state.groups.get(name);
    if (g === undefined) throw new SluiceError(`unknown group ${JSON.stringify(name)}`, ErrorCode.UNKNOWN_GROUP);
    const c = this.#coordinators.get(name);
    if (c !== undefined && c.members.length > 0) {
      throw new SluiceError(`group ${JSON.stringify(name)} has ${c.members.length} member(s): close them first`, ErrorCode.GROUP_ACTIVE);
    }
    const gone = new SluiceError(`group ${JSON.stringify(name)} was deleted`, ErrorCode.UNKNOWN_GROUP);
    c?.closeSlots(gone);
    this.#coordinators.delete(name);
    const topics = [...g.topics.keys()];
    this.#state.deleteGroup(name);
    for (const t of topics) this.#topics.get(t)?.gate.recheck();
    await this.#groupLog.confirm();
  }

  describe(): BrokerDescription {
    this.#checkOpen();
    return {
      dir: this.dir,
      topics: this.listTopics().map((t) => this.describeTopic(t)),
      groups: this.listGroups().map((g) => this.describeGroup(g)),
      groupLog: { generation: this.#groupLog.generation, checkpoints: this.#groupLog.checkpoints },
      delayed: this.#lock === null ? null : (this.#delays?.describe() ?? null),
      half: this.#half?.describe() ?? null,
    };
  }

  // ---- Lifecycle ----

  /** Closes every consumer, writes the group state, and closes every Log. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((c) => c.close()));
    // Kafka transactions in progress finish (or fail on closed partitions) before the logs close.
    await this.#coordinator?.close();
    // A delete renames the topic's directory after its Logs close: let it finish under the lock.
    await Promise.allSettled(this.#deleting.values());
    // So does a growth of partitions: it writes topic.json and new partition logs.
    await Promise.allSettled(this.#growing.values());
    const closed = this.#closedError();
    for (const c of this.#coordinators.values()) c.closeSlots(closed);
    const errors: unknown[] = [];
    // Firings and moves of delayed messages in progress finish (their transactions need the group state).
    await this.#scheduler.close();
    await this.#half?.close().catch((e: unknown) => errors.push(e));
    await this.#delays?.close().catch((e: unknown) => errors.push(e));
    try {
      await this.#groupLog.close();
    } catch (e) {
      errors.push(e);
    }
    for (const t of this.#topics.values()) t.gate.close(closed);
    for (const r of await Promise.allSettled([...this.#topics.values()].map((t) => t.close(closed, false)))) if (r.status === 'rejected') errors.push(r.reason);
    this.#lock?.release();
    if (errors.length > 0) throw errors[0];
  }

  /**
   * Fault injection (SLUICE_FAULT_INJECTION=1 only): a power failure now, for crash tests. Every
   * partition's Log and the group state's lose what was not yet synced, as Log.simulatePowerLoss
   * describes, in one synchronous pass; the broker is closed without writing anything more, and
   * the process should exit (timers, consumers and the lock are left as they are). Files written
   * from JavaScript (broker.json, topic.json, producer-ids.json) are kept as they are: each is
   * replaced by an fsynced rename, and the simulation does not model the loss of those.
   */
  simulatePowerLoss(): void {
    this.#checkWritable('simulatePowerLoss');
    this.#closing = Promise.resolve();
    const closed = this.#closedError();
    this.#groupLog.simulatePowerLoss();
    for (const t of this.#topics.values()) t.simulatePowerLoss(closed);
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw this.#closedError();
  }

  /** CLOSED, or READ_ONLY when the broker was opened read-only and `what` would write. */
  #checkWritable(what: string): void {
    this.#checkOpen();
    if (this.#lock === null) throw new SluiceError(`${what} needs a writable broker: this one was opened read-only`, ErrorCode.READ_ONLY);
  }

  #closedError(): SluiceError {
    return new SluiceError('the broker is closed', ErrorCode.CLOSED);
  }
}

/** A read-only open needs a broker directory already there (it creates nothing): CORRUPT otherwise. */
async function checkBrokerDirectory(directory: BrokerDirectory): Promise<void> {
  const stat = await fs.promises.stat(directory.topicsDir).catch(() => null);
  if (stat === null || !stat.isDirectory()) {
    const e = new SluiceError(`${directory.root} is not a broker directory (it has no topics/): a read-only open creates nothing`, ErrorCode.CORRUPT);
    e.path = directory.topicsDir;
    throw e;
  }
}

function unknownTopic(name: string): SluiceError {
  return new SluiceError(`unknown topic ${JSON.stringify(name)}`, ErrorCode.UNKNOWN_TOPIC);
}

/** Where resetGroup moves a group: 'earliest', 'latest', {offset} or {timestamp}. */
export type ResetTarget = 'earliest' | 'latest' | { offset: number } | { timestamp: number };

function resetPosition(to: ResetTarget): (tp: TopicPartition) => number {
  if (to === 'earliest') return (tp) => tp.startOffset;
  if (to === 'latest') return (tp) => tp.endOffset;
  if (to !== null && typeof to === 'object' && 'offset' in to && Number.isSafeInteger(to.offset) && to.offset >= 0) return (tp) => Math.min(Math.max(to.offset, tp.startOffset), tp.endOffset);
  if (to !== null && typeof to === 'object' && 'timestamp' in to && Number.isSafeInteger(to.timestamp)) return (tp) => tp.offsetForTime(to.timestamp);
  throw new TypeError(`reset target must be 'earliest', 'latest', {offset} (a non-negative integer) or {timestamp}, got ${shown(to)}`);
}

function startOffset(tp: TopicPartition, start: StartPosition): number {
  if (start === 'earliest') return tp.startOffset;
  if (start === 'latest') return tp.endOffset;
  return tp.offsetForTime(start.timestamp);
}

/** A topic.json's config must be one createTopic would have written: CORRUPT otherwise. */
function checkTopicMeta(meta: TopicMeta, file: string): void {
  let normalized: ReturnType<typeof normalizeTopicConfig>;
  try {
    normalized = normalizeTopicConfig(meta.config);
  } catch (e) {
    throw corrupt(file, `holds an invalid topic config: ${(e as Error).message}`);
  }
  for (const k of Object.keys(normalized) as (keyof typeof normalized)[]) {
    // Settings added since topic.json's format began: absent in older files, their default holds.
    if (meta.config[k] === undefined && ADDED_TOPIC_SETTINGS.has(k)) {
      (meta.config as unknown as Record<string, unknown>)[k] = normalized[k];
      continue;
    }
    if (normalized[k] !== meta.config[k]) throw corrupt(file, `holds an invalid topic config: ${k} is missing`);
  }
}

const ADDED_TOPIC_SETTINGS: ReadonlySet<string> = new Set(['messageTtlMs', 'dedupWindowMs', 'dedupWindowCount']);
