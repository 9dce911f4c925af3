/**
 * The durable state of every consumer group, in memory: per group, its delivery model, and per
 * subscribed topic partition a PartitionProgress. Every change is made through the methods below,
 * which apply it and queue the operation that GroupStateLog writes (once per tick, so a thousand
 * acks in one tick cost one record). Replay applies the same operations (`apply`), and a checkpoint
 * is `snapshot()` / `restore()`.
 *
 * Operations are msgpack arrays, first element the type:
 *   [GROUP_CREATE, group, model, createdAt]      [GROUP_DELETE, group]
 *   [TOPIC_INIT, group, topic, committed[]]      one start position per partition
 *   [TOPIC_DROP, topic]                          the topic was deleted
 *   [TOPIC_GROW, group, topic, total]            partitions were added to the topic: the
 *                                                group tracks `total`, the new ones from offset 0
 *   [COMMIT, group, topic, partition, offset, metadata?]
 *                                                the committed offset moves to `offset` (offset
 *                                                model: a commit or seek; ack model: a jump past
 *                                                messages that retention deleted); `metadata`, the
 *                                                string a Kafka client's commit carries, only when
 *                                                it has one (absent: null)
 *   [DELIVERED, group, topic, partition, end]    ack model: everything below `end` was delivered
 *   [REDELIVERED, group, topic, partition, offsets[]]  ack model: each delivered once more
 *   [ACK, group, topic, partition, runs[]]       ack model: acked offsets as [start, length] pairs
 *   [FAILED, group, topic, partition, [offset, dueAt, ...]]
 *                                                ack model: a delivery of each offset failed (a
 *                                                nack, a throwing handler, a visibility timeout),
 *                                                and it is due again at `dueAt` (ms; 0: at once),
 *                                                so a restart keeps its retry time
 *   [TRUNCATE, group, topic, partition, end]     the partition's Log ends at `end` (a power loss
 *                                                took messages this state had seen): committed and
 *                                                delivered end come down to it, acks and
 *                                                redeliveries at or past it are forgotten
 *   [TXN_ADD, producerId, epoch, topic, partition, first]
 *                                                a transaction (see broker/txn/) writes to the
 *                                                partition from offset `first` on; durable before
 *                                                its first record is appended
 *   [TXN_COMMIT, producerId, ops[]]              the transaction's commit point: its acks and
 *                                                offset commits (ACK and COMMIT operations) apply
 *                                                with it, all or none
 *   [TXN_DONE, producerId]                       its markers are durable in every partition it
 *                                                wrote: forgotten. One that is open at open time
 *                                                is completed then (markers written: commit if it
 *                                                has its TXN_COMMIT, else abort)
 *   [TXN_ID, ...] [TXN_ID_OPEN, ...] [TXN_ID_END, ...] [TXN_ID_DROP, ...]
 *                                                Kafka transactional ids: see
 *                                                broker/txn/transactional-ids.ts
 *   [DELAY_DONE, due, offset]                    the delay store (broker/delay/) has moved every
 *                                                delayed message whose (due, offset) key is at or
 *                                                below this one; recorded inside a TXN_COMMIT
 *   [SCHEDULE_SET, name, spec]                   a schedule (broker/schedule/) is defined or
 *                                                replaced: spec {every?, first?, cron?, timezone?,
 *                                                topic, message, missed, createdAt, generation,
 *                                                next}
 *   [SCHEDULE_FIRED, name, at, next, generation] its firing for time `at` is done (inside the
 *                                                TXN_COMMIT that appended its message); the next
 *                                                is at `next` (null: none); ignored unless the
 *                                                schedule is still of that generation
 *   [SCHEDULE_DELETE, name]                      the schedule is removed
 *   [HALF_DONE, offset, committed]               the half message (broker/txn/half-messages.ts)
 *                                                at `offset` of the half log is resolved:
 *                                                committed (inside the TXN_COMMIT that appended
 *                                                it to its topic) or rolled back
 * Operations on a group or topic that no longer exists are ignored, so their order around a
 * delete does not matter. Thread-confined (the broker's thread).
 */
import { TransactionalIds } from '../txn/transactional-ids';

export type DeliveryModel = 'offset' | 'ack';

