/**
 * A member of a consumer group, and the API applications consume through.
 *
 * Pull: `poll(max)` resolves with up to `max` messages as soon as there is at least one (or with
 * none after `timeoutMs`, on abort or close); `for await (const msg of consumer)` yields them one
 * by one until the consumer closes. Push: `run(handler, {concurrency})` calls the handler for every
 * message until the consumer closes or the run's signal aborts. Offset-model groups process a
 * partition in order (concurrency is across partitions) and commit after processing; ack-model
 * groups ack when the handler succeeds and nack (redeliver after `retryDelayMs`) when it throws,
 * with up to `concurrency` messages processed at once.
 *
 * Once every topic the consumer subscribes to is deleted it has nothing left to wait for: poll()
 * and for-await reject with UNKNOWN_TOPIC, and run() stops its workers and rejects with it (the
 * consumer stays open until close(), so that the application notices rather than waits forever).
 *
 * A sync handler costs no promise: the consumer only awaits what returns a thenable.
 * Lifetime: from broker.consumer() to close() (which waits for running handlers, gives back what
 * is in flight, leaves the group, and waits for the group state to be written).
 * Thread-confined (the broker's thread).
 */
import { ErrorCode, SluiceError } from '../../errors';
import { AckDelivery } from '../delivery/ack/ack-delivery';
import type { Clock, TimerHandle } from '../time/clock';
import { AckMessage, ConsumedMessage, OffsetMessage, type NackOptions } from './consumed-message';
import type { MemberDescription } from '../describe';
import type { GroupCoordinator, GroupMember } from '../group/group-coordinator';
import {
  checkRefs,
  checkSignal,
  integerOption,
  type CommitEntry,
  type NormalizedConsumerOptions,
  type PartitionRef,
  type PollOptions,
  type RunOptions,
  type SeekTarget,
} from './consumer-options';
import type { DeliveryModel, GroupState } from '../group/group-state';
import type { GroupStateLog } from '../group/group-state-log';
import { OffsetDelivery, type OffsetChunk } from '../delivery/offset/offset-delivery';
import type { StateConfirm } from '../group/state-confirm';
import type { DataWaiter } from '../topic/topic-partition';

/** What the broker lends a consumer. */
export interface ConsumerLink {
  coordinator: GroupCoordinator;
  state: GroupState;
  groupLog: GroupStateLog;
  clock: Clock;
  detach(consumer: Consumer<ConsumedMessage>): void;
  topicExists(topic: string): boolean;
}

export type Handler<M> = (message: M) => unknown;

const DEFAULT_POLL_MAX = 500;
const POLL_MAX = 65536;

interface RunState {
  stopped: boolean;
  done: Promise<void>;
  /** Why the run ended, if it was not close() or the signal (every topic deleted). */
  error: SluiceError | undefined;
}

export class Consumer<M extends ConsumedMessage = ConsumedMessage> implements DataWaiter {
  readonly group: string;
  readonly name: string;
  readonly model: DeliveryModel;
  readonly #link: ConsumerLink;
  readonly #delivery: OffsetDelivery | AckDelivery;
  readonly #fetchMax: number;
  #waiters: Array<() => void> = [];
  #closing = false;
  #closePromise: Promise<void> | undefined;
  #run: RunState | null = null;
  #pausedAll = false;
  readonly #paused = new Set<string>();
  readonly #pausedTopics = new Set<string>();

