/**
 * One partition of a topic: the only way in to its Log. Producers append through it, consumers read
 * and wait through it, the broker asks it for its offsets; nobody else holds the Log.
 *
 * Appends become readable once the Log has sealed their batch (at the end of the tick) and its
 * native writer thread has written it, so waiters are woken by a nextTick queued after the first
 * append, and then each time the Log says more is visible, until everything appended is. Waiters
 * are woken as soon as anything new is visible, not only once everything appended is: a producer
 * appending on every turn would otherwise keep its consumers waiting as long as it kept appending.
 *
 * Once the partition is closed (its topic deleted, or the broker closing) every append, read and
 * confirm fails with the reason it was closed for (UNKNOWN_TOPIC or CLOSED), including confirms of
 * messages appended before: a send racing a delete fails with UNKNOWN_TOPIC, never with whatever
 * the closed Log would say. Lifetime: opened with its topic, closed with it; thread-confined.
 *
 * A Log that failed (fail-stop) can be replaced by a fresh open of its directory (reopen): the
 * partition object stays, so producers, groups and the Kafka server keep their handles. While the
 * reopen runs, or after an open that failed, the partition is offline: appends fail READ_ONLY,
 * reads find nothing, and the offsets are the failed Log's last ones.
 */
import type { AbortedTransaction, BatchProducer, ConfirmCallback, Log, LogRecord, Message, RawSlice, ReadOptions, ReadResult, RecoveryReport, Bytes } from '../../storage/log';
import type { PartitionDescription, PartitionOffsetsDescription } from '../describe';
import type { LogStats } from '../../storage/log';
import { ErrorCode, SluiceError } from '../../errors';
import { rebuildProducerStates, type ProducerStates } from './producer-state';
import { withEarlierStats, type PartitionReopen } from './partition-reopen';

/** A record's key and value bytes (what bytesOut counts for in-process deliveries). */
export function recordBytes(r: LogRecord): number {
  return (r.key?.length ?? 0) + (r.value?.length ?? 0);
}

/** Something to wake when a partition may have new data. */
export interface DataWaiter {
  wake(): void;
}

/** What a producer hands a partition: bytes, or a message with key, headers and timestamp. */
export type PartitionMessage = Bytes | null | Message;

