/**
 * A delivery model: how a consumer group hands messages to its members and learns they are done.
 * Two ship with the broker: the offset model (log style: a cursor per partition, commit offsets)
 * and the ack model (queue style: per-message acks, visibility timeouts, redelivery). Each has a
 * member side (a `Delivery`, one per consumer) and a group side (a `SlotState`, one per group and
 * partition, see group-coordinator.ts). The consumer and the broker talk to both only through
 * these interfaces, so another model, or a remote member (a Kafka client in a group), plugs in as
 * one more implementation.
 *
 * Operations that belong to the other model (commit() on an ack consumer, ack() on an offset one)
 * fail with WRONG_MODEL from the delivery itself. Thread-confined (the broker's thread).
 */
import type { Clock } from '../time/clock';
import type { CommitEntry, SeekTarget } from '../consume/consumer-options';
import type { ConsumedMessage, NackOptions } from '../consume/consumed-message';
import type { GroupMember, PartitionSlot, SlotState } from '../group/group-coordinator';
import type { DeliveryModel, GroupState, PartitionProgress } from '../group/group-state';
import type { GroupStateLog } from '../group/group-state-log';
import type { StateConfirm } from '../group/state-confirm';
import type { TopicPartition } from '../topic/topic-partition';
import type { RetryBackoff } from './ack/retry-backoff';
import type { MessageFilter } from '../routing/message-filter';
import type { DeadLetterSink } from './ack/dead-letters';

export type Handler<M> = (message: M) => unknown;

/** What a run() worker needs of the consumer running it. */
export interface RunContext {
  readonly handler: Handler<ConsumedMessage>;
  readonly retryDelayMs: number;
  readonly onError: (error: unknown, message: ConsumedMessage) => void;
  /** Workers of this run. */
  readonly concurrency: number;
  /** Records read from a partition at a time. */
  readonly fetchMax: number;
  /** Ack model: messages of one key are handled one at a time, in order (run's orderBy: 'key'). */
  readonly orderByKey: boolean;
  /** The run should end now (close, abort, or every topic deleted). */
  stopped(): boolean;
  /** The close timeout passed while handlers ran: whatever they finish later must change nothing. */
  abandoned(): boolean;
  /** Resolves when something may have changed: new data, a redelivery, a free slot, a stop. */
  wait(): Promise<void>;
  /** Ends the run if the consumer has no topic left; true if it did. */
  endIfUnsubscribed(): boolean;
}

/** The member side of a delivery model: one per consumer. */
export interface Delivery extends GroupMember {
  readonly model: DeliveryModel;
  readonly topics: Set<string>;
  /** Messages handed out and not yet finished (processed, acked or nacked). */
  readonly inFlight: number;
  /** The partitions this member holds now. */
  held(): readonly PartitionSlot[];
  /** Pull consumers: up to `max` messages, partitions in turn. */
  fetch(max: number): ConsumedMessage[];
  /** Before each poll: offset model, what the previous poll returned counts as processed. */
  beforePoll(): void;
  /** One run() worker: takes messages and calls the handler until the run stops. */
  runWorker(run: RunContext): Promise<void>;
  /** Offset model: commits (see Consumer.commit); WRONG_MODEL otherwise. */
  commit(what: unknown, running: boolean): void;
  /** Offset model: moves the position in held partitions; WRONG_MODEL otherwise. */
  seek(target: SeekTarget): void;
  /** Ack model: acks one message of this group; WRONG_MODEL otherwise. */
  ack(message: unknown): StateConfirm;
  /** Ack model: gives one message back for redelivery; WRONG_MODEL otherwise. */
  nack(message: unknown, options?: NackOptions): void;
  /**
   * The close timeout passed with handlers still running: forget them. Their messages are not
   * committed (offset model) and go back for redelivery on release (ack model).
   */
  abandon(): void;
  /** The member is leaving: from now on revocations release at once. */
  beginClose(running: boolean): void;
  /** After leaving the group: what this member still has in flight goes back to the group. */
  release(): void;
}

/** What a delivery model gets from the broker to build its two sides. */
export interface MemberContext {
  /** The consumer group's name. */
  group: string;
  state: GroupState;
  clock: Clock;
  /** Wakes whoever waits on the consumer. */
  wake: () => void;
  isPaused: (topic: string, key: string) => boolean;
  topicExists: (topic: string) => boolean;
}

export interface PartitionContext {
  groupName: string;
  tp: TopicPartition;
  progress: PartitionProgress;
  state: GroupState;
  groupLog: GroupStateLog;
  clock: Clock;
  /** Where the ack model sends dead letters. */
  deadLetters: DeadLetterSink;
}

/** Options every model's member is built from (validated by consumer-options.ts). */
export interface MemberOptions {
  autoCommit: boolean;
  fetchMax: number;
  rebalanceTimeoutMs: number;
  maxInFlight: number;
  visibilityTimeoutMs: number;
  /** Ack model: the wait after a failed delivery (null: none, or run()'s retryDelayMs). */
  retryBackoff: RetryBackoff | null;
  /** Ack model: failed deliveries after which a message is dead-lettered (null: never). */
  maxDeliveries: number | null;
  /** Ack model: the dead-letter topic (null: `<topic>.dlq`). */
  deadLetterTopic: string | null;
  /** Only messages it accepts are delivered; the others are passed over (null: all). */
  filter: MessageFilter | null;
}

export interface DeliveryModelImpl {
  createMember(name: string, topics: Set<string>, options: MemberOptions, context: MemberContext): Delivery;
  createPartition(context: PartitionContext): SlotState;
}

/** Commit entries as given to Consumer.commit, for the offset model's parser. */
export type CommitInput = ConsumedMessage | readonly (ConsumedMessage | CommitEntry)[] | CommitEntry | undefined;
