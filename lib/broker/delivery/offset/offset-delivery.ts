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
import { ConsumedMessage, OffsetMessage, type OffsetSource } from '../../consume/consumed-message';
import { integerOption, type CommitEntry, type SeekTarget } from '../../consume/consumer-options';
import type { PartitionSlot, SlotExplanation, SlotFinding, SlotReport, SlotState } from '../../group/group-coordinator';
import type { GroupState } from '../../group/group-state';
import type { StateConfirm } from '../../group/state-confirm';
import { expiresAt } from '../../topic/ttl';
import type { MessageFilter } from '../../routing/message-filter';
import type { TopicPartition } from '../../topic/topic-partition';
import type { Delivery, MemberContext, MemberOptions, RunContext } from '../delivery';

const EMPTY: readonly LogRecord[] = Object.freeze([]);

export type OffsetDeliveryOptions = Pick<MemberOptions, 'autoCommit' | 'fetchMax' | 'rebalanceTimeoutMs' | 'filter'>;

/** The group side of one partition in the offset model: only a redelivery count (describeGroup). */
export class OffsetPartition implements SlotState {
  /** Messages handed out again after a failed handler or a forced handover, since open. */
  redeliveries = 0;

  report(slot: PartitionSlot): SlotReport {
    return { inFlight: slot.holder?.inFlightOf(slot) ?? 0, redeliveries: this.redeliveries, ackedAhead: slot.progress.acked.size, pendingRedelivery: 0 };
  }

  /** The offset model keeps nothing per message: its holder's cursor says what was handed out. */
  explain(slot: PartitionSlot, offset: number): SlotExplanation {
    return { finding: slot.holder?.findingOf(slot, offset) ?? null, deadLetterTopic: null };
  }

  close(): void {}
}

type OffsetSlot = PartitionSlot<OffsetPartition>;

export class OffsetCursor implements OffsetSource {
  readonly slot: OffsetSlot;
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