export const OP_GROUP_CREATE = 1;
export const OP_GROUP_DELETE = 2;
export const OP_TOPIC_INIT = 3;
export const OP_TOPIC_DROP = 4;
export const OP_COMMIT = 5;
export const OP_DELIVERED = 6;
export const OP_REDELIVERED = 7;
export const OP_ACK = 8;
export const OP_TRUNCATE = 9;
export const OP_TOPIC_GROW = 10;
export const OP_TXN_ADD = 11;
export const OP_TXN_COMMIT = 12;
export const OP_TXN_DONE = 13;
export const OP_FAILED = 14;
export const OP_TXN_ID = 15;
export const OP_TXN_ID_END = 16;
export const OP_TXN_ID_DROP = 17;
export const OP_TXN_ID_OPEN = 18;
export const OP_DELAY_DONE = 20;
export const OP_SCHEDULE_SET = 21;
export const OP_SCHEDULE_FIRED = 22;
export const OP_SCHEDULE_DELETE = 23;
export const OP_HALF_DONE = 24;

/** Which half messages are resolved: every offset below `below`, and those in `above`. */
export class HalfResolutions {
  below = 0;
  readonly above = new Set<number>();

  has(offset: number): boolean {
    return offset < this.below || this.above.has(offset);
  }

  add(offset: number): void {
    if (this.has(offset)) return;
    this.above.add(offset);
    while (this.above.delete(this.below)) this.below++;
  }
}

export type StateOp = readonly unknown[];

/** A group's progress through one partition. */
export class PartitionProgress {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** The next offset to consume: offset model, the committed offset; ack model, the lowest unacked. */
  committed: number;
  /** The metadata string of the last commit, for Kafka clients' commits (OffsetFetch returns it). */
  metadata: string | null = null;
  /** Ack model: every offset below this was delivered at least once. */
  deliveredEnd: number;
  /** Ack model: acked offsets above `committed`. */
  readonly acked = new Set<number>();
  /** Ack model: offset -> how many times it was delivered again (delivery count - 1), for offsets >= committed. */
  readonly redelivered = new Map<number, number>();
  /** Redeliveries ever made in this partition for this group. */
  redeliveriesTotal = 0;
  /** Ack model: offset -> how many of its deliveries failed, for offsets >= committed. */
  readonly failures = new Map<number, number>();
  /** Ack model: offset -> when a failed message is due again (ms), while it waits. */
  readonly retryAt = new Map<number, number>();
  pendingFailed: number[] = [];
  // What the next flush writes.
  dirty = false;
  dropped = false;
  positionDirty = false;
  deliveredDirty = false;
  /** The group consumed more since the last flush (the committed offset moved forward, or an ack ahead of it): the backlog fell. */
  progressed = false;
  /** Acks since the last flush as [start, length] runs (disjoint: an offset is acked once). */
  pendingAckRuns: number[] = [];
  pendingRedelivered: number[] = [];

  constructor(group: string, topic: string, partition: number, committed: number) {
    this.group = group;
    this.topic = topic;
    this.partition = partition;
    this.committed = committed;
    this.deliveredEnd = committed;
  }

  isAcked(offset: number): boolean {
    return offset < this.committed || this.acked.has(offset);
  }

  /** Applies an ack (none if the offset was already acked); moves `committed` past a contiguous run. */
  applyAck(offset: number): void {
    if (offset < this.committed || this.acked.has(offset)) return;
    if (offset !== this.committed) {
      this.acked.add(offset);
      return;
    }
    const clean = this.redelivered.size === 0 && this.failures.size === 0;
    if (!clean) this.forgetRetries(offset);
    let c = offset + 1;
    if (this.acked.size > 0) {
      while (this.acked.delete(c)) {
        if (!clean) this.forgetRetries(c);
        c++;
      }
    }
    this.committed = c;
    if (this.deliveredEnd < c) this.deliveredEnd = c;
  }

  /** The offset is consumed: its redelivery and failure counts go. */
  forgetRetries(offset: number): void {
    this.redelivered.delete(offset);
    this.failures.delete(offset);
    this.retryAt.delete(offset);
  }

  /** Records a failed delivery of `offset`, due again at `dueAt` (0: now); returns the failures so far. */
  applyFailed(offset: number, dueAt: number): number {
    const n = (this.failures.get(offset) ?? 0) + 1;
    this.failures.set(offset, n);
    if (dueAt > 0) this.retryAt.set(offset, dueAt);
    else this.retryAt.delete(offset);
    return n;
  }

