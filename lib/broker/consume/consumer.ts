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
 * Lifetime: from broker.consumer() to close() (which waits for running handlers, at most
 * `closeTimeoutMs`, gives back what is in flight, leaves the group, and waits for the group state
 * to be written). The model-specific work is the Delivery's (delivery/delivery.ts); this class
 * is the same for every model.
 * Thread-confined (the broker's thread).
 */
import { ErrorCode, SluiceError } from '../../errors';
import { READ_RECORDS_MAX } from '../../limits';
import { duration, optionalDuration } from '../../validate';
import type { Delivery, Handler, RunContext } from '../delivery/delivery';
import { deliveryModels } from '../delivery/models';
import type { MemberDescription } from '../describe';
import type { GroupCoordinator, GroupMember } from '../group/group-coordinator';
import type { DeliveryModel, GroupState } from '../group/group-state';
import type { GroupStateLog } from '../group/group-state-log';
import type { StateConfirm } from '../group/state-confirm';
import type { Clock, TimerHandle } from '../time/clock';
import type { DataWaiter } from '../topic/topic-partition';
import type { TopicPattern } from '../routing/topic-pattern';
import type { AckMessage, ConsumedMessage, NackOptions, OffsetMessage } from './consumed-message';
import {
  checkCloseOptions,
  checkRefs,
  checkSignal,
  integerOption,
  type CloseOptions,
  type CommitEntry,
  type NormalizedConsumerOptions,
  type PartitionRef,
  type PollOptions,
  type RunOptions,
  type SeekTarget,
} from './consumer-options';

export type { Handler } from '../delivery/delivery';

/** What the broker lends a consumer. */
export interface ConsumerLink {
  coordinator: GroupCoordinator;
  state: GroupState;
  groupLog: GroupStateLog;
  clock: Clock;
  detach(consumer: Consumer<ConsumedMessage>): void;
  topicExists(topic: string): boolean;
}

const DEFAULT_POLL_MAX = 500;
/** A poll returns at most what one read of a partition may (lib/limits.ts). */
const POLL_MAX = READ_RECORDS_MAX;

interface RunState {
  stopped: boolean;
  /** The close timeout passed with handlers still running. */
  abandoned: boolean;
  done: Promise<void>;
  /** Resolves when the run is abandoned, so that run() returns without its stuck workers. */
  abandonedSignal: Promise<void>;
  abandon: () => void;
  /** Why the run ended, if it was not close() or the signal (every topic deleted). */
  error: SluiceError | undefined;
}

export class Consumer<M extends ConsumedMessage = ConsumedMessage> implements DataWaiter {
  readonly group: string;
  readonly name: string;
  readonly model: DeliveryModel;
  readonly #link: ConsumerLink;
  readonly #delivery: Delivery;
  readonly #fetchMax: number;
  readonly #closeTimeoutMs: number;
  #waiters: Array<() => void> = [];
  /** The promise waits without a timeout or signal share until the next wake (see #waitShared). */
  #shared: Promise<void> | null = null;
  #closing = false;
  #closePromise: Promise<void> | undefined;
  #run: RunState | null = null;
  #pausedAll = false;
  readonly #paused = new Set<string>();
  readonly #pausedTopics = new Set<string>();
  readonly #patterns: readonly TopicPattern[];

  /** @internal Made by Broker.consumer(). */
  constructor(name: string, options: NormalizedConsumerOptions, link: ConsumerLink) {
    this.group = options.group;
    this.name = name;
    this.model = options.model;
    this.#link = link;
    this.#fetchMax = options.fetchMax;
    this.#closeTimeoutMs = options.closeTimeoutMs;
    this.#patterns = options.patterns;
    this.#delivery = deliveryModels[options.model].createMember(name, new Set(options.topics), options, {
      group: options.group,
      state: link.state,
      clock: link.clock,
      wake: () => this.wake(),
      isPaused: (topic, key) => this.#isPaused(topic, key),
      topicExists: (topic) => link.topicExists(topic),
    });
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
    this.#shared = null;
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
    optionalDuration(timeoutMs, 'timeoutMs');
    const signal = checkSignal(options?.signal, 'signal');
    if (this.#run !== null) throw new TypeError('this consumer is running a handler (run()): it cannot also be polled');
    signal?.throwIfAborted();
    this.#delivery.beforePoll();
    const deadline = timeoutMs === undefined ? undefined : this.#link.clock.now() + timeoutMs;
    for (;;) {
      if (this.#closing) return [];
      this.#checkSubscribed();
      const messages = this.#delivery.fetch(max) as M[];
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
    const retryDelayMs = duration(options.retryDelayMs, 'retryDelayMs', 1000);
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError('onError must be a function');
    const signal = checkSignal(options.signal, 'signal');
    if (options.orderBy !== undefined && options.orderBy !== 'key') throw new TypeError(`orderBy must be 'key', got ${String(options.orderBy)}`);
    if (this.#run !== null) throw new TypeError('this consumer is already running a handler');
    if (this.#closing) return;
    const onError =
      options.onError ??
      ((err: unknown, msg: M) => process.emitWarning(`consumer ${this.name}: handler failed on ${msg.topic}/${msg.partition}@${msg.offset}: ${String(err)}`));
    let resolveDone!: () => void;
    let resolveAbandoned!: () => void;
    const run: RunState = {
      stopped: false,
      abandoned: false,
      done: new Promise((r) => (resolveDone = r)),
      abandonedSignal: new Promise((r) => (resolveAbandoned = r)),
      abandon: () => {
        run.abandoned = true;
        resolveAbandoned();
      },
      error: undefined,
    };
    this.#run = run;
    const stop = (): void => {
      run.stopped = true;
      this.wake();
    };
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) run.stopped = true;
    const context: RunContext = {
      handler: handler as Handler<ConsumedMessage>,
      retryDelayMs,
      onError: onError as (err: unknown, msg: ConsumedMessage) => void,
      concurrency,
      fetchMax: this.#fetchMax,
      orderByKey: options.orderBy === 'key',
      stopped: () => run.stopped || this.#closing,
      abandoned: () => run.abandoned,
      wait: () => this.#wait(undefined, undefined),
      endIfUnsubscribed: () => this.#endRunIfUnsubscribed(run),
    };
    try {
      const workers: Promise<void>[] = [];
      for (let i = 0; i < concurrency; i++) workers.push(this.#delivery.runWorker(context));
      await Promise.race([Promise.all(workers), run.abandonedSignal]);
      if (run.error !== undefined) throw run.error;
    } finally {
      signal?.removeEventListener('abort', stop);
      this.#run = null;
      resolveDone();
    }
  }

  // ---- Created and deleted topics ----

  /** @internal A topic was created: a pattern of this consumer's that matches it subscribes to it. */
  topicCreated(topic: string): void {
    if (this.#closing || this.#delivery.topics.has(topic) || !this.#patterns.some((p) => p.matches(topic))) return;
    this.#delivery.topics.add(topic);
    this.#link.coordinator.subscribe(this.#delivery, topic);
    this.wake();
  }

  /** A consumer with patterns waits for topics to match; one with names only has nothing left once they are gone. */
  #checkSubscribed(): void {
    if (this.#delivery.topics.size === 0 && this.#patterns.length === 0) throw this.#unsubscribedError();
  }

  /** Stops the run (every worker) when every topic is gone; true if it did. */
  #endRunIfUnsubscribed(run: RunState): boolean {
    if (this.#delivery.topics.size !== 0 || this.#patterns.length > 0) return false;
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
    if (timeoutMs === undefined && signal === undefined) return this.#waitShared();
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
      for (const s of this.#delivery.held()) s.tp.waitForData(this);
    });
  }

  /**
   * A wait with no timeout or signal (run() workers, polls without either): every such waiter
   * until the next wake shares one promise, so a worker's wait costs no allocation per turn of
   * the loop beyond the cycle's one promise.
   */
  #waitShared(): Promise<void> {
    if (this.#shared === null) {
      this.#shared = new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    const held = this.#delivery.held();
    for (let i = 0; i < held.length; i++) held[i].tp.waitForData(this);
    return this.#shared;
  }

  #dropWaiter(done: () => void): void {
    const i = this.#waiters.indexOf(done);
    if (i >= 0) this.#waiters.splice(i, 1);
    done();
  }

  // ---- Acks (ack model) ----

  /** Acks a message this group received (see AckMessage.ack). */
  ack(message: AckMessage): StateConfirm {
    return this.#delivery.ack(message);
  }

  /** Nacks a message this group received (see AckMessage.nack). */
  nack(message: AckMessage, options?: NackOptions): void {
    this.#delivery.nack(message, options);
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
    this.#delivery.commit(what, this.#run !== null);
    return this.#link.groupLog.confirm();
  }

  /** Moves this consumer's position in held partitions to an offset or a time (replay or skip). */
  seek(target: SeekTarget): void {
    this.#delivery.seek(target);
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
    return this.#delivery
      .held()
      .map((s) => ({ topic: s.tp.topic, partition: s.tp.index }))
      .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  describe(): MemberDescription {
    const d = this.#delivery;
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
      inFlight: d.inFlight,
      paused,
      running: this.#run !== null,
    };
  }

  // ---- Close ----

  /**
   * Stops consuming: waits for running handlers (at most `timeoutMs`, default the consumer's
   * `closeTimeoutMs`; then they are abandoned: their messages are redelivered in the ack model and
   * not committed in the offset model, and whatever they do later changes nothing), gives back
   * messages in flight (ack model) or leaves unprocessed ones to the next member (offset model,
   * after committing what was processed; for a pull consumer, everything polled counts as
   * processed), leaves the group, and resolves once the group state is written.
   */
  close(options?: CloseOptions): Promise<void> {
    const timeoutMs = checkCloseOptions(options, this.#closeTimeoutMs);
    this.#closePromise ??= this.#close(timeoutMs);
    return this.#closePromise;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    const run = this.#run;
    this.wake();
    if (run !== null) {
      run.stopped = true;
      await this.#waitForRun(run, timeoutMs);
    }
    const d = this.#delivery;
    d.beginClose(run !== null);
    this.#link.coordinator.leave(d);
    d.release();
    this.#link.detach(this as unknown as Consumer<ConsumedMessage>);
    try {
      await this.#link.groupLog.confirm();
    } catch {
      // The broker is failing or closed: nothing more this consumer can do.
    }
  }

  /** Waits for the run's handlers to finish, or abandons them after `timeoutMs`. */
  async #waitForRun(run: RunState, timeoutMs: number): Promise<void> {
    const clock = this.#link.clock;
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = clock.setTimeout(() => resolve(true), timeoutMs);
    });
    const timedOutFirst = await Promise.race([run.done.then(() => false), timedOut]);
    clock.clearTimeout(timer);
    if (timedOutFirst) {
      this.#delivery.abandon();
      run.abandon();
      await run.done;
    }
  }
}
