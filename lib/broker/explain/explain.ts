/**
 * broker.explain(): why has this group not got this message? Answered from the broker's own
 * state, in phases that each either settle the question or hand it on:
 *   1. the partition: deleted by retention, not written, not sealed, held by an open transaction,
 *      or not a message at all (a marker, an aborted record);
 *   2. the group: does it consume the topic, does it have a position;
 *   3. consumed (below the position, or acked ahead): dead-lettered, expired, filtered out, or
 *      acked/committed, and when (from the group state's history);
 *   4. not consumed: what the delivery model holds in memory (in flight, waiting for a retry or
 *      its key, being dead-lettered), else waiting behind the position, and for how many.
 * A delayed message is looked up by its delay id first: pending until its due time, or moved,
 * then found in its partition and explained as any other.
 *
 * Reads are bounded: a dead-letter search reads at most DEAD_LETTER_SCAN_MAX records per
 * partition of a dead-letter topic, a moved delayed message is searched for among at most
 * MOVED_SCAN_MAX records. Thread-confined (the broker's thread); changes nothing.
 */
import { ErrorCode, SluiceError } from '../../errors';
import type { LogRecord, Message } from '../../storage/log';
import type { MemberDescription } from '../describe';
import type { DelayStatus } from '../delay/delay-store';
import { DEAD_LETTER_HEADERS, DEAD_LETTER_SUFFIX } from '../delivery/ack/dead-letters';
import type { PartitionSlot, SlotFinding } from '../group/group-coordinator';
import type { GroupRecord, PartitionProgress } from '../group/group-state';
import { MessageFilter } from '../routing/message-filter';
import type { TopicPartition } from '../topic/topic-partition';
import { expiresAt } from '../topic/ttl';
import type { Explanation, ExplainQuery, GroupPosition } from './explanation';

/** Records of one dead-letter partition read at most when looking for a dead letter. */
const DEAD_LETTER_SCAN_MAX = 100_000;
/** Records read at most when looking for where a delayed message was moved to. */
const MOVED_SCAN_MAX = 100_000;
const READ_STEP = 1024;

/** What explain needs of the broker. */
export interface ExplainLink {
  now(): number;
  /** The partition (UNKNOWN_TOPIC, RangeError for a partition it does not have). */
  partition(topic: string, index: number): TopicPartition;
  /** The partitions of a topic, or null if there is no such topic. */
  partitionsOf(topic: string): readonly TopicPartition[] | null;
  group(name: string): GroupRecord | undefined;
  /** The group's slot of the partition (its delivery model's state), or null if it does not consume the topic. */
  slot(group: GroupRecord, topic: string, partition: number): PartitionSlot | null;
  /** The group's members in this broker. */
  members(group: string): MemberDescription[];
  /** The filter the group's members gave, or null. */
  filter(group: string): string | null;
  whenPassed(group: string, topic: string, partition: number, offset: number): { at: number } | { before: number } | null;
  /** A delayed message by its delay id (null: unknown, or the delay log deleted it after moving it). */
  delayStatus(delayId: number): DelayStatus | null;
  /** Opened read-only: no members, nothing in flight is known. */
  readonly readOnly: boolean;
}

type Partial = Omit<Explanation, 'topic' | 'partition' | 'offset' | 'group' | 'offsets' | 'position' | 'notes'>;

export function explain(link: ExplainLink, q: ExplainQuery): Explanation {
  checkQuery(q);
  if (q.delayId !== undefined) return explainDelayed(link, q, q.delayId);
  return explainOffset(link, q.topic, q.partition!, q.offset!, q.group, []);
}

