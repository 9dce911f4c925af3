/**
 * Committed offsets of groups whose members live outside this process (Kafka clients, through
 * the server): stored in the broker's group state like an offset-model group's, so they survive
 * restarts, describeGroup shows their lag and bounded topics count them in their backlog. The
 * metadata string a commit carries is stored with its offset.
 * Thread-confined (the broker's thread).
 */
import { ErrorCode, SluiceError } from '../../errors';
import type { Clock } from '../time/clock';
import type { Topic } from '../topic/topic';
import type { GroupRecord, GroupState, PartitionProgress } from './group-state';
import type { GroupStateLog } from './group-state-log';
import type { StateConfirm } from './state-confirm';

/** A partition's committed offset before its first commit. */
const NOTHING_COMMITTED = -1;

export interface OffsetCommitEntry {
  topic: string;
  partition: number;
  /** The next offset the group will consume. */
  offset: number;
  metadata: string | null;
}

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
}

export interface GroupOffsetsLink {
  state: GroupState;
  groupLog: GroupStateLog;
  clock: Clock;
  /** The topic, or UNKNOWN_TOPIC. */
  topic(name: string): Topic;
}

export class GroupOffsets {
  readonly #link: GroupOffsetsLink;

  constructor(link: GroupOffsetsLink) {
    this.#link = link;
  }

  /**
   * Commits each entry (creating the group, model 'offset', on first use); resolves once the group
   * state holding them is as durable as the broker's groupSync makes it. UNKNOWN_TOPIC, RangeError
   * (a partition the topic does not have) and GROUP_MODEL_MISMATCH (an ack-model group of that
   * name) are thrown per entry by `check` before anything is committed.
   */
  commit(group: string, entries: readonly OffsetCommitEntry[]): StateConfirm {
    const g = this.#group(group, true)!;
    // Every entry found (or refused) before the first is committed.
    const progress = entries.map((e) => this.#progress(g, e.topic, e.partition));
    entries.forEach((e, i) => this.#link.state.commit(progress[i], e.offset, e.metadata));
    return this.#link.groupLog.confirm();
  }

  /** Checks an entry as commit() would, throwing its error. */
  check(group: string, topic: string, partition: number): void {
    this.#group(group, false);
    this.#topicWith(topic, partition);
  }

  /**
   * Checks an entry as commit() would and makes the group track its partition (creating the group
   * on first use; nothing committed there yet), for a commit that a transaction applies later.
   */
  prepare(group: string, topic: string, partition: number): void {
    this.check(group, topic, partition);
    this.#progress(this.#group(group, true)!, topic, partition);
  }

  /** The committed offset of each partition asked for; null where the group has none. */
  fetch(group: string, topic: string, partitions: readonly number[]): (CommittedOffset | null)[] {
    const g = this.#group(group, false);
    const parts = g?.topics.get(topic);
    return partitions.map((p) => {
      const progress = parts?.[p];
      if (progress === undefined || progress.committed === NOTHING_COMMITTED) return null;
      return { offset: progress.committed, metadata: progress.metadata ?? '' };
    });
  }

  /** The topics a group has committed offsets for. */
  topics(group: string): string[] {
    return [...(this.#group(group, false)?.topics.keys() ?? [])];
  }

  #group(name: string, create: boolean): GroupRecord | undefined {
    let g = this.#link.state.groups.get(name);
    if (g === undefined && create) g = this.#link.state.createGroup(name, 'offset', this.#link.clock.now());
    if (g !== undefined && g.model !== 'offset') throw modelMismatch(name);
    return g;
  }

  /** The topic, if it has `partition`: UNKNOWN_TOPIC or RangeError otherwise. */
  #topicWith(topic: string, partition: number): Topic {
    const t = this.#link.topic(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= t.partitions.length) throw new RangeError(`partition ${partition} does not exist (topic ${topic} has ${t.partitions.length})`);
    return t;
  }

  #progress(g: GroupRecord, topic: string, partition: number): PartitionProgress {
    const t = this.#topicWith(topic, partition);
    // A group that has not tracked the topic has nothing committed (-1) on any partition yet: a
    // Kafka client then applies its own auto.offset.reset.
    const parts = g.topics.get(topic) ?? this.#link.state.initTopic(g, topic, t.partitions.map(() => NOTHING_COMMITTED));
    return parts[partition];
  }
}

function modelMismatch(group: string): SluiceError {
  return new SluiceError(`group ${JSON.stringify(group)} uses the ack model: Kafka groups commit offsets`, ErrorCode.GROUP_MODEL_MISMATCH);
}
