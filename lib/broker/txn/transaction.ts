/**
 * In-process transactions (Broker.transaction): sends to any topics and partitions, acks of
 * ack-model messages and offset commits, made one atomic unit, stored the Kafka way.
 *
 * A transaction takes a producer id of its own. Its first send to a partition records
 * [TXN_ADD, id, epoch, topic, partition, first] in the group state and waits until that is
 * durable, then appends; from then on the partition's last stable offset stays at or below
 * `first`, so no consumer reads past it while the transaction is open. Its records go into
 * transactional batches carrying its producer id. Acks and commits are only checked when made and
 * held. Commit:
 *   1. every partition written is flushed (the records are on stable storage whatever the topic's
 *      sync policy: a commit must not outlive its records);
 *   2. [TXN_COMMIT, id, [acks and commits]] is recorded and made durable: the commit point. Its
 *      acks and commits apply with it, all or none, also on replay;
 *   3. a commit marker goes to each partition written (readers go past the transaction now),
 *      each is flushed, and [TXN_DONE, id] is recorded.
 * Abort (the function threw, or tx.abort()): abort markers instead, which also enter the
 * partitions' aborted-transaction indexes, so readers pass the records over; acks and commits
 * are dropped (the messages stay in flight). A broker that opens with a transaction not done
 * finishes it before anything else (TransactionCoordinator.recover): commit markers when its
 * TXN_COMMIT is recorded, else abort markers. A marker written twice (a crash after it, before
 * TXN_DONE) is harmless: readers skip markers, and Kafka clients ignore one for a producer with
 * nothing open. Thread-confined.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { crashPoint, crashPointArmed } from '../../crash-points';
import { ErrorCode, SluiceError } from '../../errors';
import { AckMessage } from '../consume/consumed-message';
import { OP_ACK, OP_COMMIT, toRuns, type GroupState, type PartitionProgress, type StateOp, type TxnRecord } from '../group/group-state';
import type { BatchProducer, Message } from '../../storage/log';
import type { GroupStateLog } from '../group/group-state-log';
import type { ProducerMessage } from '../produce/producer-message';
import type { Topic } from '../topic/topic';
import type { PartitionMessage, TopicPartition } from '../topic/topic-partition';

/** Where a transactional send went. Readers see it once the transaction commits. */
export interface TransactionSend {
  topic: string;
  partition: number;
  offset: number;
}

/** An offset commit made by a transaction: the group's committed offset in the partition becomes `offset`. */
export interface TransactionCommit {
  group: string;
  topic: string;
  partition: number;
  offset: number;
}

/** Where a message goes and how it is stored: what Producer.route returns. */
export interface MessageRouter {
  route(topic: string, message: ProducerMessage): { topic: Topic; partition: number; prepared: PartitionMessage };
}

/** What a transaction needs of the broker. */
export interface TransactionLink {
  readonly state: GroupState;
  readonly groupLog: GroupStateLog;
  /** Validates, routes and encodes a message as a send would (Producer.route). */
  readonly producer: MessageRouter;
  topic(name: string): Topic | undefined;
}

type TxnState = 'open' | 'ending' | 'committed' | 'aborted';

const current = new AsyncLocalStorage<Transaction>();

export class Transaction {
  readonly producerId: number;
  readonly #link: TransactionLink;
  #state: TxnState = 'open';
  /** Partitions written, in order, and the adds still on their way to disk. */
  readonly #partitions = new Map<TopicPartition, Promise<void>>();
  readonly #acks = new Set<AckMessage>();
  readonly #commits = new Map<string, TransactionCommit>();
  /** Group-state operations of the broker's own that apply with the commit (recordOnCommit). */
  readonly #extraOps: StateOp[] = [];

  /** @internal Made by Broker.transaction(). */
  constructor(link: TransactionLink, producerId: number) {
    this.#link = link;
    this.producerId = producerId;
  }

  /** Appends `message` as part of the transaction (routed as broker.send routes it). */
  async send(topic: string, message: ProducerMessage): Promise<TransactionSend> {
    this.#checkOpen('send');
    const { topic: t, partition, prepared } = this.#link.producer.route(topic, message);
    return this.#append(t, partition, prepared);
  }

  /**
   * @internal Appends a stored message (key, value, headers and timestamp as they are, reserved
   * headers included: a dead letter, a redriven message) to `topic`'s `partition`.
   */
  appendStored(topic: Topic, partition: number, message: Message): Promise<TransactionSend> {
    this.#checkOpen('send');
    return this.#append(topic, partition, message);
  }

