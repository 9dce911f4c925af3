/**
 * The JSON results of `sluice bench`, format 'sluice-bench' version 1. Stable: fields are only
 * added within a version; a rename or a change of meaning bumps the version.
 *
 *   { format: 'sluice-bench', version: 1, generatedAt, command,
 *     workload (validated, every field), workloadSource (the file's text),
 *     host (host-fingerprint.ts), notes (how things were measured),
 *     skipped: [{driver, reason}],
 *     drivers: [DriverResult (runner.ts): driver, settings, status, counts, throughput,
 *               latency {publish, endToEnd, publishDelay} summaries in ms, curves, merged
 *               histograms (HdrHistogram compressed base64, µs), timeSeries per second] }
 */
import type { HostFingerprint } from './host-fingerprint';
import { PRODUCER_BATCH_MAX, type DriverResult } from './runner';
import type { Workload } from './workload';

export const BENCH_RESULTS_FORMAT = 'sluice-bench';
export const BENCH_RESULTS_VERSION = 1;

export interface BenchResults {
  format: typeof BENCH_RESULTS_FORMAT;
  version: typeof BENCH_RESULTS_VERSION;
  generatedAt: string;
  command: string;
  workload: Workload;
  workloadSource: string;
  host: HostFingerprint;
  notes: string[];
  skipped: { driver: string; reason: string }[];
  drivers: DriverResult[];
}

export function measurementNotes(w: Workload): string[] {
  const rate =
    w.producerRate === 'max'
      ? `Rate "max" is a closed loop: each producer keeps at most ${w.maxOutstanding} messages sent and not yet confirmed, in sends of up to ${PRODUCER_BATCH_MAX}; latency is measured from the actual send time (there is no schedule to miss), so it is the latency at saturation, not at a sustainable rate.`
      : `Fixed rate ${w.producerRate} msg/s in total${w.burst ? ` (×${w.burst.rateMultiplier} from ${w.burst.startSeconds} s for ${w.burst.durationSeconds} s)` : ''}: every message has an intended send time on a fixed schedule and latency is measured from it, so a stall shows as latency (coordinated omission avoided); a producer sends what is due in sends of up to ${PRODUCER_BATCH_MAX}, with at most ${w.maxOutstanding} unconfirmed.`;
  return [
    rate,
    'Publish latency: confirm - intended send time. End-to-end: consumer receipt - intended send time (producers and consumers share this process and its monotonic clock). Publish delay: actual - intended send time.',
    'Percentiles come from HdrHistograms (3 significant digits) merged over all producers or consumers, never from averaged percentiles.',
    `Warm-up ${Number(w.warmupSeconds.toFixed(2))} s: messages intended then are sent and consumed but not recorded. Throughput is what was confirmed (or delivered) during the ${w.durationSeconds} s measured window, divided by its length; the charts show every second, warm-up and drain included.`,
    'Drivers run one after another on the same host; each peer server is started by the bench in a temp directory on 127.0.0.1 and stopped after its run.',
  ];
}
