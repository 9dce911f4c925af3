/**
 * Delayed messages: `send(topic, {value, delayMs})` or `{deliverAt}`. A delayed message is
 * appended at once to the broker's delay log (`<dir>/delayed/`, a Log with sync 'always', so it
 * is durable when its send resolves) and moved into its topic when due, by a transaction that
 * appends it there and records the delay watermark (see below) in one commit point: moved
 * exactly once across a crash at any moment. Until then no consumer (in-process or Kafka) can see
 * it; its topic's partition is chosen at send time (key, explicit partition or the partitioner).
 *
 * Record layout in the delay log: a held message (store/held-message.ts, headers sluice.delay.*)
 * whose record timestamp is its due time, so a scan reads only offsets and timestamps
 * (Log.readTimes); a moved message without a timestamp of the sender's is stamped with it.
 *
 * Order and the watermark: messages are moved in (due, delay-log offset) order, so what has been
 * moved is everything at or below one key, the watermark, kept in the group state
 * ([DELAY_DONE, due, offset], recorded by each move's commit). A restart moves every message past
 * it, the overdue ones at once, in due order. A send whose due time is at or below the watermark's
 * (a clock that went back, a message due in the past) is due at the watermark's time.
 *
 * Memory: the messages due soonest are indexed in memory (due-index.ts, at most INDEX_CAPACITY
 * keys, 16 bytes each); the rest stay on disk, and a scan of the delay log from its oldest pending
 * message brings the next INDEX_CAPACITY in when the index runs low. Segments of the delay log
 * whose messages have all been moved are deleted after each scan.
 *
 * A due message whose topic is gone is dropped (counted in `dropped`). A full bounded topic makes
 * the moves wait (QUEUE_FULL: retried every RETRY_MS), and so do the messages due after it: due
 * order is kept. Thread-confined.
 */
import * as fs from 'node:fs';
import { ErrorCode, SluiceError } from '../../errors';
import { LIMITS } from '../../limits';
import { Log, type LogOptions, type LogRecord, type Message } from '../../storage/log';
import type { DelayDescription } from '../describe';
import { OP_DELAY_DONE, type GroupState } from '../group/group-state';
import type { Clock, TimerHandle } from '../time/clock';
import type { Topic } from '../topic/topic';
import type { Transaction } from '../txn/transaction';
import { before, Collector, DueIndex, type DueKey } from './due-index';
import { DELAY_HEADERS } from './due-time';
import { heldRecord, heldTarget, releasedMessage } from '../store/held-message';


/** Keys held in memory at most (twice that briefly): about 8 MiB with a scan's collector. */
export const INDEX_CAPACITY = 1 << 18;
/** @internal Tests make the index small to exercise its scans; read when a store opens. */
export const delayTuning = { indexCapacity: INDEX_CAPACITY, segmentBytes: LIMITS.messageBytesMaxMax };
/** Messages moved per transaction at most. */
const MOVE_MAX = 10_000;
/** Records read per step of a scan (the scan yields to the event loop between steps). */
const SCAN_STEP = 16384;
const RETRY_MS = 100;
/** How often moves reclaim moved segments when no scan does (ms). */
const RECLAIM_EVERY_MS = 10_000;
/**
 * Durable at once; any message a topic takes fits (segments as large as the largest); small
 * batches: a move reads single records at scattered offsets, and finding one walks its batch.
 */
function delayLogOptions(): LogOptions {
  const segmentBytes = delayTuning.segmentBytes;
  return { sync: 'always', segmentBytes, messageBytesMax: Math.min(segmentBytes, LIMITS.messageBytesMaxMax), batchBytesMax: 16 * 1024 };
}

/** A delayed message ready to store: where it goes, when, and the message as its topic stores it. */
export interface DelayedMessage {
  topic: string;
  partition: number;
  deliverAt: number;
  message: Message;
}

export type { DelayDescription };

/** DelayStore.status: a delayed message, its destination, due time, and whether it was moved. */
export interface DelayStatus {
  topic: string;
  partition: number;
  dueAt: number;
  moved: boolean;
  /** The message as it enters (or entered) its topic. */
  message: Message;
}

