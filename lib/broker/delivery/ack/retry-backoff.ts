/**
 * Retry backoff of an ack-model consumer: how long a message whose delivery failed (a nack
 * without a delay, a handler that threw, a visibility timeout, a value that does not decode)
 * waits before it is delivered again, by how many times its deliveries have failed.
 *
 *   [1000, 5000, 30000]                       the n-th failure waits the n-th delay (the last
 *                                             one from then on)
 *   {initialMs, maxMs, multiplier?, jitter?}  initialMs x multiplier^(n - 1), at most maxMs
 *                                             (multiplier default 2); with jitter j in [0, 1],
 *                                             a delay d becomes a random one in [d (1 - j), d]
 */
import { shown } from '../../../validate';

export type RetryBackoffInput = readonly number[] | { initialMs: number; maxMs: number; multiplier?: number; jitter?: number };

/** Delays may reach this (about 285,000 years): every duration the broker's clock takes. */
const DELAY_MAX = Number.MAX_SAFE_INTEGER;
const LIST_MAX = 1000;
const EXPONENTIAL_KEYS = new Set(['initialMs', 'maxMs', 'multiplier', 'jitter']);

export class RetryBackoff {
  readonly #list: readonly number[] | null;
  readonly #initial: number;
  readonly #max: number;
  readonly #multiplier: number;
  readonly #jitter: number;

  private constructor(list: readonly number[] | null, initial: number, max: number, multiplier: number, jitter: number) {
    this.#list = list;
    this.#initial = initial;
    this.#max = max;
    this.#multiplier = multiplier;
    this.#jitter = jitter;
  }

  /** Validates the option (TypeError, RangeError naming it); undefined gives null (no backoff). */
  static parse(input: unknown, name = 'retryBackoff'): RetryBackoff | null {
    if (input === undefined) return null;
    if (Array.isArray(input)) {
      if (input.length === 0 || input.length > LIST_MAX) throw new RangeError(`${name} must list 1 to ${LIST_MAX} delays, got ${input.length}`);
      input.forEach((d, i) => delay(d, `${name}[${i}]`));
      return new RetryBackoff(Object.freeze([...input]), 0, 0, 0, 0);
    }
    if (input === null || typeof input !== 'object') throw new TypeError(`${name} must be a list of delays or {initialMs, maxMs, multiplier?, jitter?}, got ${shown(input)}`);
    const o = input as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!EXPONENTIAL_KEYS.has(k)) throw new TypeError(`unknown ${name} option ${JSON.stringify(k)} (it takes initialMs, maxMs, multiplier and jitter)`);
    const initial = delay(o.initialMs, `${name}.initialMs`);
    const max = delay(o.maxMs, `${name}.maxMs`);
    if (max < initial) throw new RangeError(`${name}.maxMs (${max}) must be at least initialMs (${initial})`);
    const multiplier = o.multiplier === undefined ? 2 : finite(o.multiplier, `${name}.multiplier`, 1, 1000);
    const jitter = o.jitter === undefined ? 0 : finite(o.jitter, `${name}.jitter`, 0, 1);
    return new RetryBackoff(null, initial, max, multiplier, jitter);
  }

  /** The delay after the `failures`-th failed delivery (1 for the first). `random` in [0, 1). */
  delayFor(failures: number, random: () => number = Math.random): number {
    const n = Math.max(1, failures);
    if (this.#list !== null) return this.#list[Math.min(n, this.#list.length) - 1];
    const d = Math.min(this.#max, this.#initial * this.#multiplier ** (n - 1));
    return Math.round(this.#jitter === 0 ? d : d * (1 - this.#jitter * random()));
  }
}

function delay(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name} must be an integer number of milliseconds, got ${shown(v)}`);
  if (v < 0 || v > DELAY_MAX) throw new RangeError(`${name} must be from 0 to ${DELAY_MAX} ms, got ${v}`);
  return v;
}

function finite(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${name} must be a number, got ${shown(v)}`);
  if (v < min || v > max) throw new RangeError(`${name} must be from ${min} to ${max}, got ${v}`);
  return v;
}
