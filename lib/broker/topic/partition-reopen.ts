/**
 * Reopening a partition whose Log failed (fail-stop after a failed write or sync): what a reopen
 * reports, and how the traffic counters of the failed Log carry over to its successor so that the
 * metrics built on them never go backwards. See TopicPartition.reopen and Broker.reopenPartition.
 */
import { DurationHistogram, type DurationSnapshot } from '../../storage/duration-histogram';
import type { LogStats } from '../../storage/log';

/** What reopening one failed partition did. */
export interface PartitionReopen {
  topic: string;
  partition: number;
  /** Why the Log had stopped taking writes. */
  failure: string;
  /** The high watermark when it stopped: what readers could see. */
  highWatermarkBefore: number;
  /** The durable offset when it stopped: what acks -1 (sync 'always') had confirmed. */
  durableOffsetBefore: number;
  /** Where the reopened Log ends (recovered from what is on disk). */
  endOffset: number;
  /**
   * Offsets readers had seen that the reopened Log no longer holds (the disk lost written but
   * unsynced data): groups' progress past endOffset was brought down to it. Usually 0.
   */
  lostVisible: number;
}

/** One partition's reopen: what it did, or the error that left the partition offline. */
export type PartitionReopenOutcome = PartitionReopen | { topic: string; partition: number; error: Error };

function mergedDurations(a: DurationSnapshot, b: DurationSnapshot): DurationSnapshot {
  const h = new DurationHistogram();
  h.merge(a);
  h.merge(b);
  return h.snapshot();
}

/** `current`'s stats with the counters of the Logs before it added: sizes are current's own. */
export function withEarlierStats(current: LogStats, earlier: LogStats | null): LogStats {
  if (earlier === null) return current;
  return {
    segments: current.segments,
    sizeBytes: current.sizeBytes,
    appendedBytes: earlier.appendedBytes + current.appendedBytes,
    confirmLatency: mergedDurations(earlier.confirmLatency, current.confirmLatency),
    syncDuration: mergedDurations(earlier.syncDuration, current.syncDuration),
  };
}
