/**
 * The ack model (queue style). Two halves:
 *
 * AckPartition, one per group and partition, owns delivery state: the messages in flight (handed
 * out, not yet acked or nacked, visibility timeout running), the offsets waiting to be delivered
 * again, and nack delays. Its durable part is the group's PartitionProgress: the committed offset
 * (lowest unacked), acked offsets above it (acks may come in any order), the delivered end and
 * per-offset redelivery counts. After a crash everything in [committed, deliveredEnd) that is not
 * acked is queued for redelivery, so every unacked message is delivered again, with its delivery
 * count one higher; an ack whose confirm settled is never undone.
 *
 * AckDelivery (ack-delivery.ts), one per consumer, takes messages from the partitions it holds: redeliveries first,
 * then new messages, never more than `maxInFlight` of its own at once. Partitions move between
 * members without draining: a message in flight stays in flight, ackable by whoever has it,
 * until acked, nacked or timed out. A consumer that leaves gives its in-flight messages back.
 *
 * Visibility timeouts cost no timer per message: deliveries go into a FIFO kept in deadline order
 * (with one timeout for everyone that is delivery order, so an append; a member with a shorter
 * timeout is inserted by binary search), with one clock timer for the head. Acked entries leave
 * from the front as acks arrive, so the FIFO holds about what is in flight. Thread-confined.
 */
import { ErrorCode, SluiceError } from '../../../errors';
import type { Clock, TimerHandle } from '../../time/clock';
import { AckMessage, type AckHolderRef, type AckTarget } from '../../consume/consumed-message';
import type { SlotExplanation, SlotFinding, SlotReport, SlotState } from '../../group/group-coordinator';
import type { GroupState, PartitionProgress } from '../../group/group-state';
import type { GroupStateLog } from '../../group/group-state-log';
import type { StateConfirm } from '../../group/state-confirm';
import { recordBytes, type TopicPartition } from '../../topic/topic-partition';
import { DeadlineQueue } from './deadline-queue';
import { DEAD_LETTER_SUFFIX, DeadLetterReason, type DeadLetterRequest, type DeadLetterSink } from './dead-letters';
import { expiresAt } from '../../topic/ttl';
import type { MessageFilter } from '../../routing/message-filter';
import { InFlightWindow } from './in-flight-window';

/** What an AckPartition needs of the member a message was delivered to. */
export interface AckHolder {
  readonly name: string;
  inFlight: number;
  readonly maxInFlight: number;
  readonly visibilityTimeoutMs: number;
  /** How long a message waits after its `failures`-th failed delivery (undefined: no backoff, at once). */
  retryDelay(failures: number): number | undefined;
  /** Failed deliveries after which a message is dead-lettered (null: never). */
  readonly maxDeliveries: number | null;
  /** Where dead letters of `topic` go. */
  deadLetterTopic(topic: string): string;
  /** Expired messages are dead-lettered (else acked): the member has maxDeliveries or a deadLetterTopic. */
  readonly deadLettersExpired: boolean;
  /** The group's filter: a message it does not accept is passed over (acked, never delivered). */
  readonly filter: MessageFilter | null;
  /** Something changed that may let the member take more messages. */
  wake(): void;
}

const READ_RECORDS_MAX = 8192;
/** A dead letter whose transaction failed (its topic full, say) is tried again this much later. */
const DEAD_LETTER_RETRY_MS = 5000;
/** Reads that pass over only markers and aborted records, at most, in one fetch (the rest waits for the next). */
const PASS_OVER_READS_MAX = 16;

