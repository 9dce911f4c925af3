/**
 * A schedule never fires one time twice across SIGKILL: a child
 * (test/helpers/schedule-crash-worker.cjs) runs a schedule firing every 100 ms; the parent kills
 * it at random moments (seeded; the seed is printed) and starts it again. After every kill the
 * topic's committed messages have distinct due times (sluice.schedule.at) in increasing order,
 * and the schedule's last recorded firing is the last message's (or the one before, when the last
 * was killed before its commit point: the next open aborts it).
 */
import { describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { Broker, Log } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { mulberry32 } from '../helpers/prng';
import { spawnChild } from '../helpers/broker-spawn.cjs';

/** The due times in the topic's log (read committed, opened read-only), and the schedule's last recorded firing. */
async function dueTimes(dir: string): Promise<{ ats: number[]; last: number | null }> {
  const broker = await Broker.open(dir, { readOnly: true });
  const log = await Log.open(path.join(dir, 'topics', 't', '0'), { readOnly: true });
  try {
    const ats: number[] = [];
    for (let at = log.startOffset; at < log.endOffset; ) {
      const { records, nextOffset } = log.readRecords(at, { maxRecords: 1000 });
      for (const r of records) ats.push(Number(r.headers.find((h) => h.key === 'sluice.schedule.at')!.value!.toString()));
      if (nextOffset <= at) break;
      at = nextOffset;
    }
    return { ats, last: broker.listSchedules()[0]?.lastFiredFor ?? null };
  } finally {
    await log.close();
    await broker.close();
  }
}

describe('schedules across SIGKILL', () => {
  it('no firing is made twice', async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`schedules-survive-kill: SLUICE_TEST_SEED=${seed}`);
    const random = mulberry32(seed);
    const dir = tmpDir('sluice-schedule-crash-');
    const broker = await Broker.open(dir);
    await broker.createTopic('t', { segmentBytes: 1 << 20 });
    await broker.close();
    let fired = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawnChild('schedule-crash-worker.cjs', { dir });
      await child.waitFor((lines: string[]) => lines.includes('ready'), 'ready');
      await new Promise((r) => setTimeout(r, 50 + Math.floor(random() * 400)));
      await child.kill9();
      const { ats, last } = await dueTimes(dir);
      for (let i = 1; i < ats.length; i++) expect(ats[i], `round ${round}: firing ${i} not after the one before`).toBeGreaterThan(ats[i - 1]);
      // The last may be a firing killed before its commit point (its transaction is aborted at the next open).
      if (ats.length > 0) expect([ats[ats.length - 1], ats[ats.length - 2] ?? null]).toContain(last);
      fired = ats.length;
    }
    expect(fired).toBeGreaterThan(0);
  });
});
