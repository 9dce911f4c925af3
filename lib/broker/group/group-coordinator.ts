/**
 * Membership and partition assignment of one consumer group. Every member subscribed to a topic
 * gets a share of its partitions (each partition to exactly one member: point-to-point inside the
 * group); every group gets every message (publish/subscribe across groups).
 *
 * Assignment is balanced and sticky: on a join or leave each member keeps the partitions it
 * already had up to its fair share (partitions / members, the first `partitions % members` members
 * by current load getting one more), and only the rest move, to the least loaded members.
 *
 * Handover is cooperative, so a rebalance loses nothing and, in the normal case, repeats nothing.
 * A partition moving away is revoked from its holder, which stops taking messages from it and
 * releases it once nothing it handed out of it is still being processed (offset model: after
 * committing what was processed; ack model: at once, because unacked messages stay in flight
 * until acked, nacked or timed out, whoever holds the partition). Only then is it granted to its
 * new member, which starts from the group's committed position. Thread-confined.
 */
import { ErrorCode, SluiceError } from '../../errors';
import type { GroupRecord, PartitionProgress } from './group-state';
import type { TopicPartition } from '../topic/topic-partition';
import type { StartPosition } from '../consume/consumer-options';

/** What describeGroup reports of one partition, as the group's delivery model sees it. */
export interface SlotReport {
  /** Messages handed out and not yet finished. */
  inFlight: number;
  redeliveries: number;
  ackedAhead: number;
  pendingRedelivery: number;
}

/** What a delivery model holds in memory of one offset the group has not consumed (broker/explain/). */
export type SlotFinding =
  /** Handed out to `member` and not finished; ack model: its delivery count, and visible again at `visibleAgainAt`. */
  | { state: 'in-flight'; member: string; deliveryCount: number | null; deliveredAt: number | null; visibleAgainAt: number | null }
  /** Offset model: processed by `member`, its commit not made yet (autoCommit off, or the next poll). */
  | { state: 'processed'; member: string }
  /** Ack model: on its way to the dead-letter topic (the transaction not committed yet). */
  | { state: 'dead-lettering'; deadLetterTopic: string }
  /** Ack model: a delivery failed; it goes out again at `dueAt`. */
  | { state: 'retry-wait'; dueAt: number; failures: number; lastError: string | null }
  /** Ack model: queued to go out again as soon as a member takes messages. */
  | { state: 'redelivery-ready'; failures: number; lastError: string | null }
  /** Ack model, per-key order: waits until the message at offset `behind` (same key) is done. */
  | { state: 'key-order'; behind: number };

export interface SlotExplanation {
  finding: SlotFinding | null;
  /** Where the slot's dead letters go now (ack model, while a member holds it), else null. */
  deadLetterTopic: string | null;
}

/**
 * The group-level delivery state of one partition, owned by the group's delivery model (the ack
 * model keeps its messages in flight here; the offset model only counts redeliveries).
 */
export interface SlotState {
  report(slot: PartitionSlot): SlotReport;
  /** What the model knows in memory of `offset` (one the group has not consumed). */
  explain(slot: PartitionSlot, offset: number): SlotExplanation;
  /** The topic, group or broker is going: stop every timer; later acks fail with `reason`. */
  close(reason: SluiceError): void;
}

/** One partition of a subscribed topic, as the group sees it. */
export class PartitionSlot<S extends SlotState = SlotState> {
  readonly tp: TopicPartition;
  readonly progress: PartitionProgress;
  readonly state: S;
  /** The member that has the partition now (possibly releasing it). */
  holder: GroupMember<S> | null = null;
  /** The member the last rebalance gave it to. */
  target: GroupMember<S> | null = null;
  releasing = false;

  constructor(tp: TopicPartition, progress: PartitionProgress, state: S) {
    this.tp = tp;
    this.progress = progress;
    this.state = state;
  }
}

/** The member side of a consumer, as the coordinator drives it. */
export interface GroupMember<S extends SlotState = SlotState> {
  readonly name: string;
  readonly topics: ReadonlySet<string>;
  /** The partition is now this member's. */
  assign(slot: PartitionSlot<S>): void;
  /** Stop taking messages from it and call `released` once nothing of it is in progress. */
  revoke(slot: PartitionSlot<S>, released: () => void): void;
  /** The topic was deleted: forget it now. */
  dropTopic(topic: string): void;
  /** Messages handed out of `slot` and not yet finished (processed, acked or nacked). */
  inFlightOf(slot: PartitionSlot<S>): number;
  /**
   * Where `offset` of `slot` stands with this member: handed out and in progress, processed and
   * not committed yet, or null (not handed out, or the model tracks it in the slot: ack model).
   */
  findingOf(slot: PartitionSlot<S>, offset: number): SlotFinding | null;
}

/**
 * Makes the slots of a topic's partitions from `from` on: all of them when the coordinator first
 * sees it (initialising the group's progress at `start` if it has none), the new ones when
 * partitions are added.
 */
export type SlotFactory = (group: GroupRecord, topic: string, start: StartPosition, from: number) => PartitionSlot[];

export class GroupCoordinator {
  readonly record: GroupRecord;
  readonly #members: GroupMember[] = [];
  readonly #slots = new Map<string, PartitionSlot[]>();
  readonly #makeSlots: SlotFactory;

