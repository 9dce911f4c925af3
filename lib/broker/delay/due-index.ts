/**
 * The in-memory part of the delay store (delay-store.ts): the pending delayed messages due
 * soonest, as (due, offset) keys ordered by due time, then offset in the delay log. Memory is
 * bounded by `capacity`, not by how many messages are pending: every pending message whose key
 * is below the horizon is here; those at or above it are only on disk, and a scan of the delay
 * log brings the next ones in (Collector) when these run low.
 *
 * Keys are pairs compared due first, offset second, so a cut is exact even when thousands of
 * messages share one due time. Two typed arrays hold a binary min-heap; when inserts push it past
 * twice the capacity it keeps the `capacity` smallest and lowers the horizon to the smallest
 * dropped key. Thread-confined.
 */

/** A (due, offset) key; `before` orders them. */
export interface DueKey {
  due: number;
  offset: number;
}

export const KEY_MIN: DueKey = Object.freeze({ due: -Infinity, offset: -Infinity });
export const KEY_MAX: DueKey = Object.freeze({ due: Infinity, offset: Infinity });

export function before(aDue: number, aOffset: number, bDue: number, bOffset: number): boolean {
  return aDue < bDue || (aDue === bDue && aOffset < bOffset);
}

export class DueIndex {
  readonly capacity: number;
  #due: Float64Array;
  #offset: Float64Array;
  #size = 0;
  /** Every pending key below this is in the heap; none at or above it is. */
  #horizon: DueKey = KEY_MIN;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#due = new Float64Array(Math.min(capacity, 1024));
    this.#offset = new Float64Array(this.#due.length);
  }

  get size(): number {
    return this.#size;
  }

  get horizon(): DueKey {
    return this.#horizon;
  }

  /** True when every pending key is in memory (nothing left on disk only). */
  get complete(): boolean {
    return this.#horizon.due === Infinity;
  }

  /** The earliest due time in memory (Infinity if none). */
  get nextDue(): number {
    return this.#size === 0 ? Infinity : this.#due[0];
  }

  /** Adds a key if it is below the horizon; false if it stays on disk only. */
  insert(due: number, offset: number): boolean {
    const h = this.#horizon;
    if (!before(due, offset, h.due, h.offset)) return false;
    this.#push(due, offset);
    if (this.#size > 2 * this.capacity) this.#cut(this.capacity);
    return true;
  }

  /** Removes the earliest key into `out`; false if empty. */
  pop(out: DueKey): boolean {
    if (this.#size === 0) return false;
    out.due = this.#due[0];
    out.offset = this.#offset[0];
    const last = --this.#size;
    if (last > 0) {
      this.#due[0] = this.#due[last];
      this.#offset[0] = this.#offset[last];
      this.#down(0);
    }
    return true;
  }

  /**
   * A scan's result (keys at or above `scannedFrom`, the horizon when it began): merged in, and
   * the horizon raised to `horizon` (the smallest key the scan left on disk, KEY_MAX if none).
   * If inserts made the index drop keys meanwhile (its horizon came down below `scannedFrom`),
   * the scan never looked at those: the result is dropped and the lower horizon stays, so the
   * next scan finds them.
   */
  merge(keys: Collector, horizon: DueKey, scannedFrom: DueKey): void {
    if (before(this.#horizon.due, this.#horizon.offset, scannedFrom.due, scannedFrom.offset)) return;
    const n = keys.size;
    for (let i = 0; i < n; i++) {
      const d = keys.dues[i];
      const o = keys.offsets[i];
      if (before(d, o, horizon.due, horizon.offset)) this.#push(d, o);
    }
    this.#horizon = horizon;
    if (this.#size > 2 * this.capacity) this.#cut(this.capacity);
  }

  /** The lowest delay-log offset in memory (Infinity if none): O(size), for occasional use. */
  minOffset(): number {
    let min = Infinity;
    for (let i = 0; i < this.#size; i++) if (this.#offset[i] < min) min = this.#offset[i];
    return min;
  }

  // ---- Internals ----

  #push(due: number, offset: number): void {
    if (this.#size === this.#due.length) this.#grow();
    let i = this.#size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(due, offset, this.#due[parent], this.#offset[parent])) break;
      this.#due[i] = this.#due[parent];
      this.#offset[i] = this.#offset[parent];
      i = parent;
    }
    this.#due[i] = due;
    this.#offset[i] = offset;
  }

  #down(i: number): void {
    const n = this.#size;
    const due = this.#due;
    const off = this.#offset;
    const d = due[i];
    const o = off[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(due[child + 1], off[child + 1], due[child], off[child])) child++;
      if (!before(due[child], off[child], d, o)) break;
      due[i] = due[child];
      off[i] = off[child];
      i = child;
    }
    due[i] = d;
    off[i] = o;
  }

  #grow(): void {
    const due = new Float64Array(this.#due.length * 2);
    const off = new Float64Array(due.length);
    due.set(this.#due);
    off.set(this.#offset);
    this.#due = due;
    this.#offset = off;
  }

  /** Keeps the `keep` smallest keys; the horizon comes down to the smallest dropped one. */
  #cut(keep: number): void {
    const cut = selectSmallest(this.#due, this.#offset, this.#size, keep);
    this.#size = keep;
    if (before(cut.due, cut.offset, this.#horizon.due, this.#horizon.offset)) this.#horizon = cut;
    for (let i = (keep >> 1) - 1; i >= 0; i--) this.#down(i);
  }
}

/**
 * The keys a scan of the delay log gathers: at most about twice `capacity` held at once, the
 * smallest kept. `limit` is the smallest key dropped so far (KEY_MAX: none), the horizon the
 * index gets when the scan ends.
 */
export class Collector {
  readonly capacity: number;
  dues: Float64Array;
  offsets: Float64Array;
  size = 0;
  limit: DueKey = KEY_MAX;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.dues = new Float64Array(Math.min(2 * capacity, 1024));
    this.offsets = new Float64Array(this.dues.length);
  }

  add(due: number, offset: number): void {
    if (!before(due, offset, this.limit.due, this.limit.offset)) return;
    if (this.size === this.dues.length) {
      if (this.size >= 2 * this.capacity) {
        this.#cut();
        if (!before(due, offset, this.limit.due, this.limit.offset)) return;
      } else {
        const d = new Float64Array(Math.min(this.dues.length * 2, 2 * this.capacity));
        const o = new Float64Array(d.length);
        d.set(this.dues);
        o.set(this.offsets);
        this.dues = d;
        this.offsets = o;
      }
    }
    this.dues[this.size] = due;
    this.offsets[this.size] = offset;
    this.size++;
  }

  /** Lowers the limit to `key` if it is smaller (a key left on disk some other way). */
  lower(due: number, offset: number): void {
    if (before(due, offset, this.limit.due, this.limit.offset)) this.limit = { due, offset };
  }

  /** Ends the scan: at most `capacity` keys, and the limit. */
  finish(): void {
    if (this.size > this.capacity) this.#cut();
  }

  #cut(): void {
    const cut = selectSmallest(this.dues, this.offsets, this.size, this.capacity);
    this.size = this.capacity;
    this.lower(cut.due, cut.offset);
  }
}

/**
 * Reorders the first `n` keys so that the `k` smallest come first (quickselect); returns the
 * smallest of the others (n > k).
 */
export function selectSmallest(due: Float64Array, off: Float64Array, n: number, k: number): DueKey {
  let lo = 0;
  let hi = n - 1;
  const swap = (a: number, b: number): void => {
    const d = due[a];
    due[a] = due[b];
    due[b] = d;
    const o = off[a];
    off[a] = off[b];
    off[b] = o;
  };
  while (lo < hi) {
    swap(lo + ((hi - lo) >> 1), hi);
    const pd = due[hi];
    const po = off[hi];
    let store = lo;
    for (let i = lo; i < hi; i++) if (before(due[i], off[i], pd, po)) swap(i, store++);
    swap(store, hi);
    if (store === k) break;
    if (store < k) lo = store + 1;
    else hi = store - 1;
  }
  // Positions k..n-1 now hold the larger keys: their smallest is the cut.
  let d = due[k];
  let o = off[k];
  for (let i = k + 1; i < n; i++) {
    if (before(due[i], off[i], d, o)) {
      d = due[i];
      o = off[i];
    }
  }
  return { due: d, offset: o };
}
