/**
 * What `broker.explain()` answers: where one message stands for one consumer group, and why the
 * group has not got it (or when it did). Plain data, JSON-safe; times are ms since the epoch.
 */
import type { PartitionOffsetsDescription } from '../describe';

export interface ExplainQuery {
  topic: string;
  /** The message's partition and offset, as a send confirmed them. */
  partition?: number;
  offset?: number;
  /** Or a delayed message: the `delayId` of its send's confirm (it has no offset until it is due). */
  delayId?: number;
  /** The consumer group asking. */
  group: string;
}

/**
 * Each state, in the order a message passes through them:
 *   delayed           in the delay store until `dueAt`
 *   not-written       no message at that offset yet (the partition ends before it)
 *   not-visible       appended, not sealed into a batch readers see yet
 *   in-transaction    written by a transaction still open: read-committed readers wait for it
 *   not-a-message     a transaction marker or a record of an aborted transaction: never delivered
 *   not-subscribed    the group does not consume the topic
 *   no-position       a Kafka group that has not committed this partition: it starts where its client says
 *   waiting           beyond the group's position: `ahead` messages go first
 *   in-flight         delivered to `member` and not finished (ack model: until `visibleAgainAt`)
 *   processed         offset model: processed by `member`, not committed yet
 *   retry-wait        ack model: a delivery failed; due again at `dueAt`
 *   redelivery-ready  ack model: goes out again as soon as a member takes messages
 *   key-order         ack model, per-key order: waits for the message at `behind` (same key)
 *   dead-lettering    ack model: on its way to the dead-letter topic
 *   dead-lettered     in the dead-letter topic (`deadLetter`), and acked
 *   expired           its time to live passed before it was delivered: never delivered
 *   filtered          the group's filter passes over it: never delivered
 *   acked             ack model: acked (`passedAt`, or `passedBefore` when older than the state's history)
 *   committed         offset model: the group's committed offset is past it
 *   deleted           retention deleted it (the partition starts at `startOffset`)
 * Whether the message is on stable storage yet is not a state: readers get what is sealed, durable
 * or not (a note says when it is not durable yet).
 */
export type MessageState =
  | 'delayed'
  | 'not-written'
  | 'not-visible'
  | 'in-transaction'
  | 'not-a-message'
  | 'not-subscribed'
  | 'no-position'
  | 'waiting'
  | 'in-flight'
  | 'processed'
  | 'retry-wait'
  | 'redelivery-ready'
  | 'key-order'
  | 'dead-lettering'
  | 'dead-lettered'
  | 'expired'
  | 'filtered'
  | 'acked'
  | 'committed'
  | 'deleted';

/** The group's side of the partition when the question was asked. */
export interface GroupPosition {
  model: 'offset' | 'ack';
  /** Offset model: the committed offset; ack model: the lowest unacked offset (-1: none yet). */
  committedOffset: number;
  /** The member holding the partition now, or null (no member, a read-only open, or a Kafka group's member). */
  member: string | null;
  /** Whether that member has paused the partition. */
  paused: boolean;
  /** Members of the group in this broker (Kafka clients' groups: see the server). */
  members: number;
  /** The group's filter, if it has one. */
  filter: string | null;
}

export interface Explanation {
  topic: string;
  partition: number;
  /** -1 for a delayed message not moved yet. */
  offset: number;
  group: string;
  state: MessageState;
  /** One sentence: where the message stands and what it waits for. */
  reason: string;
  /** The partition's offsets (start, end, high watermark, stable, durable). */
  offsets: PartitionOffsetsDescription;
  /** Null when the group does not consume the topic. */
  position: GroupPosition | null;
  // State details (present where they apply).
  member?: string;
  deliveryCount?: number;
  deliveredAt?: number;
  visibleAgainAt?: number;
  failures?: number;
  lastError?: string | null;
  dueAt?: number;
  /** waiting: messages of the partition before it that the group has yet to get. */
  ahead?: number;
  /** key-order: the offset it waits behind. */
  behind?: number;
  expiredAt?: number;
  deadLetter?: { topic: string; partition: number; offset: number; reason: string; deliveries: number };
  /** acked/committed/dead-lettered/...: when the group's position passed it, if the state's history still says. */
  passedAt?: number;
  /** ...or that it passed before this time (older history is checkpointed away). */
  passedBefore?: number;
  /** A delayed message's id. */
  delayId?: number;
  /** Notes that qualify the state (a read-only open knows no members, say). */
  notes: string[];
}
