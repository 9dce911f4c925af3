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
import * as fs from 'node:fs';
import { ErrorCode, SluiceError } from '../errors';
import { lockDirectory, type DirectoryLock } from '../storage/directory-lock';
import { Log, type SyncPolicy } from '../storage/log';
import { AckPartition } from './delivery/ack/ack-delivery';
import { BrokerDirectory } from './store/broker-directory';
import { checkClock, systemClock, type Clock } from './time/clock';
import type { AckMessage, ConsumedMessage, OffsetMessage } from './consume/consumed-message';
import { Consumer } from './consume/consumer';
import { normalizeConsumerOptions, type ConsumerOptions, type StartPosition } from './consume/consumer-options';
import type { BrokerDescription, GroupDescription, GroupPartitionDescription, TopicDescription } from './describe';
import { GroupCoordinator, PartitionSlot } from './group/group-coordinator';
import { GroupState, type GroupRecord } from './group/group-state';
import { GroupStateLog } from './group/group-state-log';
import { Producer, type ProducerMessage, type ProducerOptions, type SendConfirm, type SendOptions } from './produce/producer';
import { Topic } from './topic/topic';
import { checkTopicName, normalizeTopicConfig, type TopicConfigInput } from './topic/topic-config';

export interface BrokerOptions {
  /** Time for timestamps, timeouts and timers (default: the system clock). */
  clock?: Clock;
  /** Durability of acks and commits (the group-state Log's sync policy). Default 'always'. */
  groupSync?: SyncPolicy;
  /** For groupSync 'interval'. */
  groupSyncIntervalMs?: number;
  /** Bytes of group-state operations after which the state is checkpointed. Default 4 MiB. */
  groupCheckpointBytes?: number;
}

const BROKER_KEYS = new Set(['clock', 'groupSync', 'groupSyncIntervalMs', 'groupCheckpointBytes']);
const DEFAULT_CHECKPOINT_BYTES = 4 * 1024 * 1024;

export class Broker {
  readonly #directory: BrokerDirectory;
  readonly #lock: DirectoryLock;
  readonly #clock: Clock;
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

  private constructor(directory: BrokerDirectory, lock: DirectoryLock, clock: Clock, state: GroupState, groupLog: GroupStateLog) {
    this.#directory = directory;
    this.#lock = lock;
    this.#clock = clock;
    this.#state = state;
    this.#groupLog = groupLog;
    this.#defaultProducer = this.producer();
    state.onProgress = (topic) => this.#topics.get(topic)?.gate.recheck();
  }

  /** Opens (creating if needed) the broker in `dir`, replaying the group state. */
  static async open(dir: string, options: BrokerOptions = {}): Promise<Broker> {
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty string');
    if (options === null || typeof options !== 'object') throw new TypeError('broker options must be an object');
    for (const k of Object.keys(options)) if (!BROKER_KEYS.has(k)) throw new TypeError(`unknown broker option ${JSON.stringify(k)}`);
    const clock = options.clock === undefined ? systemClock : checkClock(options.clock);
    const groupSync = options.groupSync ?? 'always';
    if (groupSync !== 'always' && groupSync !== 'interval' && groupSync !== 'none') throw new RangeError(`groupSync must be 'always', 'interval' or 'none'`);
    const checkpointBytes = options.groupCheckpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
    if (typeof checkpointBytes !== 'number' || !Number.isSafeInteger(checkpointBytes) || checkpointBytes < 1) {
      throw new RangeError('groupCheckpointBytes must be a positive integer');
    }
    const directory = new BrokerDirectory(dir);
    await fs.promises.mkdir(directory.root, { recursive: true });
    const lock = lockDirectory(directory.root, 'broker directory');
    const topics: Topic[] = [];
    try {
      await directory.ensureLayout();
      await directory.emptyTrash();
      const state = new GroupState();
      const metas = await directory.loadTopics();
      let broker: Broker | undefined;
      const backlog = (t: Topic): number => broker!.#backlog(t);
      for (const meta of metas) topics.push(await Topic.open(directory, meta, backlog, clock));
      const groupLog = await GroupStateLog.open(directory, state, {
        sync: groupSync,
        syncIntervalMs: options.groupSyncIntervalMs,
        checkpointBytes,
      });
      broker = new Broker(directory, lock, clock, state, groupLog);
      for (const t of topics) broker.#topics.set(t.name, t);
      // Group state of topics that no longer exist (a delete that crashed half-way) goes.
      const known = new Set(topics.map((t) => t.name));
      for (const g of state.groups.values()) for (const topic of [...g.topics.keys()]) if (!known.has(topic)) state.dropTopic(topic);
      // Progress past a partition's end (the topic lost unsynced messages the group state had seen).
      let truncated = false;
      for (const t of topics) {
        for (const g of state.groups.values()) {
          const parts = g.topics.get(t.name);
          for (const p of parts ?? []) {
            const tp = t.partitions[p.partition];
            if (tp !== undefined && state.truncate(p, tp.log.endOffset)) truncated = true;
          }
        }
      }
      if (truncated) await groupLog.confirm();
      for (const g of state.groups.values()) {
        const c = broker.#coordinatorOf(g);
        for (const topic of g.topics.keys()) c.ensureTopic(topic);
      }
      return broker;
    } catch (e) {
      await Promise.allSettled(topics.map((t) => t.close()));
      lock.release();
      throw e;
    }
  }

