import { describe, expect, it } from 'vitest';
import { decodeHistogram } from '../../lib/bench/latency-histogram';
import { fixedRate } from '../../lib/plan/fixed-rate';
import { RAMP_MODES } from '../../lib/plan/ramp';

describe('plan fixed-rate run', () => {
  it('records one latency per message from its intended send time, with a per-second series', async () => {
    const r = await fixedRate(RAMP_MODES[2], { partitions: 2, messageSize: 100, rate: 2000, durationMs: 500 });
    expect(r.latency.count).toBe(1000);
    expect(decodeHistogram(r.histogram).totalCount).toBe(1000);
    expect(r.perSecond.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(r.latency.p99Ms).toBeGreaterThanOrEqual(r.latency.p50Ms);
    expect(r.latency.maxMs).toBeGreaterThanOrEqual(r.latency.p999Ms);
  }, 20_000);
});
