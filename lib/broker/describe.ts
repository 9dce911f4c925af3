/**
 * What describe() returns on a broker, topic, group and consumer: plain data (JSON-safe numbers,
 * strings, arrays and objects), a snapshot taken when it is called.
 */
import type { DurationSnapshot } from '../storage/duration-histogram';
import type { DeliveryModel } from './group/group-state';
import type { TopicConfig } from './topic/topic-config';

/** A partition's offsets (what explain() and a reader need). */
export interface PartitionOffsetsDescription {
  partition: number;
  /** The first offset still retained. */
  startOffset: number;
  /** The offset the next message gets. */
  endOffset: number;
  /** Offsets below this are readable. */
  highWatermark: number;
  /** Offsets below this are readable and decided: the high watermark, or the first offset of the earliest open transaction. */
  lastStableOffset: number;
  /** Offsets below this are on stable storage. */
  durableOffset: number;
}

/** What went through a partition since the broker opened it. */
export interface PartitionTraffic {
  /** Offsets appended (messages, and the markers of transactions). */
  messagesIn: number;
  /** Bytes appended to the log: the records in their RecordBatch framing, as stored. */
  bytesIn: number;
  /**
   * Messages handed to consumers: read for in-process deliveries (redeliveries and re-reads after
   * a rebalance or seek included) and sent in Kafka fetch responses (from the fetch offset).
   */
  messagesOut: number;
  /** Their bytes: key and value bytes for in-process deliveries, the batches' bytes for Kafka fetches. */
  bytesOut: number;
}

export interface PartitionDescription extends PartitionOffsetsDescription, PartitionTraffic {
  /** Why the partition takes no more writes (fail-stop after a failed write or sync, or offline while Broker.reopenPartition runs or after its open failed), or null. */
  failure: string | null;
}

export interface TopicDescription {
  name: string;
  config: TopicConfig;
  createdAt: number;
  partitions: PartitionDescription[];
  /** Messages retained, all partitions together. */
  messages: number;
  /** What the slowest group tracking the topic has not consumed (every retained message if none does). */
  backlog: number;
  /** Sends waiting for room (bounded topics). */
  waitingSends: number;
  /** The groups tracking the topic. */
  groups: string[];
  /** Every partition's confirms since open: from the confirm request to its settling (durable for sync 'always', visible otherwise). */
  confirmLatency: DurationSnapshot;
  /** Every partition's sync rounds since open (fdatasyncs, directory fsyncs, index and metadata writes). */
  syncDuration: DurationSnapshot;
}

export interface GroupPartitionDescription {
  topic: string;
  partition: number;
  /** The consumer holding the partition, or null. */
  member: string | null;
  /** Offset model: the committed offset; ack model: the lowest unacked offset. */
  committedOffset: number;
  endOffset: number;
  /**
   * What the group has yet to consume of what is retained: endOffset - max(committedOffset,
   * the partition's startOffset) - ackedAhead. The same count the topic's backlog is made of.
   */
  lag: number;
  /** Messages handed out and not yet processed (offset model) or acked/nacked (ack model). */
  inFlight: number;
  /** Deliveries of a message after its first (ack model: durable count; offset model: retries and forced handovers since open). */
  redeliveries: number;
  /** Ack model: acked offsets above the committed offset. */
  ackedAhead: number;
  /** Ack model: messages waiting to be delivered again (nack delays included). */
  pendingRedelivery: number;
}

export interface MemberDescription {
  name: string;
  group: string;
  model: DeliveryModel;
  topics: string[];
  assignment: { topic: string; partition: number }[];
  inFlight: number;
  paused: boolean | { topic: string; partition?: number }[];
  running: boolean;
}

export interface GroupDescription {
  name: string;
  model: DeliveryModel;
  createdAt: number;
  members: MemberDescription[];
  partitions: GroupPartitionDescription[];
  /** Sums over the partitions. */
  lag: number;
  inFlight: number;
  redeliveries: number;
  /** Messages this group sent to dead-letter topics since the broker opened. */
  deadLetters: number;
}

/** The delay store (delay/delay-store.ts). */
export interface DelayDescription {
  /** Delayed messages not moved yet. */
  pending: number;
  /** When the earliest is due (ms), or null when none is pending or it is not known yet. */
  nextDueAt: number | null;
  /** Due messages dropped because their topic was gone. */
  dropped: number;
}

/** The half messages (txn/half-messages.ts). */
export interface HalfDescription {
  /** Half messages prepared and not resolved yet. */
  pending: number;
}

export interface BrokerDescription {
  dir: string;
  topics: TopicDescription[];
  groups: GroupDescription[];
  groupLog: { generation: number; checkpoints: number };
  /** Delayed messages waiting in the delay store (broker/delay/); null on a read-only broker. */
  delayed: DelayDescription | null;
  /** Half messages prepared and not resolved (txn/half-messages.ts); null on a read-only broker. */
  half: HalfDescription | null;
}
