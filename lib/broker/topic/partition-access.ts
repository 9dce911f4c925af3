/**
 * One partition of a topic as another protocol front end sees it (the Kafka server): whole record
 * batches in (through the topic's backlog gate, so bounded topics stay bounded), file ranges of
 * whole batches out, offsets, waits for data, confirms. Made by Broker.partition(); a handle stays
 * valid while its topic exists (after a delete its calls fail with UNKNOWN_TOPIC, as sends do).
 * Thread-confined (the broker's thread).
 */
import type { AbortedTransaction, Confirm, RawSlice, ReadResult } from '../../storage/log';
import type { TransactionCoordinator } from '../txn/txn-coordinator';
import type { Topic } from './topic';
import type { ProducerStates } from './producer-state';
import type { DataWaiter, TopicPartition } from './topic-partition';

/** The offsets of a partition a reader needs. */
export interface PartitionOffsets {
  /** The first offset retained. */
  startOffset: number;
  /** The next offset to be appended. */
  endOffset: number;
  /** Records below it are readable (written to the segment file). */
  highWatermark: number;
  /** Records below it are readable and decided (no open transaction): what read_committed fetches reach. */
  lastStableOffset: number;
  /** Records below it are on stable storage. */
  durableOffset: number;
}

export class PartitionAccess {
  readonly topic: string;
  readonly index: number;
  readonly #topic: Topic;
  readonly #partition: TopicPartition;
  readonly #transactions: () => TransactionCoordinator;

  /** @internal Made by Broker.partition(). */
  constructor(topic: Topic, index: number, transactions: () => TransactionCoordinator) {
    this.topic = topic.name;
    this.index = index;
    this.#topic = topic;
    this.#partition = topic.partitions[index];
    this.#transactions = transactions;
  }

  /**
   * Appends Kafka record batches (checked and stored as Log.appendRaw does) once the topic's
   * backlog has room for their records; returns the first offset. Throws as appendRaw does
   * (CORRUPT, TOO_LARGE), QUEUE_FULL for a bounded topic without room, UNKNOWN_TOPIC once deleted.
   */
  appendRaw(batches: Uint8Array): number {
    return this.#topic.gate.admit(recordCount(batches), undefined, () => this.#partition.appendRaw(batches)) as number;
  }

  /**
   * Appends a Kafka transactional producer's batches (attributes bit 4) as appendRaw does, once
   * the transaction coordinator admits them: the partition must be in the open transaction of
   * `transactionalId`, whose producer id and current epoch the batches carry. Throws
   * UNKNOWN_PRODUCER_ID, PRODUCER_FENCED or INVALID_TRANSACTION_STATE otherwise (see
   * TransactionCoordinator.admit), and as appendRaw does. The check and the append are one
   * synchronous step, so a transaction cannot end in between.
   */
  appendTransactional(batches: Uint8Array, transactionalId: string, producerId: number, producerEpoch: number): number {
    this.#transactions().admit(transactionalId, producerId, producerEpoch, this.#partition);
    return this.#topic.gate.admit(recordCount(batches), undefined, () => this.#partition.appendRaw(batches, true)) as number;
  }

  /** The partition's idempotent producers, rebuilt from its log on first use (see producer-state.ts). */
  producers(): Promise<ProducerStates> {
    // Wall-clock time, as the batches' own timestamps the window is measured against.
    return this.#partition.producers(Date.now());
  }

  /** Resolves once `offset` reached the topic's durability (see Log.confirm). */
  confirm(offset: number): Promise<Confirm> {
    return new Promise((resolve, reject) => this.#partition.confirm(offset, (err, c) => (err !== null ? reject(err) : resolve(c!))));
  }

  /** Resolves once `offset` is readable. */
  visible(offset: number): Promise<number> {
    return this.#partition.visible(offset);
  }

  /**
   * Whole batches from the one holding `offset` (at least one, even past maxBytes); null when
   * nothing is readable there. `readCommitted`: only below the last stable offset.
   */
  slice(offset: number, maxBytes: number, readCommitted = false): RawSlice | null {
    const s = this.#partition.slice(offset, maxBytes, readCommitted);
    // What a fetch response carries: the client reads on from `offset` (the batch may start before).
    if (s !== null) this.#partition.countOut(Math.max(0, s.nextOffset - Math.max(offset, s.firstOffset)), s.length);
    return s;
  }

  /** Aborted transactions overlapping [from, to): what a read_committed fetch of them reports. */
  abortedTransactions(from: number, to: number): AbortedTransaction[] {
    return this.#partition.abortedTransactions(from, to);
  }

  offsets(): PartitionOffsets {
    const { startOffset, endOffset, highWatermark, lastStableOffset, durableOffset } = this.#partition.describe();
    return { startOffset, endOffset, highWatermark, lastStableOffset, durableOffset };
  }

  /** The first offset at or after `timestamp`, or the end offset if there is none. */
  offsetForTime(timestamp: number): number {
    return this.#partition.offsetForTime(timestamp);
  }

  /** Wakes `w` once, after the next append. */
  waitForData(w: DataWaiter): void {
    this.#partition.waitForData(w);
  }

  /** Forgets a waiter that no longer waits (its wait timed out). */
  cancelWait(w: DataWaiter): void {
    this.#partition.cancelWait(w);
  }

  /**
   * Records from `offset`, read committed (as an in-process consumer reads: markers and aborted
   * records passed over), and where the next read starts. A command-line reader's way in.
   */
  read(offset: number, maxRecords: number): ReadResult {
    return this.#partition.readRecords(offset, { maxRecords });
  }

  /** The timestamp of the record at `offset`, or null when it is not readable. */
  timestampAt(offset: number): number | null {
    const [r] = this.#partition.read(offset, { maxRecords: 1 });
    return r !== undefined && r.offset === offset ? r.timestamp : null;
  }

  /** The largest batch the partition takes, with its header (the topic's messageBytesMax, or the Log default). */
  get messageBytesMax(): number | null {
    return this.#topic.config.messageBytesMax;
  }
}

/**
 * The records in a run of batches, from their headers (recordsCount at byte 57 of each), for the
 * backlog gate. Lengths that do not add up count what they cover: appendRaw then refuses the
 * batches as CORRUPT, naming where.
 */
function recordCount(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 0;
  for (let pos = 0; pos + 61 <= bytes.length; ) {
    const total = 12 + view.getInt32(pos + 8);
    if (total < 61 || pos + total > bytes.length) break;
    count += Math.max(0, view.getInt32(pos + 57));
    pos += total;
  }
  return Math.max(1, count);
}
