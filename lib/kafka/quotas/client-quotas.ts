/**
 * Produce and fetch byte-rate quotas, enforced as Kafka's ClientQuotaManager does (KIP-13,
 * KIP-219): each request's bytes are recorded in the sliding-window rate of the quota entity it
 * belongs to; when that rate is over the quota, the throttle time is what brings it back under,
 * were nothing more sent: observed O over window W against quota T, X = (O - T) / T * W. The
 * response goes back at once carrying it as throttle_time_ms, and the connection then reads
 * nothing more for that long (connection.ts); clients that know the field back off too.
 *
 * Which quota applies, for each of produce and fetch separately (the most specific that sets it):
 *   1. principals[p].clientIds[c]   that principal with that client id
 *   2. principals[p]                every connection of the principal, all client ids together
 *   3. clientIds[c]                 every connection with the client id, whoever it is
 *   4. default                      each principal and client id pair on its own
 * (Kafka's /config/users/<user>/clients/<client-id>, /config/users/<user>,
 * /config/clients/<client-id> and /config/users/<default>/clients/<default>.)
 *
 * Produce counts whole request frames, recorded whatever the outcome (the records are appended).
 * Fetch counts the record bytes of the response; a fetch that would go over is answered with no
 * records (and its bytes are not counted) and the throttle time, and one fetch takes at most what
 * the window allows, quota * (samples - 1) * sample span, or it could never be served.
 *
 * An entity's rate is forgotten once it has recorded nothing for a whole window (it measures 0
 * then, as a new one would), so client ids made up by the thousand do not pile up. Thread-confined.
 */
import type { QuotaConfig, Rates } from './quota-config';
import { SampledRate } from './sampled-rate';

export type QuotaKind = 'produce' | 'fetch';

/** What the quotas have done so far, per kind. */
export interface QuotaStats {
  /** Requests answered with a throttle time. */
  throttledRequests: Record<QuotaKind, number>;
  /** The throttle times given, summed (ms). */
  throttleTimeMs: Record<QuotaKind, number>;
  /** Quota entities with a rate measured now. */
  entities: number;
}

/** throttle_time_ms is an int32. */
const THROTTLE_MS_MAX = 2 ** 31 - 1;

interface Applied {
  bytesPerSec: number;
  /** The entity whose rate it is: the level that matched, with the names it matched on. */
  key: string;
}

export class ClientQuotas {
  readonly #config: QuotaConfig | null;
  readonly #now: () => number;
  readonly #rates = new Map<string, SampledRate>();
  #sweptMs = -Infinity;
  readonly #stats: QuotaStats = { throttledRequests: { produce: 0, fetch: 0 }, throttleTimeMs: { produce: 0, fetch: 0 }, entities: 0 };

  /** `config` null: no quotas (every call answers 0 or no limit at once). */
  constructor(config: QuotaConfig | null, now: () => number = () => performance.now()) {
    this.#config = config;
    this.#now = now;
  }

  /** Records a Produce request of `bytes`; the throttle time (0 within the quota). */
  recordProduce(principal: string, clientId: string | null, bytes: number): number {
    return this.#record('produce', principal, clientId, bytes, false);
  }

  /**
   * Records a Fetch response of `bytes` record bytes if it fits the quota (0); else records
   * nothing and returns the throttle time: the response must then carry no records.
   */
  admitFetch(principal: string, clientId: string | null, bytes: number): number {
    return this.#record('fetch', principal, clientId, bytes, true);
  }

  #record(kind: QuotaKind, principal: string, clientId: string | null, bytes: number, takeBackIfThrottled: boolean): number {
    const applied = this.#applied(kind, principal, clientId);
    if (applied === null) return 0;
    const now = this.#now();
    const rate = this.#rateOf(applied.key, now);
    rate.record(bytes, now);
    const throttleMs = this.#throttled(kind, rate, applied.bytesPerSec, now);
    if (throttleMs > 0 && takeBackIfThrottled) rate.record(-bytes, now);
    return throttleMs;
  }

  /** The most record bytes one fetch may carry (Infinity without a fetch quota). */
  fetchBytesMax(principal: string, clientId: string | null): number {
    const applied = this.#applied('fetch', principal, clientId);
    if (applied === null) return Infinity;
    const c = this.#config!;
    return Math.max(1, Math.floor((applied.bytesPerSec * (c.windowSamples - 1) * c.windowSampleMs) / 1000));
  }

  stats(): QuotaStats {
    const s = this.#stats;
    return { throttledRequests: { ...s.throttledRequests }, throttleTimeMs: { ...s.throttleTimeMs }, entities: this.#rates.size };
  }

  #throttled(kind: QuotaKind, rate: SampledRate, bound: number, now: number): number {
    const observed = rate.ratePerSec(now);
    if (observed <= bound) return 0;
    const ms = Math.min(THROTTLE_MS_MAX, Math.round(((observed - bound) / bound) * rate.windowMs(now)));
    if (ms > 0) {
      this.#stats.throttledRequests[kind]++;
      this.#stats.throttleTimeMs[kind] += ms;
    }
    return ms;
  }

  #applied(kind: QuotaKind, principal: string, clientId: string | null): Applied | null {
    const c = this.#config;
    if (c === null) return null;
    const id = clientId ?? '';
    const p = c.principals.get(principal);
    const pair = p?.clientIds.get(id)?.[kind];
    if (pair !== undefined) return { bytesPerSec: pair, key: entityKey(kind, 'principal+client', principal, id) };
    const own = p?.rates[kind];
    if (own !== undefined) return { bytesPerSec: own, key: entityKey(kind, 'principal', principal, '') };
    const client = c.clientIds.get(id)?.[kind];
    if (client !== undefined) return { bytesPerSec: client, key: entityKey(kind, 'client', '', id) };
    const dflt = (c.default as Rates)[kind];
    if (dflt !== undefined) return { bytesPerSec: dflt, key: entityKey(kind, 'default', principal, id) };
    return null;
  }

  #rateOf(key: string, now: number): SampledRate {
    this.#sweep(now);
    let rate = this.#rates.get(key);
    if (rate === undefined) {
      rate = new SampledRate(this.#config!.windowSamples, this.#config!.windowSampleMs);
      this.#rates.set(key, rate);
    }
    return rate;
  }

  /** Forgets the rates that measure nothing any more, at most once per sample span. */
  #sweep(now: number): void {
    if (now - this.#sweptMs < this.#config!.windowSampleMs) return;
    this.#sweptMs = now;
    for (const [key, rate] of this.#rates) if (rate.idle(now)) this.#rates.delete(key);
  }
}

function entityKey(kind: QuotaKind, level: string, principal: string, clientId: string): string {
  return `${kind}\u0000${level}\u0000${principal}\u0000${clientId}`;
}