export class TopicPartition {
  readonly topic: string;
  readonly index: number;
  #log: Log;
  /** Set while the Log is closed for a reopen, or after the reopen's open failed: what appends throw. */
  #offline: SluiceError | null = null;
  /** The failed Log's failure and last offsets, from its failure until a reopen succeeds. */
  #failedAt: { failure: string; highWatermark: number; durableOffset: number } | null = null;
  #reopening: Promise<PartitionReopen | null> | null = null;
  /** The counters of the Logs before a reopen (see withEarlierStats), and their messages in. */
  #earlier: LogStats | null = null;
  #messagesInEarlier = 0;
  #waiters = new Waiters();
  #wakeScheduled = false;
  #closed: SluiceError | null = null;
  /** The high watermark when waiters were last woken. */
  #wokenAt = 0;
  readonly #wakeAll = (failure: Error | null = null): void => {
    const log = this.#log;
    let hw = 0;
    if (this.#closed === null && this.#offline === null) {
      hw = log.highWatermark;
      if (failure === null && hw < log.endOffset) {
        // Not all written yet: wake now for what is visible, and again once the Log says the next
        // record is (or with the failure that stopped it: waiters find out on their next read).
        log.onVisible(this.#wakeAll, hw);
        if (hw > this.#wokenAt) this.#wake(hw);
        return;
      }
    }
    this.#wakeScheduled = false;
    this.#wake(hw);
  };

  #wake(hw: number): void {
    this.#wokenAt = hw;
    if (this.#waiters.size === 0) return;
    // The two lists take turns (a wake costs no allocation); a wake within a wake gets a new one.
    const waiters = this.#waiters;
    this.#waiters = this.#spare ?? new Waiters();
    this.#spare = null;
    waiters.wakeAll();
    this.#spare = waiters;
  }
  #spare: Waiters | null = new Waiters();

  /** The topic's messageTtlMs (null: none): consumers pass expired messages over (ttl.ts). */
  readonly messageTtlMs: number | null;

  constructor(topic: string, index: number, log: Log, messageTtlMs: number | null = null) {
    this.topic = topic;
    this.index = index;
    this.#log = log;
    this.messageTtlMs = messageTtlMs;
    this.#endAtOpen = log.endOffset;
  }
  #endAtOpen: number;

  // ---- Producing ----

  /** Appends messages (validated and encoded by the producer) and returns the first offset. */
  append(messages: readonly PartitionMessage[]): number {
    this.#checkOpen();
    const first = this.#log.appendBatch(messages);
    this.#scheduleWake();
    return first;
  }

  // ---- Transactions (see broker/txn/) ----

  /**
   * A transaction of `producerId` starts writing here: nothing at or past the end now is read
   * until it ends (the last stable offset stays at or below its first record).
   */
  openTransaction(producerId: number, firstOffset: number = this.#log.endOffset): void {
    this.#checkOpen();
    if (!this.#openTxns.has(producerId)) this.#openTxns.set(producerId, firstOffset);
  }

  /** Appends records of `producer`'s open transaction (see openTransaction); returns the first offset. */
  appendTransactional(messages: readonly PartitionMessage[], producer: BatchProducer): number {
    this.#checkOpen();
    const first = this.#log.appendBatch(messages, producer);
    this.#scheduleWake();
    return first;
  }

  /**
   * Ends `producerId`'s transaction here with a commit or abort marker (an abort passes its
   * records over from then on) and lets readers past it; returns the marker's offset.
   */
  closeTransaction(producerId: number, producerEpoch: number, commit: boolean): number {
    this.#checkOpen();
    const first = this.#openTxns.get(producerId) ?? this.#log.endOffset;
    const marker = this.#log.appendMarker({ producerId, producerEpoch, commit, firstOffset: first, lastStableOffset: this.stableOffset });
    this.#openTxns.delete(producerId);
    this.#scheduleWake();
    return marker;
  }

  /** Offsets below it are readable and decided: the high watermark, or the first record of the earliest open transaction. */
  get stableOffset(): number {
    const hw = this.#log.highWatermark;
    if (this.#openTxns.size === 0) return hw;
    let lso = hw;
    for (const first of this.#openTxns.values()) if (first < lso) lso = first;
    return lso;
  }

  readonly #openTxns = new Map<number, number>();

  /** Makes the partition durable now, whatever its sync policy (a transaction's commit). */
  flush(): Promise<number> {
    const unavailable = this.#closed ?? this.#offline;
    if (unavailable !== null) return Promise.reject(unavailable);
    return this.#log.flush();
  }

  #scheduleWake(): void {
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      process.nextTick(this.#wakeAll);
    }
  }

  /**
   * Appends whole Kafka record batches as received (see Log.appendRaw); returns the first offset.
   * `transactional`: an open transaction's batches, admitted by the transaction coordinator
   * (which opened the transaction here first, so readers stop before them).
   */
  appendRaw(batches: Uint8Array, transactional = false): number {
    this.#checkOpen();
    const first = this.#log.appendRaw(batches, transactional);
    this.#scheduleWake();
    return first;
  }

  /** Whole batches from the one holding `offset`, as a file range (see Log.slice); null when nothing is there yet. */
  slice(offset: number, maxBytes: number, readCommitted = false): RawSlice | null {
    if (this.#closed !== null || this.#offline !== null) return null;
    if (!readCommitted || this.#openTxns.size === 0) return this.#log.slice(offset, { maxBytes });
    return this.#log.slice(offset, { maxBytes, upTo: this.stableOffset });
  }

  /** Aborted transactions overlapping [from, to) (see Log.abortedTransactions); [] once closed. */
  abortedTransactions(from: number, to: number): AbortedTransaction[] {
    if (this.#closed !== null || this.#offline !== null) return [];
    return this.#log.abortedTransactions(from, to);
  }

  /** Resolves once every record below `offset` + 1 is readable, or rejects with why it never will be. */
  visible(offset: number): Promise<number> {
    const unavailable = this.#closed ?? this.#offline;
    if (unavailable !== null) return Promise.reject(unavailable);
    return this.#log.visible(offset);
  }

  /** Calls back once `offset` reached the partition's durability, or with why it never will. */
  confirm(offset: number, callback: ConfirmCallback): void {
    const unavailable = this.#closed ?? this.#offline;
    if (unavailable !== null) {
      process.nextTick(callback, unavailable, null);
      return;
    }
    // The callback itself, not a wrapper: a closure per confirm was most of what lived long enough
    // to need a major GC at 100 k msg/s. A delete's close makes the Log reject pending ones.
    this.#log.confirm(offset, callback);
  }

  // ---- Consuming ----

  /** Records from `offset` below the stable offset (see Log.read); [] once the partition is closed. */
  read(offset: number, options?: ReadOptions): LogRecord[] {
    if (this.#closed !== null || this.#offline !== null) return [];
    if (this.#openTxns.size === 0) return this.#log.read(offset, options);
    return this.#log.read(offset, { ...options, upTo: this.stableOffset });
  }

  /**
   * Records from `offset` below the stable offset, and where the next read starts (past
   * transaction markers and aborted records, which are never returned; see Log.readRecords).
   */
  readRecords(offset: number, options?: ReadOptions): ReadResult {
    if (this.#closed !== null || this.#offline !== null) return { records: [], nextOffset: offset };
    if (this.#openTxns.size === 0) return this.#log.readRecords(offset, options);
    return this.#log.readRecords(offset, { ...options, upTo: this.stableOffset });
  }

  /** The first offset at or after `timestamp`, or the end offset if there is none. */
  offsetForTime(timestamp: number): number {
    this.#checkOpen();
    return this.#log.offsetForTime(timestamp) ?? this.#log.endOffset;
  }

  /** Wakes `w` once, after the next append (or at once if one is pending). */
  waitForData(w: DataWaiter): void {
    if (this.#closed === null) this.#waiters.add(w);
  }

  /** Forgets `w` if it is still waiting (a wait that timed out). */
  cancelWait(w: DataWaiter): void {
    this.#waiters.remove(w);
  }

  /**
   * The partition's idempotent producers (see producer-state.ts), rebuilt from the log's batches
   * on first use, once everything appended so far is readable.
   */
  producers(nowMs: number): Promise<ProducerStates> {
    if (this.#producers !== undefined) return this.#producers;
    const rebuilt = (async () => {
      this.#checkOpen();
      if (this.#log.endOffset > 0) await this.#log.visible(this.#log.endOffset - 1);
      return rebuildProducerStates(this, nowMs);
    })();
    this.#producers = rebuilt;
    // A rebuild that failed (an I/O error, say) is tried again by the next produce.
    rebuilt.catch(() => {
      if (this.#producers === rebuilt) this.#producers = undefined;
    });
    return rebuilt;
  }
  #producers: Promise<ProducerStates> | undefined;

  // ---- State ----

  get startOffset(): number {
    return this.#log.startOffset;
  }
  get endOffset(): number {
    return this.#log.endOffset;
  }
  get highWatermark(): number {
    return this.#log.highWatermark;
  }
  /** Messages retained. */
  get size(): number {
    return this.#log.endOffset - this.#log.startOffset;
  }
  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Applies the retention limits now; true if anything was deleted. */
  retain(nowMs: number): boolean {
    if (this.#closed !== null || this.#offline !== null) return false;
    // Compared by start offset: the report can miss segments deleted by the roll retain() makes.
    const start = this.#log.startOffset;
    this.#log.retain(nowMs);
    return this.#log.startOffset > start;
  }

  /** What opening the partition's Log found and did (see Log.recovery). */
  get recovery(): RecoveryReport {
    return this.#log.recovery;
  }

  /** The partition's offsets now. */
  describe(): PartitionOffsetsDescription {
    const log = this.#log;
    return { partition: this.index, startOffset: log.startOffset, endOffset: log.endOffset, highWatermark: log.highWatermark, lastStableOffset: this.stableOffset, durableOffset: log.durableOffset };
  }

  /** Offsets, traffic since open and health (a native call more than describe()). */
  describeFull(stats: LogStats = this.stats()): PartitionDescription {
    const offsets = this.describe();
    return {
      ...offsets,
      messagesIn: this.#messagesInEarlier + offsets.endOffset - this.#endAtOpen,
      bytesIn: stats.appendedBytes,
      messagesOut: this.#messagesOut,
      bytesOut: this.#bytesOut,
      failure: this.failure?.message ?? null,
    };
  }

  /** Why the partition takes no writes (its Log failed, or it is offline for a reopen), or null. */
  get failure(): SluiceError | null {
    return this.#offline ?? (this.#closed === null ? this.#log.failure : null);
  }

  /** The Log's counters (see Log.stats), those of the Logs before a reopen included. */
  stats(): LogStats {
    if (this.#offline !== null) return this.#earlier!;
    return withEarlierStats(this.#log.stats(), this.#earlier);
  }

  /** Counts messages handed to consumers (a delivery model's reads, a Kafka fetch's batches). */
  countOut(messages: number, bytes: number): void {
    this.#messagesOut += messages;
    this.#bytesOut += bytes;
  }
  #messagesOut = 0;
  #bytesOut = 0;

  /** countOut for records read for a delivery: their key and value bytes. */
  countOutRecords(records: readonly LogRecord[]): void {
    let bytes = 0;
    for (const r of records) bytes += recordBytes(r);
    this.countOut(records.length, bytes);
  }

  // ---- Lifecycle ----

  /**
   * Stops taking appends and reads (they fail with `reason` from now on), wakes the waiters so
   * they notice, and closes the Log (everything appended is sealed and flushed first). With
   * `failPending` (a delete) confirms still pending fail with `reason` too; otherwise (a broker
   * shutdown) they settle as the Log's close leaves them.
   */
  async close(reason: SluiceError, failPending: boolean): Promise<void> {
    if (this.#closed === null) this.#closed = reason;
    this.#wakeAll();
    // A reopen in flight closes the Log it opens once it sees the partition closed.
    if (this.#reopening !== null) await this.#reopening.catch(() => {});
    await this.#log.close(failPending ? reason : undefined);
  }

  /**
   * Replaces a failed Log by a Log `open` makes of the same directory, whose recovery keeps what
   * is on disk; null when the Log had not failed. Appends go on from the reopened Log's end; the
   * idempotent producers' state is rebuilt from it, open transactions start no later than it
   * ends, and waiters are woken. If `open` fails the partition stays offline (appends READ_ONLY)
   * and a later reopen tries again. Concurrent calls share one reopen.
   */
  reopen(open: () => Promise<Log>): Promise<PartitionReopen | null> {
    if (this.#closed !== null) return Promise.reject(this.#closed);
    if (this.#reopening === null) {
      const reopening = this.#reopen(open).finally(() => {
        if (this.#reopening === reopening) this.#reopening = null;
      });
      this.#reopening = reopening;
    }
    return this.#reopening;
  }

  async #reopen(open: () => Promise<Log>): Promise<PartitionReopen | null> {
    if (this.#offline === null) {
      const old = this.#log;
      const failure = old.failure;
      if (failure === null) return null;
      this.#failedAt = { failure: failure.message, highWatermark: old.highWatermark, durableOffset: old.durableOffset };
      this.#earlier = this.stats();
      this.#messagesInEarlier += old.endOffset - this.#endAtOpen;
      this.#endAtOpen = old.endOffset;
      this.#offline = new SluiceError(`partition ${this.index} of topic ${JSON.stringify(this.topic)} is being reopened after: ${failure.message}`, ErrorCode.READ_ONLY);
      await old.close(failure);
    }
    let log: Log;
    try {
      log = await open();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.#offline = new SluiceError(`partition ${this.index} of topic ${JSON.stringify(this.topic)} could not be reopened: ${why}`, ErrorCode.READ_ONLY);
      throw e;
    }
    if (this.#closed !== null) {
      await log.close(this.#closed);
      throw this.#closed;
    }
    return this.#adopt(log);
  }

  /** Takes the reopened Log in place of the failed one. */
  #adopt(log: Log): PartitionReopen {
    const before = this.#failedAt!;
    this.#log = log;
    this.#offline = null;
    this.#failedAt = null;
    this.#endAtOpen = log.endOffset;
    this.#producers = undefined;
    const end = log.endOffset;
    for (const [producerId, first] of this.#openTxns) if (first > end) this.#openTxns.set(producerId, end);
    this.#wakeScheduled = false;
    this.#wake(log.highWatermark);
    return {
      topic: this.topic,
      partition: this.index,
      failure: before.failure,
      highWatermarkBefore: before.highWatermark,
      durableOffsetBefore: before.durableOffset,
      endOffset: end,
      lostVisible: Math.max(0, before.highWatermark - end),
    };
  }

  /** Fault injection (SLUICE_FAULT_INJECTION=1): a power failure of this partition's Log now. */
  simulatePowerLoss(reason: SluiceError): void {
    if (this.#closed === null) this.#closed = reason;
    if (!this.#log.closed) this.#log.simulatePowerLoss();
  }

  #checkOpen(): void {
    const unavailable = this.#closed ?? this.#offline;
    if (unavailable !== null) throw unavailable;
  }
}

/**
 * The waiters of one partition: a list without duplicates, reused from wake to wake. Not a Set:
 * Set.clear() allocates a new table, and at 100 k msg/s (a wake per turn) those tables, referenced
 * from a long-lived partition, outlived the scavenges and were most of what needed a major GC.
 * A partition has few waiters (a consumer per group), so the duplicate check is a short scan.
 */
class Waiters {
  #items: (DataWaiter | undefined)[] = [];
  size = 0;

  add(w: DataWaiter): void {
    const items = this.#items;
    for (let i = 0; i < this.size; i++) if (items[i] === w) return;
    items[this.size++] = w;
  }

  remove(w: DataWaiter): void {
    const items = this.#items;
    for (let i = 0; i < this.size; i++) {
      if (items[i] !== w) continue;
      items.copyWithin(i, i + 1, this.size);
      items[--this.size] = undefined;
      return;
    }
  }

  /** Wakes each once, in the order they were added, and empties the list. */
  wakeAll(): void {
    const items = this.#items;
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const w = items[i]!;
      items[i] = undefined;
      w.wake();
    }
    this.size = 0;
  }
}
