/**
 * Half messages are resolved exactly once across SIGKILL during their check-backs: a child
 * (test/helpers/half-crash-worker.cjs) prepares half messages and lets its check-back commit the
 * even ones and roll back the odd ones; the parent kills it at random moments (seeded; the seed is
 * printed) and starts it again. After every kill the topic holds no message twice and no odd
 * one; at the end, after a round left to finish, it holds every even one that was prepared.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { mulberry32 } from '../helpers/prng';
import { spawnChild } from '../helpers/broker-spawn.cjs';
import { readTopic } from '../helpers/read-topic';

async function topicValues(dir: string): Promise<string[]> {
  const broker = await Broker.open(dir);
  try {
    return (await readTopic(broker, 't')).map((m) => m.value);
  } finally {
    await broker.close();
  }
}

const even = (v: string) => Number(v.split('-')[1]) % 2 === 0;

describe('half messages across SIGKILL', () => {
  it('each is committed or rolled back exactly once by the check-back', async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`half-messages-survive-kill: SLUICE_TEST_SEED=${seed}`);
    const random = mulberry32(seed);
    const dir = tmpDir('sluice-half-crash-');
    const broker = await Broker.open(dir);
    await broker.createTopic('t', { segmentBytes: 1 << 20, partitions: 2 });
    await broker.close();
    const prepared = new Set<string>();
    const rounds = 8;
    for (let round = 0; round < rounds; round++) {
      const last = round === rounds - 1;
      const child = spawnChild('half-crash-worker.cjs', { dir, round, count: last ? 0 : 40 });
      const killAfter = last ? 30_000 : 30 + Math.floor(random() * 300);
      const idle = child.waitFor((lines: string[]) => lines.includes('idle'), 'idle').then(() => true, () => false);
      const finished = await Promise.race([idle, new Promise<boolean>((r) => setTimeout(() => r(false), killAfter))]);
      await child.kill9();
      for (const l of child.lines) if (l.startsWith('prepared ')) prepared.add(l.slice(9));
      const values = await topicValues(dir);
      expect(new Set(values).size, `round ${round}: a half message delivered twice`).toBe(values.length);
      expect(values.filter((v) => !even(v)), `round ${round}: a rolled-back one delivered`).toEqual([]);
      if (last) {
        expect(finished).toBe(true);
        const have = new Set(values);
        for (const v of prepared) if (even(v)) expect(have.has(v), `prepared ${v} is missing`).toBe(true);
      }
    }
  });
});
