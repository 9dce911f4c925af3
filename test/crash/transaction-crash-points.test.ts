/**
 * A transaction killed (SIGKILL) at each named point of its commit (lib/crash-points.ts): before
 * its commit point it is aborted at the next open (nothing of it readable, the acked message
 * still unacked); at or after it (no marker yet, one partition's marker, every marker but no
 * TXN_DONE) it is completed at the next open: every record readable exactly once and the ack
 * applied. A second open changes nothing more.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { spawnChild } from '../helpers/broker-spawn.cjs';

async function outcome(dir: string): Promise<{ values: string[]; lag: number }> {
  const broker = await Broker.open(dir);
  try {
    const values: string[] = [];
    for (const topic of ['out', 'audit']) {
      const c = broker.consumer({ group: `check-${Math.random()}`, topics: topic, start: 'earliest' });
      await new Promise((r) => setImmediate(r));
      for (;;) {
        const got = await c.poll(100, { timeoutMs: 0 });
        if (got.length === 0) break;
        values.push(...got.map((m) => String(m.value)));
      }
      await c.close();
    }
    return { values: values.sort(), lag: broker.describeGroup('w').partitions[0].lag };
  } finally {
    await broker.close();
  }
}

describe('transactions killed at named points of the commit', () => {
  for (const [point, committed] of [
    ['txn.before-commit-point', false],
    ['txn.after-commit-point', true],
    ['txn.between-markers', true],
    ['txn.after-markers', true],
  ] as const) {
    it(`${point}: ${committed ? 'completed' : 'aborted'} at the next open`, async () => {
      const dir = tmpDir('sluice-txn-point-');
      const b = await Broker.open(dir);
      await b.createTopic('in', { segmentBytes: 1 << 20 });
      await b.createTopic('out', { segmentBytes: 1 << 20, partitions: 2 });
      await b.createTopic('audit', { segmentBytes: 1 << 20 });
      await b.send('in', { value: 'job' });
      await b.close();
      const child = spawnChild('txn-point-worker.cjs', { dir }, { SLUICE_CRASH_POINT: point });
      const exit = await child.exited;
      expect(child.lines).not.toContain('committed');
      expect(exit.signal).toBe('SIGKILL');
      const first = await outcome(dir);
      expect(first).toEqual(committed ? { values: ['audit', 'out-0', 'out-1'], lag: 0 } : { values: [], lag: 1 });
      expect(await outcome(dir)).toEqual(first);
    });
  }
});
