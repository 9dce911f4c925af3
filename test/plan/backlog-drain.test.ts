import { describe, expect, it } from 'vitest';
import { backlogDrain, drainWarnings, planDrain, type PlanDrain } from '../../lib/plan/backlog-drain';
import { RAMP_MODES } from '../../lib/plan/ramp';

describe('plan backlog drain', () => {
  it('builds a backlog while the groups are paused and drains it after the resume', async () => {
    const r = await backlogDrain(RAMP_MODES[2], { partitions: 2, messageSize: 100, rate: 2000, groups: 2, warmupMs: 200, pauseMs: 500, maxDrainMs: 5000, sampleMs: 50 });
    // About rate × pause messages piled up (the scheduler may lag on a busy host).
    expect(r.backlogAtResume).toBeGreaterThan(200);
    expect(r.drainMs).not.toBeNull();
    expect(r.catchUpRatio).toBeGreaterThan(1);
    expect(r.catchUpRatio).toBeCloseTo(r.catchUpRate / 2000);
    const during = r.backlog.filter(([t]) => t > 300 && t < 700).map(([, n]) => n);
    expect(Math.max(...during)).toBeGreaterThan(r.steadyBacklog);
    expect(r.backlog.at(-1)![1]).toBeLessThanOrEqual(r.backlogAtResume);
    expect(r.producedRate).toBeGreaterThan(0);
  }, 20_000);
  it('is skipped without consumer groups', async () => {
    expect(await planDrain({ producerRate: 100, partitionsPerTopic: 1, messageSize: 10, subscriptionsPerTopic: 0 }, RAMP_MODES[2], 0, true)).toBeNull();
  });
  it('caps the rate to the ramp maximum and says so', async () => {
    const d = await planDrain({ producerRate: 5000, partitionsPerTopic: 1, messageSize: 10, subscriptionsPerTopic: 1 }, RAMP_MODES[2], 1000, true);
    expect(d).toMatchObject({ rate: 1000, wanted: 5000, capped: true, source: 'measured' });
  }, 20_000);
  it('warns when the consumers catch up slowly or never', () => {
    const d = (catchUpRatio: number, drainMs: number | null) => ({ catchUpRatio, drainMs, pauseMs: 1000 }) as PlanDrain;
    expect(drainWarnings(d(5, 100))).toEqual([]);
    expect(drainWarnings(d(1.2, 100))[0]).toMatch(/catch-up is only 1.20x the produce rate/);
    expect(drainWarnings(d(0.9, null))[0]).toMatch(/did not get back to steady state/);
    expect(drainWarnings(null)).toEqual([]);
  });
});