  /** @internal Stored messages (as appendStored) appended to one partition in one go; resolves with the first offset. */
  async appendStoredBatch(t: Topic, partition: number, messages: readonly Message[]): Promise<number> {
    this.#checkOpen('send');
    const tp = t.partitions[partition];
    await this.#join(tp);
    this.#checkOpen('send');
    return t.gate.admit(messages.length, 0, () => tp.appendTransactional(messages, this.#batchProducer)) as number;
  }

  async #append(t: Topic, partition: number, message: PartitionMessage): Promise<TransactionSend> {
    const tp = t.partitions[partition];
    await this.#join(tp);
    this.#checkOpen('send');
    const offset = t.gate.admit(1, 0, () => tp.appendTransactional([message], this.#batchProducer)) as number;
    return { topic: t.name, partition, offset };
  }

  get #batchProducer(): BatchProducer {
    return (this.#producer ??= { producerId: this.producerId, producerEpoch: 0, transactional: true });
  }
  #producer: BatchProducer | undefined;

  /** @internal Acks `offset` of a group's partition (no message in flight: a dead letter) when the transaction commits. */
  ackOffset(progress: PartitionProgress, offset: number): void {
    this.#checkOpen('ack');
    if (progress.isAcked(offset)) throw new SluiceError(`message ${progress.topic}/${progress.partition}@${offset} of group ${progress.group} was already acked`, ErrorCode.ALREADY_ACKED);
    this.#offsetAcks.push({ progress, offset });
  }
  readonly #offsetAcks: { progress: PartitionProgress; offset: number }[] = [];

  /** Acks an ack-model message when the transaction commits (never, if it aborts). */
  ack(message: AckMessage): void {
    this.#checkOpen('ack');
    if (!(message instanceof AckMessage)) throw new TypeError('tx.ack() takes a message received from an ack-model consumer');
    message.checkAckable();
    this.#acks.add(message);
  }

  /** Commits a group's offset in a partition when the transaction commits (never, if it aborts). */
  commit(entry: TransactionCommit): void {
    this.#checkOpen('commit');
    if (entry === null || typeof entry !== 'object') throw new TypeError('tx.commit() takes {group, topic, partition, offset}');
    const { group, topic, partition, offset } = entry;
    if (typeof group !== 'string' || typeof topic !== 'string') throw new TypeError('tx.commit(): group and topic must be strings');
    if (!Number.isSafeInteger(partition) || partition < 0) throw new RangeError(`tx.commit(): partition must be a non-negative integer, got ${String(partition)}`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`tx.commit(): offset must be a non-negative integer, got ${String(offset)}`);
    const g = this.#link.state.groups.get(group);
    if (g === undefined) throw new SluiceError(`tx.commit(): no consumer group ${JSON.stringify(group)}`, ErrorCode.UNKNOWN_GROUP);
    const parts = g.topics.get(topic);
    if (parts === undefined) throw new SluiceError(`tx.commit(): group ${group} does not consume topic ${JSON.stringify(topic)}`, ErrorCode.UNKNOWN_TOPIC);
    if (partition >= parts.length) throw new RangeError(`tx.commit(): topic ${topic} has partitions 0 to ${parts.length - 1}, got ${partition}`);
    if (g.model !== 'offset') throw new SluiceError(`tx.commit() is for offset-model groups; group ${group} uses the ack model (use tx.ack)`, ErrorCode.WRONG_MODEL);
    this.#commits.set(`${group}\0${topic}\0${partition}`, { group, topic, partition, offset });
  }

  /**
   * @internal A group-state operation that applies with the commit, all or none (the delay
   * store's watermark, a schedule's firing).
   */
  recordOnCommit(op: StateOp): void {
    this.#checkOpen('commit');
    this.#extraOps.push(op);
  }

  /** Ends the transaction without applying anything; its records are never read. */
  abort(): Promise<void> {
    this.#checkOpen('abort');
    return this.#end(false);
  }

  /** @internal Runs `fn` with this transaction, then commits (or aborts if it threw). */
  async run<T>(fn: (tx: Transaction) => T | Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await current.run(this, () => fn(this));
    } catch (e) {
      if (this.#state === 'open') await this.#end(false).catch(() => {});
      throw e;
    }
    if (this.#state === 'open') await this.#end(true);
    return result;
  }

  /** The transaction whose function is running now, if any (transactions do not nest). */
  static active(): Transaction | undefined {
    return current.getStore();
  }

  // ---- Internals ----

  /** The first send to `tp`: TXN_ADD, durable, before anything is appended there. */
  #join(tp: TopicPartition): Promise<void> {
    let joined = this.#partitions.get(tp);
    if (joined === undefined) {
      const first = tp.endOffset;
      tp.openTransaction(this.producerId, first);
      this.#link.state.addTransactionPartition(this.producerId, 0, tp.topic, tp.index, first);
      joined = Promise.resolve(this.#link.groupLog.confirm()).then(() => {});
      this.#partitions.set(tp, joined);
    }
    return joined;
  }

  async #end(commit: boolean): Promise<void> {
    this.#state = 'ending';
    const partitions = [...this.#partitions.keys()];
    let decided = false;
    try {
      await Promise.all(this.#partitions.values());
      if (commit) {
        await Promise.all(partitions.map((tp) => tp.flush()));
        crashPoint('txn.before-commit-point');
        this.#commitPoint();
        decided = true;
        await this.#link.groupLog.confirm();
        crashPoint('txn.after-commit-point');
      }
    } catch (e) {
      this.#state = 'aborted';
      // Before the commit point: aborted here. After it (the group state failed to write it), the
      // outcome is the one on disk: the next open finishes it either way.
      if (!decided) await this.#markers(partitions, false).catch(() => {});
      throw e;
    }
    await this.#markers(partitions, commit);
    this.#state = commit ? 'committed' : 'aborted';
  }

  /** TXN_COMMIT with the acks and commits; throws (nothing applied) if an ack is no longer possible. */
  #commitPoint(): void {
    for (const msg of this.#acks) msg.checkAckable();
    for (const a of this.#offsetAcks) {
      if (a.progress.isAcked(a.offset)) throw new SluiceError(`message ${a.progress.topic}/${a.progress.partition}@${a.offset} of group ${a.progress.group} was acked meanwhile`, ErrorCode.ALREADY_ACKED);
    }
    const byPartition = new Map<string, { group: string; topic: string; partition: number; offsets: number[] }>();
    const add = (group: string, topic: string, partition: number, offset: number): void => {
      const key = `${group}\0${topic}\0${partition}`;
      let e = byPartition.get(key);
      if (e === undefined) byPartition.set(key, (e = { group, topic, partition, offsets: [] }));
      e.offsets.push(offset);
    };
    for (const msg of this.#acks) add(msg.group, msg.topic, msg.partition, msg.offset);
    for (const a of this.#offsetAcks) add(a.progress.group, a.progress.topic, a.progress.partition, a.offset);
    const ops: StateOp[] = [];
    for (const e of byPartition.values()) ops.push([OP_ACK, e.group, e.topic, e.partition, toRuns(e.offsets)]);
    for (const c of this.#commits.values()) ops.push([OP_COMMIT, c.group, c.topic, c.partition, c.offset]);
    ops.push(...this.#extraOps);
    this.#link.state.commitTransaction(this.producerId, ops);
    for (const msg of this.#acks) msg.settleTransactionAck();
  }

  /** A marker in each partition, each flushed, then TXN_DONE. */
  async #markers(partitions: TopicPartition[], commit: boolean): Promise<void> {
    await writeMarkers(this.#link.state, this.#link.groupLog, this.producerId, 0, partitions, commit);
  }

  #checkOpen(what: string): void {
    if (this.#state !== 'open') throw new SluiceError(`tx.${what}(): the transaction ${this.#state === 'ending' ? 'is ending' : `was ${this.#state}`}`, ErrorCode.TRANSACTION_ENDED);
  }
}

/**
 * Ends a transaction in `partitions`: markers, flushed, then TXN_DONE (durable). `done` records
 * what goes with TXN_DONE, in the same tick (a Kafka transactional id's outcome).
 */
export async function writeMarkers(state: GroupState, groupLog: GroupStateLog, producerId: number, epoch: number, partitions: readonly TopicPartition[], commit: boolean, done?: () => void): Promise<void> {
  const open = partitions.filter((tp) => !tp.closed);
  let rest = open;
  if (crashPointArmed('txn.between-markers') && open.length > 1) {
    open[0].closeTransaction(producerId, epoch, commit);
    await open[0].flush();
    crashPoint('txn.between-markers');
    rest = open.slice(1);
  }
  for (const tp of rest) tp.closeTransaction(producerId, epoch, commit);
  await Promise.all(open.map((tp) => tp.flush()));
  crashPoint('txn.after-markers');
  done?.();
  state.finishTransaction(producerId);
  await groupLog.confirm();
}

/**
 * At open, before anything else: every transaction the group state says is not done is finished
 * (commit markers if its TXN_COMMIT is recorded, else abort markers) in the partitions of its
 * that still exist. `done(t)` records what goes with each one's TXN_DONE (see writeMarkers).
 */
export async function recoverTransactions(state: GroupState, groupLog: GroupStateLog, topic: (name: string) => Topic | undefined, done?: (t: TxnRecord) => void): Promise<number> {
  const open = [...state.transactions.values()];
  for (const t of open) {
    const partitions: TopicPartition[] = [];
    for (const p of t.partitions) {
      const tp = topic(p.topic)?.partitions[p.partition];
      if (tp === undefined) continue;
      tp.openTransaction(t.producerId, Math.min(p.first, tp.endOffset));
      partitions.push(tp);
    }
    await writeMarkers(state, groupLog, t.producerId, t.epoch, partitions, t.committed, done === undefined ? undefined : () => done(t));
  }
  return open.length;
}
