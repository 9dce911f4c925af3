import { describe, expect, it } from 'vitest';
import { decodeHistogram } from '../../lib/bench/latency-histogram';
import { fixedRate, indexedValues, indexOf } from '../../lib/plan/fixed-rate';
import { RAMP_MODES } from '../../lib/plan/ramp';

describe('plan fixed-rate run', () => {
  it('records one publish latency per message from its intended send time, with a per-second series', async () => {
    const r = await fixedRate(RAMP_MODES[2], { partitions: 2, messageSize: 100, rate: 2000, durationMs: 500 });
    expect(r.latency.count).toBe(1000);
    expect(decodeHistogram(r.histogram).totalCount).toBe(1000);
    expect(r.perSecond.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(r.latency.p99Ms).toBeGreaterThanOrEqual(r.latency.p50Ms);
    expect(r.latency.maxMs).toBeGreaterThanOrEqual(r.latency.p999Ms);
  }, 20_000);
  it('records end-to-end latency for every message in every group, merged', async () => {
    const r = await fixedRate(RAMP_MODES[2], { partitions: 2, messageSize: 100, rate: 2000, durationMs: 500, groups: 2 });
    expect(r.endToEnd).not.toBeNull();
    expect(r.endToEnd!.groups).toBe(2);
    expect(r.endToEnd!.missing).toBe(0);
    expect(r.endToEnd!.latency.count).toBe(2000);
    expect(decodeHistogram(r.endToEnd!.histogram).totalCount).toBe(2000);
    expect(r.endToEnd!.latency.p99Ms).toBeGreaterThanOrEqual(r.endToEnd!.latency.p50Ms);
  }, 20_000);
  it('sends through the warm-up but records only what is due after it', async () => {
    const r = await fixedRate(RAMP_MODES[2], { partitions: 1, messageSize: 100, rate: 2000, durationMs: 500, groups: 1, warmupMs: 250 });
    expect(r.warmupMs).toBe(250);
    expect(r.perSecond.reduce((a, b) => a + b, 0)).toBe(1500); // every message sent and confirmed
    expect(r.latency.count).toBe(1000); // the 500 due in the warm-up are not recorded
    expect(r.endToEnd!.latency.count).toBe(1000);
    expect(r.endToEnd!.missing).toBe(0);
  }, 20_000);
  it('has no end-to-end latency without consumer groups', async () => {
    const r = await fixedRate(RAMP_MODES[2], { partitions: 1, messageSize: 10, rate: 1000, durationMs: 200, groups: 0 });
    expect(r.endToEnd).toBeNull();
    expect(r.latency.count).toBe(200);
  }, 20_000);
  it('reports the event loop delay and utilisation over the run', async () => {
    const r = await fixedRate(RAMP_MODES[2], { partitions: 1, messageSize: 100, rate: 2000, durationMs: 500 });
    expect(r.eventLoop.utilization).toBeGreaterThan(0);
    expect(r.eventLoop.utilization).toBeLessThanOrEqual(1);
    expect(r.eventLoop.delayMaxMs).toBeGreaterThanOrEqual(r.eventLoop.delayP99Ms);
    expect(r.eventLoop.delayP99Ms).toBeGreaterThanOrEqual(r.eventLoop.delayP50Ms);
  }, 20_000);
  it('carries each message index in its value, whatever the message size', () => {
    const vs = indexedValues(70_000, 3, 2);
    expect(vs.map((v) => v.length)).toEqual([4, 4, 4]);
    expect(vs.map(indexOf)).toEqual([70_000, 70_001, 70_002]);
    expect(indexedValues(0, 2, 100)[1].length).toBe(100);
  });
});
