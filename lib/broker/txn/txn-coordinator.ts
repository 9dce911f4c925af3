/**
 * The transaction coordinator for Kafka transactional ids: what the Kafka server's InitProducerId,
 * AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn and transactional Produce call.
 * It drives the machinery of in-process transactions (transaction.ts): the same TXN_ADD,
 * TXN_COMMIT and TXN_DONE operations in the group state, the same markers, the same recovery at
 * open. What it adds is the durable table of transactional ids (transactional-ids.ts).
 *
 * - InitProducerId maps a transactional id to a producer id, durably, and bumps its epoch on
 *   every call: a producer with an older epoch is fenced (PRODUCER_FENCED) from then on. A
 *   transaction of the id still open is aborted first (abort markers).
 * - A transaction opens with its first AddPartitionsToTxn or AddOffsetsToTxn. Each partition
 *   added is recorded (TXN_ADD with the partition's end offset then, durable before the answer);
 *   only then does Produce take the producer's transactional batches there, and from the first
 *   one on readers stop before it (the last stable offset), as in Kafka.
 * - TxnOffsetCommit offsets (of a group added with AddOffsetsToTxn) are held in memory: they
 *   apply with the commit point, or never.
 * - EndTxn commit: the partitions written are flushed, then TXN_COMMIT carries the offsets (the
 *   commit point), then commit markers, TXN_DONE. Abort: abort markers, TXN_DONE; the offsets are
 *   dropped. The answer waits for the markers, so a consumer reading after it sees the outcome.
 * - A transaction open longer than its timeout (from InitProducerId, at most
 *   TRANSACTION_TIMEOUT_MS_MAX) is aborted, and the epoch bumped: the producer is fenced, as
 *   Kafka fences a producer whose transaction it expired.
 * - At open (recover): a transaction left open by a stop or crash is aborted and its id's epoch
 *   bumped (fenced), also one that had only added offsets (TXN_ID_OPEN says it was open); one
 *   whose TXN_COMMIT was recorded is completed, and a retried EndTxn commit is answered as done.
 * Operations on one transactional id run one at a time, in arrival order. Thread-confined (the
 * broker's thread); lifetime: the broker's.
 */
import { ErrorCode, SluiceError } from '../../errors';
import { OP_COMMIT, type GroupState, type StateOp, type TxnRecord } from '../group/group-state';
import type { GroupOffsets } from '../group/group-offsets';
import type { GroupStateLog } from '../group/group-state-log';
import type { Clock, TimerHandle } from '../time/clock';
import type { Topic } from '../topic/topic';
import type { TopicPartition } from '../topic/topic-partition';
import { recoverTransactions, writeMarkers } from './transaction';
import { TRANSACTIONAL_ID_EXPIRY_MS, type TransactionalIdRecord } from './transactional-ids';

/** The longest transaction timeout a producer may ask for (Kafka's transaction.max.timeout.ms default). */
export const TRANSACTION_TIMEOUT_MS_MAX = 900_000;
/** Past this epoch a transactional id gets a new producer id at epoch 0 (epochs are int16, as in Kafka). */
const PRODUCER_EPOCH_MAX = 32_766;
/** Expired ids are swept when the table grows past this, then past twice its size after the sweep. */
const SWEEP_AT_MIN = 1024;

export interface TransactionCoordinatorLink {
  readonly state: GroupState;
  readonly groupLog: GroupStateLog;
  readonly clock: Clock;
  topic(name: string): Topic | undefined;
  newProducerId(): Promise<number>;
  readonly offsets: GroupOffsets;
}

export interface ProducerIdAndEpoch {
  producerId: number;
  epoch: number;
}

export interface TxnPartition {
  topic: string;
  partition: number;
}

/** An offset commit of a transaction: the group's committed offset moves to `offset` at the commit. */
export interface TxnOffset extends TxnPartition {
  offset: number;
  metadata: string | null;
}

export interface TransactionalIdDescription extends ProducerIdAndEpoch {
  timeoutMs: number;
  /** 'open' from the first partition or group added until EndTxn (or an abort) begins ending it. */
  state: 'idle' | 'open' | 'ending';
  partitions: TxnPartition[];
  groups: string[];
}

interface OpenTransaction {
  readonly id: string;
  readonly producerId: number;
  readonly epoch: number;
  readonly partitions: TopicPartition[];
  readonly groups: Set<string>;
  /** The COMMIT operations the commit point applies, by group, topic and partition. */
  readonly offsets: Map<string, StateOp>;
  timer: TimerHandle | null;
  ending: boolean;
}

