/**
 * The offset model (log style), member side: one cursor per partition the member holds.
 *
 * A cursor reads the partition's Log in batches (`fetchMax` records, zero-copy) from its fetch
 * offset and hands records out in order. It tracks the delivered offset (after the last record
 * handed out) and the processed offset (after the last one whose processing finished); the group's
 * committed offset follows the processed offset when auto-commit is on (written to the group log
 * once per tick however many messages finished), or moves on commit() otherwise. Processing
 * finishes when a run() handler returns (or its promise resolves), or for pull consumers at the
 * next poll()/next() (Kafka's rule: what a poll returned is processed by the time of the next).
 *
 * Within a partition, messages are handed out one batch at a time and processed in order, so the
 * processed offset only moves forward; a failed handler rewinds the cursor to the failed message
 * and retries it after `retryDelayMs`. Each cursor has an epoch, bumped by seek, rewind and forced
 * handovers, so completions of messages handed out before are ignored.
 *
 * Revocation (a rebalance) drops the read-ahead at once and releases the partition when nothing
 * handed out is still in progress, or after `rebalanceTimeoutMs`, when the unfinished messages are
 * left for the next member (at-least-once). Thread-confined; lifetime: the consumer's.
 */
import { ErrorCode, SluiceError } from '../../../errors';
import type { LogRecord } from '../../../storage/log';
import type { Clock, TimerHandle } from '../../time/clock';
import { OffsetMessage, type OffsetSource } from '../../consume/consumed-message';
import type { GroupMember, PartitionSlot } from '../../group/group-coordinator';
import type { GroupState } from '../../group/group-state';

const EMPTY: readonly LogRecord[] = Object.freeze([]);

export interface OffsetDeliveryOptions {
  autoCommit: boolean;
  fetchMax: number;
  rebalanceTimeoutMs: number;
}

export class OffsetCursor implements OffsetSource {
  readonly slot: PartitionSlot;
  readonly topic: string;
  readonly partition: number;
  /** "topic:partition", for pause lookups. */
  readonly key: string;
  epoch = 0;
  fetchOffset: number;
  buffer: readonly LogRecord[] = EMPTY;
  bufferIndex = 0;
  deliveredOffset: number;
  processedOffset: number;
  /** A run() worker holds a chunk of this cursor. */
  busy = false;
  /** No fetching before this clock time (a failed handler's retry delay). */
  retryAt = 0;
  retryTimer: TimerHandle | undefined;
  revoking: (() => void) | null = null;
  revokeTimer: TimerHandle | undefined;

  constructor(slot: PartitionSlot) {
    this.slot = slot;
    this.topic = slot.tp.topic;
    this.partition = slot.tp.index;
    this.key = `${this.topic}:${this.partition}`;
    const c = slot.progress.committed;
    this.fetchOffset = c;
    this.deliveredOffset = c;
    this.processedOffset = c;
  }

  /** Messages handed out and not yet processed. */
  get inProgress(): number {
    return this.deliveredOffset - this.processedOffset;
  }
}

/** A run of records of one cursor handed to a run() worker. */
export interface OffsetChunk {
  cursor: OffsetCursor;
  epoch: number;
  records: readonly LogRecord[];
  start: number;
  end: number;
}

export class OffsetDelivery implements GroupMember {
  readonly name: string;
  readonly topics: Set<string>;
  readonly #options: OffsetDeliveryOptions;
  readonly #state: GroupState;
  readonly #clock: Clock;
  readonly #wake: () => void;
  readonly #isPaused: (topic: string, key: string) => boolean;
  #cursors: OffsetCursor[] = [];
  #rr = 0;
  #closing = false;

  constructor(name: string, topics: Set<string>, options: OffsetDeliveryOptions, state: GroupState, clock: Clock, wake: () => void, isPaused: (topic: string, key: string) => boolean) {
    this.name = name;
    this.topics = topics;
    this.#options = options;
    this.#state = state;
    this.#clock = clock;
    this.#wake = wake;
    this.#isPaused = isPaused;
  }

  get cursors(): readonly OffsetCursor[] {
    return this.#cursors;
  }

  // ---- GroupMember ----

  assign(slot: PartitionSlot): void {
    this.#cursors.push(new OffsetCursor(slot));
    this.#wake();
  }

