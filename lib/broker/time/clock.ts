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
