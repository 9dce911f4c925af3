/**
 * The copy loop of `sluice mirror`: topics of a Source into a Kafka-protocol target, one Kafka
 * transaction per chunk (records plus their progress headers, see progress.ts), so that a
 * mirror killed at any moment and started again copies every committed source record exactly
 * once, in order per source partition. At start it takes the target's transactional id
 * (`sluice.mirror.<source-id>`, which fences an earlier run still in flight and aborts its open
 * transaction), then reads where the target stands, then copies up to the source's ends (and on,
 * following). Keys, values, headers and timestamps are copied as they are; the partition is the
 * same (preserve) or the key's murmur2 partition in the target (key; records without a key keep
 * their partition number modulo the target's count).
 */
import { crashPoint } from '../crash-points';
import { keyPartition } from '../broker/produce/partitioner';
import type { KafkaCluster } from './kafka-cluster';
import type { MirrorRecord } from './mirror-record';
import { committedProgress, progressHeader, sourceHeader } from './progress';
import type { Source } from './sources';

export type Partitioning = 'preserve' | 'key';

export interface MirrorOptions {
  source: Source;
  target: KafkaCluster;
  sourceId: string;
  /** Names (each must exist in the source) or a pattern matched against whole names. */
  topics: string[] | RegExp;
  partitioning: Partitioning;
  follow: boolean;
  pollMs: number;
  /** Records per transaction at most. */
  batchRecords: number;
  /** Bytes per source fetch (a Kafka source). */
  fetchBytes: number;
  progressMs: number;
  signal: AbortSignal;
  report: (r: Report) => void;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** The next source offset to copy. */
  copied: number;
  /** The source partition's end (last stable offset) when last looked at. */
  end: number;
  lag: number;
}

export interface Report {
  type: 'progress' | 'summary';
  /** Records copied by this run. */
  records: number;
  partitions: PartitionLag[];
}

interface TopicState {
  name: string;
  next: number[];
  end: number[];
  targetPartitions: number;
}

export async function mirror(o: MirrorOptions): Promise<Report> {
  const producer = o.target.producer(`sluice.mirror.${o.sourceId}`);
  // Fences an earlier run and aborts its open transaction, before its progress is read.
  await (await producer.beginTransaction()).cancel();
  const states = new Map<string, TopicState>();
  let records = 0;
  const report = (type: Report['type']): Report => ({ type, records, partitions: lagOf(states) });
  const timer = setInterval(() => o.report(report('progress')), o.progressMs);
  try {
    for (let first = true; ; first = false) {
      if (!first) await o.source.refresh();
      for (const name of await selectTopics(o, !first)) if (!states.has(name)) states.set(name, await prepare(o, name));
      let copied = 0;
      for (const t of states.values()) {
        t.end = (await o.source.offsets(t.name)).end;
        copied += await copyTopic(o, producer, t, (n) => (records += n));
      }
      if (!o.follow || o.signal.aborted) break;
      if (copied === 0 && !(await sleep(o.pollMs, o.signal))) break;
    }
  } finally {
    clearInterval(timer);
  }
  return report('summary');
}

async function selectTopics(o: MirrorOptions, again: boolean): Promise<string[]> {
  const all = await o.source.topics();
  if (o.topics instanceof RegExp) {
    const re = o.topics;
    return all.filter((t) => !t.startsWith('__') && re.test(t));
  }
  if (!again) for (const t of o.topics) if (!all.includes(t)) throw new Error(`topic ${t} does not exist in the source`);
  return o.topics;
}

/** Creates the target topic if missing (the source's partition count) and reads where it stands. */
async function prepare(o: MirrorOptions, name: string): Promise<TopicState> {
  const count = (await o.source.partitionCount(name))!;
  let targetCount = await o.target.partitionCount(name);
  if (targetCount === null) {
    await o.target.createTopic(name, count);
    targetCount = count;
  }
  if (o.partitioning === 'preserve' && targetCount < count) {
    throw new Error(`topic ${name} has ${count} partitions in the source but ${targetCount} in the target: --partitioning preserve needs at least as many (or use --partitioning key)`);
  }
  const { start, end } = await o.source.offsets(name);
  const done = await committedProgress(o.target, name, o.sourceId, count);
  return { name, next: done.map((n, p) => Math.max(n, start[p] ?? 0)), end, targetPartitions: targetCount };
}