function checkQuery(q: ExplainQuery): void {
  if (q === null || typeof q !== 'object') throw new TypeError('explain takes {topic, partition, offset, group} or {topic, delayId, group}');
  if (typeof q.topic !== 'string') throw new TypeError('explain: topic must be a string');
  if (typeof q.group !== 'string') throw new TypeError('explain: group must be a string');
  if (q.delayId !== undefined) {
    if (!Number.isSafeInteger(q.delayId) || q.delayId < 0) throw new RangeError(`explain: delayId must be an integer >= 0, got ${String(q.delayId)}`);
    if (q.partition !== undefined || q.offset !== undefined) throw new TypeError('explain: give either a delayId or a partition and offset');
    return;
  }
  if (!Number.isSafeInteger(q.partition) || q.partition! < 0) throw new RangeError(`explain: partition must be an integer >= 0, got ${String(q.partition)}`);
  if (!Number.isSafeInteger(q.offset) || q.offset! < 0) throw new RangeError(`explain: offset must be an integer >= 0, got ${String(q.offset)}`);
}

// ---- Phase 0: a delayed message ----

function explainDelayed(link: ExplainLink, q: ExplainQuery, delayId: number): Explanation {
  const status = link.delayStatus(delayId);
  if (status === null || status.topic !== q.topic) {
    throw new SluiceError(`no delayed message ${delayId} of topic ${JSON.stringify(q.topic)} in the delay store (moved and deleted long ago, or never sent)`, ErrorCode.UNKNOWN_MESSAGE);
  }
  const tp = link.partition(status.topic, status.partition);
  if (!status.moved) {
    const head = { topic: q.topic, partition: status.partition, offset: -1, group: q.group, offsets: tp.describe(), position: positionOf(link, q.group, tp), notes: [] as string[] };
    return { ...head, state: 'delayed', reason: `delayed until ${iso(status.dueAt)}: it enters partition ${status.partition} then`, dueAt: status.dueAt, delayId };
  }
  const offset = findMoved(tp, status.message);
  if (offset === null) {
    const head = { topic: q.topic, partition: status.partition, offset: -1, group: q.group, offsets: tp.describe(), position: positionOf(link, q.group, tp), notes: [] as string[] };
    if (tp.stableOffset < tp.endOffset) {
      return { ...head, state: 'in-transaction', reason: `due (${iso(status.dueAt)}) and being moved into partition ${status.partition}: the move's transaction is not committed yet`, dueAt: status.dueAt, delayId };
    }
    const where = tp.startOffset > 0 ? 'retention deleted it' : `it is not among the ${MOVED_SCAN_MAX} messages from its time on`;
    return { ...head, state: 'deleted', reason: `moved into partition ${status.partition} when due (${iso(status.dueAt)}), but not found there: ${where}`, dueAt: status.dueAt, delayId };
  }
  const e = explainOffset(link, q.topic, status.partition, offset, q.group, [`delayed message ${delayId}, moved into the topic when due (${iso(status.dueAt)})`]);
  return { ...e, delayId, dueAt: status.dueAt };
}

/** The offset a moved delayed message got: the first record from its timestamp on equal to it. */
function findMoved(tp: TopicPartition, m: Message): number | null {
  const from = Math.max(tp.startOffset, tp.offsetForTime(m.timestamp ?? 0));
  let read = 0;
  for (let at = from; at < tp.stableOffset && read < MOVED_SCAN_MAX; ) {
    const { records, nextOffset } = tp.readRecords(at, { maxRecords: READ_STEP });
    for (const r of records) if (sameMessage(r, m)) return r.offset;
    read += records.length;
    if (nextOffset <= at) break;
    at = nextOffset;
  }
  return null;
}

function sameMessage(r: LogRecord, m: Message): boolean {
  if (r.timestamp !== m.timestamp || !sameBytes(r.key, m.key) || !sameBytes(r.value, m.value)) return false;
  const hs = (m.headers ?? []) as ReadonlyArray<readonly [string, string | Uint8Array | null]>;
  return r.headers.length === hs.length && r.headers.every((h, i) => h.key === hs[i][0] && sameBytes(h.value, hs[i][1]));
}

