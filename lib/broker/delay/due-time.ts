/**
 * When a message sent with `delayMs` or `deliverAt` is due, checked: a clear error for a negative
 * or non-integer delay, both fields at once, a time that is not one, or one past DELIVER_AT_MAX.
 */

/** The headers a delayed message carries in the delay log (see delay-store.ts). */
export { DELAY_HEADERS } from '../codec/reserved-headers';

/** The latest due time taken: the end of year 9999 (ms since the epoch). */
export const DELIVER_AT_MAX = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The due time of `m` (ms), or null when it is not delayed or is due already at `now`. */
export function dueTimeOf(m: { delayMs?: unknown; deliverAt?: unknown }, index: number, now: number): number | null {
  const { delayMs, deliverAt } = m;
  if (delayMs === undefined && deliverAt === undefined) return null;
  if (delayMs !== undefined && deliverAt !== undefined) throw new TypeError(`message ${index}: give delayMs or deliverAt, not both`);
  let at: number;
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !Number.isSafeInteger(delayMs) || delayMs < 0) {
      throw new RangeError(`message ${index}: delayMs must be a non-negative integer number of milliseconds, got ${String(delayMs)}`);
    }
    at = now + delayMs;
  } else if (deliverAt instanceof Date) {
    at = deliverAt.getTime();
    if (Number.isNaN(at)) throw new RangeError(`message ${index}: deliverAt is an invalid Date`);
  } else if (typeof deliverAt === 'number' && Number.isSafeInteger(deliverAt) && deliverAt >= 0) {
    at = deliverAt;
  } else {
    throw new TypeError(`message ${index}: deliverAt must be a Date or a non-negative integer number of milliseconds since the epoch, got ${String(deliverAt)}`);
  }
  if (at > DELIVER_AT_MAX) throw new RangeError(`message ${index}: a delay past ${new Date(DELIVER_AT_MAX).toISOString()} is beyond the supported range`);
  return at <= now ? null : at;
}