/** What the store needs of the broker. */
export interface DelayLink {
  readonly clock: Clock;
  readonly state: GroupState;
  topic(name: string): Topic | undefined;
  /** Runs `fn` as a transaction (committed when it resolves). */
  transaction(fn: (tx: Transaction) => Promise<void>): Promise<void>;
}

export class DelayStore {
  readonly #log: Log;
  readonly #link: DelayLink | null;
  readonly #index = new DueIndex(delayTuning.indexCapacity);
  /** The watermark as durable: everything at or below it has been moved. */
  #done: DueKey;
  /** The last key taken for moving (at or above #done). */
  #taken: DueKey;
  #pending = 0;
  #dropped = 0;
  /** Offsets below this hold nothing pending. */
  #scanFrom = 0;
  /** A scan in progress: the keys added meanwhile at or above its horizon, for its collector. */
  #scan: Collector | null = null;
  #started = false;
  #moving = false;
  #timer: TimerHandle | null = null;
  #timerAt = Infinity;
  #closed = false;
  #failure: Error | null = null;

  private constructor(log: Log, link: DelayLink | null) {
    this.#log = log;
    this.#link = link;
    const w = link?.state.delayWatermark ?? { due: -1, offset: -1 };
    this.#done = { ...w };
    this.#taken = { ...w };
    this.#scanFrom = log.startOffset;
  }

  /**
   * Opens the delay log in `dir` (created if missing). `link` null: read-only (the broker
   * was opened read-only; nothing is moved, nothing written; null if there is no delay log).
   */
  static async open(dir: string, link: DelayLink | null): Promise<DelayStore | null> {
    if (link === null) {
      if (!fs.existsSync(dir)) return null;
      return new DelayStore(await Log.open(dir, { readOnly: true }), null);
    }
    return new DelayStore(await Log.open(dir, delayLogOptions()), link);
  }

