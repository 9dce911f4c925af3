/**
 * Batch-size sweep for `sluice plan` (next-stage.md D4, measurement 4): the real Broker's append
 * path at 1, 16, 256 and 4096 messages per sendBatch, per durability mode, one partition. One
 * sendBatch is in flight at a time, so under sync 'always' every sync covers exactly one batch
 * (records per sync = batch size); under 'interval' and 'none' the figure is the per-call cost of
 * the append path at that batch size. Each point runs for `durationMs` (and at least one batch),
 * `runs` times: median with min/max, in msg/s and in payload MB/s.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker } from '../broker/broker';
import { measuredRuns, scaledFigure, type Figure } from './model';
import { RAMP_MODES, syncOf, type RampMode } from './ramp';

export const SWEEP_BATCH_SIZES = [1, 16, 256, 4096] as const;

export interface SweepPoint {
  mode: string;
  batchSize: number;
  rate: Figure;
  bytesPerSec: Figure;
}

async function once(mode: RampMode, messageSize: number, batchSize: number, durationMs: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-sweep-'));
  try {
    const broker = await Broker.open(dir);
    await broker.createTopic('t', { partitions: 1, ...syncOf(mode) });
    const value = Buffer.alloc(messageSize, 5);
    const batch = Array.from({ length: batchSize }, () => ({ value }));
    await broker.sendBatch('t', batch); // warm-up: the segment's first pages and the topic's writer
    let sent = 0;
    const t0 = performance.now();
    do {
      await broker.sendBatch('t', batch);
      sent += batchSize;
    } while (performance.now() - t0 < durationMs);
    const s = (performance.now() - t0) / 1000;
    await broker.close();
    return sent / s;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function batchSweep(messageSize: number, runs: number, durationMs: number, sizes: readonly number[] = SWEEP_BATCH_SIZES): Promise<SweepPoint[]> {
  const out: SweepPoint[] = [];
  for (const mode of RAMP_MODES) {
    for (const batchSize of sizes) {
      const xs: number[] = [];
      for (let r = 0; r < runs; r++) xs.push(await once(mode, messageSize, batchSize, durationMs));
      const rate = measuredRuns(xs, 'msg/s', `Broker.sendBatch of ${batchSize} × ${messageSize} B, one call in flight, 1 partition, sync ${mode.name}, ${durationMs} ms per run`);
      out.push({ mode: mode.name, batchSize, rate, bytesPerSec: scaledFigure(rate, messageSize, 'B/s', `msg/s × ${messageSize} B payload`) });
    }
  }
  return out;
}
