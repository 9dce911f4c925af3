/**
 * What a server counts of its requests and connections, for stats() and the metrics endpoint:
 * per API, requests answered or failed and their latency (from the whole frame read to the
 * response ready to write, in the shared power-of-two buckets); connections accepted, refused at
 * the limit, and dropped by the server (malformed requests, limits, timeouts); SASL
 * authentications that succeeded and failed. Thread-confined.
 */
import { DurationHistogram, type DurationSnapshot } from '../storage/duration-histogram';
import { advertised } from './protocol/versions';

/** One API's requests since the server started. */
export interface ApiRequestStats {
  api: string;
  key: number;
  /** Requests handled (answered, or acks 0 produce). */
  count: number;
  /** Requests whose handling failed (the connection was dropped). */
  errors: number;
  latency: DurationSnapshot;
}

interface PerApi {
  count: number;
  errors: number;
  latency: DurationHistogram;
}

export class RequestStats {
  readonly #apis = new Map<number, PerApi>();
  connectionsAccepted = 0;
  connectionsRefused = 0;
  connectionsDropped = 0;
  authenticationsSucceeded = 0;
  authenticationsFailed = 0;

  /** One request of API `key`, handled in `ms`; `failed`: its handler threw. */
  record(key: number, ms: number, failed: boolean): void {
    let a = this.#apis.get(key);
    if (a === undefined) {
      a = { count: 0, errors: 0, latency: new DurationHistogram() };
      this.#apis.set(key, a);
    }
    if (failed) a.errors++;
    else a.count++;
    a.latency.recordMs(ms);
  }

  /** Per API seen so far, by key. */
  apis(): ApiRequestStats[] {
    return [...this.#apis.entries()]
      .sort(([a], [b]) => a - b)
      .map(([key, a]) => ({ api: advertised(key)?.name ?? `api-${key}`, key, count: a.count, errors: a.errors, latency: a.latency.snapshot() }));
  }
}
