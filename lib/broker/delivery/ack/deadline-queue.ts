/**
 * Deliveries waiting for their visibility timeout, in deadline order: a FIFO over an array that
 * is reused (head and tail indexes; reset when it empties, compacted when mostly consumed), so
 * that a steady stream of deliveries and acks allocates nothing. With one timeout for everyone,
 * deadline order is delivery order and every push is an append; an earlier deadline (a member
 * with a shorter timeout, or the clock stepping back) is inserted by binary search.
 * Thread-confined.
 */
export interface Deadlined {
  readonly deadline: number;
}

const COMPACT_AT = 4096;

export class DeadlineQueue<T extends Deadlined> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #tail = 0;

  /** The entry with the earliest deadline, or undefined. */
  peek(): T | undefined {
    return this.#head < this.#tail ? this.#items[this.#head] : undefined;
  }

  push(item: T): void {
    const items = this.#items;
    const tail = this.#tail;
    if (tail > this.#head && items[tail - 1]!.deadline > item.deadline) {
      let lo = this.#head;
      let hi = tail;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (items[mid]!.deadline <= item.deadline) lo = mid + 1;
        else hi = mid;
      }
      items.splice(lo, 0, item);
    } else if (tail < items.length) {
      items[tail] = item;
    } else {
      items.push(item);
    }
    this.#tail = tail + 1;
  }

  /** Removes and returns the first entry. */
  shift(): T | undefined {
    const head = this.#head;
    if (head >= this.#tail) return undefined;
    const items = this.#items;
    const item = items[head];
    items[head] = undefined;
    this.#head = head + 1;
    if (this.#head === this.#tail) {
      this.#head = 0;
      this.#tail = 0;
    } else if (this.#head > COMPACT_AT && this.#head * 2 > this.#tail) {
      items.copyWithin(0, this.#head, this.#tail);
      items.fill(undefined, this.#tail - this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#tail = 0;
  }
}