  constructor(record: GroupRecord, makeSlots: SlotFactory) {
    this.record = record;
    this.#makeSlots = makeSlots;
  }

  get members(): readonly GroupMember[] {
    return this.#members;
  }

  allSlots(): PartitionSlot[] {
    return [...this.#slots.values()].flat();
  }

  /** Closes every partition's delivery state (the group is deleted or the broker closes). */
  closeSlots(reason: SluiceError): void {
    for (const slots of this.#slots.values()) for (const s of slots) s.state.close(reason);
  }

  /** The slots of `topic`, made (and the group's progress initialised) if need be. */
  ensureTopic(topic: string, start: StartPosition = 'earliest'): PartitionSlot[] {
    let slots = this.#slots.get(topic);
    if (slots === undefined) {
      slots = this.#makeSlots(this.record, topic, start, 0);
      this.#slots.set(topic, slots);
    }
    return slots;
  }

  /**
   * The group's filter: every member gives the same (the first member's, while it has members).
   * TypeError for a member with another.
   */
  checkFilter(source: string | null): void {
    if (this.#members.length === 0) this.#filter = source;
    else if (source !== this.#filter) {
      throw new TypeError(`group ${JSON.stringify(this.record.name)} filters by ${this.#filter === null ? 'nothing' : JSON.stringify(this.#filter)}: every member gives the same filter`);
    }
  }
  #filter: string | null = null;

  /** The filter the group's members gave (the last members', after they left), or null. */
  get filter(): string | null {
    return this.#filter;
  }

  /** `member` subscribes to one more topic (a topic created that its pattern matches). */
  subscribe(member: GroupMember, topic: string): void {
    this.ensureTopic(topic, 'earliest');
    if (this.#members.includes(member)) this.#rebalance();
  }

  join(member: GroupMember, start: StartPosition): void {
    for (const t of member.topics) this.ensureTopic(t, start);
    this.#members.push(member);
    this.#rebalance();
  }

  leave(member: GroupMember): void {
    const i = this.#members.indexOf(member);
    if (i < 0) return;
    this.#members.splice(i, 1);
    this.#rebalance();
  }

  /** Partitions were added to the topic: their slots are made and shared out among the members. */
  topicGrown(topic: string): void {
    const slots = this.#slots.get(topic);
    if (slots === undefined) return;
    slots.push(...this.#makeSlots(this.record, topic, 'earliest', slots.length));
    this.#rebalance();
  }

  /** The topic is gone: its slots go, and its members forget it. */
  topicDeleted(topic: string): void {
    const slots = this.#slots.get(topic);
    if (slots === undefined) return;
    this.#slots.delete(topic);
    for (const m of this.#members) m.dropTopic(topic);
    const gone = new SluiceError(`topic ${JSON.stringify(topic)} was deleted`, ErrorCode.UNKNOWN_TOPIC);
    for (const s of slots) {
      s.holder = null;
      s.target = null;
      s.state.close(gone);
    }
  }

  #rebalance(): void {
    for (const [topic, slots] of this.#slots) {
      const eligible = this.#members.filter((m) => m.topics.has(topic));
      const targets = assign(slots, eligible);
      slots.forEach((slot, i) => {
        slot.target = targets[i];
      });
    }
    for (const slots of this.#slots.values()) for (const slot of slots) this.#settle(slot);
  }

  /** Moves a slot towards its target: revoke from the holder, or grant when free. */
  #settle(slot: PartitionSlot): void {
    const holder = slot.holder;
    if (holder === slot.target || slot.releasing) return;
    if (holder === null) {
      this.#grant(slot);
      return;
    }
    slot.releasing = true;
    holder.revoke(slot, () => {
      if (slot.holder !== holder || !slot.releasing) return;
      slot.releasing = false;
      slot.holder = null;
      if (this.#slots.get(slot.tp.topic)?.includes(slot)) this.#grant(slot);
    });
  }

  #grant(slot: PartitionSlot): void {
    const target = slot.target;
    if (target === null || !this.#members.includes(target)) return;
    slot.holder = target;
    target.assign(slot);
  }
}

/** Balanced, sticky assignment of `slots` to `members` (in join order); null when there are none. */
export function assign(slots: readonly PartitionSlot[], members: readonly GroupMember[]): Array<GroupMember | null> {
  const out: Array<GroupMember | null> = new Array(slots.length).fill(null);
  const n = members.length;
  if (n === 0) return out;
  const floor = Math.floor(slots.length / n);
  let extra = slots.length % n; // members that may hold floor + 1
  const counts = new Map<GroupMember, number>(members.map((m) => [m, 0]));
  // Keep current targets up to the fair share: first up to floor each, then the extras.
  for (const pass of [0, 1]) {
    slots.forEach((slot, i) => {
      const t = slot.target;
      if (out[i] !== null || t === null || !counts.has(t)) return;
      const c = counts.get(t)!;
      if (c < floor || (pass === 1 && c === floor && extra > 0)) {
        if (c === floor) extra--;
        out[i] = t;
        counts.set(t, c + 1);
      }
    });
  }
  // The rest go to the least loaded member (join order breaks ties).
  slots.forEach((_slot, i) => {
    if (out[i] !== null) return;
    let best = members[0];
    for (const m of members) if (counts.get(m)! < counts.get(best)!) best = m;
    out[i] = best;
    counts.set(best, counts.get(best)! + 1);
  });
  return out;
}