function sameBytes(a: Buffer | null, b: string | Uint8Array | null | undefined): boolean {
  if (a === null || b === null || b === undefined) return a === null && (b === null || b === undefined);
  return a.equals(typeof b === 'string' ? Buffer.from(b) : b);
}

// ---- Phase 1: the partition ----

function explainOffset(link: ExplainLink, topic: string, partition: number, offset: number, group: string, notes: string[]): Explanation {
  const tp = link.partition(topic, partition);
  const offsets = tp.describe();
  if (link.group(group) === undefined) throw new SluiceError(`unknown group ${JSON.stringify(group)}`, ErrorCode.UNKNOWN_GROUP);
  const head = { topic, partition, offset, group, offsets, position: positionOf(link, group, tp), notes };
  if (offset >= offsets.highWatermark && offset < offsets.endOffset) notes.push('appended, not sealed yet: readers see it once its batch is sealed (within the tick)');
  else if (offset >= offsets.durableOffset && offset < offsets.endOffset) notes.push(`not on stable storage yet (the durable offset is ${offsets.durableOffset}); readers get it anyway`);
  const early = partitionState(tp, offset);
  if (early !== null) return { ...head, ...early };
  const record = tp.read(offset, { maxRecords: 1 })[0];
  if (record === undefined || record.offset !== offset) {
    return { ...head, state: 'not-a-message', reason: `offset ${offset} is a transaction marker or a record of an aborted transaction: no consumer ever gets it` };
  }
  return { ...head, ...groupState(link, group, tp, record, notes) };
}

function partitionState(tp: TopicPartition, offset: number): Partial | null {
  const o = tp.describe();
  if (offset < o.startOffset) return { state: 'deleted', reason: `deleted by retention: partition ${tp.index} starts at offset ${o.startOffset} now` };
  if (offset >= o.endOffset) return { state: 'not-written', reason: `no message at offset ${offset} yet: partition ${tp.index} ends at ${o.endOffset}` };
  if (offset >= o.highWatermark) return { state: 'not-visible', reason: `appended but not sealed yet: readers see offsets below ${o.highWatermark}` };
  if (offset >= o.lastStableOffset) {
    return { state: 'in-transaction', reason: `written in or after a transaction still open (from offset ${o.lastStableOffset}): read-committed readers get it once that transaction ends` };
  }
  return null;
}

// ---- Phase 2: the group ----

function positionOf(link: ExplainLink, group: string, tp: TopicPartition): GroupPosition | null {
  const g = link.group(group);
  const slot = g === undefined ? null : link.slot(g, tp.topic, tp.index);
  if (g === undefined || slot === null) return null;
  const members = link.members(group);
  const member = slot.holder?.name ?? null;
  const m = members.find((x) => x.name === member);
  return { model: g.model, committedOffset: slot.progress.committed, member, paused: m !== undefined && pausedFor(m, tp), members: members.length, filter: link.filter(group) };
}

function pausedFor(m: MemberDescription, tp: TopicPartition): boolean {
  if (m.paused === true || m.paused === false) return m.paused;
  return m.paused.some((p) => p.topic === tp.topic && (p.partition === undefined || p.partition === tp.index));
}

function groupState(link: ExplainLink, group: string, tp: TopicPartition, record: LogRecord, notes: string[]): Partial {
  const g = link.group(group)!;
  const slot = link.slot(g, tp.topic, tp.index);
  if (slot === null) return { state: 'not-subscribed', reason: `group ${group} does not consume topic ${tp.topic}` };
  const p = slot.progress;
  if (p.committed < 0) return { state: 'no-position', reason: `group ${group} has no position in partition ${tp.index} yet: its first member starts where its client's reset policy says` };
  if (link.readOnly) notes.push('opened read-only: members and messages in flight are not known, only what the group state holds');
  if (p.isAcked(record.offset)) return consumedState(link, g, slot, tp, record);
  return pendingState(link, g, slot, tp, record);
}

// ---- Phase 3: consumed ----

