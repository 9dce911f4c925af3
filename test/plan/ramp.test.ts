import { describe, expect, it } from 'vitest';
import { BACKLOG_ALLOWANCE_MS, backlogLimitAt, dueChunks, limitOf, nextRamp, RAMP_START, rampOnce, RAMP_MODES, SEND_CHUNK, sustained, type RampPeriod } from '../../lib/plan/ramp';

describe('the OMB ramp rule', () => {
  const good = { observed: 0, publishBacklog: 0, receiveBacklog: 0 };
  const bad = { observed: 0, publishBacklog: 10_000, receiveBacklog: 0 };
  it('doubles after each good period, tries a failing rate once more, then bisects', () => {
    let s = nextRamp(RAMP_START(1000), good, 100);
    expect(s).toMatchObject({ phase: 'grow', rate: 2000, lo: 1000, ok: true });
    s = nextRamp(s, bad, 100);
    expect(s).toMatchObject({ phase: 'grow', rate: 2000, fails: 1, ok: false }); // one stall is not the limit
    s = nextRamp(s, good, 100);
    expect(s).toMatchObject({ phase: 'grow', rate: 4000, lo: 2000 });
    s = nextRamp(nextRamp(s, bad, 100), bad, 100);
    expect(s).toMatchObject({ phase: 'bisect', lo: 2000, hi: 4000, rate: 3000 });
    // A probe must hold two periods to raise lo; one failing period lowers hi.
    s = nextRamp(s, good, 100);
    expect(s).toMatchObject({ rate: 3000, lo: 2000, goods: 1 });
    s = nextRamp(s, good, 100);
    expect(s).toMatchObject({ lo: 3000, hi: 4000, rate: 3500 });
    s = nextRamp(s, bad, 100);
    expect(s).toMatchObject({ lo: 3000, hi: 3500, rate: 3250 });
    expect(nextRamp(RAMP_START(8000), { observed: 7900, publishBacklog: 0, receiveBacklog: 101 }, 100).ok).toBe(false);
  });
  it('allows BACKLOG_ALLOWANCE_MS of messages in flight at high rates', () => {
    expect(backlogLimitAt(10_000, 1000)).toBe(1000);
    expect(backlogLimitAt(600_000, 1000)).toBe((600_000 * BACKLOG_ALLOWANCE_MS) / 1000);
  });
  it('closes in on the limit instead of oscillating in doubling steps below it, and one stall does not stop it', () => {
    // An engine that holds 250k msg/s, and stalls once (period 3) as a GC or a neighbour would.
    let k = 0;
    const engine = (rate: number) => (k++ === 3 || rate > 250_000 ? { observed: 0, publishBacklog: 10_000, receiveBacklog: 0 } : { observed: rate, publishBacklog: 0, receiveBacklog: 0 });
    let s = RAMP_START(10_000);
    const periods: RampPeriod[] = [];
    for (let n = 0; n < 20; n++) {
      const p = engine(s.rate);
      const next = nextRamp(s, p, 1000);
      periods.push({ rate: s.rate, ...p, ok: next.ok });
      s = next;
    }
    const best = sustained(periods);
    expect(best).toBeGreaterThan(0.85 * 250_000); // OMB's rule would report 160k, the doubling step below
    expect(best).toBeLessThanOrEqual(250_000);
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
