/**
 * Waiters for offsets to reach a watermark (the high watermark or the durable offset), kept in
 * offset order so that settling is a pop from the front: O(1) per confirm however many are
 * pending. Offsets almost always arrive in increasing order; one that does not is inserted by
 * binary search. The wait of each timed waiter (a confirm), from push to settle, goes to the
 * queue's latency histogram; rejections are not timed. Thread-confined (the Log's thread).
 */
import type { DurationHistogram } from './duration-histogram';

/** What a settled waiter is told: its offset and whether it is durable, or the failure. */
export interface Settled {
  offset: number;
  durable: boolean;
}
/** A waiter: the user's confirm callback itself, so that a confirm costs no closure. */
export type Settle = (err: Error | null, settled: Settled | null) => void;

// A throwing user callback must not stop the others from settling, nor reach the native code that
// called in: it is rethrown on its own tick, where it surfaces as an uncaught exception.
function call(settle: Settle, err: Error | null, settled: Settled | null): void {
  try {
    settle(err, settled);
  } catch (e) {
    process.nextTick(() => {
      throw e;
    });
  }
}

export class ConfirmQueue {
  #offsets: number[] = [];
  #settles: Settle[] = [];
  /** performance.now() at each timed push, NaN for the others. */
  #pushedAt: number[] = [];
  #head = 0;
  readonly #latency: DurationHistogram;

  constructor(latency: DurationHistogram) {
    this.#latency = latency;
  }

  get size(): number {
    return this.#offsets.length - this.#head;
  }

  /** Adds a waiter; `timed`: its wait goes to the latency histogram (confirms are, other waits not). */
  push(offset: number, settle: Settle, timed = true): void {
    const at = timed ? performance.now() : NaN;
    const offsets = this.#offsets;
    let i = offsets.length;
    if (i > this.#head && offsets[i - 1] > offset) {
      let lo = this.#head;
      let hi = i;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (offsets[mid] <= offset) lo = mid + 1;
        else hi = mid;
      }
      i = lo;
      offsets.splice(i, 0, offset);
      this.#settles.splice(i, 0, settle);
      this.#pushedAt.splice(i, 0, at);
      return;
    }
    offsets.push(offset);
    this.#settles.push(settle);
    this.#pushedAt.push(at);
  }

  /** Settles every waiter whose offset is below `watermark`; returns how many. `durableBelow`: offsets below it are durable. */
  settleBelow(watermark: number, durableBelow: number): number {
    // Fields are re-read on every step: a callback may push (or reject everything) meanwhile.
    let settled = 0;
    const now = performance.now();
    while (this.#head < this.#offsets.length && this.#offsets[this.#head] < watermark) {
      const h = this.#head++;
      const offset = this.#offsets[h];
      const settle = this.#settles[h];
      this.#settles[h] = undefined as unknown as Settle;
      const at = this.#pushedAt[h];
      if (at === at) this.#latency.recordMs(now - at); // not NaN: a timed waiter
      call(settle, null, { offset, durable: offset < durableBelow });
      settled++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#offsets.length) this.#compact();
    return settled;
  }

  rejectAll(err: Error): void {
    const settles = this.#settles.slice(this.#head);
    this.#offsets = [];
    this.#settles = [];
    this.#pushedAt = [];
    this.#head = 0;
    for (const settle of settles) call(settle, err, null);
  }

  #compact(): void {
    this.#offsets = this.#offsets.slice(this.#head);
    this.#settles = this.#settles.slice(this.#head);
    this.#pushedAt = this.#pushedAt.slice(this.#head);
    this.#head = 0;
  }
}
