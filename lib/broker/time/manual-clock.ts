/**
 * A Clock that only moves when told to: `advance(ms)` runs every timer that falls due, in time
 * order (ties in the order they were set), with `now()` reading each timer's due time while it
 * runs. For tests of visibility timeouts, nack delays and timeouts without sleeping.
 * Thread-confined, like the broker it drives.
 */
import type { Clock, TimerHandle } from './clock';

interface Timer {
  due: number;
  seq: number;
  callback: () => void;
}

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    if (typeof startMs !== 'number' || !Number.isSafeInteger(startMs) || startMs < 0) {
      throw new RangeError('startMs must be a non-negative integer');
    }
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    if (typeof callback !== 'function') throw new TypeError('callback must be a function');
    const timer: Timer = { due: this.#now + Math.max(0, Number(ms) || 0), seq: this.#seq++, callback };
    this.#timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.#timers.indexOf(handle as Timer);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, running the timers that fall due on the way. */
  advance(ms: number): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new RangeError('ms must be a non-negative number');
    const end = this.#now + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.#timers) {
        if (t.due <= end && (next === undefined || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
      }
      if (next === undefined) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = Math.max(this.#now, next.due);
      next.callback();
    }
    this.#now = end;
  }
}
