import { describe, expect, it } from 'vitest';
import { batchSweep, SWEEP_BATCH_SIZES } from '../../lib/plan/batch-sweep';

describe('plan batch-size sweep', () => {
  it('measures every durability mode at every batch size, msg/s with payload B/s beside it', async () => {
    const points = await batchSweep(100, 1, 20, [1, 16]);
    expect(points.map((p) => `${p.mode}/${p.batchSize}`)).toEqual(['always/1', 'always/16', 'interval:5ms/1', 'interval:5ms/16', 'none/1', 'none/16']);
    for (const p of points) {
      expect(p.rate).toMatchObject({ source: 'measured', unit: 'msg/s', spread: { runs: 1 } });
      expect(p.rate.value).toBeGreaterThan(0);
      expect(p.bytesPerSec.value).toBeCloseTo(p.rate.value * 100);
    }
    expect(SWEEP_BATCH_SIZES).toEqual([1, 16, 256, 4096]);
  }, 20_000);
});