  constructor(slot: OffsetSlot) {
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

export class OffsetDelivery implements Delivery {
  readonly model = 'offset' as const;
  readonly name: string;
  readonly topics: Set<string>;
  readonly #options: OffsetDeliveryOptions;
  readonly #state: GroupState;
  readonly #clock: Clock;
  readonly #wake: () => void;
  readonly #isPaused: (topic: string, key: string) => boolean;
  readonly #topicExists: (topic: string) => boolean;
  readonly #group: string;
  #cursors: OffsetCursor[] = [];
  /** held(), kept until the cursors change: consumers ask on every wait. */
  #heldSlots: readonly PartitionSlot[] | null = null;
  #rr = 0;
  #closing = false;

  constructor(name: string, topics: Set<string>, options: OffsetDeliveryOptions, context: MemberContext) {
    this.name = name;
    this.topics = topics;
    this.#options = options;
    this.#state = context.state;
    this.#clock = context.clock;
    this.#wake = context.wake;
    this.#isPaused = context.isPaused;
    this.#topicExists = context.topicExists;
    this.#group = context.group;
  }

  get cursors(): readonly OffsetCursor[] {
    return this.#cursors;
  }

  held(): readonly PartitionSlot[] {
    return (this.#heldSlots ??= this.#cursors.map((c) => c.slot));
  }

  get inFlight(): number {
    let n = 0;
    for (const c of this.#cursors) n += c.inProgress;
    return n;
  }

  // ---- GroupMember ----

  assign(slot: OffsetSlot): void {
    this.#cursors.push(new OffsetCursor(slot));
    this.#heldSlots = null;
    this.#wake();
  }

  revoke(slot: OffsetSlot, released: () => void): void {
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

  inFlightOf(slot: OffsetSlot): number {
    return this.#cursors.find((c) => c.slot === slot)?.inProgress ?? 0;
  }

  findingOf(slot: OffsetSlot, offset: number): SlotFinding | null {
    const c = this.#cursors.find((x) => x.slot === slot);
    if (c === undefined || offset >= c.deliveredOffset || offset < slot.progress.committed) return null;
    if (offset >= c.processedOffset) return { state: 'in-flight', member: this.name, deliveryCount: null, deliveredAt: null, visibleAgainAt: null };
    return { state: 'processed', member: this.name };
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
    const tp = c.slot.tp;
    if (tp.closed) return false;
    const start = tp.startOffset;
    if (c.fetchOffset < start) {
      // Retention deleted messages this group had not consumed: go on from the first one left.
      if (c.inProgress === 0) {
        c.deliveredOffset = start;
        c.processedOffset = start;
        if (this.#options.autoCommit) this.#state.commit(c.slot.progress, start);
      }
      c.fetchOffset = start;
    }
    // A read may pass over transaction markers and aborted records only: then read on from there.
    while (c.fetchOffset < tp.stableOffset) {
      const read = tp.readRecords(c.fetchOffset, { maxRecords: this.#options.fetchMax });
      const nextOffset = read.nextOffset;
      const records = deliverable(read.records, tp, this.#options.filter, this.#clock);
      if (records.length > 0) {
        tp.countOutRecords(records);
        c.buffer = records;
        c.bufferIndex = 0;
        c.fetchOffset = nextOffset;
        return true;
      }
      if (nextOffset <= c.fetchOffset) return false;
      c.fetchOffset = nextOffset;
      // Everything read was passed over (expired, filtered out, markers): with nothing in
      // progress, the group's position moves past it as if it had been consumed.
      if (c.inProgress === 0 && c.deliveredOffset < nextOffset) {
        c.deliveredOffset = nextOffset;
        c.processedOffset = nextOffset;
        if (this.#options.autoCommit) this.#state.commit(c.slot.progress, nextOffset);
      }
    }
    return false;
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
    c.slot.state.redeliveries++;
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
    if (c.fetchOffset > c.processedOffset && c.bufferIndex >= c.buffer.length && c.inProgress === 0 && !c.busy) {
      // Everything read was handed out and processed: what lies between is what the read passed
      // over (expired, filtered out, markers), and the position moves past it.
      c.deliveredOffset = c.fetchOffset;
      c.processedOffset = c.fetchOffset;
    }
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
    const end = c.slot.tp.endOffset;
    if (offset > end) throw new RangeError(`offset ${offset} is past the end of ${topic}/${partition} (${end})`);
    this.#state.commit(c.slot.progress, offset);
  }

  /**
   * Commits: with no argument what was processed in every partition held (for pull consumers,
   * everything polled so far); with messages the offset after each; with entries those offsets.
   * A message received before a seek() of its partition is skipped: committing it would undo the
   * seek (a handler finishing an old message after the application moved the position must not
   * move it back).
   */
  commit(what: unknown, running: boolean): void {
    this.#checkOpen();
    if (what === undefined) {
      if (!running) this.completeHandedOut();
      this.commitProcessed();
      return;
    }
    const list: unknown[] = Array.isArray(what) ? what : [what];
    const entries: Array<CommitEntry | null> = list.map((x) => {
      if (x instanceof OffsetMessage) {
        if (!this.#cursors.some((c) => c === x.source)) {
          throw new SluiceError(`${x.topic}/${x.partition} is not assigned to consumer ${this.name}`, ErrorCode.NOT_ASSIGNED);
        }
        if (x.source.epoch !== x.epoch) return null; // from before a seek
        return { topic: x.topic, partition: x.partition, offset: x.offset + 1 };
      }
      if (x instanceof ConsumedMessage) throw new TypeError('commit() takes offset-model messages or {topic, partition, offset} entries');
      const e = x as CommitEntry;
      if (e === null || typeof e !== 'object' || typeof e.topic !== 'string') throw new TypeError('a commit entry must be {topic, partition, offset}');
      integerOption(e.partition, 'partition', 0, Number.MAX_SAFE_INTEGER, 0);
      integerOption(e.offset, 'offset', 0, Number.MAX_SAFE_INTEGER, 0);
      return e;
    });
    for (const e of entries) if (e !== null) this.commitOffset(e.topic, e.partition, e.offset);
  }

  /** Moves this member's position in held partitions to an offset or a time (replay or skip). */
  seek(target: SeekTarget): void {
    this.#checkOpen();
    if (target === null || typeof target !== 'object') throw new TypeError('seek takes {topic, partition?, offset | timestamp}');
    const { topic, partition, offset, timestamp } = target;
    if (typeof topic !== 'string') throw new TypeError('seek: topic must be a string');
    if (!this.#topicExists(topic)) throw new SluiceError(`unknown topic ${JSON.stringify(topic)}`, ErrorCode.UNKNOWN_TOPIC);
    if (partition !== undefined) integerOption(partition, 'partition', 0, Number.MAX_SAFE_INTEGER, 0);
    if ((offset === undefined) === (timestamp === undefined)) throw new TypeError('seek needs exactly one of offset and timestamp');
    if (offset !== undefined) {
      integerOption(offset, 'offset', 0, Number.MAX_SAFE_INTEGER, 0);
      this.#seek(topic, partition, () => offset);
    } else {
      if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) throw new TypeError('timestamp must be an integer number of milliseconds');
      this.#seek(topic, partition, (c) => c.slot.tp.offsetForTime(timestamp));
    }
  }

  ack(): StateConfirm {
    throw this.#wrongModel('ack');
  }

  nack(): void {
    throw this.#wrongModel('nack');
  }

  #wrongModel(what: string): SluiceError {
    return new SluiceError(`group ${this.#group} uses the offset model: commit offsets instead of ${what === 'ack' ? 'acking' : 'nacking'}`, ErrorCode.WRONG_MODEL);
  }

  #checkOpen(): void {
    if (this.#closing) throw new SluiceError(`consumer ${this.name} is closed`, ErrorCode.CLOSED);
  }

  /** Moves the cursors of `topic` (one partition, or all held) to `position(cursor)`. */
  #seek(topic: string, partition: number | undefined, position: (c: OffsetCursor) => number): void {
    const targets = this.#cursors.filter((c) => c.topic === topic && (partition === undefined || c.partition === partition) && c.revoking === null);
    if (targets.length === 0) {
      throw new SluiceError(
        partition === undefined ? `no partition of ${topic} is assigned to consumer ${this.name}` : `${topic}/${partition} is not assigned to consumer ${this.name}`,
        ErrorCode.NOT_ASSIGNED,
      );
    }
    for (const c of targets) {
      const tp = c.slot.tp;
      const offset = Math.min(Math.max(position(c), tp.startOffset), tp.endOffset);
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
    if (c.inProgress > 0) c.slot.state.redeliveries += c.inProgress;
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
    this.#heldSlots = null;
  }

  // ---- Pull ----

  beforePoll(): void {
    this.completeHandedOut();
  }

  // ---- Push ----

  /**
   * One run() worker: takes a chunk of one partition at a time (so a partition is processed in
   * order, by one worker), calls the handler for each message, and records progress (committed
   * with autoCommit) as handlers finish; a failing handler rewinds the partition to its message.
   */
  async runWorker(run: RunContext): Promise<void> {
    const Message = OffsetMessage; // one module lookup, not one per message
    const { handler, onError, retryDelayMs } = run;
    while (!run.stopped()) {
      const chunk = this.fetchChunk(run.fetchMax);
      if (chunk === null) {
        if (run.endIfUnsubscribed()) break;
        await run.wait();
        continue;
      }
      const { records, end, cursor } = chunk;
      let next = records[chunk.start].offset;
      // rewind() releases the chunk itself; every other way out (break, a throwing onError)
      // releases it in the finally, so the cursor never stays busy.
      let released = false;
      try {
        for (let i = chunk.start; i < end; i++) {
          if (run.stopped() || this.chunkStale(chunk)) break;
          const record = records[i];
          const msg = new Message(record, cursor);
          // Everything before this message is processed (what commit() inside a handler commits).
          cursor.processedOffset = record.offset; // the epoch is current: chunkStale() was just false
          try {
            msg.decodeValue(); // an undecodable value fails the delivery as a handler error would
            const r = handler(msg) as PromiseLike<unknown> | undefined;
            if (r !== undefined && r !== null && typeof r.then === 'function') {
              await r;
              if (run.abandoned()) return;
              // Processed and committed before the next await; a sync handler's progress is
              // recorded once, by endChunk.
              this.processedUpTo(chunk, record.offset + 1);
            }
          } catch (err) {
            if (run.abandoned()) return;
            released = true;
            this.rewind(chunk, record.offset, retryDelayMs);
            onError(err, msg);
            break;
          }
          next = record.offset + 1;
        }
      } finally {
        if (!released && !run.abandoned()) this.endChunk(chunk, next);
      }
    }
  }

  // ---- Close ----

  /**
   * The close timeout passed: chunks still held by handlers are taken back (their cursors move to
   * a new epoch, so what the handlers finish later is ignored) and nothing in them is committed.
   */
  abandon(): void {
    for (const c of this.#cursors) {
      if (!c.busy) continue;
      c.epoch++;
      c.busy = false;
      c.deliveredOffset = c.processedOffset;
      c.buffer = EMPTY;
      c.bufferIndex = 0;
      c.fetchOffset = c.processedOffset;
    }
  }

  /**
   * From now on revocations release at once: the member is leaving. A pull consumer's last poll
   * counts as processed, as the next poll would have made it (Kafka commits on close too).
   */
  beginClose(running: boolean): void {
    if (!running) this.completeHandedOut();
    this.#closing = true;
  }

  release(): void {}
}

export const offsetModel = {
  createMember: (name: string, topics: Set<string>, options: MemberOptions, context: MemberContext): Delivery => new OffsetDelivery(name, topics, options, context),
  createPartition: (): SlotState => new OffsetPartition(),
};

/** The records to deliver: not expired (ttl.ts) and accepted by the filter; the others are passed over. */
function deliverable(records: LogRecord[], tp: TopicPartition, filter: MessageFilter | null, clock: Clock): LogRecord[] {
  const ttlMs = tp.messageTtlMs;
  if (filter === null && ttlMs === null && !records.some((r) => r.headers.length > 0)) return records;
  const now = clock.now();
  const kept = records.filter((r) => expiresAt(r, ttlMs) > now && (filter === null || filter.accepts(r, tp.topic, tp.index)));
  return kept.length === records.length ? records : kept;
}