export class TransactionCoordinator {
  readonly #link: TransactionCoordinatorLink;
  readonly #open = new Map<string, OpenTransaction>();
  readonly #queues = new Map<string, Promise<unknown>>();
  #sweepAt = SWEEP_AT_MIN;
  #closed = false;

  constructor(link: TransactionCoordinatorLink) {
    this.#link = link;
  }

  /**
   * At open, before anything else is served: finishes every transaction left unfinished (see
   * recoverTransactions); a Kafka transactional id whose transaction is aborted so is fenced
   * (epoch bumped), one whose commit is completed answers a retried EndTxn commit as done. Then
   * expired ids are forgotten.
   */
  static async recover(state: GroupState, groupLog: GroupStateLog, topic: (name: string) => Topic | undefined, now: number): Promise<void> {
    const done = (t: TxnRecord): void => {
      const r = state.transactionalIds.ofProducer(t.producerId);
      if (r === undefined) return;
      if (t.committed) state.endTransactionalId(r.id, true, now);
      else state.setTransactionalId(r.id, r.producerId, r.epoch + 1, r.timeoutMs, now);
    };
    await recoverTransactions(state, groupLog, topic, done);
    for (const r of [...state.transactionalIds.values()]) {
      // Open, with nothing written to partitions (only offsets, held in memory): aborted too.
      if (r.open) state.setTransactionalId(r.id, r.producerId, r.epoch + 1, r.timeoutMs, now);
      else if (r.atMs < now - TRANSACTIONAL_ID_EXPIRY_MS) state.dropTransactionalId(r.id);
    }
    await groupLog.confirm();
  }

