import { describe, expect, it } from 'vitest';
import { CHECKPOINT_INTERVAL_BYTES, recoveryProbe, recoveryTime } from '../../lib/plan/recovery-probe';

describe('plan recovery time', () => {
  it('measures the scan rate of an unclean reopen and the reopen time', async () => {
    const f = await recoveryProbe(2 << 20, 1000, 1);
    expect(f.scanBytesPerSec).toMatchObject({ source: 'measured', unit: 'B/s', spread: { runs: 1 } });
    expect(f.scanBytesPerSec.value).toBeGreaterThan(0);
    expect(f.scanBytesPerSec.basis).toMatch(/of \d+ B/);
    expect(Number(/of (\d+) B/.exec(f.scanBytesPerSec.basis)![1])).toBeGreaterThanOrEqual(2 << 20);
    expect(f.reopenMs.value).toBeGreaterThan(0);
  }, 20_000);
  it('models the bytes an unclean reopen scans per partition, per durability mode', () => {
    const seg = 64 << 20;
    // none: the whole active segment, or what is retained per partition when less
    expect(recoveryTime({ mode: 'none' }, 1e6, 4, 1e12, 1e8, seg).bytesPerPartition.value).toBe(seg);
    expect(recoveryTime({ mode: 'none' }, 1e6, 4, 8 << 20, 1e8, seg).bytesPerPartition.value).toBe(2 << 20);
    // interval: per-partition write rate × interval + the checkpoint interval
    expect(recoveryTime({ mode: 'interval', ms: 1000 }, 4e6, 4, 1e12, 1e8, seg).bytesPerPartition.value).toBe(1e6 + CHECKPOINT_INTERVAL_BYTES);
    const always = recoveryTime({ mode: 'always' }, 4e6, 4, 1e12, 1e8, seg);
    expect(always.bytesPerPartition.value).toBe(CHECKPOINT_INTERVAL_BYTES);
    expect(always.seconds).toMatchObject({ source: 'modelled', unit: 's' });
    expect(always.seconds.value).toBeCloseTo((4 * CHECKPOINT_INTERVAL_BYTES) / 1e8);
  });
});
