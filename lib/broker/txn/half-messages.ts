/**
 * Half messages (RocketMQ's transactional messages, for "update my database, then publish"):
 * `producer.prepare(topic, message)` stores the message durably in the broker's half log
 * (`<dir>/half/`, sync 'always') and resolves with a handle; `commit()` moves it into its topic
 * (a transaction that appends it and records [HALF_DONE, offset, true] in one commit point:
 * exactly once across a crash), `rollback()` records [HALF_DONE, offset, false] and it is never
 * delivered. Until then no consumer sees it, and nothing in its topic waits for it (unlike a
 * transaction, which holds readers at its first record).
 *
 * Check-back: a half message left unresolved `afterMs` after it was prepared (its record's
 * timestamp) is passed to the callback the application registers with
 * `broker.onTransactionCheck(fn)`, which answers 'commit', 'rollback' or 'unknown' (or throws:
 * unknown); unknown is asked again every `everyMs`, and after `maxChecks` answers of unknown the
 * message is rolled back. This covers a process that died between its local transaction and its
 * commit: after a restart, every unresolved half message is found by a scan of the half log and
 * checked once a callback is registered (none is asked while no callback is).
 *
 * The record layout is store/held-message.ts's (headers sluice.half.*), stamped with the time
 * it was prepared. Resolutions are kept in the group state (HalfResolutions: everything below a
 * watermark, and the offsets resolved above it); segments of the half log below the watermark
 * are deleted. Thread-confined.
 */
import { ErrorCode, SluiceError } from '../../errors';
import { LIMITS } from '../../limits';
import { Log, type LogOptions, type LogRecord, type Message } from '../../storage/log';
import type { HalfDescription } from '../describe';
import { OP_HALF_DONE, type GroupState } from '../group/group-state';
import type { GroupStateLog } from '../group/group-state-log';
import { heldRecord, heldTarget, releasedMessage } from '../store/held-message';
import type { Clock, TimerHandle } from '../time/clock';
import type { Topic } from '../topic/topic';
import type { Transaction } from './transaction';

import { HALF_HEADERS } from '../codec/reserved-headers';
export { HALF_HEADERS };

const HALF_LOG_OPTIONS: LogOptions = Object.freeze({ sync: 'always', segmentBytes: LIMITS.messageBytesMaxMax, messageBytesMax: LIMITS.messageBytesMaxMax, batchBytesMax: 16 * 1024 });
const SCAN_STEP = 4096;
/** Checks run at once at most (each awaits the application's callback). */
const CHECKS_IN_FLIGHT = 16;

export type CheckAnswer = 'commit' | 'rollback' | 'unknown';

/** What the check-back callback is given: the message as prepared. */
export interface HalfMessageCheck {
  /** The half message's id (its offset in the half log). */
  id: number;
  topic: string;
  partition: number;
  key: Buffer | null;
  /** The stored bytes of the value (msgpack-encoded when the headers say so, as a consumer's raw value). */
  value: Buffer | null;
  headers: readonly { key: string; value: Buffer | null }[];
  /** When it was prepared (ms). */
  preparedAt: number;
  /** How many times it was checked before (0 the first time). */
  checks: number;
}

export type TransactionCheck = (message: HalfMessageCheck) => CheckAnswer | Promise<CheckAnswer>;

export interface CheckOptions {
  /** Check a half message this long after it was prepared. Default 6000 (RocketMQ's). */
  afterMs?: number;
  /** Ask again after an 'unknown' this long after. Default 6000. */
  everyMs?: number;
  /** Roll back after this many answers of 'unknown'. Default 15 (RocketMQ's). */
  maxChecks?: number;
}

/** Where a committed half message went. */
export interface HalfCommit {
  topic: string;
  partition: number;
  offset: number;
}

export type { HalfDescription };

/** What the half store needs of the broker. */
export interface HalfLink {
  readonly clock: Clock;
  readonly state: GroupState;
  readonly groupLog: GroupStateLog;
  topic(name: string): Topic | undefined;
  transaction(fn: (tx: Transaction) => Promise<void>): Promise<void>;
}

interface Pending {
  preparedAt: number;
  checks: number;
  /** When it is checked next (ms). */
  checkAt: number;
  /** A commit, rollback or check in progress. */
  busy: boolean;
  /** A check in progress: settles when it is done (a commit() or rollback() meanwhile waits for it). */
  checking: Promise<void> | null;
}

export class HalfStore {
  readonly #log: Log;
  readonly #link: HalfLink;
  readonly #pending = new Map<number, Pending>();
  #check: TransactionCheck | null = null;
  #options: Required<CheckOptions> = { afterMs: 6000, everyMs: 6000, maxChecks: 15 };
  #timer: TimerHandle | null = null;
  #timerIsImmediate = false;
  #checking = 0;
  #closed = false;

  private constructor(log: Log, link: HalfLink) {
    this.#log = log;
    this.#link = link;
  }

