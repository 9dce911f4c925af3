/**
 * The server's `quotas` option: byte rates for produce and fetch, by default and per principal,
 * per client id, or per principal and client id together, checked once into Maps (so that a
 * client id such as "__proto__" is an ordinary key).
 */
import { checkKeys, integer, optionsObject, shown } from '../../validate';

export interface QuotaRates {
  /** Bytes of Produce requests per second (whole request frames, as Kafka counts them). */
  produceBytesPerSec?: number;
  /** Record bytes of Fetch responses per second. */
  fetchBytesPerSec?: number;
}

export interface PrincipalQuotas extends QuotaRates {
  /** The principal's rates when it uses one of these client ids (before its own rates). */
  clientIds?: Record<string, QuotaRates>;
}

export interface QuotaOptions {
  /** Rates for each principal and client id pair that no entry below names. */
  default?: QuotaRates;
  /** By principal ('User:alice'): shared by all of its connections and client ids. */
  principals?: Record<string, PrincipalQuotas>;
  /** By client id: shared by all connections using it, whoever they authenticate as. */
  clientIds?: Record<string, QuotaRates>;
  /** Samples the rate is measured over (Kafka's quota.window.num). Default 11. */
  windowSamples?: number;
  /** Each sample's span (Kafka's quota.window.size.seconds, in ms). Default 1000. */
  windowSampleMs?: number;
}

export const QUOTA_WINDOW_SAMPLES_DEFAULT = 11;
export const QUOTA_WINDOW_SAMPLE_MS_DEFAULT = 1000;
/** A rate of at most 2^53 - 1 bytes per second: any larger is no limit at all. */
const RATE_MAX = Number.MAX_SAFE_INTEGER;

export interface Rates {
  produce?: number;
  fetch?: number;
}

export interface QuotaConfig {
  default: Rates;
  principals: ReadonlyMap<string, { rates: Rates; clientIds: ReadonlyMap<string, Rates> }>;
  clientIds: ReadonlyMap<string, Rates>;
  windowSamples: number;
  windowSampleMs: number;
}

const KEYS = new Set(['default', 'principals', 'clientIds', 'windowSamples', 'windowSampleMs']);
const RATE_KEYS = new Set(['produceBytesPerSec', 'fetchBytesPerSec']);
const PRINCIPAL_KEYS = new Set([...RATE_KEYS, 'clientIds']);

/** The checked configuration, or null when no quota is set (nothing is measured then). */
export function quotaConfigOf(v: unknown): QuotaConfig | null {
  if (v === undefined) return null;
  const o = optionsObject(v, 'quotas');
  checkKeys(o, KEYS, 'quotas option');
  const config: QuotaConfig = {
    default: ratesOf(o.default, 'quotas.default', RATE_KEYS),
    principals: new Map(entries(o.principals, 'quotas.principals').map(([principal, p]) => {
      if (!/^[^:]+:./.test(principal)) throw new RangeError(`quotas.principals keys are principals such as "User:alice", got ${shown(principal)}`);
      const what = `quotas.principals[${JSON.stringify(principal)}]`;
      const rates = ratesOf(p, what, PRINCIPAL_KEYS);
      const clientIds = new Map(entries((p as PrincipalQuotas).clientIds, `${what}.clientIds`).map(([id, r]) => [id, ratesOf(r, `${what}.clientIds[${JSON.stringify(id)}]`, RATE_KEYS)]));
      return [principal, { rates, clientIds }];
    })),
    clientIds: new Map(entries(o.clientIds, 'quotas.clientIds').map(([id, r]) => [id, ratesOf(r, `quotas.clientIds[${JSON.stringify(id)}]`, RATE_KEYS)])),
    windowSamples: integer(o.windowSamples, 'quotas.windowSamples', 2, 1000, QUOTA_WINDOW_SAMPLES_DEFAULT),
    windowSampleMs: integer(o.windowSampleMs, 'quotas.windowSampleMs', 10, 3_600_000, QUOTA_WINDOW_SAMPLE_MS_DEFAULT),
  };
  return config;
}

function entries(v: unknown, what: string): [string, unknown][] {
  return Object.entries(optionsObject(v, what));
}

function ratesOf(v: unknown, what: string, keys: ReadonlySet<string>): Rates {
  const o = optionsObject(v, what);
  checkKeys(o, keys, `${what} key`);
  const rates: Rates = {};
  if (o.produceBytesPerSec !== undefined) rates.produce = integer(o.produceBytesPerSec, `${what}.produceBytesPerSec`, 1, RATE_MAX);
  if (o.fetchBytesPerSec !== undefined) rates.fetch = integer(o.fetchBytesPerSec, `${what}.fetchBytesPerSec`, 1, RATE_MAX);
  return rates;
}
