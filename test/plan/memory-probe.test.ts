import { describe, expect, it } from 'vitest';
import { memoryProbe } from '../../lib/plan/memory-probe';
import { ASSUMED, needs } from '../../lib/plan/model';
import { parseWorkload } from '../../lib/plan/workload';

describe('plan memory per partition', () => {
  it('measures RSS and heap growth per partition, never negative', async () => {
    const f = await memoryProbe(1, 4, 100, 1);
    for (const x of [f.rssPerPartitionBytes, f.heapPerPartitionBytes]) {
      expect(x).toMatchObject({ source: 'measured', unit: 'B', spread: { runs: 1 } });
      expect(x.value).toBeGreaterThanOrEqual(0);
    }
  }, 20_000);
  it('uses the measured figure in the needs when given, the assumed one otherwise', () => {
    const w = parseWorkload(undefined, { partitionsPerTopic: 10, producerRate: 1000, messageSize: 100, retention: '1h' });
    expect(needs(w).memoryBytes.value).toBe(10 * ASSUMED.memPerPartitionBytes.value);
    const m = { value: 300_000, unit: 'B', source: 'measured' as const, basis: 'test' };
    expect(needs(w, 1, { memPerPartitionBytes: m }).memoryBytes.value).toBe(3_000_000);
    expect(needs(w, 1, { memPerPartitionBytes: m }).memoryBytes.basis).toMatch(/measured/);
  });
  it('gives the time to full of the free disk at the write rate', () => {
    const w = parseWorkload(undefined, { producerRate: 1000, messageSize: 990, retention: '1h' });
    const n = needs(w, 1, { diskFreeBytes: { value: 1e9, unit: 'B', source: 'measured', basis: 'test' } });
    expect(n.timeToFullSeconds).toMatchObject({ source: 'modelled', unit: 's' });
    expect(n.timeToFullSeconds!.value).toBeCloseTo(1e9 / n.writeBytesPerSec.value);
    expect(needs(w).timeToFullSeconds).toBeUndefined();
  });
});
