/**
 * Idempotent publish holds across SIGKILL: a child (test/helpers/idem-crash-worker.cjs) sends
 * messages with ids, starting from the first id again each round as a retrying producer would;
 * the parent kills it at random moments (seeded; the seed is printed). Every id whose send was
 * confirmed in an earlier round comes back as a duplicate; the topic never holds an id twice, and
 * ends with every id once.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { mulberry32 } from '../helpers/prng';
import { spawnChild } from '../helpers/broker-spawn.cjs';
import { readTopic } from '../helpers/read-topic';

const COUNT = 300;

async function idsInTopic(dir: string): Promise<string[]> {
  const broker = await Broker.open(dir);
  try {
    return (await readTopic(broker, 't')).map((m) => m.headers['sluice.id']!);
  } finally {
    await broker.close();
  }
}

describe('idempotent publish across SIGKILL', () => {
  it('a retrying producer writes each id once', async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`idempotent-publish-survive-kill: SLUICE_TEST_SEED=${seed}`);
    const random = mulberry32(seed);
    const dir = tmpDir('sluice-idem-crash-');
    const broker = await Broker.open(dir);
    await broker.createTopic('t', { segmentBytes: 1 << 20, partitions: 3, sync: 'always' });
    await broker.close();
    const confirmed = new Set<number>();
    let finished = false;
    for (let round = 0; round < 10 && !finished; round++) {
      const child = spawnChild('idem-crash-worker.cjs', { dir, count: COUNT });
      const killAfter = round >= 8 ? 30_000 : 40 + Math.floor(random() * 300);
      const done = child.waitFor((lines: string[]) => lines.includes('done'), 'done').then(() => true, () => false);
      finished = await Promise.race([done, new Promise<boolean>((r) => setTimeout(() => r(false), killAfter))]);
      await child.kill9();
      for (const l of child.lines) {
        const m = /^sent (\d+) (true|false)$/.exec(l);
        if (m === null) continue;
        const id = Number(m[1]);
        if (confirmed.has(id)) expect(m[2], `round ${round}: id ${id} confirmed before was written again`).toBe('true');
        confirmed.add(id);
      }
      const ids = await idsInTopic(dir);
      expect(new Set(ids).size, `round ${round}: an id written twice`).toBe(ids.length);
    }
    expect(finished).toBe(true);
    expect((await idsInTopic(dir)).length).toBe(COUNT);
  });
});
