import { describe, expect, it } from 'vitest';
import { ASSUMED, clusterBrokers, guardExtrapolation, modelled, needs, verdict, type Figure, type HostFigures } from '../../lib/plan/model';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseWorkload, readWorkloadFile } from '../../lib/plan/workload';

const m = (value: number, unit: string): Figure => ({ value, unit, source: 'measured', basis: 'test' });
const host = (over: Partial<HostFigures> = {}): HostFigures => ({
  writeBytesPerSec: m(100e6, 'B/s'), memcopyBytesPerSec: m(5e9, 'B/s'), fdatasyncP99Ms: m(2, 'ms'),
  cores: m(2, 'cores'), memAvailableBytes: m(4e9, 'B'), fdLimit: m(65536, 'fd'), diskFreeBytes: m(1e12, 'B'), ...over,
});

describe('plan model', () => {
  it('fits a small workload and names the limiting resource', () => {
    const w = parseWorkload(undefined, { producerRate: 1000, messageSize: 1000, retention: '1h' });
    const v = verdict(w, host(), 1);
    expect(v.fits).toBe(true);
    expect(v.limiting.resource).toBe('disk write bandwidth');
  });
  it('does not fit when the write rate exceeds disk bandwidth', () => {
    const w = parseWorkload(undefined, { producerRate: 200_000, messageSize: 1000, retention: '1GB' });
    const v = verdict(w, host(), 1);
    expect(v.fits).toBe(false);
    expect(v.limiting.resource).toBe('disk write bandwidth');
    expect(v.limiting.headroom).toBeLessThan(1);
  });
  it('sizes disk, memory and fds for the retention', () => {
    const w = parseWorkload(undefined, { producerRate: 1000, messageSize: 990, retention: '1d', partitionsPerTopic: 4 });
    const n = needs(w);
    const per = 990 + ASSUMED.recordOverheadBytes.value + ASSUMED.batchOverheadBytes.value / 100;
    expect(n.diskBytes.value).toBeCloseTo(1000 * per * 86_400);
    expect(n.memoryBytes.value).toBe(4 * ASSUMED.memPerPartitionBytes.value);
    expect(n.fds.value).toBeGreaterThan(4 * 2);
    for (const f of Object.values(n)) expect(['measured', 'modelled', 'assumed']).toContain(f.source);
  });
  it('fails the latency target with always-sync on a slow fdatasync', () => {
    const w = parseWorkload(undefined, { durability: 'always', p99Ms: 1, producerRate: 10, retention: '1MB' });
    expect(verdict(w, host({ fdatasyncP99Ms: m(5, 'ms') }), 1).latencyFits).toBe(false);
  });
  it('estimates a cluster of at least RF brokers, more for a heavy workload', () => {
    expect(clusterBrokers(parseWorkload(undefined, { producerRate: 10, retention: '1MB' })).brokers).toBe(3);
    const big = clusterBrokers(parseWorkload(undefined, { producerRate: 1e6, messageSize: 1000, retention: '1h' }));
    // write 1.01 GB/s × RF 3 / 500 MB/s × 1.3 → 8 brokers on disk write
    expect(big.brokers).toBe(8);
    expect(big.assumed.every((a) => a.source === 'assumed')).toBe(true);
  });
  it('labels extrapolation beyond 2x the measured range', () => {
    expect(guardExtrapolation(modelled(1, 'x', 'f'), 150, 100).extrapolated).toBeUndefined();
    expect(guardExtrapolation(modelled(1, 'x', 'f'), 250, 100).extrapolated).toMatch(/EXTRAPOLATED: 2.5x/);
  });
});

describe('plan workload parsing', () => {
  it('reads OMB-like fields and flags override', () => {
    const w = parseWorkload({ name: 'a', topics: 2, partitionsPerTopic: 8, messageSize: 100, producerRate: 5000, subscriptionsPerTopic: 2 }, { producerRate: '7000', durability: 'interval:5ms', retention: '7d' });
    expect(w).toMatchObject({ name: 'a', topics: 2, producerRate: 7000, durability: { mode: 'interval', ms: 5 }, retention: { ms: 7 * 86_400_000 } });
  });
  it('takes 0 consumer groups as a producer-only workload', () => {
    expect(parseWorkload(undefined, { subscriptionsPerTopic: '0' }).subscriptionsPerTopic).toBe(0);
    expect(parseWorkload({ subscriptionsPerTopic: 0 }).subscriptionsPerTopic).toBe(0);
    expect(() => parseWorkload(undefined, { subscriptionsPerTopic: '-1' })).toThrow(/subscriptionsPerTopic: expected a positive integer/);
  });
  it('gives clear errors', () => {
    expect(() => parseWorkload({ rate: 1 })).toThrow(/unknown field "rate"/);
    expect(() => parseWorkload(undefined, { producerRate: '-3' })).toThrow(/producerRate: expected a positive number/);
    expect(() => parseWorkload(undefined, { durability: 'sometimes' })).toThrow(/durability: expected always, none or interval/);
    expect(() => parseWorkload(undefined, { retention: 'forever' })).toThrow(/retention: expected a duration/);
    expect(() => parseWorkload([1])).toThrow(/expected a mapping/);
  });
  it('reads a YAML workload file and reports bad YAML', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-wl-'));
    fs.writeFileSync(path.join(dir, 'w.yaml'), 'name: orders\nproducerRate: 5000\nretention: 12h\ndurability: always\n');
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'name: [unclosed\n');
    expect(parseWorkload(readWorkloadFile(path.join(dir, 'w.yaml')))).toMatchObject({ name: 'orders', producerRate: 5000, retention: { ms: 12 * 3_600_000 }, durability: { mode: 'always' } });
    expect(() => readWorkloadFile(path.join(dir, 'bad.yaml'))).toThrow(/not valid YAML/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