  get dir(): string {
    return this.#directory.root;
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
    this.#checkOpen();
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
        await topic.close();
        throw this.#closedError();
      }
      this.#topics.set(name, topic);
      return this.describeTopic(name);
    } finally {
      this.#creating.delete(name);
    }
  }

  /** Deletes a topic, its data and every group's progress in it. Its consumers stop getting it. */
  async deleteTopic(name: string): Promise<void> {
    const topic = this.#topic(name);
    this.#topics.delete(name);
    topic.gate.close(unknownTopic(name));
    for (const c of this.#coordinators.values()) c.topicDeleted(name);
    this.#state.dropTopic(name);
    const removal = (async () => {
      await topic.close();
      await this.#directory.deleteTopicDir(name);
    })();
    this.#deleting.set(name, removal);
    try {
      await removal;
    } finally {
      if (this.#deleting.get(name) === removal) this.#deleting.delete(name);
    }
    await this.#groupLog.confirm();
  }

  listTopics(): string[] {
    this.#checkOpen();
    return [...this.#topics.keys()].sort();
  }

  describeTopic(name: string): TopicDescription {
    const t = this.#topic(name);
    const groups = [...this.#state.groups.values()].filter((g) => g.topics.has(name)).map((g) => g.name);
    const partitions = t.describePartitions();
    return {
      name: t.name,
      config: { ...t.config },
      createdAt: t.createdAt,
      partitions,
      messages: partitions.reduce((n, p) => n + p.endOffset - p.startOffset, 0),
      backlog: this.#backlog(t),
      waitingSends: t.gate.waiting,
      groups: groups.sort(),
    };
  }

  #backlog(t: Topic): number {
    const lag = this.#state.backlog(
      t.name,
      (p) => t.partitions[p].log.endOffset,
      (p) => t.partitions[p].log.startOffset,
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

  // ---- Producing ----

  /** A producer with its own partitioner state (the broker's send/sendBatch use a shared one). */
  producer(options?: ProducerOptions): Producer {
    return new Producer(
      {
        topic: (name) => this.#topic(name),
        clock: this.#clock,
        systemClock: this.#clock === systemClock,
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
    this.#checkOpen();
    const o = normalizeConsumerOptions(options);
    for (const t of o.topics) this.#topic(t);
    let record = this.#state.groups.get(o.group);
    if (record !== undefined && record.model !== o.model) {
      throw new SluiceError(`group ${JSON.stringify(o.group)} uses the ${record.model} model, not ${o.model}`, ErrorCode.GROUP_MODEL_MISMATCH);
    }
    record ??= this.#state.createGroup(o.group, o.model, this.#clock.now());
    const coordinator = this.#coordinatorOf(record);
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
    this.#consumers.add(consumer);
    coordinator.join(consumer.member, o.start);
    return consumer;
  }

  #coordinatorOf(record: GroupRecord): GroupCoordinator {
    let c = this.#coordinators.get(record.name);
    if (c === undefined || c.record !== record) {
      c = new GroupCoordinator(record, (g, topic, start) => this.#makeSlots(g, topic, start));
      this.#coordinators.set(record.name, c);
    }
    return c;
  }

  #makeSlots(g: GroupRecord, topic: string, start: StartPosition): PartitionSlot[] {
    const t = this.#topic(topic);
    const parts = g.topics.get(topic) ?? this.#state.initTopic(g, topic, t.partitions.map((tp) => startOffset(tp.log, start)));
    return t.partitions.map((tp, i) => {
      const slot = new PartitionSlot(tp, parts[i]);
      if (g.model === 'ack') slot.ack = new AckPartition(g.name, tp, parts[i], this.#state, this.#groupLog, this.#clock);
      return slot;
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
        const end = slot.tp.log.endOffset;
        const ack = slot.ack;
        let inFlight = 0;
        if (ack !== null) inFlight = ack.inFlight.size;
        else if (slot.holder !== null) inFlight = slot.holder.inFlightOf(slot);
        partitions.push({
          topic,
          partition: slot.tp.index,
          member: slot.holder?.name ?? null,
          committedOffset: p.committed,
          endOffset: end,
          lag: p.unconsumed(slot.tp.log.startOffset, end),
          inFlight,
          redeliveries: ack !== null ? p.redeliveriesTotal : slot.redeliveries,
          ackedAhead: p.acked.size,
          pendingRedelivery: ack === null ? 0 : ack.readyCount + ack.delayedCount,
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
    };
  }

  /** Deletes a group and its progress; fails with GROUP_ACTIVE while it has members. */
  async deleteGroup(name: string): Promise<void> {
    this.#checkOpen();
    if (typeof name !== 'string') throw new TypeError('group must be a string');
    const g = this.#state.groups.get(name);
    if (g === undefined) throw new SluiceError(`unknown group ${JSON.stringify(name)}`, ErrorCode.UNKNOWN_GROUP);
    const c = this.#coordinators.get(name);
    if (c !== undefined && c.members.length > 0) {
      throw new SluiceError(`group ${JSON.stringify(name)} has ${c.members.length} member(s): close them first`, ErrorCode.GROUP_ACTIVE);
    }
    const gone = new SluiceError(`group ${JSON.stringify(name)} was deleted`, ErrorCode.UNKNOWN_GROUP);
    for (const s of c?.allSlots() ?? []) s.ack?.close(gone);
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
    // A delete renames the topic's directory after its Logs close: let it finish under the lock.
    await Promise.allSettled(this.#deleting.values());
    const closed = this.#closedError();
    for (const c of this.#coordinators.values()) for (const s of c.allSlots()) s.ack?.close(closed);
    const errors: unknown[] = [];
    try {
      await this.#groupLog.close();
    } catch (e) {
      errors.push(e);
    }
    for (const t of this.#topics.values()) t.gate.close(closed);
    for (const r of await Promise.allSettled([...this.#topics.values()].map((t) => t.close()))) if (r.status === 'rejected') errors.push(r.reason);
    this.#lock.release();
    if (errors.length > 0) throw errors[0];
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw this.#closedError();
  }

  #closedError(): SluiceError {
    return new SluiceError('the broker is closed', ErrorCode.CLOSED);
  }
}

function unknownTopic(name: string): SluiceError {
  return new SluiceError(`unknown topic ${JSON.stringify(name)}`, ErrorCode.UNKNOWN_TOPIC);
}

function startOffset(log: Log, start: StartPosition): number {
  if (start === 'earliest') return log.startOffset;
  if (start === 'latest') return log.endOffset;
  return log.offsetForTime(start.timestamp) ?? log.endOffset;
}
