import { describe, expect, it } from 'vitest';
import { loopbackProbe } from '../../lib/plan/loopback-probe';

describe('plan loopback fetch probe', () => {
  it('measures sendfile and copy bandwidth to a loopback socket, each a measured figure', async () => {
    const f = await loopbackProbe(4 << 20, 1);
    for (const x of [f.sendfileBytesPerSec, f.copyBytesPerSec]) {
      expect(x).toMatchObject({ source: 'measured', unit: 'B/s', spread: { runs: 1 } });
      expect(x.value).toBeGreaterThan(0);
    }
    expect(f.copyBytesPerSec.basis).toMatch(/copying/);
    if (process.platform === 'linux') expect(f.sendfileBytesPerSec.unsupported).toBeUndefined();
  }, 20_000);
});
