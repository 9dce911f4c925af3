/**
 * Argument checks, one rule for the whole library: a value of the wrong type is a TypeError, a
 * value of the right type out of its range (a fraction where an integer is wanted included, as in
 * Node's own checks) is a RangeError, an unknown option key is a TypeError;
 * every message names the option, what it must be (with its limits) and the value it got.
 */

/** A value as an error message shows it: strings quoted, so that '4' and 4 read differently. */
export function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return 'an array';
  return `an object (${(v as object).constructor?.name ?? 'null prototype'})`;
}

/** `v` as an options object: undefined is {}; anything but a plain object is a TypeError. */
export function optionsObject(v: unknown, what: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${what} must be an object, got ${shown(v)}`);
  return v as Record<string, unknown>;
}

/** TypeError for the first own key of `o` that is not in `known`. */
export function checkKeys(o: object, known: ReadonlySet<string>, what: string): void {
  for (const k of Object.keys(o)) {
    if (!known.has(k)) throw new TypeError(`unknown ${what} ${JSON.stringify(k)} (known: ${[...known].join(', ')})`);
  }
}

/** An integer in [min, max], or `dflt` when undefined. */
export function integer(v: unknown, name: string, min: number, max: number, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number') throw new TypeError(`${name} must be an integer, got ${shown(v)}`);
  // A number that is not an integer is out of range, as Node's own argument checks have it.
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer between ${min} and ${max}, got ${v}`);
  return v;
}

/** The longest duration any option takes: Number.MAX_SAFE_INTEGER ms (timers of any length are chained). */
export const DURATION_MS_MAX = Number.MAX_SAFE_INTEGER;

/** A duration in milliseconds: a finite number in [0, max] (fractions allowed), or `dflt` when undefined. */
export function duration(v: unknown, name: string, dflt?: number, max: number = DURATION_MS_MAX): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${name} must be a number of milliseconds, got ${shown(v)}`);
  if (!(v >= 0 && v <= max)) throw new RangeError(`${name} must be between 0 and ${max} ms, got ${v}`);
  return v;
}

/** A duration that may be left out (undefined: no limit). */
export function optionalDuration(v: unknown, name: string, max: number = DURATION_MS_MAX): number | undefined {
  return v === undefined ? undefined : duration(v, name, undefined, max);
}

export function boolean(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${shown(v)}`);
  return v;
}

/** One of `values` (strings), or `dflt` when undefined. */
export function oneOf<T extends string>(v: unknown, name: string, values: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string') throw new TypeError(`${name} must be ${values.map((x) => `'${x}'`).join(', ')}, got ${shown(v)}`);
  if (!(values as readonly string[]).includes(v)) throw new RangeError(`${name} must be ${values.map((x) => `'${x}'`).join(', ')}, got ${shown(v)}`);
  return v as T;
}
