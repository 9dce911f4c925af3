/**
 * `sluice serve`'s quota and connection-limit flags, parsed into the server's options. Each
 * parser throws commander's InvalidArgumentError (a usage error, exit code 2) with an example.
 *
 *   --quota produce=1MiB/s                                 the default, each principal and client id
 *   --quota client-id=etl:fetch=512KiB/s                   every connection with client id etl
 *   --quota principal=User:alice:produce=2MB/s,fetch=4MB/s
 *   --quota principal=User:alice:client-id=etl:produce=100KiB/s
 *   --connections-per-ip-override 10.0.0.7=500
 *
 * The rates come after the last colon (client ids and principals may hold colons themselves).
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from 'commander';
import type { QuotaOptions, QuotaRates } from '../kafka/quotas/quota-config';

const EXAMPLE = 'e.g. produce=1MiB/s, client-id=etl:fetch=512KiB/s or principal=User:alice:client-id=etl:produce=2MB/s,fetch=4MB/s';
const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 };
const FIELDS = { produce: 'produceBytesPerSec', fetch: 'fetchBytesPerSec' } as const;
const CLIENT_ID = 'client-id=';
const PRINCIPAL = 'principal=';

/** `1MiB/s`, `512KiB`, `2.5MB/s`, `1000` (bytes): bytes per second, a positive integer. */
export function byteRate(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?(?:\/s)?$/i.exec(value.trim());
  if (m === null) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a byte rate: want a number with B, KB, MB, GB, KiB, MiB or GiB, e.g. 1MiB/s`);
  const n = Math.round(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]);
  if (!(n >= 1 && n <= Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError(`${JSON.stringify(value)}: a rate must be at least 1 byte per second`);
  return n;
}

/** One `--quota` flag (repeatable), added to the quotas of the flags before it. */
export function quotaFlag(value: string, previous: QuotaOptions = {}): QuotaOptions {
  const at = value.lastIndexOf(':');
  const entity = at < 0 ? '' : value.slice(0, at);
  const target = ratesOf(previous, entity);
  for (const part of value.slice(at + 1).split(',')) {
    const [kind, rate, extra] = part.split('=');
    if (rate === undefined || extra !== undefined || !(kind in FIELDS)) throw new InvalidArgumentError(`${JSON.stringify(part)}: want produce=RATE or fetch=RATE (${EXAMPLE})`);
    const field = FIELDS[kind as keyof typeof FIELDS];
    if (target[field] !== undefined) throw new InvalidArgumentError(`the ${kind} quota of ${entity === '' ? 'the default' : entity} is given twice`);
    target[field] = byteRate(rate);
  }
  return previous;
}

/** The rates object of `entity` ('', client-id=C, principal=P or principal=P:client-id=C) in `q`, made if missing. */
function ratesOf(q: QuotaOptions, entity: string): QuotaRates {
  if (entity === '') return (q.default ??= {});
  if (entity.startsWith(CLIENT_ID)) return ((q.clientIds ??= record())[entity.slice(CLIENT_ID.length)] ??= {});
  if (!entity.startsWith(PRINCIPAL)) throw new InvalidArgumentError(`${JSON.stringify(entity)}: name client-id=ID, principal=TYPE:NAME or both before the rates (${EXAMPLE})`);
  const rest = entity.slice(PRINCIPAL.length);
  const split = rest.lastIndexOf(`:${CLIENT_ID}`);
  const principal = split < 0 ? rest : rest.slice(0, split);
  if (!/^[^:]+:./.test(principal)) throw new InvalidArgumentError(`${JSON.stringify(principal)}: a principal is TYPE:NAME, e.g. User:alice`);
  const p = ((q.principals ??= record())[principal] ??= {});
  if (split < 0) return p;
  return ((p.clientIds ??= record())[rest.slice(split + 1 + CLIENT_ID.length)] ??= {});
}

/** A record keyed by names a user chose: no prototype, so "__proto__" is a name like any other. */
function record<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** One `--connections-per-ip-override ADDRESS=N` (repeatable). */
export function connectionsOverride(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const at = value.lastIndexOf('=');
  const n = Number(value.slice(at + 1));
  if (at <= 0 || !/^\d+$/.test(value.slice(at + 1)) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('want ADDRESS=N, e.g. 10.0.0.7=500 or ::1=0 (0 refuses the address)');
  const address = value.slice(0, at);
  if (isIP(address) === 0) throw new InvalidArgumentError(`${JSON.stringify(address)} is not an IP address (want ADDRESS=N, e.g. 10.0.0.7=500)`);
  previous[address] = n;
  return previous;
}