function consumedState(link: ExplainLink, g: GroupRecord, slot: PartitionSlot, tp: TopicPartition, record: LogRecord): Partial {
  const when = link.whenPassed(g.name, tp.topic, tp.index, record.offset);
  const passed: Partial = when === null ? ({} as Partial) : 'at' in when ? ({ passedAt: when.at } as Partial) : ({ passedBefore: when.before } as Partial);
  const whenText = when === null ? '' : 'at' in when ? ` at ${iso(when.at)}` : ` before ${iso(when.before)}`;
  const dlqTopics = [...new Set([slot.state.explain(slot, record.offset).deadLetterTopic, tp.topic + DEAD_LETTER_SUFFIX].filter((t): t is string => t !== null))];
  for (const dlq of dlqTopics) {
    const found = findDeadLetter(link, dlq, g.name, tp, record);
    if (found !== null) return { ...passed, state: 'dead-lettered', reason: `dead-lettered${whenText} (${found.reason}, after ${found.deliveries} deliveries): it is ${found.topic}/${found.partition}@${found.offset}`, deadLetter: found };
  }
  const expiredAt = expiresAt(record, tp.messageTtlMs);
  const by = when === null ? link.now() : 'at' in when ? when.at : when.before;
  if (expiredAt <= by) return { ...passed, state: 'expired', reason: `expired at ${iso(expiredAt)} before group ${g.name} got it: never delivered`, expiredAt };
  const filter = link.filter(g.name);
  if (filter !== null && !new MessageFilter(filter).accepts(record, tp.topic, tp.index)) {
    return { ...passed, state: 'filtered', reason: `the group's filter (${filter}) passes over it: never delivered` };
  }
  if (g.model === 'ack') return { ...passed, state: 'acked', reason: `acked by group ${g.name}${whenText}` };
  return { ...passed, state: 'committed', reason: `consumed: group ${g.name} committed past it${whenText} (its committed offset is ${slot.progress.committed})` };
}

/** The dead letter of `record` for `group` in topic `dlq`, searched from the original's timestamp on (dead letters keep it). */
function findDeadLetter(link: ExplainLink, dlq: string, group: string, tp: TopicPartition, record: LogRecord): NonNullable<Explanation['deadLetter']> | null {
  const partitions = link.partitionsOf(dlq);
  if (partitions === null) return null;
  const want = [tp.topic, String(tp.index), String(record.offset), group];
  const names = [DEAD_LETTER_HEADERS.topic, DEAD_LETTER_HEADERS.partition, DEAD_LETTER_HEADERS.offset, DEAD_LETTER_HEADERS.group];
  for (const d of partitions) {
    let read = 0;
    for (let at = Math.max(d.startOffset, d.offsetForTime(record.timestamp)); at < d.stableOffset && read < DEAD_LETTER_SCAN_MAX; ) {
      const { records, nextOffset } = d.readRecords(at, { maxRecords: READ_STEP });
      for (const r of records) {
        if (names.every((n, i) => header(r, n) === want[i])) {
          return { topic: dlq, partition: d.index, offset: r.offset, reason: header(r, DEAD_LETTER_HEADERS.reason) ?? '', deliveries: Number(header(r, DEAD_LETTER_HEADERS.deliveries) ?? 0) };
        }
      }
      read += records.length;
      if (nextOffset <= at) break;
      at = nextOffset;
    }
  }
  return null;
}

function header(r: LogRecord, name: string): string | null {
  for (const h of r.headers) if (h.key === name) return h.value === null ? null : h.value.toString();
  return null;
}

// ---- Phase 4: not consumed yet ----