  /** @internal Made by Broker.consumer(). */
  constructor(name: string, options: NormalizedConsumerOptions, link: ConsumerLink) {
    this.group = options.group;
    this.name = name;
    this.model = options.model;
    this.#link = link;
    this.#fetchMax = options.fetchMax;
    const wake = (): void => this.wake();
    const isPaused = (topic: string, key: string): boolean => this.#isPaused(topic, key);
    this.#delivery =
      options.model === 'offset'
        ? new OffsetDelivery(name, new Set(options.topics), options, link.state, link.clock, wake, isPaused)
        : new AckDelivery(name, new Set(options.topics), options, wake, isPaused);
    if (options.signal !== undefined) {
      if (options.signal.aborted) this.#closing = true;
      else options.signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  /** @internal The coordinator's handle on this consumer. */
  get member(): GroupMember {
    return this.#delivery;
  }

  get closed(): boolean {
    return this.#closing;
  }

  /** @internal Wakes whoever waits for messages (new data, a redelivery, a free in-flight slot...). */
  wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  // ---- Pull ----

  /** Up to `max` messages: waits for at least one, or until timeoutMs, abort or close ([]). */
  async poll(max: number = DEFAULT_POLL_MAX, options?: PollOptions): Promise<M[]> {
    integerOption(max, 'max', 1, POLL_MAX, DEFAULT_POLL_MAX);
    if (options !== undefined && (options === null || typeof options !== 'object')) throw new TypeError('poll options must be an object');
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) throw new RangeError('timeoutMs must be a non-negative number');
    const signal = checkSignal(options?.signal, 'signal');
    if (this.#run !== null) throw new TypeError('this consumer is running a handler (run()): it cannot also be polled');
    signal?.throwIfAborted();
    if (this.#delivery instanceof OffsetDelivery) this.#delivery.completeHandedOut();
    const deadline = timeoutMs === undefined ? undefined : this.#link.clock.now() + timeoutMs;
    for (;;) {
      if (this.#closing) return [];
      this.#checkSubscribed();
      const messages = this.#delivery.fetch(max) as unknown as M[];
      if (messages.length > 0) return messages;
      let remaining: number | undefined;
      if (deadline !== undefined) {
        remaining = deadline - this.#link.clock.now();
        if (remaining <= 0) return [];
      }
      await this.#wait(remaining, signal);
      signal?.throwIfAborted();
    }
  }

  /**
   * Yields messages until the consumer closes. Leaving the loop does not commit the message in
   * hand; closing the consumer does, with autoCommit (as for poll()).
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<M, void, undefined> {
    for (;;) {
      const [msg] = await this.poll(1);
      if (msg === undefined) return;
      yield msg;
    }
  }

  // ---- Push ----

  /** Calls `handler` for every message until close() or the signal aborts. */
  async run(handler: Handler<M>, options: RunOptions<M> = {}): Promise<void> {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    if (options === null || typeof options !== 'object') throw new TypeError('run options must be an object');
    const concurrency = integerOption(options.concurrency, 'concurrency', 1, 4096, 1);
    const retryDelayMs = options.retryDelayMs ?? 1000;
    if (typeof retryDelayMs !== 'number' || !(retryDelayMs >= 0)) throw new RangeError('retryDelayMs must be a non-negative number');
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError('onError must be a function');
    const signal = checkSignal(options.signal, 'signal');
    if (this.#run !== null) throw new TypeError('this consumer is already running a handler');
    if (this.#closing) return;
    const onError =
      options.onError ??
      ((err: unknown, msg: M) => process.emitWarning(`consumer ${this.name}: handler failed on ${msg.topic}/${msg.partition}@${msg.offset}: ${String(err)}`));
    let resolveDone!: () => void;
    const run: RunState = { stopped: false, done: new Promise((r) => (resolveDone = r)), error: undefined };
    this.#run = run;
    const stop = (): void => {
      run.stopped = true;
      this.wake();
    };
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) run.stopped = true;
    try {
      const workers: Promise<void>[] = [];
      for (let i = 0; i < concurrency; i++) {
        workers.push(
          this.#delivery instanceof OffsetDelivery
            ? this.#offsetWorker(this.#delivery, handler, run, retryDelayMs, onError)
            : this.#ackWorker(this.#delivery, handler, run, retryDelayMs, onError, concurrency),
        );
      }
      await Promise.all(workers);
      if (run.error !== undefined) throw run.error;
    } finally {
      signal?.removeEventListener('abort', stop);
      this.#run = null;
      resolveDone();
    }
  }

  async #offsetWorker(d: OffsetDelivery, handler: Handler<M>, run: RunState, retryDelayMs: number, onError: (e: unknown, m: M) => void): Promise<void> {
    const Message = OffsetMessage; // one module lookup, not one per message
    while (!run.stopped && !this.#closing) {
      const chunk = d.fetchChunk(this.#fetchMax);
      if (chunk === null) {
        if (this.#endRunIfUnsubscribed(run)) break;
        await this.#wait(undefined, undefined);
        continue;
      }
      const { records, end, cursor } = chunk;
      let next = records[chunk.start].offset;
      // rewind() releases the chunk itself; every other way out (break, a throwing onError)
      // releases it in the finally, so the cursor never stays busy.
      let released = false;
      try {
        for (let i = chunk.start; i < end; i++) {
          if (run.stopped || d.chunkStale(chunk)) break;
          const record = records[i];
          const msg = new Message(record, cursor) as unknown as M;
          // Everything before this message is processed (what commit() inside a handler commits).
          cursor.processedOffset = record.offset; // the epoch is current: chunkStale() was just false
          try {
            msg.decodeValue(); // an undecodable value fails the delivery as a handler error would
            const r = handler(msg) as PromiseLike<unknown> | undefined;
            if (r !== undefined && r !== null && typeof r.then === 'function') {
              await r;
              // Processed and committed before the next await; a sync handler's progress is
              // recorded once, by endChunk.
              d.processedUpTo(chunk, record.offset + 1);
            }
          } catch (err) {
            released = true;
            d.rewind(chunk, record.offset, retryDelayMs);
            onError(err, msg);
            break;
          }
          next = record.offset + 1;
        }
      } finally {
        if (!released) d.endChunk(chunk as OffsetChunk, next);
      }
    }
  }

  async #ackWorker(
    d: AckDelivery,
    handler: Handler<M>,
    run: RunState,
    retryDelayMs: number,
    onError: (e: unknown, m: M) => void,
    concurrency: number,
  ): Promise<void> {
    const batchMax = Math.max(1, Math.min(this.#fetchMax, Math.floor(d.maxInFlight / concurrency)));
    // Fetched messages are in flight, their visibility timeout running, while they wait for this
    // worker: so it fetches only the message it is about to handle while the handler is async,
    // and batches (doubling up to batchMax) only while it returns synchronously, when a batch is
    // handled within the tick.
    let batch = 1;
    while (!run.stopped && !this.#closing) {
      const messages = d.fetch(batch);
      if (messages.length === 0) {
        if (this.#endRunIfUnsubscribed(run)) break;
        await this.#wait(undefined, undefined);
        continue;
      }
      for (let i = 0; i < messages.length; i++) {
        const msg = messages[i];
        if (run.stopped || this.#closing) {
          if (msg.state === 'in-flight') msg.nack();
          continue;
        }
        if (msg.state !== 'in-flight') continue; // timed out while waiting its turn: redelivered
        try {
          msg.decodeValue(); // an undecodable value fails the delivery as a handler error would
          const r = handler(msg as unknown as M) as PromiseLike<unknown> | undefined;
          if (r !== undefined && r !== null && typeof r.then === 'function') {
            batch = 1;
            await r;
          } else if (batch < batchMax) {
            batch = Math.min(batchMax, batch * 2);
          }
        } catch (err) {
          if (msg.state === 'in-flight') msg.nack({ delayMs: retryDelayMs });
          onError(err, msg as unknown as M);
          continue;
        }
        msg.target.autoAck(msg);
      }
    }
  }

  // ---- Deleted topics ----

  #checkSubscribed(): void {
    if (this.#delivery.topics.size === 0) throw this.#unsubscribedError();
  }

  /** Stops the run (every worker) when every topic is gone; true if it did. */
  #endRunIfUnsubscribed(run: RunState): boolean {
    if (this.#delivery.topics.size !== 0) return false;
    run.error ??= this.#unsubscribedError();
    run.stopped = true;
    this.wake(); // the other workers
    return true;
  }

  #unsubscribedError(): SluiceError {
    return new SluiceError(`every topic consumer ${this.name} subscribes to was deleted`, ErrorCode.UNKNOWN_TOPIC);
  }

  // ---- Waiting ----

  #wait(timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      const onAbort = (): void => this.#dropWaiter(done);
      const done = (): void => {
        if (timer !== undefined) this.#link.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiters.push(done);
      if (timeoutMs !== undefined) timer = this.#link.clock.setTimeout(() => this.#dropWaiter(done), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#watchData();
    });
  }

  #dropWaiter(done: () => void): void {
    const i = this.#waiters.indexOf(done);
    if (i >= 0) this.#waiters.splice(i, 1);
    done();
  }

  #watchData(): void {
    const d = this.#delivery;
    if (d instanceof OffsetDelivery) for (const c of d.cursors) c.slot.tp.waitForData(this);
    else for (const s of d.held) s.tp.waitForData(this);
  }

  // ---- Acks (ack model) ----

  /** Acks a message this group received (see AckMessage.ack). */
  ack(message: AckMessage): StateConfirm {
    return this.#ackable(message).ack();
  }

  /** Nacks a message this group received (see AckMessage.nack). */
  nack(message: AckMessage, options?: NackOptions): void {
    this.#ackable(message).nack(options);
  }

  #ackable(message: unknown): AckMessage {
    if (this.model !== 'ack') throw new SluiceError(`group ${this.group} uses the offset model: commit offsets instead of acking`, ErrorCode.WRONG_MODEL);
    if (!(message instanceof AckMessage)) throw new TypeError('ack() and nack() take a message received from an ack-model consumer');
    if (message.group !== this.group) {
      throw new SluiceError(`message ${message.topic}/${message.partition}@${message.offset} belongs to group ${message.group}, not ${this.group}`, ErrorCode.WRONG_GROUP);
    }
    return message;
  }

  // ---- Offsets (offset model) ----

  /**
   * Commits offsets; the confirm settles when the commit is durable. With no argument: what was
   * processed in every partition this consumer holds (for pull consumers, everything polled so far).
   * With messages: the offset after each; with entries: those offsets. A message received before
   * a seek() of its partition is skipped: committing it would undo the seek (a handler finishing
   * an old message after the application moved the position must not move it back).
   */
  commit(what?: OffsetMessage | readonly (OffsetMessage | CommitEntry)[] | CommitEntry): StateConfirm {
    const d = this.#offsetDelivery('commit');
    if (what === undefined) {
      if (this.#run === null) d.completeHandedOut();
      d.commitProcessed();
    } else {
      const list = Array.isArray(what) ? what : [what];
      const entries: Array<CommitEntry | null> = list.map((x: unknown) => {
        if (x instanceof OffsetMessage) {
          if (x.source !== undefined && !d.cursors.some((c) => c === x.source)) {
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
      for (const e of entries) if (e !== null) d.commitOffset(e.topic, e.partition, e.offset);
    }
    return this.#link.groupLog.confirm();
  }

  /** Moves this consumer's position in held partitions to an offset or a time (replay or skip). */
  seek(target: SeekTarget): void {
    const d = this.#offsetDelivery('seek');
    if (target === null || typeof target !== 'object') throw new TypeError('seek takes {topic, partition?, offset | timestamp}');
    const { topic, partition, offset, timestamp } = target;
    if (typeof topic !== 'string') throw new TypeError('seek: topic must be a string');
    if (!this.#link.topicExists(topic)) throw new SluiceError(`unknown topic ${JSON.stringify(topic)}`, ErrorCode.UNKNOWN_TOPIC);
    if (partition !== undefined) integerOption(partition, 'partition', 0, Number.MAX_SAFE_INTEGER, 0);
    if ((offset === undefined) === (timestamp === undefined)) throw new TypeError('seek needs exactly one of offset and timestamp');
    if (offset !== undefined) {
      integerOption(offset, 'offset', 0, Number.MAX_SAFE_INTEGER, 0);
      d.seek(topic, partition, () => offset);
    } else {
      if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) throw new TypeError('timestamp must be an integer number of milliseconds');
      d.seek(topic, partition, (c) => c.slot.tp.log.offsetForTime(timestamp) ?? c.slot.tp.log.endOffset);
    }
  }

  #offsetDelivery(what: string): OffsetDelivery {
    if (!(this.#delivery instanceof OffsetDelivery)) {
      throw new SluiceError(`${what}() is for offset-model groups; group ${this.group} uses the ack model`, ErrorCode.WRONG_MODEL);
    }
    if (this.#closing) throw new SluiceError(`consumer ${this.name} is closed`, ErrorCode.CLOSED);
    return this.#delivery;
  }

  // ---- Flow control ----

  /**
   * Stops taking messages from the given topics/partitions (all, with no argument). A topic the
   * consumer does not subscribe to is an UNKNOWN_TOPIC error, and nothing is paused.
   */
  pause(targets?: readonly PartitionRef[]): void {
    if (targets === undefined) {
      this.#pausedAll = true;
      return;
    }
    const refs = checkRefs(targets);
    for (const t of refs) {
      if (!this.#delivery.topics.has(t.topic)) {
        throw new SluiceError(`consumer ${this.name} does not subscribe to topic ${JSON.stringify(t.topic)}`, ErrorCode.UNKNOWN_TOPIC);
      }
    }
    for (const t of refs) (t.partition === undefined ? this.#pausedTopics : this.#paused).add(t.partition === undefined ? t.topic : `${t.topic}:${t.partition}`);
  }

  /** Takes messages again from the given topics/partitions (all, with no argument). */
  resume(targets?: readonly PartitionRef[]): void {
    if (targets === undefined) {
      this.#pausedAll = false;
      this.#paused.clear();
      this.#pausedTopics.clear();
    } else {
      for (const t of checkRefs(targets)) (t.partition === undefined ? this.#pausedTopics : this.#paused).delete(t.partition === undefined ? t.topic : `${t.topic}:${t.partition}`);
    }
    this.wake();
  }

  #isPaused(topic: string, key: string): boolean {
    if (this.#pausedAll) return true;
    if (this.#paused.size === 0 && this.#pausedTopics.size === 0) return false;
    return this.#paused.has(key) || this.#pausedTopics.has(topic);
  }

  /** The partitions this consumer holds now. */
  assignment(): { topic: string; partition: number }[] {
    const d = this.#delivery;
    const slots = d instanceof OffsetDelivery ? d.cursors.map((c) => c.slot) : d.held;
    return slots.map((s) => ({ topic: s.tp.topic, partition: s.tp.index })).sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  describe(): MemberDescription {
    const d = this.#delivery;
    const inFlight = d instanceof OffsetDelivery ? d.cursors.reduce((n, c) => n + c.inProgress, 0) : d.inFlight;
    const paused = this.#pausedAll
      ? true
      : this.#paused.size + this.#pausedTopics.size === 0
        ? false
        : [
            ...[...this.#pausedTopics].map((topic) => ({ topic })),
            ...[...this.#paused].map((k) => {
              const i = k.lastIndexOf(':');
              return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)) };
            }),
          ];
    return {
      name: this.name,
      group: this.group,
      model: this.model,
      topics: [...d.topics].sort(),
      assignment: this.assignment(),
      inFlight,
      paused,
      running: this.#run !== null,
    };
  }

  // ---- Close ----

  /**
   * Stops consuming: waits for running handlers, gives back messages in flight (ack model) or
   * leaves unprocessed ones to the next member (offset model, after committing what was
   * processed; for a pull consumer, everything polled counts as processed), leaves the group,
   * and resolves once the group state is written.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    const running = this.#run !== null;
    if (this.#run !== null) this.#run.stopped = true;
    this.wake();
    if (this.#run !== null) await this.#run.done;
    const d = this.#delivery;
    // A pull consumer's last poll counts as processed on close, as the next poll would have made
    // it (Kafka commits on close too); committed with autoCommit, when the partitions are released.
    if (!running && d instanceof OffsetDelivery) d.completeHandedOut();
    d.beginClose();
    const coordinator = this.#link.coordinator;
    if (d instanceof AckDelivery) for (const s of coordinator.allSlots()) s.ack?.releaseMember(d);
    coordinator.leave(d);
    this.#link.detach(this as unknown as Consumer<ConsumedMessage>);
    try {
      await this.#link.groupLog.confirm();
    } catch {
      // The broker is failing or closed: nothing more this consumer can do.
    }
  }
}
