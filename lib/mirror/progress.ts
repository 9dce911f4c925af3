/**
 * How far a mirror got, kept in the target itself, so that no side store can disagree with it.
 * Every copied record carries, after its own headers:
 *   sluice.mirror.source     `<source-id>/<topic>/<partition>/<offset>`: where it was copied from
 * and the last record a transaction writes to each target partition also carries:
 *   sluice.mirror.progress   `<source-id>/<topic>/<n0>,<n1>,...`: the next source offset of every
 *                            source partition of the topic once that transaction commits
 * Records and progress are written in one Kafka transaction, so the target holds both or neither.
 * Progress only grows, so its element-wise maximum over the last progress header of each target
 * partition is the last committed transaction's: where a restarted mirror continues. That holds
 * with key re-partitioning too (a source partition's records spread over target partitions), and
 * beside other producers writing to the target: each partition is scanned back from its end, over
 * windows growing 16, 64, 256... offsets, until a progress header of this source and topic is found
 * or the partition's start is reached (a partition the mirror never wrote to is read whole, once).
 */
import { MIRROR_HEADERS } from '../broker/codec/reserved-headers';
import type { KafkaCluster } from './kafka-cluster';
import type { MirrorRecord } from './mirror-record';

const SOURCE_KEY = Buffer.from(MIRROR_HEADERS.source);
const PROGRESS_KEY = Buffer.from(MIRROR_HEADERS.progress);
const FIRST_WINDOW = 16;
const WINDOW_GROWTH = 4;
const SCAN_FETCH_BYTES = 1 << 20;

export function sourceHeader(sourceId: string, topic: string, partition: number, offset: number): [Buffer, Buffer] {
  return [SOURCE_KEY, Buffer.from(`${sourceId}/${topic}/${partition}/${offset}`)];
}

export function progressHeader(sourceId: string, topic: string, next: readonly number[]): [Buffer, Buffer] {
  return [PROGRESS_KEY, Buffer.from(`${sourceId}/${topic}/${next.join(',')}`)];
}

/** The progress a record carries for this source and topic (its last such header), or null. */
export function progressOf(r: MirrorRecord, sourceId: string, topic: string): number[] | null {
  const prefix = `${sourceId}/${topic}/`;
  for (let i = r.headers.length - 1; i >= 0; i--) {
    const [k, v] = r.headers[i];
    if (v === null || !k.equals(PROGRESS_KEY)) continue;
    const s = v.toString('utf8');
    if (!s.startsWith(prefix)) continue;
    const next = s.slice(prefix.length).split(',').map(Number);
    if (next.every((n) => Number.isSafeInteger(n) && n >= 0)) return next;
  }
  return null;
}

/** Where the source partitions stand in the target: the next source offset of each (0 where none was copied). */
export async function committedProgress(target: KafkaCluster, topic: string, sourceId: string, sourcePartitions: number): Promise<number[]> {
  const next = new Array<number>(sourcePartitions).fill(0);
  const { start, end } = await target.offsets(topic);
  for (let p = 0; p < end.length; p++) {
    const found = await lastProgress(target, topic, p, start[p] ?? 0, end[p], sourceId);
    if (found === null) continue;
    for (let i = 0; i < sourcePartitions; i++) next[i] = Math.max(next[i], found[i] ?? 0);
  }
  return next;
}

async function lastProgress(target: KafkaCluster, topic: string, partition: number, start: number, end: number, sourceId: string): Promise<number[] | null> {
  let hi = end;
  for (let window = FIRST_WINDOW; hi > start; window *= WINDOW_GROWTH) {
    const lo = Math.max(start, hi - window);
    let found: number[] | null = null;
    for (let at = lo; at < hi; ) {
      const r = await target.fetch(topic, partition, at, SCAN_FETCH_BYTES);
      for (const rec of r.records) {
        if (rec.offset >= hi) break;
        found = progressOf(rec, sourceId, topic) ?? found;
      }
      if (r.nextOffset <= at) break;
      at = r.nextOffset;
    }
    if (found !== null) return found;
    hi = lo;
  }
  return null;
}