export class AckPartition implements AckTarget, SlotState {
  readonly groupName: string;
  readonly tp: TopicPartition;
  readonly progress: PartitionProgress;
  /** The member holding the partition now (takes new messages and redeliveries). */
  owner: AckHolder | null = null;
  readonly inFlight = new InFlightWindow<AckMessage>();
  readonly #state: GroupState;
  readonly #groupLog: GroupStateLog;
  readonly #clock: Clock;
  #ready: number[] = [];
  #readyHead = 0;
  readonly #deadlines = new DeadlineQueue<AckMessage>();
  #timer: TimerHandle | undefined;
  #timerDue = 0;
  readonly #delayed = new Set<TimerHandle>();
  readonly #deadLetters: DeadLetterSink;
  /** Offsets on their way to the dead-letter topic (their transaction not committed yet). */
  readonly #dying = new Set<number>();
  /** The last failure's text per offset (for a dead letter's error header; in memory only). */
  readonly #lastError = new Map<number, string>();
  /**
   * Per-key order (members fetching with orderByKey): a key whose message is out (in flight or
   * waiting for its retry) holds the key; later messages of it wait here, in offset order, and
   * the next one goes out when the holder is acked (or dead-lettered).
   */
  readonly #keyWaiting = new Map<string, number[]>();
  readonly #keyHolder = new Map<number, string>();
  #waitingCount = 0;
  #closed: SluiceError | null = null;
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#expire();
  };

  constructor(groupName: string, tp: TopicPartition, progress: PartitionProgress, state: GroupState, groupLog: GroupStateLog, clock: Clock, deadLetters: DeadLetterSink) {
    this.#deadLetters = deadLetters;
    this.groupName = groupName;
    this.tp = tp;
    this.progress = progress;
    this.#state = state;
    this.#groupLog = groupLog;
    this.#clock = clock;
    // Everything delivered before (a previous run of the broker) and not acked goes out again,
    // a failed message at its retry time.
    const now = clock.now();
    for (let o = progress.committed; o < progress.deliveredEnd; o++) {
      if (progress.acked.has(o)) continue;
      const due = progress.retryAt.size === 0 ? undefined : progress.retryAt.get(o);
      if (due !== undefined && due > now) this.#requeueAfter(o, due - now);
      else this.#ready.push(o);
    }
  }

  report(): SlotReport {
    return {
      inFlight: this.inFlight.size,
      redeliveries: this.progress.redeliveriesTotal,
      ackedAhead: this.progress.acked.size,
      pendingRedelivery: this.readyCount + this.delayedCount,
    };
  }

  explain(_slot: unknown, offset: number): SlotExplanation {
    return { finding: this.#finding(offset), deadLetterTopic: this.owner?.deadLetterTopic(this.tp.topic) ?? null };
  }

  #finding(offset: number): SlotFinding | null {
    const p = this.progress;
    const msg = this.inFlight.get(offset);
    if (msg !== undefined) {
      const h = msg.holder;
      return { state: 'in-flight', member: h.name, deliveryCount: msg.deliveryCount, deliveredAt: msg.deadline - h.visibilityTimeoutMs, visibleAgainAt: msg.deadline };
    }
    if (this.#dying.has(offset)) return { state: 'dead-lettering', deadLetterTopic: this.owner?.deadLetterTopic(this.tp.topic) ?? this.tp.topic + DEAD_LETTER_SUFFIX };
    const failures = p.failures.get(offset) ?? 0;
    const lastError = this.#lastError.get(offset) ?? null;
    const dueAt = p.retryAt.get(offset);
    if (dueAt !== undefined && dueAt > this.#clock.now()) return { state: 'retry-wait', dueAt, failures, lastError };
    const behind = this.#keyHolderBefore(offset);
    if (behind !== null) return { state: 'key-order', behind };
    if (offset < p.deliveredEnd) {
      for (let i = this.#readyHead; i < this.#ready.length; i++) if (this.#ready[i] === offset) return { state: 'redelivery-ready', failures, lastError };
    }
    return null;
  }

  /** Per-key order: the offset holding the key that `offset` waits behind, or null. */
  #keyHolderBefore(offset: number): number | null {
    for (const [key, waiting] of this.#keyWaiting) {
      if (!waiting.includes(offset)) continue;
      for (const [holder, k] of this.#keyHolder) if (k === key) return holder;
    }
    return null;
  }

  /** Offsets waiting to be delivered again (nack delays not counted). */
  get readyCount(): number {
    return this.#ready.length - this.#readyHead;
  }

  get delayedCount(): number {
    return this.#delayed.size;
  }

  // ---- Delivery ----

  /** Appends up to `max` messages for `member` to `out`; returns how many. */
  fetch(member: AckHolder, max: number, out: AckMessage[], orderByKey = false): number {
    if (this.#closed !== null || max <= 0) return 0;
    const p = this.progress;
    const tp = this.tp;
    this.#skipRetained();
    const deadline = this.#clock.now() + member.visibilityTimeoutMs;
    let n = 0;
    while (n < max && this.#readyHead < this.#ready.length) {
      const offset = this.#ready[this.#readyHead++];
      if (p.isAcked(offset) || this.inFlight.has(offset) || offset < tp.startOffset || this.#dying.has(offset)) continue;
      const record = tp.read(offset, { maxRecords: 1 })[0];
      if (record === undefined) continue;
      if (record.offset !== offset) {
        // A transaction marker or an aborted record (never delivered, but not yet passed over
        // when the broker stopped): passed over now.
        this.#state.ack(p, offset);
        continue;
      }
      if (this.#expired(member, record, 0) || this.#filteredOut(member, record)) continue;
      const failures = p.failures.size === 0 ? 0 : (p.failures.get(offset) ?? 0);
      if (member.maxDeliveries !== null && failures >= member.maxDeliveries) {
        // Past the limit before a restart, or before this member's limit: dead-lettered now.
        this.#sendToDeadLetters(member, record, DeadLetterReason.MAX_DELIVERIES, p.redelivered.get(offset) ?? 0);
        continue;
      }
      if (orderByKey && !this.#mayGo(record)) continue;
      const count = this.#state.redelivered(p, offset);
      this.#deliver(member, record, count, deadline, out);
      n++;
    }
    if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
    for (let reads = 0; n < max && p.deliveredEnd < tp.stableOffset && reads < PASS_OVER_READS_MAX && this.#waitingCount < member.maxInFlight; reads++) {
      // First deliveries, the hot path: one bookkeeping pass over the whole read.
      const from = p.deliveredEnd;
      const { records, nextOffset } = tp.readRecords(from, { maxRecords: Math.min(max - n, READ_RECORDS_MAX) });
      const count = records.length;
      if (count === 0 || records[count - 1].offset - from + 1 !== count || nextOffset !== from + count) this.#passOver(from, records, nextOffset);
      if (count === 0) {
        if (nextOffset <= from) break;
        this.#state.delivered(p, nextOffset);
        continue;
      }
      {
        const window = this.inFlight;
        const deadlines = this.#deadlines;
        const Message = AckMessage; // one module lookup, not one per message
        const ttl = tp.messageTtlMs;
        const now = ttl === null ? 0 : this.#clock.now();
        let delivered = 0;
        let bytes = 0;
        for (let i = 0; i < count; i++) {
          const record = records[i];
          if ((ttl !== null || record.headers.length > 0) && this.#expired(member, record, now)) continue;
          if (member.filter !== null && this.#filteredOut(member, record)) continue;
          if (orderByKey && !this.#mayGo(record)) continue;
          const msg = new Message(record, 1, this, member, deadline);
          window.set(record.offset, msg);
          deadlines.push(msg);
          out.push(msg);
          delivered++;
          bytes += recordBytes(record);
        }
        tp.countOut(delivered, bytes);
        member.inFlight += delivered;
        n += delivered;
        if (delivered > 0) this.#arm(deadline);
        this.#state.delivered(p, nextOffset);
      }
    }
    return n;
  }

  /**
   * Per-key order: whether `record` may go out now (keyless ones always may). If its key is held
   * by an earlier message it waits for it (and false); else it takes the key.
   */
  #mayGo(record: AckMessage['record']): boolean {
    if (record.key === null) return true;
    const offset = record.offset;
    const key = record.key.toString('latin1');
    const holder = this.#keyHolder.get(offset);
    if (holder !== undefined) return true; // the key's holder, out again (a retry)
    const waiting = this.#keyWaiting.get(key);
    if (waiting === undefined) {
      this.#keyWaiting.set(key, []);
      this.#keyHolder.set(offset, key);
      return true;
    }
    // Behind the holder: in offset order (a redelivery after a restart may come out of order).
    let i = waiting.length;
    while (i > 0 && waiting[i - 1] > offset) i--;
    if (waiting[i - 1] !== offset) {
      waiting.splice(i, 0, offset);
      this.#waitingCount++;
    }
    return false;
  }

  /** `offset` is done (acked, dead-lettered): if it held its key, the key's next message may go. */
  #releaseKey(offset: number): void {
    if (this.#keyHolder.size === 0) return;
    const key = this.#keyHolder.get(offset);
    if (key === undefined) return;
    this.#keyHolder.delete(offset);
    const waiting = this.#keyWaiting.get(key)!;
    const next = waiting.shift();
    if (next === undefined) {
      this.#keyWaiting.delete(key);
      return;
    }
    this.#waitingCount--;
    this.#keyHolder.set(next, key);
    this.#requeue(next);
  }

  /**
   * Whether `record` expired (ttl.ts; `now` 0: read the clock): then it is never delivered, but
   * dead-lettered (reason `expired`) when the member has a dead-letter setting, else acked.
   */
  #expired(member: AckHolder, record: AckMessage['record'], now: number): boolean {
    const at = expiresAt(record, this.tp.messageTtlMs);
    if (at === Infinity || at > (now === 0 ? this.#clock.now() : now)) return false;
    if (member.deadLettersExpired) this.#sendToDeadLetters(member, record, DeadLetterReason.EXPIRED, this.progress.redelivered.get(record.offset) ?? 0);
    else {
      this.#state.ack(this.progress, record.offset);
      this.#releaseKey(record.offset);
    }
    return true;
  }

  /** Whether the member's filter passes `record` over: then it counts as acked, never delivered. */
  #filteredOut(member: AckHolder, record: AckMessage['record']): boolean {
    if (member.filter === null || member.filter.accepts(record, this.tp.topic, this.tp.index)) return false;
    this.#state.ack(this.progress, record.offset);
    this.#releaseKey(record.offset);
    return true;
  }

  /**
   * The offsets of [from, nextOffset) that a read passed over (transaction markers, aborted
   * records: no consumer ever gets them) count as acked, so the committed offset moves past them.
   */
  #passOver(from: number, records: readonly { offset: number }[], nextOffset: number): void {
    const p = this.progress;
    let expected = from;
    for (const r of records) {
      for (let o = expected; o < r.offset; o++) this.#state.ack(p, o);
      expected = r.offset + 1;
    }
    for (let o = expected; o < nextOffset; o++) this.#state.ack(p, o);
  }

  #deliver(member: AckHolder, record: AckMessage['record'], count: number, deadline: number, out: AckMessage[]): void {
    const msg = new AckMessage(record, count, this, member, deadline);
    this.tp.countOut(1, recordBytes(record));
    this.inFlight.set(record.offset, msg);
    member.inFlight++;
    this.#deadlines.push(msg);
    this.#arm(deadline);
    out.push(msg);
  }

  /** Retention deleted messages the group had not acked: move past them. */
  #skipRetained(): void {
    const start = this.tp.startOffset;
    if (this.progress.committed < start) this.#state.commit(this.progress, start);
  }

  // ---- Acks and nacks ----

  ack(msg: AckMessage): StateConfirm {
    this.#checkOpen();
    if (msg.state === 'acked') throw alreadyAcked(msg, 'was already acked');
    if (msg.state === 'nacked') throw alreadyAcked(msg, 'was nacked');
    if (!this.#state.ack(this.progress, msg.offset)) throw alreadyAcked(msg, 'was already acked (in an earlier delivery)');
    this.#settleAcked(msg);
    return this.#groupLog.confirm();
  }

  checkAckable(msg: AckMessage): void {
    this.#checkOpen();
    if (msg.state === 'acked' || this.progress.isAcked(msg.offset)) throw alreadyAcked(msg, 'was already acked');
    if (msg.state === 'nacked') throw alreadyAcked(msg, 'was nacked');
  }

  settleTransactionAck(msg: AckMessage): void {
    if (this.#closed !== null || msg.state === 'acked') return;
    this.#settleAcked(msg);
  }

  /** The ack of `msg` was recorded: take its delivery (or, if it expired, its successor's) out of flight. */
  #settleAcked(msg: AckMessage): void {
    const offset = msg.offset;
    this.#releaseKey(offset);
    const current = msg.state === 'in-flight' ? msg : this.inFlight.get(offset);
    msg.state = 'acked';
    if (current !== undefined) {
      this.inFlight.delete(offset);
      current.state = 'acked';
      const holder = current.holder;
      // Only a holder at its in-flight limit can be waiting for this slot.
      if (holder.inFlight-- >= holder.maxInFlight) holder.wake();
    }
    const head = this.#deadlines.peek();
    if (head !== undefined && head.state !== 'in-flight') this.#popSettled();
  }

  /** After a run() handler succeeded: acks unless the handler acked or nacked it, or it was acked meanwhile. */
  autoAck(msg: AckMessage): void {
    if (this.#closed !== null || msg.state === 'acked' || msg.state === 'nacked') return;
    if (this.#state.ack(this.progress, msg.offset)) this.#settleAcked(msg);
  }

  nack(msg: AckMessage, delayMs: number | undefined, error?: string): void {
    this.#checkOpen();
    if (msg.state === 'acked' || this.progress.isAcked(msg.offset)) throw alreadyAcked(msg, 'was already acked');
    if (msg.state === 'nacked') throw alreadyAcked(msg, 'was already nacked');
    if (msg.state === 'expired') return; // already back in the queue
    msg.state = 'nacked';
    this.inFlight.delete(msg.offset);
    msg.holder.inFlight--;
    msg.holder.wake();
    this.#popSettled();
    this.#failed(msg, delayMs, error);
  }

  /**
   * A delivery of `msg` failed (nack, timeout): counted, durably with when it is due again (the
   * explicit delay, else the holder's backoff, else now), then requeued at that time.
   */
  #failed(msg: AckMessage, explicitDelayMs: number | undefined, error?: string): void {
    if (error !== undefined) this.#lastError.set(msg.offset, error);
    const failures = (this.progress.failures.get(msg.offset) ?? 0) + 1;
    const max = msg.holder.maxDeliveries;
    if (max !== null && failures >= max) {
      this.#state.failed(this.progress, msg.offset, 0);
      this.#sendToDeadLetters(msg.holder, msg.record, DeadLetterReason.MAX_DELIVERIES, msg.deliveryCount - 1);
      return;
    }
    const delayMs = explicitDelayMs ?? msg.holder.retryDelay(failures) ?? 0;
    this.#state.failed(this.progress, msg.offset, delayMs > 0 ? this.#clock.now() + delayMs : 0);
    if (delayMs > 0) this.#requeueAfter(msg.offset, delayMs);
    else this.#requeue(msg.offset);
  }

  /** msg.reject(): dead-lettered now, whatever its deliveries. */
  reject(msg: AckMessage, reason: string): void {
    this.#checkOpen();
    if (msg.state === 'acked' || this.progress.isAcked(msg.offset)) throw alreadyAcked(msg, 'was already acked');
    if (msg.state === 'nacked') throw alreadyAcked(msg, 'was nacked');
    if (msg.state === 'in-flight') {
      msg.state = 'nacked';
      this.inFlight.delete(msg.offset);
      msg.holder.inFlight--;
      msg.holder.wake();
      this.#popSettled();
    }
    this.#sendToDeadLetters(msg.holder, msg.record, reason, msg.deliveryCount - 1);
  }

  /**
   * Sends the record to the holder's dead-letter topic and acks it, in one transaction. Until it
   * commits the offset is neither in flight nor ready; if it fails, the message is retried later.
   */
  #sendToDeadLetters(holder: AckHolderRef, record: AckMessage['record'], reason: string, redelivered: number): void {
    const offset = record.offset;
    if (this.#dying.has(offset)) return;
    this.#dying.add(offset);
    const request: DeadLetterRequest = {
      group: this.groupName,
      topic: this.tp.topic,
      partition: this.tp.index,
      offset,
      record,
      reason,
      deliveries: redelivered + 1,
      error: this.#lastError.get(offset) ?? null,
      deadLetterTopic: holder.deadLetterTopic(this.tp.topic),
    };
    this.#deadLetters(request).then(
      () => {
        this.#dying.delete(offset);
        this.#lastError.delete(offset);
        this.#releaseKey(offset);
      },
      (e: unknown) => {
        this.#dying.delete(offset);
        if (this.#closed !== null) return;
        process.emitWarning(`sluice: dead-lettering ${this.tp.topic}/${this.tp.index}@${offset} of group ${this.groupName} failed (retried later): ${e instanceof Error ? e.message : String(e)}`);
        this.#requeueAfter(offset, DEAD_LETTER_RETRY_MS);
      },
    );
  }

  #requeueAfter(offset: number, delayMs: number): void {
    const timer = this.#clock.setTimeout(() => {
      this.#delayed.delete(timer);
      this.#requeue(offset);
    }, delayMs);
    this.#delayed.add(timer);
  }

  #requeue(offset: number): void {
    if (this.#closed !== null) return;
    this.#ready.push(offset);
    this.owner?.wake();
  }

  #checkOpen(): void {
    if (this.#closed !== null) throw this.#closed;
  }

  // ---- Visibility timeouts ----

  #arm(due: number): void {
    if (this.#timer !== undefined) {
      if (this.#timerDue <= due) return;
      this.#clock.clearTimeout(this.#timer);
    }
    this.#timerDue = due;
    this.#timer = this.#clock.setTimeout(this.#onTimer, Math.max(0, due - this.#clock.now()));
  }

  /** Drops acked and nacked deliveries from the front of the deadline queue. */
  #popSettled(): void {
    const q = this.#deadlines;
    for (let head = q.peek(); head !== undefined && head.state !== 'in-flight'; head = q.peek()) q.shift();
  }

  #expire(): void {
    if (this.#closed !== null) return;
    const now = this.#clock.now();
    const q = this.#deadlines;
    let expired = 0;
    for (;;) {
      this.#popSettled();
      const msg = q.peek();
      if (msg === undefined) break;
      if (msg.deadline > now) {
        this.#arm(msg.deadline);
        break;
      }
      q.shift();
      if (msg.state === 'in-flight') {
        // A visibility timeout is a failed delivery (a member leaving is not: releaseMember).
        this.#expireOne(msg, false);
        this.#failed(msg, undefined);
      }
      expired++;
    }
    if (expired > 0) this.owner?.wake();
  }

  /** Takes `msg` out of flight; `requeue`: delivered again at once. */
  #expireOne(msg: AckMessage, requeue: boolean): void {
    if (msg.state !== 'in-flight') return;
    msg.state = 'expired';
    if (this.inFlight.get(msg.offset) === msg) this.inFlight.delete(msg.offset);
    msg.holder.inFlight--;
    msg.holder.wake();
    if (requeue) this.#ready.push(msg.offset);
  }

  /** A member left: its messages in flight go back to be redelivered now. */
  releaseMember(member: AckHolder): void {
    let any = false;
    for (const msg of [...this.inFlight.values()]) {
      if (msg.holder !== member) continue;
      this.#expireOne(msg, true);
      any = true;
    }
    if (any) {
      this.#popSettled();
      this.owner?.wake();
    }
  }

  /**
   * The topic was deleted (`reason` UNKNOWN_TOPIC) or the broker or group is going (CLOSED, or
   * UNKNOWN_GROUP): stop every timer; messages in flight are void, and acking them fails with `reason`.
   */
  close(reason: SluiceError): void {
    if (this.#closed !== null) return;
    this.#closed = reason;
    for (const msg of this.inFlight.values()) {
      msg.state = 'expired';
      msg.holder.inFlight--;
    }
    this.inFlight.clear();
    this.#deadlines.clear();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const t of this.#delayed) this.#clock.clearTimeout(t);
    this.#delayed.clear();
  }
}

export function alreadyAcked(msg: AckMessage, what: string): SluiceError {
  return new SluiceError(`message ${msg.topic}/${msg.partition}@${msg.offset} of group ${msg.group} ${what}`, ErrorCode.ALREADY_ACKED);
}
