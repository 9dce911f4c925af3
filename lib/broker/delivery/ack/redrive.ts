/**
 * Redrive: dead letters sent back to their original topic (or another), exactly once each.
 *
 * Which dead letters were redriven is the group state of an ack-model group of its own,
 * REDRIVE_GROUP, that tracks each dead-letter topic redriven from: a dead letter is sent and
 * acked there in one transaction (broker/txn/), so a crash neither loses nor repeats one, and a
 * later redrive (with another filter, say) takes only what is left. A redriven message is the
 * original again: key, value, headers (without the sluice.dlq.* ones) and timestamp; without
 * `to` it goes to its original partition (modulo the topic's partitions now), with `to` to the
 * partition its key routes to there (keyless: the original partition modulo).
 */
import type { LogRecord, Message } from '../../../storage/log';
import type { PartitionProgress } from '../../group/group-state';
import { keyPartition } from '../../produce/partitioner';
import type { Topic } from '../../topic/topic';
import type { TopicPartition } from '../../topic/topic-partition';
import type { Transaction } from '../../txn/transaction';
import { DEAD_LETTER_HEADERS } from './dead-letters';

/** The group whose acks record what was redriven (it shows in listGroups and describeGroup). */
export const REDRIVE_GROUP = 'sluice.redrive';
/** Dead letters sent back per transaction. */
const PER_TRANSACTION = 256;

/** A dead letter as a redrive filter sees it. */
export interface DeadLetter {
  /** Where it was dead-lettered from. */
  topic: string;
  partition: number;
  offset: number;
  group: string;
  reason: string;
  deliveries: number;
  error: string | null;
  key: Buffer | null;
  /** The stored bytes (a msgpack value is not decoded). */
  value: Buffer | null;
  /** Its own headers (without the sluice.dlq.* ones). */
  headers: readonly { key: string; value: Buffer | null }[];
  timestamp: number;
}

export interface RedriveOptions {
  /** Send them here instead of their original topic (it must exist). */
  to?: string;
  /** Only dead letters for which this returns true; the others stay. */
  filter?: (letter: DeadLetter) => boolean;
  /** At most this many. Default: all. */
  limit?: number;
}

export interface RedriveResult {
  redriven: number;
}

/** What redrive needs of the broker. */
export interface RedriveLink {
  /** The dead-letter topic's partitions with REDRIVE_GROUP's progress in each. */
  progressOf(topic: Topic): PartitionProgress[];
  topic(name: string): Topic;
  /** Runs `fn` in a transaction of its own (not nested in the caller's). */
  transaction(fn: (tx: Transaction) => Promise<void>): Promise<void>;
}

const DLQ_PREFIX = 'sluice.dlq.';

/** Reads a stored record as a dead letter; null when it is not one (no sluice.dlq.topic header). */
export function deadLetterOf(r: LogRecord): DeadLetter | null {
  const h = (k: string): string | null => r.headers.find((x) => x.key === k)?.value?.toString() ?? null;
  const topic = h(DEAD_LETTER_HEADERS.topic);
  if (topic === null) return null;
  return {
    topic,
    partition: Number(h(DEAD_LETTER_HEADERS.partition) ?? 0),
    offset: Number(h(DEAD_LETTER_HEADERS.offset) ?? -1),
    group: h(DEAD_LETTER_HEADERS.group) ?? '',
    reason: h(DEAD_LETTER_HEADERS.reason) ?? '',
    deliveries: Number(h(DEAD_LETTER_HEADERS.deliveries) ?? 0),
    error: h(DEAD_LETTER_HEADERS.error),
    key: r.key,
    value: r.value,
    headers: r.headers.filter((x) => !x.key.startsWith(DLQ_PREFIX)),
    timestamp: r.timestamp,
  };
}

export async function redrive(link: RedriveLink, dlq: Topic, options: Required<Pick<RedriveOptions, 'limit'>> & RedriveOptions): Promise<RedriveResult> {
  const target = options.to === undefined ? null : link.topic(options.to);
  const progress = link.progressOf(dlq);
  let redriven = 0;
  for (const tp of dlq.partitions) {
    const p = progress[tp.index];
    let offset = Math.max(p.committed, tp.startOffset);
    while (redriven < options.limit && offset < tp.stableOffset) {
      const batch = pending(tp, p, offset, Math.min(PER_TRANSACTION, options.limit - redriven), options.filter);
      offset = batch.next;
      if (batch.letters.length === 0) continue;
      await link.transaction(async (tx) => {
        for (const { offset: o, letter } of batch.letters) {
          const to = target ?? link.topic(letter.topic);
          await tx.appendStored(to, partitionFor(to, letter, target !== null), original(letter));
          tx.ackOffset(p, o);
        }
      });
      redriven += batch.letters.length;
    }
  }
  return { redriven };
}

/** Dead letters from `from` not yet redriven that pass the filter, at most `max`; where to go on. */
function pending(tp: TopicPartition, p: PartitionProgress, from: number, max: number, filter: RedriveOptions['filter']): { letters: { offset: number; letter: DeadLetter }[]; next: number } {
  const letters: { offset: number; letter: DeadLetter }[] = [];
  let next = from;
  while (letters.length < max && next < tp.stableOffset) {
    const { records, nextOffset } = tp.readRecords(next, { maxRecords: max - letters.length });
    if (records.length === 0 && nextOffset <= next) break;
    for (const r of records) {
      if (p.isAcked(r.offset)) continue;
      const letter = deadLetterOf(r);
      if (letter !== null && (filter === undefined || filter(letter))) letters.push({ offset: r.offset, letter });
    }
    next = nextOffset;
  }
  return { letters, next };
}

function partitionFor(to: Topic, letter: DeadLetter, routed: boolean): number {
  const n = to.partitions.length;
  if (routed && letter.key !== null) return keyPartition(letter.key, n);
  return letter.partition % n;
}

function original(letter: DeadLetter): Message {
  return { key: letter.key, value: letter.value, headers: letter.headers.map((h) => [h.key, h.value] as [string, Buffer | null]), timestamp: letter.timestamp };
}