  /**
   * Messages retained in [start, end) that the group has not consumed: those from the committed
   * offset (or the Log's start, once retention passed it) on, less the ones acked ahead. This is
   * both the backlog producers are admitted against and the lag describeGroup reports.
   */
  unconsumed(start: number, end: number): number {
    // Nothing committed yet (-1: a Kafka group that has not committed this partition): the group
    // does not track it, so it holds back no backlog; its lag is unknown until it commits.
    if (this.committed < 0) return 0;
    let acked = this.acked.size;
    // Acks below the start (retention passed a gap) are rare: only then is the set walked.
    if (acked > 0 && this.committed < start) for (const o of this.acked) if (o < start) acked--;
    return Math.max(0, end - Math.max(this.committed, start) - acked);
  }

  applyCommit(offset: number): void {
    this.committed = offset;
    if (this.deliveredEnd < offset) this.deliveredEnd = offset;
    if (this.acked.size > 0) for (const o of this.acked) if (o < offset) this.acked.delete(o);
    if (this.redelivered.size > 0) for (const o of this.redelivered.keys()) if (o < offset) this.redelivered.delete(o);
    if (this.failures.size > 0) for (const o of this.failures.keys()) if (o < offset) this.forgetRetries(o);
    if (this.acked.size > 0) {
      // Acks at the new position count at once.
      let c = offset;
      while (this.acked.delete(c)) c++;
      this.committed = c;
    }
  }

  applyTruncate(end: number): void {
    if (this.committed > end) this.committed = end;
    if (this.deliveredEnd > end) this.deliveredEnd = end;
    for (const o of this.acked) if (o >= end) this.acked.delete(o);
    for (const o of this.redelivered.keys()) if (o >= end) this.redelivered.delete(o);
    for (const o of this.failures.keys()) if (o >= end) this.forgetRetries(o);
  }

  applyRedelivered(offset: number): number {
    const n = (this.redelivered.get(offset) ?? 0) + 1;
    this.redelivered.set(offset, n);
    this.redeliveriesTotal++;
    return n + 1;
  }
}

/** A transaction the state knows is not finished (see broker/txn/). */
export class TxnRecord {
  readonly producerId: number;
  readonly epoch: number;
  /** The partitions it writes, each with the offset its records start at (or after). */
  readonly partitions: { topic: string; partition: number; first: number }[] = [];
  /** Its TXN_COMMIT is recorded: it ends with commit markers (else abort markers). */
  committed = false;

  constructor(producerId: number, epoch: number) {
    this.producerId = producerId;
    this.epoch = epoch;
  }
}

export class GroupRecord {
  readonly name: string;
  readonly model: DeliveryModel;
  readonly createdAt: number;
  readonly topics = new Map<string, PartitionProgress[]>();

  constructor(name: string, model: DeliveryModel, createdAt: number) {
    this.name = name;
    this.model = model;
    this.createdAt = createdAt;
  }
}

/** Runs of consecutive offsets: [start, length, start, length, ...], from unsorted offsets. */
export function toRuns(offsets: Iterable<number>): number[] {
  let sorted: ArrayLike<number>;
  if (Array.isArray(offsets) && isAscending(offsets)) sorted = offsets;
  else sorted = Float64Array.from(offsets).sort();
  const runs: number[] = [];
  for (let i = 0; i < sorted.length; ) {
    const start = sorted[i];
    let j = i + 1;
    while (j < sorted.length && sorted[j] === sorted[j - 1] + 1) j++;
    runs.push(start, j - i);
    i = j;
  }
  return runs;
}

function isAscending(a: readonly number[]): boolean {
  for (let i = 1; i < a.length; i++) if (a[i] <= a[i - 1]) return false;
  return true;
}

/** A schedule as stored (broker/schedule/scheduler.ts reads and writes it). */
export interface ScheduleRecord {
  readonly name: string;
  readonly spec: ScheduleSpec;
  /** The next firing time (ms), or null when it will not fire again. */
  next: number | null;
  /** The time of the last firing done (ms), or null. */
  lastFiredFor: number | null;
}