type Producer = ReturnType<KafkaCluster['producer']>;

/** Copies what `t`'s source partitions hold up to `t.end`, a transaction per chunk; returns how many records. */
async function copyTopic(o: MirrorOptions, producer: Producer, t: TopicState, onCopied: (n: number) => void): Promise<number> {
  let total = 0;
  while (!o.signal.aborted) {
    const chunk: { partition: number; record: MirrorRecord }[] = [];
    const next = [...t.next];
    for (let p = 0; p < next.length && chunk.length < o.batchRecords; p++) {
      if (next[p] >= t.end[p]) continue;
      const r = await o.source.read(t.name, p, next[p], o.batchRecords - chunk.length, o.fetchBytes);
      for (const record of r.records) chunk.push({ partition: p, record });
      next[p] = Math.max(next[p], r.nextOffset);
    }
    if (next.every((n, p) => n === t.next[p])) break; // nothing more to read now
    if (chunk.length > 0) await writeChunk(o, producer, t, chunk, next);
    t.next = next;
    total += chunk.length;
    onCopied(chunk.length);
  }
  return total;
}

async function writeChunk(o: MirrorOptions, producer: Producer, t: TopicState, chunk: { partition: number; record: MirrorRecord }[], next: number[]): Promise<void> {
  const messages = chunk.map(({ partition, record }) => ({
    topic: t.name,
    partition: targetPartition(o.partitioning, partition, record.key, t.targetPartitions),
    key: record.key ?? undefined,
    value: record.value as Buffer,
    timestamp: BigInt(record.timestamp),
    headers: [...record.headers, sourceHeader(o.sourceId, t.name, partition, record.offset)],
  }));
  const last = new Map<number, number>();
  messages.forEach((m, i) => last.set(m.partition, i));
  for (const i of last.values()) messages[i].headers.push(progressHeader(o.sourceId, t.name, next));
  const tx = await producer.beginTransaction();
  try {
    for (const group of deltaSafeGroups(messages)) {
      // A Map keyed by distinct Buffer objects keeps duplicate header names, in order.
      await tx.send({ messages: group.map((m) => ({ ...m, headers: new Map(m.headers) as Map<Buffer, Buffer> })) });
    }
    crashPoint('mirror.before-commit');
    await tx.commit();
  } catch (e) {
    await tx.abort().catch(() => {});
    throw e;
  }
}

/**
 * @platformatic/kafka 1.35 writes a record's timestampDelta (a varlong) wrongly outside the int32
 * range: records whose timestamps lie more than ~24.8 days from their batch's first go out in a
 * send (so a batch) of their own, all in the same transaction.
 */
const DELTA_MAX = 2 ** 31 - 1;

function deltaSafeGroups<M extends { partition: number; timestamp: bigint }>(messages: M[]): M[][] {
  const groups: M[][] = [];
  let current: M[] = [];
  let firsts = new Map<number, number>();
  for (const m of messages) {
    const ts = Number(m.timestamp);
    const first = firsts.get(m.partition);
    if (first !== undefined && Math.abs(ts - first) > DELTA_MAX) {
      groups.push(current);
      current = [];
      firsts = new Map();
    }
    if (!firsts.has(m.partition)) firsts.set(m.partition, ts);
    current.push(m);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

function targetPartition(how: Partitioning, source: number, key: Buffer | null, count: number): number {
  if (how === 'preserve') return source;
  return key === null ? source % count : keyPartition(key, count);
}

function lagOf(states: Map<string, TopicState>): PartitionLag[] {
  const out: PartitionLag[] = [];
  for (const t of states.values()) {
    t.next.forEach((copied, partition) => {
      const end = t.end[partition] ?? copied;
      out.push({ topic: t.name, partition, copied, end, lag: Math.max(0, end - copied) });
    });
  }
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
