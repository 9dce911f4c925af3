/**
 * Recovery time for `sluice plan` (next-stage.md D4, "recovery-time estimate"). Measured: a Log of
 * `bytes` under sync 'none' (so no recovery checkpoint and no sync: the worst case) is copied
 * aside while still open, which is what an unclean shutdown leaves (test/helpers/crashed-log.ts
 * does the same), and the copy is reopened: the recovery report's bytesScanned ÷ durationMs is the
 * CRC scan rate, and the wall time of Log.open the reopen time.
 *
 * Modelled: what an unclean reopen scans, from native/core/log_recovery.cc. Rolled segments below
 * the recovery point (a roll syncs the segment and writes its indexes) are loaded from their index
 * files, not scanned. The active segment is rescanned with CRCs, except the prefix that
 * sluice.checkpoint names (written after a sync round once the synced position moved 1 MiB,
 * recovery_checkpoint.h kIntervalBytes), which is only walked by header. So per partition:
 *   none:        the active segment's data, at worst a full segment (nothing syncs it, no checkpoint)
 *   interval:ms: write rate per partition × ms + 1 MiB (checkpoint interval), at most a segment
 *   always:      1 MiB (checkpoint interval), at most a segment
 * and recovery time = that × partitions ÷ scan rate (partitions taken one after another: an upper
 * bound; the header walk of the checkpointed prefix is left out).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Log } from '../storage/log';
import { DEFAULT_SEGMENT_BYTES } from '../broker/topic/topic-config';
import { measuredRuns, modelled, type Figure } from './model';
import type { Durability } from './workload';

/** recovery_checkpoint.h kIntervalBytes: the checkpoint trails the synced position by up to this. */
export const CHECKPOINT_INTERVAL_BYTES = 1 << 20;

export interface RecoveryFigures {
  scanBytesPerSec: Figure;
  reopenMs: Figure;
  /** Bytes the measured reopen rescanned. */
  scannedBytes: number;
}

async function once(bytes: number, messageSize: number): Promise<{ scanned: number; nativeMs: number; wallMs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-rec-'));
  const copy = `${dir}-crashed`;
  try {
    const options = { sync: 'none' as const, segmentBytes: Math.max(DEFAULT_SEGMENT_BYTES, bytes * 2) };
    const log = await Log.open(dir, options);
    const value = Buffer.alloc(messageSize, 3);
    const batch = Array.from({ length: Math.max(1, Math.floor((256 << 10) / messageSize)) }, () => value);
    for (let n = 0; n < bytes; n += batch.length * messageSize) log.appendBatch(batch);
    log.seal();
    await log.visible();
    fs.cpSync(dir, copy, { recursive: true }); // open, unsynced, no clean-shutdown mark: a crash
    await log.close();
    const t0 = performance.now();
    const reopened = await Log.open(copy, options);
    const wallMs = performance.now() - t0;
    const r = reopened.recovery;
    await reopened.close();
    if (r.cleanShutdown) throw new Error('recovery probe: the copy opened as a clean shutdown');
    return { scanned: r.bytesScanned, nativeMs: r.durationMs, wallMs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

export async function recoveryProbe(bytes: number, messageSize: number, runs: number): Promise<RecoveryFigures> {
  const xs: { rate: number; wallMs: number }[] = [];
  let scanned = 0;
  for (let r = 0; r < runs; r++) {
    const o = await once(bytes, messageSize);
    scanned = o.scanned;
    xs.push({ rate: o.scanned / (Math.max(o.nativeMs, 0.001) / 1000), wallMs: o.wallMs });
  }
  return {
    scanBytesPerSec: measuredRuns(xs.map((x) => x.rate), 'B/s', `unclean reopen of a 1-partition log of ${scanned} B (sync none, no checkpoint): recovery.bytesScanned ÷ recovery.durationMs (CRC rescan of the active segment; durationMs includes the open's fixed cost, so a small probe such as --quick understates the rate)`),
    reopenMs: measuredRuns(xs.map((x) => x.wallMs), 'ms', `wall time of Log.open on that copy (${scanned} B rescanned)`),
    scannedBytes: scanned,
  };
}

/** Bytes an unclean reopen CRC-scans in one partition (see the header), and the recovery time for all. */
export function recoveryTime(d: Durability, writeBytesPerSec: number, partitions: number, retainedBytes: number, scanBytesPerSec: number, segmentBytes = DEFAULT_SEGMENT_BYTES): { bytesPerPartition: Figure; seconds: Figure } {
  const cap = Math.min(segmentBytes, Math.max(CHECKPOINT_INTERVAL_BYTES, retainedBytes / partitions));
  const perPartition = writeBytesPerSec / partitions;
  const [raw, formula] =
    d.mode === 'none' ? [cap, 'active segment, no checkpoint under sync none: min(segment bytes, retained bytes ÷ partitions)']
    : d.mode === 'interval' ? [perPartition * (d.ms / 1000) + CHECKPOINT_INTERVAL_BYTES, `write rate ÷ partitions × ${d.ms} ms + 1 MiB checkpoint interval, at most a segment`]
    : [CHECKPOINT_INTERVAL_BYTES, '1 MiB checkpoint interval, at most a segment'];
  const bytes = Math.min(raw, cap);
  return {
    bytesPerPartition: modelled(bytes, 'B', `${formula} (segment ${segmentBytes} B; rolled segments load from their indexes)`),
    seconds: modelled((bytes * partitions) / scanBytesPerSec, 's', 'bytes scanned per partition × partitions ÷ measured scan rate (partitions one after another: an upper bound)'),
  };
}