export interface ScheduleSpec {
  every?: number;
  cron?: string;
  timezone?: string;
  topic: string;
  /** The message as its topic stores it (key, value bytes, headers as pairs). */
  message: { key: string | Uint8Array | null; value: Uint8Array | null; headers: [string, Uint8Array | null][]; partition?: number };
  missed: 'once' | 'skip';
  createdAt: number;
  /** Goes up each time the schedule is redefined; a firing of an older one moves nothing. */
  generation: number;
  /** `every`: the first firing time, the anchor of all the others. */
  first?: number;
  /** The first firing time, when defined. */
  next: number | null;
}

export class GroupState {
  readonly groups = new Map<string, GroupRecord>();
  /** Transactions not finished yet, by producer id. */
  readonly transactions = new Map<number, TxnRecord>();
  /** The delay store's watermark (DELAY_DONE): every delayed message at or below it was moved. */
  readonly delayWatermark = { due: -1, offset: -1 };
  /** Schedules by name. */
  readonly schedules = new Map<string, ScheduleRecord>();
  /** Half messages resolved (committed or rolled back). */
  readonly halfResolved = new HalfResolutions();
  /** Kafka transactional ids (see broker/txn/transactional-ids.ts). */
  readonly transactionalIds = new TransactionalIds();
  /** Called when there is something to write: the log schedules a flush. */
  onChange: () => void = () => {};
  /** Called (when the tick's changes are taken for writing) if a group consumed more of `topic` (its backlog fell). */
  onProgress: (topic: string) => void = () => {};
  #immediate: StateOp[] = [];
  #dirty: PartitionProgress[] = [];

  // ---- Changes (applied now, written at the end of the tick) ----

  createGroup(name: string, model: DeliveryModel, createdAt: number): GroupRecord {
    const g = new GroupRecord(name, model, createdAt);
    this.groups.set(name, g);
    this.#record([OP_GROUP_CREATE, name, model, createdAt]);
    return g;
  }

  deleteGroup(name: string): void {
    const g = this.groups.get(name);
    if (g === undefined) return;
    this.#dropGroup(g);
    this.#record([OP_GROUP_DELETE, name]);
  }

  /** Starts tracking `topic` for a group, one start position per partition. */
  initTopic(group: GroupRecord, topic: string, committed: number[]): PartitionProgress[] {
    const parts = committed.map((c, p) => new PartitionProgress(group.name, topic, p, c));
    group.topics.set(topic, parts);
    this.#record([OP_TOPIC_INIT, group.name, topic, committed]);
    return parts;
  }

  /** The topic has `total` partitions now: a group tracking it tracks the new ones from offset 0 (they were empty when added). */
  growTopic(group: GroupRecord, topic: string, total: number): void {
    if (!this.#grow(group, topic, total)) return;
    this.#record([OP_TOPIC_GROW, group.name, topic, total]);
  }

  #grow(group: GroupRecord, topic: string, total: number): boolean {
    const parts = group.topics.get(topic);
    if (parts === undefined || parts.length >= total) return false;
    for (let p = parts.length; p < total; p++) parts.push(new PartitionProgress(group.name, topic, p, 0));
    return true;
  }

  dropTopic(topic: string): void {
    for (const g of this.groups.values()) this.#dropTopicOf(g, topic);
    this.#record([OP_TOPIC_DROP, topic]);
  }

  /** Moves the committed offset; `metadata` is what a Kafka client's commit carries (null otherwise). */
  commit(p: PartitionProgress, offset: number, metadata: string | null = null): void {
    if (p.dropped) return;
    if (offset > p.committed) p.progressed = true;
    p.applyCommit(offset);
    p.metadata = metadata;
    p.positionDirty = true;
    if (!p.dirty) this.#markDirty(p);
  }

  /** Acks `offset`; false if it already was. */
  ack(p: PartitionProgress, offset: number): boolean {
    if (offset === p.committed && p.acked.size === 0) {
      // In order, nothing acked ahead: the common case.
      if (p.redelivered.size !== 0 || p.failures.size !== 0) p.forgetRetries(offset);
      p.committed = offset + 1;
      if (p.deliveredEnd <= offset) p.deliveredEnd = offset + 1;
      p.progressed = true;
    } else {
      if (p.isAcked(offset)) return false;
      p.applyAck(offset);
      p.progressed = true; // an ack ahead lowers the backlog as well
    }
    if (p.dropped) return true;
    const runs = p.pendingAckRuns;
    const n = runs.length;
    if (n > 0 && runs[n - 2] + runs[n - 1] === offset) runs[n - 1]++;
    else runs.push(offset, 1);
    if (!p.dirty) this.#markDirty(p);
    return true;
  }