  /** Opens the half log in `dir` (created if missing), finding every half message not resolved. */
  static async open(dir: string, link: HalfLink): Promise<HalfStore> {
    const store = new HalfStore(await Log.open(dir, HALF_LOG_OPTIONS), link);
    await store.#scan();
    return store;
  }

  /** Stores `message` (as its topic stores it) for `topic`/`partition`; resolves with its id once durable. */
  async prepare(topic: string, partition: number, message: Message): Promise<number> {
    this.#checkOpen();
    const now = this.#link.clock.now();
    const offset = this.#log.appendBatch([heldRecord(HALF_HEADERS, topic, partition, message, now)]);
    this.#pending.set(offset, { preparedAt: now, checks: 0, checkAt: now + this.#options.afterMs, busy: false, checking: null });
    await this.#log.confirm(offset);
    this.#arm();
    return offset;
  }

  /**
   * Moves half message `id` into its topic; resolves with where it went (null: its topic is gone).
   * A check-back in progress for it is waited for first (TRANSACTION_ENDED if it resolved it).
   */
  async commit(id: number): Promise<HalfCommit | null> {
    const p = await this.#take(id, 'commit');
    try {
      return await this.#resolving(() => this.#commit(id));
    } catch (e) {
      this.#failed(id, p);
      throw e;
    }
  }

  /** Rolls half message `id` back: it is never delivered (a check-back in progress is waited for first). */
  async rollback(id: number): Promise<void> {
    const p = await this.#take(id, 'rollback');
    try {
      await this.#resolving(() => this.#rollback(id));
    } catch (e) {
      this.#failed(id, p);
      throw e;
    }
  }

