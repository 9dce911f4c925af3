/**
 * One partition of a topic: its Log, and the consumers waiting for data in it. Appends become
 * readable when the Log seals its batch at the end of the tick (a process.nextTick queued by the
 * first append), so waiters are woken by a nextTick queued after it: once per tick however many
 * appends there were, without waiting for a turn of the event loop (a producer awaiting confirms
 * in a loop never gives one). Lifetime: opened with its topic, closed with it.
 */
import type { Log } from '../../storage/log';

/** Something to wake when a partition may have new data. */
export interface DataWaiter {
  wake(): void;
}

export class TopicPartition {
  readonly topic: string;
  readonly index: number;
  readonly log: Log;
  #waiters = new Set<DataWaiter>();
  #wakeScheduled = false;
  #closed = false;
  readonly #wakeAll = (): void => {
    if (!this.#closed && this.log.highWatermark < this.log.endOffset) {
      // Not sealed yet (the Log seals at the end of the tick, in a nextTick queued before ours):
      // look again on the next turn of the event loop.
      setImmediate(this.#wakeAll);
      return;
    }
    this.#wakeScheduled = false;
    if (this.#waiters.size === 0) return;
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const w of waiters) w.wake();
  };

  constructor(topic: string, index: number, log: Log) {
    this.topic = topic;
    this.index = index;
    this.log = log;
  }

  /** Called after appending: wakes the waiters once the batch is sealed. */
  appended(): void {
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      process.nextTick(this.#wakeAll);
    }
  }

  /** Wakes `w` once, after the next append (or at once if one is pending). */
  waitForData(w: DataWaiter): void {
    if (!this.#closed) this.#waiters.add(w);
  }

  /** The topic was closed or deleted: wake everyone so they notice. */
  markClosed(): void {
    this.#closed = true;
    this.#wakeAll();
  }

  get closed(): boolean {
    return this.#closed;
  }
}