  /**
   * The partition's Log ends at `end`, below what this group's progress says (the group state was
   * synced, the topic's last messages were not, and the power went): without this the group would
   * skip the new messages written at those offsets. Returns whether anything changed.
   */
  truncate(p: PartitionProgress, end: number): boolean {
    if (p.committed <= end && p.deliveredEnd <= end) return false;
    p.applyTruncate(end);
    this.#record([OP_TRUNCATE, p.group, p.topic, p.partition, end]);
    return true;
  }

  /** Everything below `end` has now been delivered at least once. */
  delivered(p: PartitionProgress, end: number): void {
    if (end <= p.deliveredEnd) return;
    p.deliveredEnd = end;
    if (p.dropped) return;
    p.deliveredDirty = true;
    this.#markDirty(p);
  }

  /** A delivery of `offset` failed; it is due again at `dueAt` (0: now). Returns its failures so far. */
  failed(p: PartitionProgress, offset: number, dueAt: number): number {
    const n = p.applyFailed(offset, dueAt);
    if (!p.dropped) {
      p.pendingFailed.push(offset, dueAt);
      this.#markDirty(p);
    }
    return n;
  }

  /** Records one more delivery of `offset`; returns its new delivery count. */
  redelivered(p: PartitionProgress, offset: number): number {
    const count = p.applyRedelivered(offset);
    if (!p.dropped) {
      p.pendingRedelivered.push(offset);
      this.#markDirty(p);
    }
    return count;
  }

  // ---- Transactions ----

  /** A transaction writes to `topic`/`partition` from `first` on. */
  addTransactionPartition(producerId: number, epoch: number, topic: string, partition: number, first: number): void {
    this.#addTxn(producerId, epoch, topic, partition, first);
    this.#record([OP_TXN_ADD, producerId, epoch, topic, partition, first]);
  }

  /** The commit point: `ops` (ACK and COMMIT operations) apply now, with the decision, all in one operation. */
  commitTransaction(producerId: number, ops: StateOp[]): void {
    this.#commitTxn(producerId, ops);
    this.#record([OP_TXN_COMMIT, producerId, ops]);
    const topics = new Set(ops.filter((op) => op[0] === OP_ACK || op[0] === OP_COMMIT).map((op) => op[2] as string));
    for (const t of topics) this.onProgress(t);
  }

  /** Its markers are durable: the transaction is forgotten. */
  finishTransaction(producerId: number): void {
    if (!this.transactions.delete(producerId)) return;
    this.#record([OP_TXN_DONE, producerId]);
  }

  /** A transactional id holds `producerId` at `epoch` from now on (an InitProducerId, or a fence). */
  setTransactionalId(id: string, producerId: number, epoch: number, timeoutMs: number, atMs: number): void {
    this.transactionalIds.set(id, producerId, epoch, timeoutMs, atMs);
    this.#record([OP_TXN_ID, id, producerId, epoch, timeoutMs, atMs]);
  }

  /** A transaction of the transactional id opened. */
  openTransactionalId(id: string, atMs: number): void {
    this.transactionalIds.markOpen(id, atMs);
    this.#record([OP_TXN_ID_OPEN, id, atMs]);
  }

  /** The transactional id's transaction ended, its markers durable. */
  endTransactionalId(id: string, committed: boolean, atMs: number): void {
    this.transactionalIds.end(id, committed, atMs);
    this.#record([OP_TXN_ID_END, id, committed, atMs]);
  }

  dropTransactionalId(id: string): void {
    this.transactionalIds.drop(id);
    this.#record([OP_TXN_ID_DROP, id]);
  }

