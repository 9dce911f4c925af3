import { describe, expect, it } from 'vitest';
import { dueChunks, limitOf, nextRamp, rampOnce, RAMP_MODES, SEND_CHUNK, sustained, type RampPeriod } from '../../lib/plan/ramp';

describe('the OMB ramp rule', () => {
  it('raises the rate by the factor, doubling it up to 100%, and halves it on a backlog', () => {
    expect(nextRamp(1000, 0.25, { observed: 1000, publishBacklog: 0, receiveBacklog: 0 }, 100)).toEqual({ rate: 1250, factor: 0.5, ok: true });
    expect(nextRamp(1000, 1, { observed: 1000, publishBacklog: 0, receiveBacklog: 0 }, 100)).toEqual({ rate: 2000, factor: 1, ok: true });
    expect(nextRamp(8000, 1, { observed: 6000, publishBacklog: 500, receiveBacklog: 0 }, 100)).toEqual({ rate: 6000, factor: 0.5, ok: false });
    expect(nextRamp(8000, 1, { observed: 7900, publishBacklog: 0, receiveBacklog: 101 }, 100).ok).toBe(false);
  });
  it('reports the highest rate held for two consecutive good periods', () => {
    const p = (observed: number, ok: boolean): RampPeriod => ({ rate: observed, observed, publishBacklog: 0, receiveBacklog: 0, ok });
    expect(sustained([p(1000, true), p(2000, true), p(4000, false), p(3000, true)])).toBe(1000);
    expect(sustained([p(1000, true), p(2000, true), p(4000, true), p(3000, false)])).toBe(2000);
    expect(sustained([p(1000, true), p(2000, false)])).toBe(0);
  });
  it('tells a consumer, event-loop or engine limit apart by the period that stopped the ramp', () => {
    const p = (rate: number, ok: boolean, over: Partial<RampPeriod> = {}): RampPeriod => ({ rate, observed: rate, publishBacklog: 0, receiveBacklog: 0, ok, ...over });
    const good = [p(1000, true), p(2000, true)];
    expect(limitOf(good).limit).toBe('not reached');
    expect(limitOf([...good, p(4000, false, { receiveBacklog: 5000 })]).limit).toMatch(/^consumer/);
    expect(limitOf([...good, p(4000, false, { publishBacklog: 5000, loopUtilization: 0.99 })]).limit).toMatch(/^event loop/);
    const engine = limitOf([...good, p(4000, false, { publishBacklog: 5000, loopUtilization: 0.3, loopDelayP99Ms: 2 })]);
    expect(engine.limit).toMatch(/^engine/);
    expect(engine.period?.rate).toBe(4000);
  });
  it('issues everything due at a tick, in sendBatch chunks', () => {
    // 500k msg/s, a tick 10 ms late: 5,000 due, not the old cap of 1,000 per tick.
    expect(dueChunks(500_000, 10, 0)).toEqual([SEND_CHUNK, SEND_CHUNK, SEND_CHUNK, SEND_CHUNK, SEND_CHUNK]);
    expect(dueChunks(500_000, 10, 4500)).toEqual([500]);
    expect(dueChunks(1000, 1, 1)).toEqual([]);
  });
  it('drives the real broker with a group reading', async () => {
    const periods = await rampOnce(RAMP_MODES[2], { partitions: 2, messageSize: 100, startRate: 500, periodMs: 100, periods: 4, backlogLimit: 1000 });
    expect(periods).toHaveLength(4);
    for (const x of periods) {
      expect(x.observed).toBeGreaterThan(0);
      expect(x.loopUtilization).toBeGreaterThan(0);
      expect(x.loopDelayP99Ms).toBeGreaterThanOrEqual(0);
    }
  }, 20_000);
});
