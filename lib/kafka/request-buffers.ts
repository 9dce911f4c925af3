/**
 * The bytes of request frames read and not yet handled, all connections together, against a
 * budget (as Kafka's queued.max.request.bytes bounds its request memory pool). Each connection
 * bounds its own frame (requestBytesMax), but a thousand clients each leaving 99 MiB of a 100 MiB
 * frame unsent would hold 99 GB: past the budget, a connection holding more than
 * SHARE_BYTES_MAX of unhandled frames stops reading (connection.ts) until the total is back
 * under; small requests keep flowing, and a half-sent frame's frameTimeoutMs still runs, so
 * hoarders are dropped and their bytes freed. The total is then at most the budget plus
 * SHARE_BYTES_MAX and one read (64 KiB) per connection. Thread-confined.
 */

/** Past the budget, a connection holding more than this stops reading (a Produce of a few batches, a whole Fetch request). */
export const SHARE_BYTES_MAX = 1024 * 1024;
/** Default budget: 256 MiB of requests being received, server-wide. */
export const REQUEST_BUFFER_BYTES_MAX_DEFAULT = 256 * 1024 * 1024;

export class RequestBuffers {
  readonly bytesMax: number;
  #used = 0;
  readonly #waiting = new Set<() => void>();
  #wakeScheduled = false;

  constructor(bytesMax: number) {
    this.bytesMax = bytesMax;
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** Whether a connection holding `held` bytes must stop reading. */
  mustWait(held: number): boolean {
    return this.#used > this.bytesMax && held > SHARE_BYTES_MAX;
  }

  add(bytes: number): void {
    this.#used += bytes;
  }

  /** `bytes` handled or discarded; connections waiting are woken (on the next turn) once under the budget. */
  release(bytes: number): void {
    this.#used -= bytes;
    if (this.#used <= this.bytesMax && this.#waiting.size > 0 && !this.#wakeScheduled) {
      this.#wakeScheduled = true;
      setImmediate(() => this.#wake());
    }
  }

  /** Calls `resume` once the total is back under the budget. */
  wait(resume: () => void): void {
    this.#waiting.add(resume);
  }

  cancel(resume: () => void): void {
    this.#waiting.delete(resume);
  }

  #wake(): void {
    this.#wakeScheduled = false;
    if (this.#used > this.bytesMax) return;
    const woken = [...this.#waiting];
    this.#waiting.clear();
    for (const resume of woken) resume();
  }
}
