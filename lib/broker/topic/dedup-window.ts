/**
 * Idempotent publish: a message sent with an `id` carries it in the header ID_HEADER, and a
 * second send of the same id to the same topic within the topic's dedup window resolves with
 * the first one's confirm (`duplicate: true`) and writes nothing.
 *
 * The window is per topic: the ids of the last `dedupWindowCount` messages sent with one, no
 * older than `dedupWindowMs` (by their timestamps). It is kept in memory and rebuilt from the
 * log: the first send with an id after the broker opens reads each partition's tail (at most
 * the window's count of messages, from the first one inside its time) and takes the ids it
 * finds, newest last. So the log is the window's persistence: a producer retrying after a crash
 * is deduplicated against every message the crash left in the log, and a send whose message the
 * crash lost (unsynced, sync 'none' or 'interval') is written again, as it should be. A send
 * still in progress holds its id: a duplicate waits for its confirm; if it fails, the id is
 * free again. Thread-confined.
 */
import type { LogRecord } from '../../storage/log';
import type { TopicPartition } from './topic-partition';

import { ID_HEADER } from '../codec/reserved-headers';
export { ID_HEADER };
/** The longest id (UTF-16 code units). */
export const ID_LENGTH_MAX = 256;
/** Records one rebuild read takes at a time. */
const REBUILD_STEP = 4096;

/** Where a message with an id went. */
export interface IdConfirm {
  partition: number;
  offset: number;
  durable: boolean;
}

interface Entry {
  timestamp: number;
  /** Settled: where it went. Pending: the send in progress. */
  confirm: IdConfirm | Promise<IdConfirm>;
}

export class DedupWindow {
  readonly #partitions: () => readonly TopicPartition[];
  readonly #windowMs: number;
  readonly #count: number;
  /** Insertion order is send order, so the oldest come first. */
  readonly #ids = new Map<string, Entry>();
  #rebuilt: Promise<void> | null = null;

  constructor(partitions: () => readonly TopicPartition[], windowMs: number, count: number) {
    this.#partitions = partitions;
    this.#windowMs = windowMs;
    this.#count = count;
  }

  /** Resolves once the window holds what the log says (the first call reads the partitions' tails). */
  ready(now: number): Promise<void> {
    this.#rebuilt ??= this.#rebuild(now).catch((e: unknown) => {
      this.#rebuilt = null; // tried again by the next send
      throw e;
    });
    return this.#rebuilt;
  }

  /** The confirm of `id` if it is in the window at `now`. */
  lookup(id: string, now: number): IdConfirm | Promise<IdConfirm> | undefined {
    this.#evict(now);
    return this.#ids.get(id)?.confirm;
  }

  /** `id` is being sent now; `confirm` settles with where it went (a failure frees the id). */
  remember(id: string, timestamp: number, confirm: Promise<IdConfirm>): void {
    const entry: Entry = { timestamp, confirm };
    this.#ids.delete(id);
    this.#ids.set(id, entry);
    confirm.then(
      (c) => {
        if (this.#ids.get(id) === entry) entry.confirm = c;
      },
      () => {
        if (this.#ids.get(id) === entry) this.#ids.delete(id);
      },
    );
    this.#evict(timestamp);
  }

  get size(): number {
    return this.#ids.size;
  }

  // ---- Internals ----

  #evict(now: number): void {
    const oldest = now - this.#windowMs;
    for (const [id, e] of this.#ids) {
      if (this.#ids.size <= this.#count && e.timestamp >= oldest) break;
      if (e.confirm instanceof Promise) break; // in progress: kept until it settles
      this.#ids.delete(id);
    }
  }

  async #rebuild(now: number): Promise<void> {
    const found: { id: string; timestamp: number; confirm: IdConfirm }[] = [];
    const partitions = this.#partitions();
    for (let p = 0; p < partitions.length; p++) {
      const tp = partitions[p];
      const d = tp.describe();
      const byTime = tp.offsetForTime(now - this.#windowMs);
      let at = Math.max(d.startOffset, d.endOffset - this.#count, byTime);
      if (at < d.highWatermark) await tp.visible(d.highWatermark - 1).catch(() => {});
      while (at < d.highWatermark) {
        const { records, nextOffset } = tp.readRecords(at, { maxRecords: REBUILD_STEP });
        for (const r of records) {
          const id = idOf(r);
          if (id !== undefined) found.push({ id, timestamp: r.timestamp, confirm: { partition: p, offset: r.offset, durable: r.offset < d.durableOffset } });
        }
        if (nextOffset <= at) break;
        at = nextOffset;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    found.sort((a, b) => a.timestamp - b.timestamp);
    // Sends made while this ran are newer: they stay, after what the log had.
    const during = [...this.#ids];
    this.#ids.clear();
    for (const f of found) {
      this.#ids.delete(f.id);
      this.#ids.set(f.id, { timestamp: f.timestamp, confirm: f.confirm });
    }
    for (const [id, e] of during) {
      this.#ids.delete(id);
      this.#ids.set(id, e);
    }
    this.#evict(now);
  }
}

function idOf(r: LogRecord): string | undefined {
  for (const h of r.headers) if (h.key === ID_HEADER && h.value !== null) return h.value.toString();
  return undefined;
}

/** Checks a message's id. */
export function checkId(id: unknown, index: number): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > ID_LENGTH_MAX) {
    throw new TypeError(`message ${index}: id must be a string of 1 to ${ID_LENGTH_MAX} characters, got ${typeof id === 'string' ? `${id.length} characters` : typeof id}`);
  }
  return id;
}
