/**
 * Connections open per client IP address, against a limit (Kafka's max.connections.per.ip, with
 * max.connections.per.ip.overrides for named addresses; an override of 0 refuses the address).
 * IPv4 addresses seen through a dual-stack socket (::ffff:10.0.0.1) count as the IPv4 address, so
 * an override names either form. Only addresses with connections open are kept. Thread-confined.
 */
import { isIP } from 'node:net';
import { integer, optionsObject, shown } from '../../validate';

export interface ConnectionsPerIpOptions {
  /** At most this many connections from one address. Default: no limit. */
  connectionsPerIpMax?: number;
  /** Limits of named addresses instead ('10.0.0.7': 500, '::1': 0). */
  connectionsPerIpOverrides?: Record<string, number>;
}

const CONNECTIONS_MAX = 1_000_000;

export class ConnectionsPerIp {
  readonly #max: number;
  readonly #overrides: ReadonlyMap<string, number>;
  readonly #open = new Map<string, number>();

  private constructor(max: number, overrides: ReadonlyMap<string, number>) {
    this.#max = max;
    this.#overrides = overrides;
  }

  /** Checked options; null when no limit is set (nothing is counted then). */
  static of(o: ConnectionsPerIpOptions): ConnectionsPerIp | null {
    if (o.connectionsPerIpMax === undefined && o.connectionsPerIpOverrides === undefined) return null;
    const max = integer(o.connectionsPerIpMax, 'connectionsPerIpMax', 1, CONNECTIONS_MAX, Infinity);
    const overrides = new Map<string, number>();
    for (const [address, n] of Object.entries(optionsObject(o.connectionsPerIpOverrides, 'connectionsPerIpOverrides'))) {
      if (isIP(address) === 0) throw new RangeError(`connectionsPerIpOverrides keys are IP addresses, got ${shown(address)}`);
      overrides.set(normalAddress(address), integer(n, `connectionsPerIpOverrides[${JSON.stringify(address)}]`, 0, CONNECTIONS_MAX));
    }
    return new ConnectionsPerIp(max, overrides);
  }

  /** The limit of `address`. */
  limitOf(address: string): number {
    return this.#overrides.get(normalAddress(address)) ?? this.#max;
  }

  /** Counts a connection from `address` if it is under its limit; false (nothing counted) if not. */
  tryOpen(address: string): boolean {
    const a = normalAddress(address);
    const n = this.#open.get(a) ?? 0;
    if (n >= (this.#overrides.get(a) ?? this.#max)) return false;
    this.#open.set(a, n + 1);
    return true;
  }

  /** A connection tryOpen counted has closed. */
  closed(address: string): void {
    const a = normalAddress(address);
    const n = this.#open.get(a) ?? 0;
    if (n <= 1) this.#open.delete(a);
    else this.#open.set(a, n - 1);
  }
}

function normalAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}
