/**
 * The soak's ledger: every sequence number handed to a producer, where the server placed it once
 * acknowledged (partition and offset), and what each consumer group received. The verdict per
 * acknowledged message and group is one of: consumed (once, or more: duplicates, which a
 * rebalance may cause legitimately), retention-caused gap (the group's position fell below the
 * partition's log start and was reset past it), or lost.
 *
 * Single-threaded: used only from the soak's event loop. Memory: a few bytes per sequence number.
 */

const UNPLACED = -1;

/** A forward jump in the offsets a group received from one partition: offsets [from, to) skipped. */
export interface Skip {
  partition: number;
  from: number;
  to: number;
  atMs: number;
}

/** A growable typed array of numbers indexed by sequence number; unset slots read as `fill`. */
class Column<T extends Float64Array | Int32Array | Uint16Array> {
  #data: T;
  constructor(
    readonly make: (n: number) => T,
    readonly fill = 0,
  ) {
    this.#data = make(1024).fill(fill) as T;
  }
  get(i: number): number {
    return i < this.#data.length ? this.#data[i] : this.fill;
  }
  set(i: number, v: number): void {
    if (i >= this.#data.length) {
      const next = this.make(Math.max(this.#data.length * 2, i + 1)).fill(this.fill) as T;
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[i] = v;
  }
}

/** What one consumer group received. */
export class GroupTally {
  readonly name: string;
  readonly #counts = new Column((n) => new Uint16Array(n));
  readonly #highOffset = new Map<number, number>();
  readonly skips: Skip[] = [];
  received = 0;
  distinct = 0;
  duplicates = 0;
  /** Messages not produced by the soak (should be none). */
  foreign = 0;

  constructor(name: string) {
    this.name = name;
  }

  record(seq: number | null, partition: number, offset: number, nowMs: number): void {
    this.received++;
    const high = this.#highOffset.get(partition);
    if (high !== undefined && offset > high + 1) this.skips.push({ partition, from: high + 1, to: offset, atMs: nowMs });
    if (high === undefined || offset > high) this.#highOffset.set(partition, offset);
    if (seq === null) {
      this.foreign++;
      return;
    }
    const n = this.#counts.get(seq);
    if (n === 0) this.distinct++;
    else this.duplicates++;
    this.#counts.set(seq, Math.min(n + 1, 0xffff));
  }

  count(seq: number): number {
    return this.#counts.get(seq);
  }

  /** The next offset the group has yet to receive in `partition` (0 before anything arrived). */
  position(partition: number): number {
    const high = this.#highOffset.get(partition);
    return high === undefined ? 0 : high + 1;
  }
}

export interface GroupVerdict {
  group: string;
  acked: number;
  consumed: number;
  /** Deliveries beyond the first of a sequence number. */
  duplicates: number;
  retentionGaps: number;
  lost: number;
  /** The first few lost sequence numbers with their placement, to start a diagnosis from. */
  lostExamples: { seq: number; partition: number; offset: number }[];
  skips: number;
  foreign: number;
}

export class Ledger {
  #next = 0;
  readonly #partition = new Column((n) => new Int32Array(n), UNPLACED);
  readonly #offset = new Column((n) => new Float64Array(n));
  acked = 0;
  failed = 0;
  readonly groups = new Map<string, GroupTally>();

  /** Hands out `n` consecutive sequence numbers; returns the first. */
  allocate(n: number): number {
    const first = this.#next;
    this.#next += n;
    return first;
  }

  get allocated(): number {
    return this.#next;
  }

  ack(seq: number, partition: number, offset: number): void {
    if (this.#partition.get(seq) === UNPLACED) this.acked++;
    this.#partition.set(seq, partition);
    this.#offset.set(seq, offset);
  }

  fail(count: number): void {
    this.failed += count;
  }

  isAcked(seq: number): boolean {
    return seq < this.#next && this.#partition.get(seq) !== UNPLACED;
  }

  /** Acknowledged messages `name` has not received yet. */
  unconsumed(name: string): number {
    const g = this.group(name);
    let n = 0;
    for (let seq = 0; seq < this.#next; seq++) if (this.isAcked(seq) && g.count(seq) === 0) n++;
    return n;
  }

  group(name: string): GroupTally {
    let g = this.groups.get(name);
    if (g === undefined) this.groups.set(name, (g = new GroupTally(name)));
    return g;
  }

  /**
   * Each acknowledged message that `group` never received is a retention-caused gap when it lies
   * in an offset range the group skipped and `logStartAfter(partition, skip.atMs)` (the partition's
   * log start as sampled after the skip) had already passed the skipped offsets; otherwise lost.
   */
  verdict(name: string, logStartAfter: (partition: number, atMs: number) => number): GroupVerdict {
    const g = this.group(name);
    const v: GroupVerdict = { group: name, acked: this.acked, consumed: 0, duplicates: g.duplicates, retentionGaps: 0, lost: 0, lostExamples: [], skips: g.skips.length, foreign: g.foreign };
    for (let seq = 0; seq < this.#next; seq++) {
      if (!this.isAcked(seq)) continue;
      if (g.count(seq) > 0) {
        v.consumed++;
        continue;
      }
      const partition = this.#partition.get(seq);
      const offset = this.#offset.get(seq);
      const skip = g.skips.find((s) => s.partition === partition && offset >= s.from && offset < s.to);
      if (skip !== undefined && logStartAfter(partition, skip.atMs) >= skip.to) v.retentionGaps++;
      else {
        v.lost++;
        if (v.lostExamples.length < 10) v.lostExamples.push({ seq, partition, offset });
      }
    }
    return v;
  }
}

/** The value the soak's producers send: the sequence number first, then padding to `bytes`. */
export function encodeValue(seq: number, bytes: number): Buffer {
  const head = `s=${seq} t=${Date.now()} `;
  return Buffer.from(head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length));
}

export function decodeSeq(value: Buffer | null): number | null {
  if (value === null || value.length < 3 || value[0] !== 0x73 || value[1] !== 0x3d) return null;
  const end = value.indexOf(0x20, 2);
  const seq = Number(value.subarray(2, end < 0 ? value.length : end).toString());
  return Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
}
