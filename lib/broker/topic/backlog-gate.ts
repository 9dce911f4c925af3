/**
 * Bounded queue admission for one topic (peak shaving). A send of n messages is admitted when
 * backlog + n <= maxBacklog, where backlog is what the topic's slowest consumer group has not yet
 * consumed; otherwise it fails with QUEUE_FULL at once, or, if the caller gave a wait, queues until
 * consumers make room or the wait runs out (then QUEUE_FULL). Waiters are admitted strictly in
 * arrival order, and while any is waiting new sends queue behind it (or fail), so one producer's
 * sends keep their order. Admission runs the append synchronously, so admitted messages count
 * before the next admission is decided. Thread-confined (the broker's thread).
 *
 * Retention also makes room (the backlog only counts retained messages), but the Log applies it
 * only when a segment rolls, that is on appends, which a full topic no longer gets: so a send that
 * does not fit first has retention applied now, and while sends wait it is applied again every
 * RETAIN_RECHECK_MS.
 */
import { ErrorCode, SluiceError } from '../../errors';
import type { Clock, TimerHandle } from '../time/clock';

/** How often waiting sends look for room made by time-based retention (its granularity: seconds). */
const RETAIN_RECHECK_MS = 1000;

interface Waiter {
  count: number;
  run: () => void;
  fail: (err: Error) => void;
  timer: TimerHandle | undefined;
}

export class BacklogGate {
  readonly #topic: string;
  readonly #max: number | null;
  readonly #backlog: () => number;
  readonly #clock: Clock;
  /** Applies retention now; true if it deleted anything. Null for topics without retention. */
  readonly #retain: (() => boolean) | null;
  #retainTimer: TimerHandle | undefined;
  #waiters: Waiter[] = [];
  #recheckScheduled = false;
  #closedError: Error | null = null;
  readonly #recheck = (): void => {
    this.#recheckScheduled = false;
    this.#drain();
  };

  constructor(topic: string, max: number | null, backlog: () => number, clock: Clock, retain: (() => boolean) | null) {
    this.#topic = topic;
    this.#max = max;
    this.#backlog = backlog;
    this.#clock = clock;
    this.#retain = retain;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Runs `fn` (the append) now if `count` messages fit, else throws QUEUE_FULL, or with `waitMs`
   * returns a promise of fn's result once they fit (rejected with QUEUE_FULL after waitMs).
   */
  admit<T>(count: number, waitMs: number | undefined, fn: () => T): T | Promise<T> {
    if (this.#closedError !== null) throw this.#closedError;
    if (this.#max === null) return fn();
    if (count > this.#max) throw this.#full(`a batch of ${count} messages is larger than the topic's maxBacklog (${this.#max})`);
    if (this.#waiters.length === 0 && this.#fits(count)) return fn();
    if (waitMs === undefined || waitMs <= 0) throw this.#full();
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        count,
        run: () => {
          try {
            resolve(fn());
          } catch (e) {
            reject(e);
          }
        },
        fail: reject,
        timer: undefined,
      };
      w.timer = this.#clock.setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i < 0) return;
        this.#waiters.splice(i, 1);
        reject(this.#full(`waited ${waitMs} ms for room`));
        if (i === 0) this.#drain(); // the next one may fit
      }, waitMs);
      this.#waiters.push(w);
      this.#armRetain();
    });
  }

  /** Consumers made progress (or the backlog otherwise fell): admit waiters on the next turn. */
  recheck(): void {
    if (this.#waiters.length > 0 && !this.#recheckScheduled) {
      this.#recheckScheduled = true;
      setImmediate(this.#recheck);
    }
  }

  /** Fails every waiter and every later send with `err`. */
  close(err: Error): void {
    this.#closedError = err;
    if (this.#retainTimer !== undefined) this.#clock.clearTimeout(this.#retainTimer);
    this.#retainTimer = undefined;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (w.timer !== undefined) this.#clock.clearTimeout(w.timer);
      w.fail(err);
    }
  }

  /** Whether `count` more messages fit, applying retention first if they do not. */
  #fits(count: number): boolean {
    const max = this.#max!;
    if (this.#backlog() + count <= max) return true;
    return this.#retain !== null && this.#retain() && this.#backlog() + count <= max;
  }

  #armRetain(): void {
    if (this.#retain === null || this.#retainTimer !== undefined || this.#waiters.length === 0) return;
    this.#retainTimer = this.#clock.setTimeout(() => {
      this.#retainTimer = undefined;
      if (this.#closedError !== null || this.#waiters.length === 0) return;
      try {
        if (this.#retain!()) this.#drain();
      } catch {
        // A failing Log fails the sends that append to it; waiting ones keep waiting.
      }
      this.#armRetain();
    }, RETAIN_RECHECK_MS);
  }

  #drain(): void {
    const max = this.#max;
    if (max === null || this.#closedError !== null) return;
    while (this.#waiters.length > 0) {
      const w = this.#waiters[0];
      if (this.#backlog() + w.count > max) break;
      this.#waiters.shift();
      if (w.timer !== undefined) this.#clock.clearTimeout(w.timer);
      w.run();
    }
  }

  #full(detail?: string): SluiceError {
    return new SluiceError(
      `topic ${JSON.stringify(this.#topic)} is full: its backlog is at maxBacklog (${this.#max})${detail === undefined ? '' : `; ${detail}`}`,
      ErrorCode.QUEUE_FULL,
    );
  }
}