  revoke(slot: PartitionSlot, released: () => void): void {
    const c = this.#cursors.find((x) => x.slot === slot);
    if (c === undefined) {
      released();
      return;
    }
    c.revoking = released;
    c.buffer = EMPTY;
    c.bufferIndex = 0;
    c.fetchOffset = c.deliveredOffset;
    if (this.#closing) this.#force(c);
    else if (c.inProgress === 0 && !c.busy) this.#finishRevoke(c);
    else c.revokeTimer = this.#clock.setTimeout(() => this.#force(c), this.#options.rebalanceTimeoutMs);
  }

  dropTopic(topic: string): void {
    this.topics.delete(topic);
    for (const c of this.#cursors.filter((x) => x.topic === topic)) {
      c.epoch++;
      this.#remove(c);
    }
    this.#wake(); // a consumer left with no topic ends its waits (see consumer.ts)
  }

  inFlightOf(slot: PartitionSlot): number {
    return this.#cursors.find((c) => c.slot === slot)?.inProgress ?? 0;
  }

  // ---- Fetching ----

  #available(c: OffsetCursor): boolean {
    if (c.revoking !== null || c.busy || this.#closing) return false;
    if (c.retryAt !== 0) {
      if (this.#clock.now() < c.retryAt) return false;
      c.retryAt = 0;
    }
    return !this.#isPaused(c.topic, c.key);
  }

  /** Makes sure the cursor's buffer has records; false if the partition has nothing more yet. */
  #refill(c: OffsetCursor): boolean {
    if (c.bufferIndex < c.buffer.length) return true;
    const log = c.slot.tp.log;
    if (c.slot.tp.closed) return false;
    const start = log.startOffset;
    if (c.fetchOffset < start) {
      // Retention deleted messages this group had not consumed: go on from the first one left.
      if (c.inProgress === 0) {
        c.deliveredOffset = start;
        c.processedOffset = start;
        if (this.#options.autoCommit) this.#state.commit(c.slot.progress, start);
      }
      c.fetchOffset = start;
    }
    if (c.fetchOffset >= log.highWatermark) return false;
    const records = log.read(c.fetchOffset, { maxRecords: this.#options.fetchMax });
    if (records.length === 0) return false;
    c.buffer = records;
    c.bufferIndex = 0;
    c.fetchOffset = records[records.length - 1].offset + 1;
    return true;
  }

  /** Up to `max` messages, taken from the partitions in turn (pull consumers). */
  fetch(max: number): OffsetMessage[] {
    const out: OffsetMessage[] = [];
    const cursors = this.#cursors;
    const n = cursors.length;
    for (let k = 0; k < n && out.length < max; k++) {
      const c = cursors[(this.#rr + k) % n];
      if (!this.#available(c) || !this.#refill(c)) continue;
      const buf = c.buffer;
      let i = c.bufferIndex;
      const end = Math.min(buf.length, i + (max - out.length));
      for (; i < end; i++) out.push(new OffsetMessage(buf[i], c));
      c.bufferIndex = i;
      c.deliveredOffset = buf[i - 1].offset + 1;
    }
    this.#rr = n === 0 ? 0 : (this.#rr + 1) % n;
    return out;
  }

  /** Records of one partition for a run() worker, which then owns the cursor until endChunk. */
  fetchChunk(max: number): OffsetChunk | null {
    const cursors = this.#cursors;
    const n = cursors.length;
    for (let k = 0; k < n; k++) {
      const c = cursors[(this.#rr + k) % n];
      if (!this.#available(c) || !this.#refill(c)) continue;
      this.#rr = (this.#rr + k + 1) % n;
      const start = c.bufferIndex;
      const end = Math.min(c.buffer.length, start + max);
      c.bufferIndex = end;
      c.deliveredOffset = c.buffer[end - 1].offset + 1;
      c.busy = true;
      return { cursor: c, epoch: c.epoch, records: c.buffer, start, end };
    }
    return null;
  }

  /**
   * A run() worker is done with its chunk: everything before `next` was processed (the rest, if
   * it stopped early, is handed out again later).
   */
  endChunk(chunk: OffsetChunk, next: number): void {
    const c = chunk.cursor;
    c.busy = false;
    if (c.epoch !== chunk.epoch) {
      // Sought, rewound or forced away meanwhile: the chunk's progress no longer counts, but the
      // cursor must still be released, or the partition would stall (and a revoke never finish).
      if (c.revoking !== null) {
        if (c.inProgress === 0) this.#finishRevoke(c);
      } else {
        this.#wake();
      }
      return;
    }
    if (next > c.processedOffset) c.processedOffset = next;
    if (c.deliveredOffset > next) {
      c.deliveredOffset = next;
      c.fetchOffset = next;
      c.buffer = EMPTY;
      c.bufferIndex = 0;
    }
    this.#afterProgress(c);
    if (c.revoking === null) this.#wake();
  }

  /** Marks progress within a chunk and (autoCommit) commits it at once: an async handler's progress. */
  processedUpTo(chunk: OffsetChunk, next: number): void {
    const c = chunk.cursor;
    if (c.epoch !== chunk.epoch || next <= c.processedOffset) return;
    c.processedOffset = next;
    if (this.#options.autoCommit) this.#state.commit(c.slot.progress, next);
  }

  /** Whether a worker holding `chunk` should stop: the cursor was revoked, sought or rewound. */
  chunkStale(chunk: OffsetChunk): boolean {
    return chunk.cursor.epoch !== chunk.epoch || chunk.cursor.revoking !== null || this.#closing;
  }

  /** A handler failed on `offset`: hand it out again after `delayMs`. */
  rewind(chunk: OffsetChunk, offset: number, delayMs: number): void {
    const c = chunk.cursor;
    if (c.epoch !== chunk.epoch) {
      // A seek moved the cursor while the handler ran: no retry of the old message, just release.
      this.endChunk(chunk, offset);
      return;
    }
    c.slot.redeliveries++;
    if (delayMs > 0) {
      c.retryAt = this.#clock.now() + delayMs;
      if (c.retryTimer !== undefined) this.#clock.clearTimeout(c.retryTimer);
      c.retryTimer = this.#clock.setTimeout(() => {
        c.retryTimer = undefined;
        this.#wake();
      }, delayMs);
    }
    this.endChunk(chunk, offset);
  }

  /** Pull consumers: everything handed out so far has been processed. */
  completeHandedOut(): void {
    for (const c of this.#cursors) {
      if (c.processedOffset < c.deliveredOffset && !c.busy) {
        c.processedOffset = c.deliveredOffset;
        this.#afterProgress(c);
      }
    }
  }

  #afterProgress(c: OffsetCursor): void {
    if (this.#options.autoCommit && c.processedOffset !== c.slot.progress.committed) this.#state.commit(c.slot.progress, c.processedOffset);
    if (c.revoking !== null && c.inProgress === 0 && !c.busy) this.#finishRevoke(c);
  }

  // ---- Commit and seek ----

  /** Commits what was processed in every partition (or `next` for one). */
  commitProcessed(): void {
    for (const c of this.#cursors) {
      if (c.processedOffset !== c.slot.progress.committed) this.#state.commit(c.slot.progress, c.processedOffset);
    }
  }

  commitOffset(topic: string, partition: number, offset: number): void {
    const c = this.#held(topic, partition);
    const log = c.slot.tp.log;
    if (offset > log.endOffset) throw new RangeError(`offset ${offset} is past the end of ${topic}/${partition} (${log.endOffset})`);
    this.#state.commit(c.slot.progress, offset);
  }

  /** Moves the cursors of `topic` (one partition, or all held) to `position(cursor)`. */
  seek(topic: string, partition: number | undefined, position: (c: OffsetCursor) => number): void {
    const targets = this.#cursors.filter((c) => c.topic === topic && (partition === undefined || c.partition === partition) && c.revoking === null);
    if (targets.length === 0) {
      throw new SluiceError(
        partition === undefined ? `no partition of ${topic} is assigned to consumer ${this.name}` : `${topic}/${partition} is not assigned to consumer ${this.name}`,
        ErrorCode.NOT_ASSIGNED,
      );
    }
    for (const c of targets) {
      const log = c.slot.tp.log;
      const offset = Math.min(Math.max(position(c), log.startOffset), log.endOffset);
      c.epoch++;
      c.buffer = EMPTY;
      c.bufferIndex = 0;
      c.fetchOffset = offset;
      c.deliveredOffset = offset;
      c.processedOffset = offset;
      c.retryAt = 0;
      if (this.#options.autoCommit) this.#state.commit(c.slot.progress, offset);
    }
    this.#wake();
  }

  #held(topic: string, partition: number): OffsetCursor {
    const c = this.#cursors.find((x) => x.topic === topic && x.partition === partition);
    if (c === undefined) throw new SluiceError(`${topic}/${partition} is not assigned to consumer ${this.name}`, ErrorCode.NOT_ASSIGNED);
    return c;
  }

  // ---- Handover ----

  #force(c: OffsetCursor): void {
    if (c.revoking === null) return;
    if (c.inProgress > 0) c.slot.redeliveries += c.inProgress;
    c.epoch++;
    c.busy = false;
    c.deliveredOffset = c.processedOffset;
    this.#finishRevoke(c);
  }

  #finishRevoke(c: OffsetCursor): void {
    const released = c.revoking;
    if (released === null) return;
    if (this.#options.autoCommit && c.processedOffset !== c.slot.progress.committed) {
      this.#state.commit(c.slot.progress, c.processedOffset);
    }
    this.#remove(c);
    c.revoking = null;
    released();
  }

  #remove(c: OffsetCursor): void {
    if (c.revokeTimer !== undefined) this.#clock.clearTimeout(c.revokeTimer);
    if (c.retryTimer !== undefined) this.#clock.clearTimeout(c.retryTimer);
    c.revokeTimer = undefined;
    c.retryTimer = undefined;
    const i = this.#cursors.indexOf(c);
    if (i >= 0) this.#cursors.splice(i, 1);
  }

  /** From now on revocations release at once: the member is leaving. */
  beginClose(): void {
    this.#closing = true;
  }
}
