import { describe, expect, it } from 'vitest';
import { activeThp, detectVirtualization, hostSignals, hostWarnings, hotTailBytes, type HostSignals } from '../../lib/plan/host-warnings';

const calm: HostSignals = { virtualization: null, thp: 'madvise', memAvailableBytes: 8e9, hotTailBytes: 1e9 };

describe('plan host warnings', () => {
  it('says nothing on a calm bare-metal host', () => {
    expect(hostWarnings(calm)).toEqual([]);
  });
  it('warns that a virtualised host may cache flushes', () => {
    const [w] = hostWarnings({ ...calm, virtualization: 'kvm per systemd-detect-virt' });
    expect(w).toMatch(/kvm/);
    expect(w).toMatch(/virtio flush may be cached by the host: fdatasync latency may be optimistic/);
  });
  it('warns when transparent huge pages are always', () => {
    expect(hostWarnings({ ...calm, thp: 'always' })[0]).toMatch(/transparent huge pages are "always"/);
    expect(activeThp('always [madvise] never')).toBe('madvise');
    expect(activeThp('[always] madvise never')).toBe('always');
    expect(activeThp(null)).toBeNull();
  });
  it('warns when MemAvailable is under the hot tail: min(retention, write rate × 30 s)', () => {
    expect(hotTailBytes(100e6, 1e12)).toBe(3e9);
    expect(hotTailBytes(100e6, 1e9)).toBe(1e9);
    expect(hostWarnings({ ...calm, memAvailableBytes: 2e9, hotTailBytes: 3e9 })[0]).toMatch(/MemAvailable 2.00 GB is under the hot tail 3.00 GB/);
  });
  it('reads the signals of this host without failing', () => {
    const s = hostSignals({ dmiHint: '', memAvailableBytes: 1, writeBytesPerSec: 1, retentionBytes: 10 });
    expect(s.hotTailBytes).toBe(10);
    expect(s.virtualization === null || typeof s.virtualization === 'string').toBe(true);
    expect(detectVirtualization('Standard PC (Q35 + ICH9, 2009) QEMU') ?? '').not.toBe('');
  });
});
