/**
 * Waiters for offsets to reach a watermark (the high watermark or the durable offset), kept in
 * offset order so that settling is a pop from the front: O(1) per confirm however many are
 * pending. Offsets almost always arrive in increasing order; one that does not is inserted by
 * binary search. Thread-confined (the Log's thread).
 */
export type Settle = (err: Error | null, durable: boolean) => void;

export class ConfirmQueue {
  #offsets: number[] = [];
  #settles: Settle[] = [];
  #head = 0;

  get size(): number {
    return this.#offsets.length - this.#head;
  }

  push(offset: number, settle: Settle): void {
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
      return;
    }
    offsets.push(offset);
    this.#settles.push(settle);
  }

  /** Settles every waiter whose offset is below `watermark`; returns how many. */
  settleBelow(watermark: number, durable: (offset: number) => boolean): number {
    const offsets = this.#offsets;
    const settles = this.#settles;
    let h = this.#head;
    const start = h;
    while (h < offsets.length && offsets[h] < watermark) {
      const settle = settles[h];
      settles[h] = undefined as unknown as Settle;
      settle(null, durable(offsets[h]));
      h++;
    }
    this.#head = h;
    if (h > 1024 && h * 2 > offsets.length) this.#compact();
    return h - start;
  }

  rejectAll(err: Error): void {
    const settles = this.#settles.slice(this.#head);
    this.#offsets = [];
    this.#settles = [];
    this.#head = 0;
    for (const settle of settles) settle(err, false);
  }

  #compact(): void {
    this.#offsets = this.#offsets.slice(this.#head);
    this.#settles = this.#settles.slice(this.#head);
    this.#head = 0;
  }
}