  /** Finds what is pending (a first scan, counting), then starts moving (the overdue at once). */
  async start(): Promise<void> {
    if (this.#link === null || this.#started) return;
    const collector = new Collector(this.#index.capacity);
    this.#scan = collector;
    await this.#scanLog(collector, true);
    this.#started = true;
    this.#arm();
  }

  /**
   * Appends delayed messages; resolves once they are durable with the delay-log offset of the
   * first (the others follow it: their delay ids). Each is moved into its topic when due (not
   * before this store has started).
   */
  add(messages: readonly DelayedMessage[]): Promise<number> {
    this.#checkWritable();
    const floor = this.#taken.due;
    const records: Message[] = new Array(messages.length);
    const dues = new Float64Array(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      const due = Math.max(m.deliverAt, floor);
      dues[i] = due;
      records[i] = heldRecord(DELAY_HEADERS, m.topic, m.partition, m.message, due);
    }
    const first = this.#log.appendBatch(records);
    this.#pending += messages.length;
    for (let i = 0; i < messages.length; i++) this.#keep(dues[i], first + i);
    this.#arm();
    return this.#log.confirm(first + messages.length - 1).then(() => first);
  }

  /**
   * Where the delayed message `delayId` (its delay-log offset) stands: pending until its due
   * time, or moved (at or below the watermark `done`: the broker's, so that a read-only store
   * knows it too), with the message it released; null if the delay log never held it or has
   * already deleted it (moved long ago).
   */
  status(delayId: number, done: { due: number; offset: number }): DelayStatus | null {
    if (!Number.isSafeInteger(delayId) || delayId < this.#log.startOffset || delayId >= this.#log.highWatermark) return null;
    const r = this.#log.read(delayId, { maxRecords: 1 })[0];
    if (r === undefined || r.offset !== delayId) return null;
    const { topic, partition } = heldTarget(DELAY_HEADERS, r);
    const moved = !before(done.due, done.offset, r.timestamp, delayId);
    return { topic, partition, dueAt: r.timestamp, moved, message: releasedMessage(DELAY_HEADERS, r) };
  }

  describe(): DelayDescription {
    const next = this.#index.nextDue;
    return { pending: this.#pending, nextDueAt: this.#pending === 0 || next === Infinity ? null : next, dropped: this.#dropped };
  }

  /** Stops moving (a move in progress finishes first) and closes the delay log. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    while (this.#moving) await new Promise((resolve) => setImmediate(resolve));
    await this.#log.close();
  }

  // ---- Internals ----

  /** A new key: into the index if below its horizon; remembered by a scan in progress. */
  #keep(due: number, offset: number): void {
    if (this.#index.insert(due, offset)) return;
    this.#scan?.add(due, offset);
  }

  /** Arms the timer for the earliest due message, or refills the index when it runs low. */
  #arm(): void {
    if (!this.#started || this.#closed || this.#failure !== null || this.#moving) return;
    const index = this.#index;
    if (this.#scan === null && !index.complete && index.size < index.capacity / 4) {
      this.#runScan();
      if (index.size === 0) return; // the scan re-arms when done
    }
    const due = index.nextDue;
    if (due === Infinity) return;
    const wait = due - this.#link!.clock.now();
    if (wait <= 0) {
      // Due now: on the next turn (not a clock timer, which a manual clock runs only when advanced).
      if (!this.#soon) {
        this.#soon = true;
        setImmediate(this.#tickSoon);
      }
      return;
    }
    if (this.#timer !== null && this.#timerAt <= due) return;
    this.#clearTimer();
    this.#timerAt = due;
    this.#timer = this.#link!.clock.setTimeout(this.#onTimer, wait);
  }
  #soon = false;
  readonly #tickSoon = (): void => {
    this.#soon = false;
    this.#tick();
  };

  readonly #onTimer = (): void => {
    this.#timer = null;
    this.#timerAt = Infinity;
    this.#tick();
  };

  /** Takes what is due (up to MOVE_MAX) and moves it; re-arms when done. */
  readonly #tick = (): void => {
    if (this.#closed || this.#moving || this.#failure !== null) return;
    const now = this.#link!.clock.now();
    const keys: DueKey[] = [];
    while (keys.length < MOVE_MAX && this.#index.nextDue <= now) {
      const k = { due: 0, offset: 0 };
      this.#index.pop(k);
      keys.push(k);
    }
    if (keys.length === 0) {
      this.#arm();
      return;
    }
    this.#taken = keys[keys.length - 1];
    this.#moving = true;
    this.#move(keys).then(
      () => {
        this.#moving = false;
        this.#arm();
      },
      (e: unknown) => {
        this.#moving = false;
        this.#retry(keys, e);
      },
    );
  };

  /** One transaction: each message appended to its topic, and the watermark recorded. */
  async #move(keys: DueKey[]): Promise<void> {
    const records = this.#readKeys(keys);
    let dropped = 0;
    const last = keys[keys.length - 1];
    await this.#link!.transaction(async (tx) => {
      dropped = 0;
      // Grouped by partition, in due order within each: one append per partition.
      const groups = new Map<string, { topic: Topic; partition: number; messages: Message[] }>();
      for (const r of records) {
        const target = heldTarget(DELAY_HEADERS, r);
        const t = this.#link!.topic(target.topic);
        if (t === undefined || target.partition >= t.partitions.length) {
          dropped++;
          continue;
        }
        const key = `${target.topic}\0${target.partition}`;
        let g = groups.get(key);
        if (g === undefined) groups.set(key, (g = { topic: t, partition: target.partition, messages: [] }));
        g.messages.push(releasedMessage(DELAY_HEADERS, r));
      }
      await Promise.all([...groups.values()].map((g) => tx.appendStoredBatch(g.topic, g.partition, g.messages)));
      tx.recordOnCommit([OP_DELAY_DONE, last.due, last.offset]);
    });
    this.#moved(keys, dropped);
  }