function pendingState(link: ExplainLink, g: GroupRecord, slot: PartitionSlot, tp: TopicPartition, record: LogRecord): Partial {
  const finding = slot.state.explain(slot, record.offset).finding;
  if (finding !== null) return fromFinding(finding, g.name);
  const p = slot.progress;
  const expiredAt = expiresAt(record, tp.messageTtlMs);
  if (expiredAt <= link.now()) return { state: 'expired', reason: `expired at ${iso(expiredAt)}: group ${g.name} will pass over it, never delivering it`, expiredAt };
  const filter = link.filter(g.name);
  if (filter !== null && !new MessageFilter(filter).accepts(record, tp.topic, tp.index)) {
    return { state: 'filtered', reason: `the group's filter (${filter}) will pass over it: never delivered` };
  }
  if (g.model === 'ack' && record.offset < p.deliveredEnd) {
    const failures = p.failures.get(record.offset) ?? 0;
    const dueAt = p.retryAt.get(record.offset);
    const again = dueAt !== undefined && dueAt > link.now() ? `at ${iso(dueAt)}` : 'as soon as a member takes messages';
    return { state: 'redelivery-ready', reason: `delivered before and not acked (${failures} failed deliveries): delivered again ${again}`, failures, ...(dueAt !== undefined ? { dueAt } : {}) };
  }
  return waiting(link, g, slot, tp, record.offset);
}

function fromFinding(f: SlotFinding, group: string): Partial {
  switch (f.state) {
    case 'in-flight': {
      const until = f.visibleAgainAt === null ? 'until its handler finishes' : `until it is acked or nacked, or its visibility timeout at ${iso(f.visibleAgainAt)}`;
      const count = f.deliveryCount === null ? '' : ` (delivery ${f.deliveryCount})`;
      return {
        state: 'in-flight',
        reason: `delivered to member ${f.member}${f.deliveredAt === null ? '' : ` at ${iso(f.deliveredAt)}`}${count}, in flight ${until}`,
        member: f.member,
        ...(f.deliveryCount !== null ? { deliveryCount: f.deliveryCount } : {}),
        ...(f.deliveredAt !== null ? { deliveredAt: f.deliveredAt } : {}),
        ...(f.visibleAgainAt !== null ? { visibleAgainAt: f.visibleAgainAt } : {}),
      };
    }
    case 'processed':
      return { state: 'processed', reason: `processed by member ${f.member}, not committed yet (its next poll or commit() commits it)`, member: f.member };
    case 'dead-lettering':
      return { state: 'dead-lettering', reason: `being sent to dead-letter topic ${f.deadLetterTopic} (the transaction is not committed yet)` };
    case 'retry-wait':
      return { state: 'retry-wait', reason: `a delivery failed (${f.failures} so far${f.lastError === null ? '' : `, last: ${f.lastError}`}): delivered again at ${iso(f.dueAt)}`, dueAt: f.dueAt, failures: f.failures, lastError: f.lastError };
    case 'redelivery-ready':
      return { state: 'redelivery-ready', reason: `queued for redelivery (${f.failures} failed deliveries): goes out as soon as a member of group ${group} takes messages`, failures: f.failures, lastError: f.lastError };
    case 'key-order':
      return { state: 'key-order', reason: `held back by per-key order: waits until offset ${f.behind} (the same key) is acked or dead-lettered`, behind: f.behind };
  }
}

function waiting(link: ExplainLink, g: GroupRecord, slot: PartitionSlot, tp: TopicPartition, offset: number): Partial {
  const p: PartitionProgress = slot.progress;
  const from = g.model === 'ack' ? Math.max(p.deliveredEnd, tp.startOffset) : Math.max(p.committed, tp.startOffset);
  const ahead = Math.max(0, offset - from);
  const holder = slot.holder?.name ?? null;
  const members = link.members(g.name);
  const m = members.find((x) => x.name === holder);
  let who: string;
  if (holder === null) who = members.length === 0 ? `group ${g.name} has no member here to take it` : `no member holds partition ${tp.index} yet (a rebalance is under way)`;
  else if (m !== undefined && pausedFor(m, tp)) who = `member ${holder} holds the partition but has paused it`;
  else who = `member ${holder} holds the partition`;
  return { state: 'waiting', reason: `waiting beyond the group's position (${from}): ${ahead} message(s) go first; ${who}`, ahead };
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
