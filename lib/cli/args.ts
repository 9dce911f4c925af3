/**
 * Argument parsers shared by the `sluice` commands: each throws commander's InvalidArgumentError
 * (a usage error, exit code 2) with what it wants.
 */
import { InvalidArgumentError } from 'commander';

export function listenAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  if (m === null) throw new InvalidArgumentError('want HOST:PORT, e.g. 127.0.0.1:9092 or [::1]:9092');
  const port = Number(m[3]);
  if (port > 65535) throw new InvalidArgumentError('the port must be 0 to 65535');
  return { host: m[1] ?? (m[2] === '' ? '127.0.0.1' : m[2]), port };
}

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('want a positive integer');
  return n;
}

export function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('want a non-negative integer');
  return n;
}

/** Where to start reading: `earliest`, `latest`, an offset, or a time (ISO 8601, or ms since the epoch with a trailing "ms"). */
export type Position = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: number } | { kind: 'time'; timestamp: number };

export function position(value: string): Position {
  if (value === 'earliest' || value === 'latest') return { kind: value };
  if (/^\d+$/.test(value)) {
    const offset = Number(value);
    if (!Number.isSafeInteger(offset)) throw new InvalidArgumentError('the offset is too large');
    return { kind: 'offset', offset };
  }
  const ms = /^(\d+)ms$/.exec(value);
  const timestamp = ms !== null ? Number(ms[1]) : Date.parse(value);
  if (!Number.isSafeInteger(timestamp)) throw new InvalidArgumentError('want earliest, latest, an offset, or a time (2026-12-03T08:00:00Z, or 1796280000000ms)');
  return { kind: 'time', timestamp };
}

/** `key=value` (repeatable): headers of a produced message. */
export function header(value: string, previous: [string, string][] = []): [string, string][] {
  const i = value.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError('want NAME=VALUE');
  return [...previous, [value.slice(0, i), value.slice(i + 1)]];
}