  /**
   * InitProducerId with a transactional id: aborts its open transaction, then the id holds its
   * producer id (a new one the first time) at the next epoch, durably. `expected` (KIP-360: the
   * id and epoch the producer has) must be the current ones, else PRODUCER_FENCED. RangeError
   * for a timeout outside 1 to TRANSACTION_TIMEOUT_MS_MAX.
   */
  async initProducerId(id: string, timeoutMs: number, expected: ProducerIdAndEpoch | null): Promise<ProducerIdAndEpoch> {
    checkTransactionalId(id);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > TRANSACTION_TIMEOUT_MS_MAX) {
      throw new RangeError(`transaction timeout must be from 1 to ${TRANSACTION_TIMEOUT_MS_MAX} ms, got ${timeoutMs}`);
    }
    return this.#serial(id, async () => {
      const r = this.#link.state.transactionalIds.get(id);
      if (expected !== null && r !== undefined && (expected.producerId !== r.producerId || expected.epoch !== r.epoch)) {
        throw fenced(id, expected.epoch, r.epoch);
      }
      const open = this.#open.get(id);
      if (open !== undefined) await this.#end(open, false);
      const next = await this.#nextEpoch(r);
      this.#link.state.setTransactionalId(id, next.producerId, next.epoch, timeoutMs, this.#link.clock.now());
      await this.#link.groupLog.confirm();
      if (r === undefined) this.#maybeSweep();
      return next;
    });
  }

  /**
   * AddPartitionsToTxn: the partitions join the id's transaction (opening it), durably. Returns
   * the partitions that do not exist: if any, nothing was added.
   */
  addPartitions(id: string, producerId: number, epoch: number, partitions: readonly TxnPartition[]): Promise<TxnPartition[]> {
    return this.#serial(id, async () => {
      this.#verify(id, producerId, epoch);
      const found = partitions.map((p) => this.#link.topic(p.topic)?.partitions[p.partition]);
      const missing = partitions.filter((_, i) => found[i] === undefined || found[i]!.closed);
      if (missing.length > 0) return missing;
      const txn = this.#openOf(id, producerId, epoch);
      for (const tp of found as TopicPartition[]) {
        if (txn.partitions.includes(tp)) continue;
        // At or below its first record here: what a recovery's abort covers.
        this.#link.state.addTransactionPartition(producerId, epoch, tp.topic, tp.index, tp.endOffset);
        txn.partitions.push(tp);
      }
      await this.#link.groupLog.confirm();
      return [];
    });
  }

  /** AddOffsetsToTxn: the group's offsets may be committed in the id's transaction (opening it, durably). */
  addOffsets(id: string, producerId: number, epoch: number, group: string): Promise<void> {
    return this.#serial(id, async () => {
      this.#verify(id, producerId, epoch);
      this.#openOf(id, producerId, epoch).groups.add(group);
      await this.#link.groupLog.confirm();
    });
  }

  /**
   * TxnOffsetCommit: the offsets apply to the group's committed offsets when the transaction
   * commits. Per entry, the error that refused it (UNKNOWN_TOPIC, RangeError for a partition the
   * topic lacks, GROUP_MODEL_MISMATCH), or null. INVALID_TRANSACTION_STATE unless the group was
   * added to the open transaction.
   */
  commitOffsets(id: string, producerId: number, epoch: number, group: string, entries: readonly TxnOffset[]): Promise<(Error | null)[]> {
    return this.#serial(id, async () => {
      this.#verify(id, producerId, epoch);
      const txn = this.#open.get(id);
      if (txn === undefined || !txn.groups.has(group)) throw invalidState(`group ${JSON.stringify(group)} was not added to transactional id ${JSON.stringify(id)}'s transaction (AddOffsetsToTxn first)`);
      return entries.map((e) => {
        try {
          this.#link.offsets.prepare(group, e.topic, e.partition);
        } catch (err) {
          return err as Error;
        }
        const op: StateOp = e.metadata === null ? [OP_COMMIT, group, e.topic, e.partition, e.offset] : [OP_COMMIT, group, e.topic, e.partition, e.offset, e.metadata];
        txn.offsets.set(`${group}\0${e.topic}\0${e.partition}`, op);
        return null;
      });
    });
  }

  /**
   * EndTxn: commits or aborts the id's open transaction; resolves once its markers are durable.
   * With none open, a repeat of the outcome just reached is answered as done, anything else is
   * INVALID_TRANSACTION_STATE.
   */
  endTransaction(id: string, producerId: number, epoch: number, commit: boolean): Promise<void> {
    return this.#serial(id, async () => {
      const r = this.#verify(id, producerId, epoch);
      const txn = this.#open.get(id);
      if (txn !== undefined) return this.#end(txn, commit);
      if (r.lastEnd !== (commit ? 'commit' : 'abort')) throw invalidState(`transactional id ${JSON.stringify(id)} has no transaction open to ${commit ? 'commit' : 'abort'}${r.lastEnd === null ? '' : ` (its last one was ${r.lastEnd === 'commit' ? 'committed' : 'aborted'})`}`);
    });
  }

  /**
   * Whether a transactional batch of `producerId` at `epoch` may go to `tp` now: throws
   * UNKNOWN_PRODUCER_ID, PRODUCER_FENCED or INVALID_TRANSACTION_STATE (the partition is not in
   * the id's open transaction, or it is ending). Admitted, the transaction is open in `tp` from
   * its end offset (readers stop there until it ends). Called right before the append, in the
   * same synchronous step.
   */
  admit(id: string, producerId: number, epoch: number, tp: TopicPartition): void {
    this.#verify(id, producerId, epoch);
    const txn = this.#open.get(id);
    if (txn === undefined || txn.ending || !txn.partitions.includes(tp)) {
      throw invalidState(`partition ${tp.topic}/${tp.index} is not in an open transaction of transactional id ${JSON.stringify(id)} (AddPartitionsToTxn first)`);
    }
    tp.openTransaction(producerId);
  }

  /** What the coordinator holds for a transactional id (Kafka's DescribeTransactions), or null. */
  describe(id: string): TransactionalIdDescription | null {
    const r = this.#link.state.transactionalIds.get(id);
    if (r === undefined) return null;
    const txn = this.#open.get(id);
    return {
      producerId: r.producerId,
      epoch: r.epoch,
      timeoutMs: r.timeoutMs,
      state: txn === undefined ? 'idle' : txn.ending ? 'ending' : 'open',
      partitions: (txn?.partitions ?? []).map((tp) => ({ topic: tp.topic, partition: tp.index })),
      groups: [...(txn?.groups ?? [])],
    };
  }

  /** Stops the timeout timers and waits for the operations in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const txn of this.#open.values()) this.#disarm(txn);
    await Promise.allSettled([...this.#queues.values()]);
  }

  // ---- Internals ----

  #verify(id: string, producerId: number, epoch: number): TransactionalIdRecord {
    if (this.#closed) throw new SluiceError('the broker is closed', ErrorCode.CLOSED);
    const r = this.#link.state.transactionalIds.get(id);
    if (r === undefined || r.producerId !== producerId) {
      throw new SluiceError(`producer id ${producerId} is not the one of transactional id ${JSON.stringify(id)}${r === undefined ? ' (unknown: InitProducerId first)' : ''}`, ErrorCode.UNKNOWN_PRODUCER_ID);
    }
    if (epoch !== r.epoch) throw fenced(id, epoch, r.epoch);
    return r;
  }

  /** The id's open transaction, opened now (its timeout armed) if there is none. */
  #openOf(id: string, producerId: number, epoch: number): OpenTransaction {
    let txn = this.#open.get(id);
    if (txn !== undefined) return txn;
    txn = { id, producerId, epoch, partitions: [], groups: new Set(), offsets: new Map(), timer: null, ending: false };
    const t = txn;
    const timeoutMs = this.#link.state.transactionalIds.get(id)!.timeoutMs;
    // Durable with the operation that opened it (its TXN_ADD, or AddOffsetsToTxn's confirm).
    this.#link.state.openTransactionalId(id, this.#link.clock.now());
    txn.timer = this.#link.clock.setTimeout(() => {
      t.timer = null;
      this.#serial(id, () => this.#expire(t)).catch(() => {});
    }, timeoutMs);
    this.#open.set(id, txn);
    return txn;
  }

  /** A transaction past its timeout: aborted, and its producer fenced. */
  async #expire(txn: OpenTransaction): Promise<void> {
    if (this.#open.get(txn.id) !== txn || this.#closed) return;
    await this.#end(txn, false);
    const r = this.#link.state.transactionalIds.get(txn.id)!;
    const next = await this.#nextEpoch(r);
    this.#link.state.setTransactionalId(txn.id, next.producerId, next.epoch, r.timeoutMs, this.#link.clock.now());
    await this.#link.groupLog.confirm();
  }

  /** Commit (flush, commit point, markers) or abort (markers); the transaction is gone either way. */
  async #end(txn: OpenTransaction, commit: boolean): Promise<void> {
    txn.ending = true;
    this.#disarm(txn);
    const { state, groupLog, clock } = this.#link;
    // Only offsets: the commit point is its end, there are no markers to write.
    const offsetsOnly = commit && txn.partitions.length === 0;
    let decided = false;
    try {
      if (commit) {
        // A partition whose topic was deleted meanwhile has nothing left to commit.
        await Promise.all(txn.partitions.filter((tp) => !tp.closed).map((tp) => tp.flush()));
        state.commitTransaction(txn.producerId, [...txn.offsets.values()]);
        if (offsetsOnly) state.endTransactionalId(txn.id, true, clock.now());
        decided = true;
        await groupLog.confirm();
      }
    } catch (e) {
      // Before the commit point: aborted here. After it, the outcome is the one on disk, which
      // the next open completes.
      if (!decided) await this.#markers(txn, false).catch(() => {});
      this.#open.delete(txn.id);
      throw e;
    }
    try {
      if (!offsetsOnly) await this.#markers(txn, commit);
    } finally {
      this.#open.delete(txn.id);
    }
  }

  #markers(txn: OpenTransaction, commit: boolean): Promise<void> {
    const { state, groupLog, clock } = this.#link;
    return writeMarkers(state, groupLog, txn.producerId, txn.epoch, txn.partitions, commit, () => state.endTransactionalId(txn.id, commit, clock.now()));
  }

  #disarm(txn: OpenTransaction): void {
    if (txn.timer !== null) this.#link.clock.clearTimeout(txn.timer);
    txn.timer = null;
  }

  async #nextEpoch(r: { producerId: number; epoch: number } | undefined): Promise<ProducerIdAndEpoch> {
    if (r !== undefined && r.epoch < PRODUCER_EPOCH_MAX) return { producerId: r.producerId, epoch: r.epoch + 1 };
    return { producerId: await this.#link.newProducerId(), epoch: 0 };
  }

  /** Forgets ids unused for TRANSACTIONAL_ID_EXPIRY_MS with nothing open, once the table has grown enough. */
  #maybeSweep(): void {
    const ids = this.#link.state.transactionalIds;
    if (ids.size < this.#sweepAt) return;
    const before = this.#link.clock.now() - TRANSACTIONAL_ID_EXPIRY_MS;
    for (const r of [...ids.values()]) if (r.atMs < before && !this.#open.has(r.id) && !this.#queues.has(r.id)) this.#link.state.dropTransactionalId(r.id);
    this.#sweepAt = Math.max(SWEEP_AT_MIN, ids.size * 2);
  }

  /** Runs `fn` after every earlier operation on `id` has settled. */
  #serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(id) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.#queues.set(id, settled);
    void settled.then(() => {
      if (this.#queues.get(id) === settled) this.#queues.delete(id);
    });
    return run;
  }
}

function checkTransactionalId(id: unknown): void {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError('a transactional id must be a non-empty string');
}

function fenced(id: string, epoch: number, current: number): SluiceError {
  return new SluiceError(`transactional id ${JSON.stringify(id)}: epoch ${epoch} is not its current epoch ${current} (fenced by a newer producer, or its transaction was aborted by the broker)`, ErrorCode.PRODUCER_FENCED);
}

function invalidState(message: string): SluiceError {
  return new SluiceError(message, ErrorCode.INVALID_TRANSACTION_STATE);
}
