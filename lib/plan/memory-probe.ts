/**
 * Memory per partition for `sluice plan` (next-stage.md D4, "per-partition fixed cost
 * (measured)"): in this process, a Broker with one topic of `small` partitions, then one of
 * `large`, each with a little data in every partition (a few batches of the workload's message
 * size), and their growth of process RSS and of V8 heap + external (Buffers) over a baseline taken
 * just before each open. Per partition = (growth at large − growth at small) ÷ (large − small),
 * which removes the broker's fixed cost. RSS includes the touched pages of the mapped segments.
 * Noisy (the garbage collector runs when it likes): a negative difference is reported as 0 with a
 * note.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker } from '../broker/broker';
import { measuredRuns, type Figure } from './model';

async function growth(partitions: number, messageSize: number): Promise<{ rss: number; heap: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-mem-'));
  try {
    const before = process.memoryUsage();
    const broker = await Broker.open(dir);
    await broker.createTopic('t', { partitions, sync: 'none' });
    const value = Buffer.alloc(messageSize, 1);
    for (let p = 0; p < partitions; p++) {
      for (let b = 0; b < 4; b++) await broker.sendBatch('t', Array.from({ length: 16 }, () => ({ value, partition: p })));
    }
    await new Promise((r) => setTimeout(r, 20)); // let the writers settle
    const after = process.memoryUsage();
    await broker.close();
    return { rss: after.rss - before.rss, heap: after.heapUsed + after.external - before.heapUsed - before.external };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface MemoryFigures {
  rssPerPartitionBytes: Figure;
  heapPerPartitionBytes: Figure;
}

export async function memoryProbe(small: number, large: number, messageSize: number, runs: number): Promise<MemoryFigures> {
  const rss: number[] = [], heap: number[] = [];
  for (let r = 0; r < runs; r++) {
    const a = await growth(small, messageSize);
    const b = await growth(large, messageSize);
    rss.push((b.rss - a.rss) / (large - small));
    heap.push((b.heap - a.heap) / (large - small));
  }
  const fig = (xs: number[], what: string): Figure => {
    const f = measuredRuns(xs, 'B', `(growth of ${what} with ${large} partitions − with ${small}) ÷ ${large - small}, Broker with 4 × 16 messages of ${messageSize} B per partition, in this process`);
    return f.value >= 0 ? f : { ...f, value: 0, basis: `${f.basis}; the median was negative (GC noise), reported as 0` };
  };
  return { rssPerPartitionBytes: fig(rss, 'process RSS'), heapPerPartitionBytes: fig(heap, 'V8 heap used + external') };
}