  #applyTxnId(op: StateOp): void {
    if (op[0] === OP_TXN_ID) this.transactionalIds.set(op[1] as string, op[2] as number, op[3] as number, op[4] as number, op[5] as number);
    else if (op[0] === OP_TXN_ID_END) this.transactionalIds.end(op[1] as string, op[2] as boolean, op[3] as number);
    else if (op[0] === OP_TXN_ID_OPEN) this.transactionalIds.markOpen(op[1] as string, op[2] as number);
    else this.transactionalIds.drop(op[1] as string);
  }

  #addTxn(producerId: number, epoch: number, topic: string, partition: number, first: number): void {
    let t = this.transactions.get(producerId);
    if (t === undefined) this.transactions.set(producerId, (t = new TxnRecord(producerId, epoch)));
    if (!t.partitions.some((p) => p.topic === topic && p.partition === partition)) t.partitions.push({ topic, partition, first });
  }

  #commitTxn(producerId: number, ops: readonly StateOp[]): void {
    const t = this.transactions.get(producerId);
    if (t !== undefined) t.committed = true;
    for (const op of ops) this.apply(op);
  }

  // ---- Schedules ----

  setSchedule(name: string, spec: ScheduleSpec): ScheduleRecord {
    this.#record([OP_SCHEDULE_SET, name, spec]);
    return this.#setSchedule(name, spec);
  }

  deleteSchedule(name: string): void {
    if (!this.schedules.delete(name)) return;
    this.#record([OP_SCHEDULE_DELETE, name]);
  }

  #setSchedule(name: string, spec: ScheduleSpec): ScheduleRecord {
    const r: ScheduleRecord = { name, spec, next: spec.next, lastFiredFor: null };
    this.schedules.set(name, r);
    return r;
  }

  #scheduleFired(name: string, at: number, next: number | null, generation: number): void {
    const r = this.schedules.get(name);
    if (r === undefined || r.spec.generation !== generation) return;
    r.lastFiredFor = at;
    r.next = next;
  }

  /** A half message was rolled back (a commit records HALF_DONE inside its transaction). */
  rollBackHalf(offset: number): void {
    this.halfResolved.add(offset);
    this.#record([OP_HALF_DONE, offset, false]);
  }

  // ---- For GroupStateLog ----

  get hasPending(): boolean {
    return this.#immediate.length > 0 || this.#dirty.length > 0;
  }

  /** The operations made since the last call, in an order that replays to the same state. */
  takeOps(): StateOp[] {
    const ops = this.#immediate;
    this.#immediate = [];
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const p of dirty) {
      p.dirty = false;
      if (p.dropped) continue;
      const { group, topic, partition } = p;
      if (p.positionDirty) ops.push(p.metadata === null ? [OP_COMMIT, group, topic, partition, p.committed] : [OP_COMMIT, group, topic, partition, p.committed, p.metadata]);
      if (p.deliveredDirty) ops.push([OP_DELIVERED, group, topic, partition, p.deliveredEnd]);
      if (p.pendingRedelivered.length > 0) {
        ops.push([OP_REDELIVERED, group, topic, partition, p.pendingRedelivered]);
        p.pendingRedelivered = [];
      }
      if (p.pendingFailed.length > 0) {
        ops.push([OP_FAILED, group, topic, partition, p.pendingFailed]);
        p.pendingFailed = [];
      }
      if (p.pendingAckRuns.length > 0) {
        ops.push([OP_ACK, group, topic, partition, p.pendingAckRuns]);
        p.pendingAckRuns = [];
      }
      p.positionDirty = false;
      p.deliveredDirty = false;
      if (p.progressed) {
        p.progressed = false;
        this.onProgress(p.topic);
      }
    }
    return ops;
  }

  /** Forgets what takeOps would return (the snapshot that is being written covers it). */
  discardPending(): void {
    this.takeOps();
  }

  /** Replays one operation (no onChange/onProgress). */
  apply(op: StateOp): void {
    const type = op[0];
    if (type === OP_TXN_ADD) {
      this.#addTxn(op[1] as number, op[2] as number, op[3] as string, op[4] as number, op[5] as number);
      return;
    }
    if (type === OP_TXN_COMMIT) {
      this.#commitTxn(op[1] as number, op[2] as StateOp[]);
      return;
    }
    if (type === OP_TXN_DONE) {
      this.transactions.delete(op[1] as number);
      return;
    }
    if (type === OP_DELAY_DONE) {
      const w = this.delayWatermark;
      const due = op[1] as number;
      const offset = op[2] as number;
      if (due > w.due || (due === w.due && offset > w.offset)) {
        w.due = due;
        w.offset = offset;
      }
      return;
    }
    if (type === OP_SCHEDULE_SET) {
      this.#setSchedule(op[1] as string, op[2] as ScheduleSpec);
      return;
    }
    if (type === OP_SCHEDULE_FIRED) {
      this.#scheduleFired(op[1] as string, op[2] as number, op[3] as number | null, op[4] as number);
      return;
    }
    if (type === OP_SCHEDULE_DELETE) {
      this.schedules.delete(op[1] as string);
      return;
    }
    if (type === OP_HALF_DONE) {
      this.halfResolved.add(op[1] as number);
      return;
    }
    if (type === OP_TXN_ID || type === OP_TXN_ID_OPEN || type === OP_TXN_ID_END || type === OP_TXN_ID_DROP) {
      this.#applyTxnId(op);
      return;
    }
    if (type === OP_GROUP_CREATE) {
      this.groups.set(op[1] as string, new GroupRecord(op[1] as string, op[2] as DeliveryModel, op[3] as number));
      return;
    }
    if (type === OP_TOPIC_DROP) {
      for (const g of this.groups.values()) this.#dropTopicOf(g, op[1] as string);
      return;
    }
    const g = this.groups.get(op[1] as string);
    if (g === undefined) return;
    if (type === OP_GROUP_DELETE) {
      this.#dropGroup(g);
      return;
    }
    if (type === OP_TOPIC_INIT) {
      g.topics.set(op[2] as string, (op[3] as number[]).map((c, p) => new PartitionProgress(g.name, op[2] as string, p, c)));
      return;
    }
    if (type === OP_TOPIC_GROW) {
      this.#grow(g, op[2] as string, op[3] as number);
      return;
    }
    const p = g.topics.get(op[2] as string)?.[op[3] as number];
    if (p === undefined) return;
    switch (type) {
      case OP_COMMIT:
        p.applyCommit(op[4] as number);
        p.metadata = typeof op[5] === 'string' ? op[5] : null;
        break;
      case OP_DELIVERED:
        if ((op[4] as number) > p.deliveredEnd) p.deliveredEnd = op[4] as number;
        break;
      case OP_REDELIVERED:
        for (const o of op[4] as number[]) {
          if (p.isAcked(o)) p.redeliveriesTotal++;
          else p.applyRedelivered(o);
        }
        break;
      case OP_TRUNCATE:
        p.applyTruncate(op[4] as number);
        break;
      case OP_FAILED: {
        const pairs = op[4] as number[];
        for (let i = 0; i < pairs.length; i += 2) if (!p.isAcked(pairs[i])) p.applyFailed(pairs[i], pairs[i + 1]);
        break;
      }
      case OP_ACK: {
        const runs = op[4] as number[];
        for (let i = 0; i < runs.length; i += 2) for (let o = runs[i], end = runs[i] + runs[i + 1]; o < end; o++) p.applyAck(o);
        break;
      }
      default:
        throw new Error(`unknown group state operation ${String(type)}`);
    }
  }

  /** The whole state as plain data (acked offsets as runs). */
  snapshot(): unknown {
    const groups: unknown[] = [];
    for (const g of this.groups.values()) {
      const topics: unknown[] = [];
      for (const [topic, parts] of g.topics) {
        // Most partitions have no acks ahead and no redeliveries: no sort or spread for those (a
        // checkpoint builds this in one synchronous slice).
        topics.push([
          topic,
          parts.map((p) => {
            const row: unknown[] = [p.committed, p.deliveredEnd, p.acked.size === 0 ? [] : toRuns(p.acked), p.redelivered.size === 0 ? [] : [...p.redelivered].flat(), p.redeliveriesTotal];
            if (p.failures.size > 0) return [...row, p.metadata, [...p.failures].flat(), [...p.retryAt].flat()];
            return p.metadata === null ? row : [...row, p.metadata];
          }),
        ]);
      }
      groups.push([g.name, g.model, g.createdAt, topics]);
    }
    const txns = [...this.transactions.values()].map((t) => [t.producerId, t.epoch, t.committed, t.partitions.map((p) => [p.topic, p.partition, p.first])]);
    const out: Record<string, unknown> = { v: 1, groups };
    if (txns.length > 0) out.txns = txns;
    if (this.transactionalIds.size > 0) out.tids = this.transactionalIds.rows();
    if (this.delayWatermark.offset >= 0) out.delay = [this.delayWatermark.due, this.delayWatermark.offset];
    if (this.schedules.size > 0) out.schedules = [...this.schedules.values()].map((r) => [r.name, r.spec, r.next, r.lastFiredFor]);
    if (this.halfResolved.below > 0 || this.halfResolved.above.size > 0) out.half = [this.halfResolved.below, [...this.halfResolved.above]];
    return out;
  }

  restore(data: unknown): void {
    const d = data as { v: number; groups: [string, DeliveryModel, number, [string, [number, number, number[], number[], number, (string | null)?, number[]?, number[]?][]][]][] };
    if (d === null || typeof d !== 'object' || d.v !== 1 || !Array.isArray(d.groups)) throw new Error('not a version-1 group state snapshot');
    this.groups.clear();
    this.transactions.clear();
    this.transactionalIds.restore((data as { tids?: Parameters<TransactionalIds['restore']>[0] }).tids ?? []);
    this.schedules.clear();
    const extra = data as { delay?: [number, number]; schedules?: [string, ScheduleSpec, number | null, number | null][]; half?: [number, number[]] };
    this.halfResolved.below = extra.half?.[0] ?? 0;
    this.halfResolved.above.clear();
    for (const o of extra.half?.[1] ?? []) this.halfResolved.above.add(o);
    this.delayWatermark.due = extra.delay?.[0] ?? -1;
    this.delayWatermark.offset = extra.delay?.[1] ?? -1;
    for (const [name, spec, next, last] of extra.schedules ?? []) {
      const r = this.#setSchedule(name, spec);
      r.next = next;
      r.lastFiredFor = last;
    }
    for (const [producerId, epoch, committed, parts] of (data as { txns?: [number, number, boolean, [string, number, number][]][] }).txns ?? []) {
      for (const [topic, partition, first] of parts) this.#addTxn(producerId, epoch, topic, partition, first);
      const t = this.transactions.get(producerId);
      if (t !== undefined) t.committed = committed;
    }
    for (const [name, model, createdAt, topics] of d.groups) {
      const g = new GroupRecord(name, model, createdAt);
      for (const [topic, parts] of topics) {
        g.topics.set(
          topic,
          parts.map(([committed, deliveredEnd, ackedRuns, redelivered, total, metadata, failures, retryAt], i) => {
            const p = new PartitionProgress(name, topic, i, committed);
            for (let k = 0; k < (failures?.length ?? 0); k += 2) p.failures.set(failures![k], failures![k + 1]);
            for (let k = 0; k < (retryAt?.length ?? 0); k += 2) p.retryAt.set(retryAt![k], retryAt![k + 1]);
            p.metadata = typeof metadata === 'string' ? metadata : null;
            p.deliveredEnd = deliveredEnd;
            for (let k = 0; k < ackedRuns.length; k += 2) for (let o = ackedRuns[k]; o < ackedRuns[k] + ackedRuns[k + 1]; o++) p.acked.add(o);
            for (let k = 0; k < redelivered.length; k += 2) p.redelivered.set(redelivered[k], redelivered[k + 1]);
            p.redeliveriesTotal = total;
            return p;
          }),
        );
      }
      this.groups.set(name, g);
    }
  }

  /**
   * What the slowest group tracking `topic` has not consumed (of what is still retained), or null
   * if no group tracks it.
   */
  backlog(topic: string, endOffset: (partition: number) => number, startOffset: (partition: number) => number): number | null {
    let worst: number | null = null;
    for (const g of this.groups.values()) {
      const parts = g.topics.get(topic);
      if (parts === undefined) continue;
      let lag = 0;
      for (const p of parts) lag += p.unconsumed(startOffset(p.partition), endOffset(p.partition));
      if (worst === null || lag > worst) worst = lag;
    }
    return worst;
  }

  // ---- Internals ----

  #record(op: StateOp): void {
    this.#immediate.push(op);
    this.onChange();
  }

  #markDirty(p: PartitionProgress): void {
    if (p.dirty) return;
    p.dirty = true;
    this.#dirty.push(p);
    this.onChange();
  }

  #dropGroup(g: GroupRecord): void {
    for (const parts of g.topics.values()) for (const p of parts) p.dropped = true;
    this.groups.delete(g.name);
  }

  #dropTopicOf(g: GroupRecord, topic: string): void {
    const parts = g.topics.get(topic);
    if (parts === undefined) return;
    for (const p of parts) p.dropped = true;
    g.topics.delete(topic);
  }
}
