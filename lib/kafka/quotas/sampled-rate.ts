/**
 * A rate measured over a sliding window of samples, as Kafka's quota sensors measure byte rates
 * (org.apache.kafka.common.metrics.stats.Rate over a windowed sum): `samples` buckets of
 * `sampleMs` each; a value is added to the newest bucket, and a new bucket (the oldest one,
 * emptied) starts when the newest is sampleMs old. Buckets that started `samples * sampleMs` ago
 * or more no longer count. The rate is their sum over the time since the oldest counted bucket
 * started, but over at least (samples - 1) whole buckets: a client's first bytes are spread over
 * a full window, not over the few milliseconds since it connected (Kafka's "10 whole windows and
 * the current one", quota.window.num 11 of quota.window.size.seconds 1).
 *
 * Times are milliseconds from any monotonic clock the caller keeps to. Thread-confined.
 */
export class SampledRate {
  readonly #sampleMs: number;
  /** Each bucket's start time (-Infinity: never used) and its sum. */
  readonly #starts: Float64Array;
  readonly #sums: Float64Array;
  #current = 0;
  /** When a value was last added: once the whole window has passed it, the rate is 0 again. */
  #lastRecordMs = -Infinity;

  constructor(samples: number, sampleMs: number) {
    this.#sampleMs = sampleMs;
    this.#starts = new Float64Array(samples).fill(-Infinity);
    this.#sums = new Float64Array(samples);
  }

  get #windowMs(): number {
    return this.#starts.length * this.#sampleMs;
  }

  /** Adds `value` (negative takes back what was added) at `nowMs`. */
  record(value: number, nowMs: number): void {
    this.#purge(nowMs);
    if (nowMs - this.#starts[this.#current] >= this.#sampleMs) {
      this.#current = (this.#current + 1) % this.#starts.length;
      this.#starts[this.#current] = nowMs;
      this.#sums[this.#current] = 0;
    }
    this.#sums[this.#current] += value;
    this.#lastRecordMs = nowMs;
  }

  /** Per second, at `nowMs`. */
  ratePerSec(nowMs: number): number {
    this.#purge(nowMs);
    let sum = 0;
    for (let i = 0; i < this.#sums.length; i++) sum += this.#sums[i];
    return sum / (this.windowMs(nowMs) / 1000);
  }

  /** The time the rate is measured over now: since the oldest bucket started, at least samples - 1 buckets. */
  windowMs(nowMs: number): number {
    let oldest = nowMs;
    for (let i = 0; i < this.#starts.length; i++) if (this.#starts[i] !== -Infinity && this.#starts[i] < oldest) oldest = this.#starts[i];
    const elapsed = nowMs - oldest;
    const minimum = (this.#starts.length - 1) * this.#sampleMs;
    const whole = Math.floor(elapsed / this.#sampleMs) * this.#sampleMs;
    return whole < minimum ? elapsed + (minimum - whole) : elapsed;
  }

  /** Whether nothing recorded still counts at `nowMs` (a fresh SampledRate would measure the same). */
  idle(nowMs: number): boolean {
    return nowMs - this.#lastRecordMs >= this.#windowMs;
  }

  #purge(nowMs: number): void {
    for (let i = 0; i < this.#starts.length; i++) {
      if (nowMs - this.#starts[i] >= this.#windowMs) {
        this.#starts[i] = -Infinity;
        this.#sums[i] = 0;
      }
    }
  }
}
