/**
 * The messages of one partition in flight (delivered, not yet acked, nacked or timed out), by
 * offset. In-flight offsets sit in a narrow band above the committed offset and mostly arrive in
 * order, so they live in an array indexed by offset - base instead of a Map: a delivery is an
 * array store, an ack a store of undefined, the front is trimmed as it empties, and the array is
 * reused once it is empty.
 * Thread-confined.
 */
export class InFlightWindow<T> {
  #base = 0;
  #head = 0; // slots before this are all empty
  #slots: (T | undefined)[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(offset: number): T | undefined {
    const i = offset - this.#base;
    return i >= this.#head && i < this.#slots.length ? this.#slots[i] : undefined;
  }

  has(offset: number): boolean {
    return this.get(offset) !== undefined;
  }

  set(offset: number, value: T): void {
    if (this.#size === 0) {
      this.#base = offset;
      this.#head = 0;
    } else if (offset < this.#base + this.#head) {
      // Below the window (a redelivery of an old offset): rebuild with room in front.
      const live = this.#slots.slice(this.#head);
      const gap = this.#base + this.#head - offset;
      this.#slots = new Array<T | undefined>(gap).fill(undefined).concat(live);
      this.#base = offset;
      this.#head = 0;
    }
    const slots = this.#slots;
    const i = offset - this.#base;
    while (slots.length <= i) slots.push(undefined);
    if (slots[i] === undefined) this.#size++;
    slots[i] = value;
  }

  delete(offset: number): boolean {
    const slots = this.#slots;
    const i = offset - this.#base;
    if (i < this.#head || i >= slots.length || slots[i] === undefined) return false;
    slots[i] = undefined;
    if (--this.#size === 0) {
      // Every slot is empty again: the next set() rebases, and the array is reused.
      this.#head = 0;
      return true;
    }
    if (i === this.#head) {
      let h = i + 1;
      while (slots[h] === undefined) h++;
      this.#head = h;
      if (h > 1024 && h * 2 > slots.length) {
        this.#slots = slots.slice(h);
        this.#base += h;
        this.#head = 0;
      }
    }
    return true;
  }

  *values(): IterableIterator<T> {
    const slots = this.#slots;
    for (let i = this.#head; i < slots.length; i++) {
      const v = slots[i];
      if (v !== undefined) yield v;
    }
  }

  clear(): void {
    this.#slots = [];
    this.#head = 0;
    this.#size = 0;
  }
}
