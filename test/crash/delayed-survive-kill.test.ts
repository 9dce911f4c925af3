/**
 * Delayed messages are moved into their topic exactly once across SIGKILL at any moment: a child
 * (test/helpers/delay-crash-worker.cjs) sends delayed messages and lets them fall due; the parent
 * kills it at random moments (seeded; the seed is printed) and starts it again, each round
 * sending more. After every kill the topic holds no message twice; at the end, after a round
 * left to finish, every message whose send resolved is in the topic exactly once.
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

describe('delayed messages across SIGKILL', () => {
  it('each confirmed delayed message reaches its topic exactly once', async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`delayed-survive-kill: SLUICE_TEST_SEED=${seed}`);
    const random = mulberry32(seed);
    const dir = tmpDir('sluice-delay-crash-');
    const broker = await Broker.open(dir);
    await broker.createTopic('t', { segmentBytes: 1 << 20, partitions: 2 });
    await broker.close();
    const confirmed = new Set<string>();
    const rounds = 8;
    for (let round = 0; round < rounds; round++) {
      const last = round === rounds - 1;
      const child = spawnChild('delay-crash-worker.cjs', { dir, round, count: last ? 0 : 60, seed: Math.floor(random() * 2 ** 31) });
      const killAfter = last ? 30_000 : 20 + Math.floor(random() * 250);
      const idle = child.waitFor((lines: string[]) => lines.includes('idle'), 'idle').then(() => true, () => false);
      const finished = await Promise.race([idle, new Promise<boolean>((r) => setTimeout(() => r(false), killAfter))]);
      await child.kill9();
      for (const l of child.lines) if (l.startsWith('sent ')) confirmed.add(l.slice(5));
      const values = await topicValues(dir);
      expect(new Set(values).size, `round ${round}: a message moved twice`).toBe(values.length);
      if (last) {
        expect(finished).toBe(true);
        const have = new Set(values);
        for (const v of confirmed) expect(have.has(v), `confirmed ${v} is missing`).toBe(true);
      }
    }
  });
});