  /** Registers the check-back callback (replacing one registered before) and starts checking. */
  onCheck(fn: TransactionCheck, options: Required<CheckOptions>): void {
    this.#check = fn;
    this.#options = options;
    for (const p of this.#pending.values()) if (p.checks === 0) p.checkAt = p.preparedAt + options.afterMs;
    this.#arm();
  }

  describe(): HalfDescription {
    return { pending: this.#pending.size };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) {
      if (this.#timerIsImmediate) clearImmediate(this.#timer as NodeJS.Immediate);
      else this.#link.clock.clearTimeout(this.#timer);
    }
    this.#timer = null;
    // Resolutions in progress finish (their transactions need the Log); a check-back still waiting
    // for the application's callback is not waited for: its answer is ignored.
    while (this.#inProgress > 0) await new Promise((resolve) => setImmediate(resolve));
    await this.#log.close();
  }

  // ---- Internals ----

  /**
   * Claims a pending half message for a resolution, after a check-back in progress for it;
   * TRANSACTION_ENDED if it is resolved or being resolved.
   */
  async #take(id: number, what: string): Promise<Pending> {
    this.#checkOpen();
    let p = this.#pending.get(id);
    while (p?.checking != null) {
      await p.checking;
      p = this.#pending.get(id);
    }
    if (p === undefined || p.busy) throw new SluiceError(`${what}(): half message ${id} ${p === undefined ? 'is already resolved' : 'is being resolved'}`, ErrorCode.TRANSACTION_ENDED);
    p.busy = true;
    return p;
  }

  /** Runs a resolution, counted: close() waits for those in progress. */
  async #resolving<T>(fn: () => Promise<T>): Promise<T> {
    this.#inProgress++;
    try {
      return await fn();
    } finally {
      this.#inProgress--;
    }
  }
  #inProgress = 0;

  /**
   * A resolution failed. If it failed after its commit point (the resolution is recorded in the
   * group state, which then fails stop) it is resolved all the same; else it may be tried again.
   */
  #failed(id: number, p: Pending): void {
    if (this.#link.state.halfResolved.has(id)) this.#pending.delete(id);
    else p.busy = false;
  }

  /** The commit: a transaction appending the message and recording HALF_DONE. */
  async #commit(id: number): Promise<HalfCommit | null> {
    const r = this.#record(id);
    const target = heldTarget(HALF_HEADERS, r);
    const t = this.#link.topic(target.topic);
    let where: HalfCommit | null = null;
    await this.#link.transaction(async (tx) => {
      if (t !== undefined && target.partition < t.partitions.length) {
        const sent = await tx.appendStored(t, target.partition, releasedMessage(HALF_HEADERS, r));
        where = { topic: sent.topic, partition: sent.partition, offset: sent.offset };
      }
      tx.recordOnCommit([OP_HALF_DONE, id, true]);
    });
    this.#resolved(id);
    return where;
  }

  async #rollback(id: number): Promise<void> {
    this.#link.state.rollBackHalf(id);
    await this.#link.groupLog.confirm();
    this.#resolved(id);
  }

  #resolved(id: number): void {
    this.#pending.delete(id);
    const below = this.#link.state.halfResolved.below;
    if (below > this.#log.startOffset) this.#log.retain(this.#link.clock.now(), below);
  }

  #record(id: number): LogRecord {
    const [r] = this.#log.read(id, { maxRecords: 1 });
    if (r === undefined || r.offset !== id) throw new SluiceError(`half message ${id} is missing from the half log`, ErrorCode.CORRUPT);
    return r;
  }

  /** At open: every record of the half log not resolved is pending. */
  async #scan(): Promise<void> {
    const resolved = this.#link.state.halfResolved;
    const log = this.#log;
    const afterMs = this.#options.afterMs;
    for (let at = Math.max(log.startOffset, resolved.below); at < log.endOffset; ) {
      const { count, offsets, timestamps, nextOffset } = log.readTimes(at, { maxRecords: SCAN_STEP });
      for (let i = 0; i < count; i++) {
        if (resolved.has(offsets[i])) continue;
        this.#pending.set(offsets[i], { preparedAt: timestamps[i], checks: 0, checkAt: timestamps[i] + afterMs, busy: false, checking: null });
      }
      if (nextOffset <= at) break;
      at = nextOffset;
    }
  }

  /** Arms the check timer for the earliest check due (only with a callback registered). */
  #arm(): void {
    if (this.#closed || this.#check === null || this.#timer !== null) return;
    let next = Infinity;
    for (const p of this.#pending.values()) if (!p.busy && p.checkAt < next) next = p.checkAt;
    if (next === Infinity) return;
    const wait = next - this.#link.clock.now();
    if (wait <= 0) {
      // Due now: on the next turn (a manual clock runs its timers only when advanced).
      const immediate = setImmediate(() => this.#runChecks());
      this.#timer = immediate;
      this.#timerIsImmediate = true;
      return;
    }
    this.#timerIsImmediate = false;
    this.#timer = this.#link.clock.setTimeout(() => this.#runChecks(), wait);
  }

  #runChecks(): void {
    this.#timer = null;
    if (this.#closed || this.#check === null) return;
    const now = this.#link.clock.now();
    for (const [id, p] of this.#pending) {
      if (this.#checking >= CHECKS_IN_FLIGHT) break;
      if (p.busy || p.checkAt > now) continue;
      p.busy = true;
      this.#checking++;
      p.checking = this.#checkOne(id, p).finally(() => {
        p.checking = null;
        this.#checking--;
        this.#arm();
      });
    }
    // At the limit, each check that ends arms again.
    if (this.#checking < CHECKS_IN_FLIGHT) this.#arm();
  }

  /** Asks the application about one half message and acts on the answer. */
  async #checkOne(id: number, p: Pending): Promise<void> {
    let answer: CheckAnswer = 'unknown';
    try {
      const r = this.#record(id);
      const target = heldTarget(HALF_HEADERS, r);
      const m = releasedMessage(HALF_HEADERS, r);
      const headers = (m.headers as [string, Buffer | null][]).map(([key, value]) => ({ key, value }));
      const got = await this.#check!({ id, topic: target.topic, partition: target.partition, key: r.key, value: r.value, headers, preparedAt: p.preparedAt, checks: p.checks });
      if (got === 'commit' || got === 'rollback' || got === 'unknown') answer = got;
    } catch {
      answer = 'unknown'; // a callback that throws does not know yet
    }
    if (this.#closed) {
      p.busy = false; // closed meanwhile: the answer is ignored (asked again after the next open)
      return;
    }
    try {
      p.checks++;
      if (answer === 'commit') await this.#resolving(() => this.#commit(id));
      else if (answer === 'rollback' || p.checks >= this.#options.maxChecks) await this.#resolving(() => this.#rollback(id));
      else p.checkAt = this.#link.clock.now() + this.#options.everyMs;
    } catch {
      // Failed before its commit point: asked again later (after it, it is resolved all the same).
      if (this.#link.state.halfResolved.has(id)) this.#pending.delete(id);
      p.checkAt = this.#link.clock.now() + this.#options.everyMs;
    } finally {
      p.busy = false;
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new SluiceError('the broker is closed', ErrorCode.CLOSED);
  }
}

/** A prepared half message: commit or roll it back (once); see HalfStore. */
export class PreparedMessage {
  readonly #store: HalfStore;
  /** Its id, as the check-back callback gets it. */
  readonly id: number;
  readonly topic: string;
  readonly partition: number;

  /** @internal Made by Producer.prepare(). */
  constructor(store: HalfStore, id: number, topic: string, partition: number) {
    this.#store = store;
    this.id = id;
    this.topic = topic;
    this.partition = partition;
  }

  /** Delivers it: appended to its topic; resolves with where it went (null if the topic was deleted meanwhile). */
  commit(): Promise<HalfCommit | null> {
    try {
      return this.#store.commit(this.id);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Drops it: it is never delivered. */
  rollback(): Promise<void> {
    try {
      return this.#store.rollback(this.id);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