  #moved(keys: readonly DueKey[], dropped: number): void {
    this.#done = keys[keys.length - 1];
    this.#pending -= keys.length;
    this.#dropped += dropped;
    // With everything pending in memory no scan runs: reclaim moved segments now and then here.
    const now = this.#link!.clock.now();
    if (this.#index.complete && this.#scan === null && now - this.#reclaimedAt >= RECLAIM_EVERY_MS) {
      this.#reclaimedAt = now;
      this.#reclaim(Math.min(this.#index.minOffset(), this.#log.endOffset));
    }
  }
  #reclaimedAt = 0;

  /** Deletes the delay log's segments below `keepFrom` (every message there has been moved, durably). */
  #reclaim(keepFrom: number): void {
    if (keepFrom > this.#log.startOffset) this.#log.retain(this.#link!.clock.now(), keepFrom);
  }

  /**
   * A move failed. Before its commit point nothing of it applied: its keys go back (they are
   * below the horizon) and are tried again after RETRY_MS, unless the broker is closing.
   */
  #retry(keys: DueKey[], e: unknown): void {
    const w = this.#link!.state.delayWatermark;
    const last = keys[keys.length - 1];
    if (!before(w.due, w.offset, last.due, last.offset)) {
      // It failed after its commit point (the group state or a marker could not be written): the
      // move happened, and must not happen again. The broker fails stop; the next open finishes it.
      this.#moved(keys, 0);
      this.#failure = e instanceof Error ? e : new Error(String(e));
      return;
    }
    for (const k of keys) this.#index.insert(k.due, k.offset);
    this.#taken = this.#done;
    if (this.#closed || (e instanceof SluiceError && e.code === ErrorCode.CLOSED)) return;
    this.#clearTimer();
    this.#timerAt = -Infinity; // nothing re-arms before the retry
    this.#timer = this.#link!.clock.setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.#arm();
    }, RETRY_MS);
  }

  /** The records of `keys` (in their order), read in runs of consecutive offsets. */
  #readKeys(keys: readonly DueKey[]): LogRecord[] {
    const out: LogRecord[] = new Array(keys.length);
    let k = 0;
    while (k < keys.length) {
      let runEnd = k + 1;
      while (runEnd < keys.length && keys[runEnd].offset === keys[runEnd - 1].offset + 1) runEnd++;
      const got = this.#log.read(keys[k].offset, { maxRecords: runEnd - k });
      let taken = 0;
      for (const r of got) {
        if (k === runEnd || r.offset !== keys[k].offset) continue;
        out[k++] = r;
        taken++;
      }
      if (taken === 0) throw new SluiceError(`delayed message at offset ${keys[k].offset} of the delay log is missing`, ErrorCode.CORRUPT);
    }
    return out;
  }

  /**
   * Reads the delay log from its oldest pending message to its end, gathering the keys due
   * soonest at or above the index's horizon (at open: all pending ones, counted).
   */
  #runScan(): void {
    const collector = new Collector(this.#index.capacity);
    this.#scan = collector;
    this.#scanLog(collector, false).then(
      () => this.#arm(),
      (e: unknown) => {
        this.#scan = null;
        if (this.#closed) return;
        this.#failure = e instanceof Error ? e : new Error(String(e));
      },
    );
  }

  async #scanLog(collector: Collector, counting: boolean): Promise<void> {
    const log = this.#log;
    const end = log.endOffset;
    if (end > log.highWatermark) await log.visible(end - 1);
    const horizon = this.#index.horizon;
    const done = this.#done;
    let minPending = end;
    let counted = 0;
    for (let at = Math.max(this.#scanFrom, log.startOffset); at < end && !this.#closed; ) {
      const { count, offsets, timestamps, nextOffset } = log.readTimes(at, { maxRecords: SCAN_STEP });
      for (let i = 0; i < count; i++) {
        const offset = offsets[i];
        const due = timestamps[i];
        if (offset >= end) break;
        if (!before(done.due, done.offset, due, offset)) continue;
        counted++;
        if (offset < minPending) minPending = offset;
        if (!before(due, offset, horizon.due, horizon.offset)) collector.add(due, offset);
      }
      if (nextOffset <= at) break;
      at = nextOffset;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.#closed) return;
    if (counting) this.#pending = counted + (log.endOffset - end);
    collector.finish();
    this.#scan = null;
    this.#index.merge(collector, collector.limit, horizon);
    this.#scanFrom = minPending;
    this.#reclaim(minPending);
  }

  #clearTimer(): void {
    if (this.#timer !== null) this.#link?.clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  #checkWritable(): void {
    if (this.#closed) throw new SluiceError('the broker is closed', ErrorCode.CLOSED);
    if (this.#link === null) throw new SluiceError('delayed sends need a writable broker: this one was opened read-only', ErrorCode.READ_ONLY);
    if (this.#failure !== null) throw new SluiceError(`the delay store failed: ${this.#failure.message}`, ErrorCode.IO);
  }
}
