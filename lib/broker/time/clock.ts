/**
 * The broker's notion of time: message timestamps, visibility timeouts, nack delays, send and poll
 * timeouts and rebalance timeouts all go through one Clock, so that tests drive time by hand
 * (ManualClock) instead of sleeping.
 */

/** An opaque timer handle, as returned by Clock.setTimeout. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from now. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Wall-clock time and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, ms: number): TimerHandle => setTimeout(callback, ms),
  clearTimeout: (handle: TimerHandle): void => clearTimeout(handle as NodeJS.Timeout),
});

export function checkClock(clock: unknown): Clock {
  const c = clock as Clock;
  if (c === null || typeof c !== 'object' || typeof c.now !== 'function' || typeof c.setTimeout !== 'function' || typeof c.clearTimeout !== 'function') {
    throw new TypeError('clock must be an object with now(), setTimeout(callback, ms) and clearTimeout(handle)');
  }
  return c;
}

/** The longest delay Node's setTimeout takes (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const TIMER_MS_MAX = 2 ** 31 - 1;

interface LongTimer {
  handle: TimerHandle;
}

/**
 * `clock` with timers of any length up to Number.MAX_SAFE_INTEGER ms: a delay over TIMER_MS_MAX is
 * a chain of shorter timers, each re-armed for what remains (measured on the clock, so a clock
 * that jumps is followed). Every duration the broker takes goes through one of these.
 */
export function withLongTimers(clock: Clock): Clock {
  const chains = new WeakSet<LongTimer>();
  return Object.freeze({
    now: () => clock.now(),
    setTimeout(callback: () => void, ms: number): TimerHandle {
      const delay = Math.max(0, Number(ms) || 0);
      if (delay <= TIMER_MS_MAX) return clock.setTimeout(callback, delay);
      const due = clock.now() + delay;
      const timer: LongTimer = { handle: undefined };
      chains.add(timer);
      const arm = (): void => {
        const left = due - clock.now();
        if (left <= 0) callback();
        else timer.handle = clock.setTimeout(arm, Math.min(left, TIMER_MS_MAX));
      };
      timer.handle = clock.setTimeout(arm, TIMER_MS_MAX);
      return timer;
    },
    clearTimeout(handle: TimerHandle): void {
      if (handle !== null && typeof handle === 'object' && chains.has(handle as LongTimer)) clock.clearTimeout((handle as LongTimer).handle);
      else clock.clearTimeout(handle);
    },
  });
}
