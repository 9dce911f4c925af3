/**
 * `sluice why` on a data directory: one group (text and --json), every group consuming the topic,
 * a delayed message by its delay id, beside a broker holding the directory (read-only: from the
 * durable state), and usage errors (exit 2).
 */
import { describe, expect, it } from 'vitest';
import { Broker, type AckMessage } from '../../lib/index';
import { sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

describe('sluice why', () => {
  it('explains a message for one group or all of them, in text or JSON, beside a running broker too', async () => {
    const data = tmpDir('sluice-why-');
    const b = await Broker.open(data);
    try {
      await b.createTopic('jobs', { sync: 'always' });
      await b.sendBatch('jobs', [{ value: 'a' }, { value: 'b' }]);
      const q = b.consumer({ group: 'workers', topics: 'jobs', model: 'ack' });
      const log = b.consumer({ group: 'audit', topics: 'jobs' });
      const [m] = (await q.poll(1, { timeoutMs: 1000 })) as AckMessage[];
      m.nack({ delayMs: 3_600_000 });
      await log.poll(10, { timeoutMs: 1000 });
      await log.poll(10, { timeoutMs: 50 }); // commits what the first poll returned
      await log.close();
      const delayed = await b.send('jobs', { value: 'later', delayMs: 3_600_000 });
      await new Promise((r) => setTimeout(r, 50));

      const one = await sluice(['why', '--data', data, '--topic', 'jobs', '--partition', '0', '--offset', '0', '--group', 'workers', '--json']);
      expect(one.code).toBe(0);
      expect(JSON.parse(one.stdout)).toMatchObject({ state: 'retry-wait', failures: 1, group: 'workers' });

      const all = await sluice(['why', '--data', data, '--topic', 'jobs', '--partition', '0', '--offset', '1']);
      expect(all.code).toBe(0);
      expect(all.stdout).toContain('jobs/0@1 for group workers: waiting');
      expect(all.stdout).toContain('jobs/0@1 for group audit: committed');
      expect(all.stdout).toContain('note: opened read-only');

      const d = await sluice(['why', '--data', data, '--topic', 'jobs', '--delay-id', String(delayed.delayId), '--group', 'audit', '--json']);
      expect(JSON.parse(d.stdout)).toMatchObject({ state: 'delayed', dueAt: delayed.deliverAt });
    } finally {
      await b.close();
    }
    for (const args of [['--partition', '0'], ['--offset', '1'], ['--partition', '0', '--offset', '0', '--delay-id', '0'], []]) {
      expect((await sluice(['why', '--data', data, '--topic', 'jobs', ...args])).code).toBe(2);
    }
    const unknown = await sluice(['why', '--data', data, '--topic', 'jobs', '--partition', '0', '--offset', '0', '--group', 'nobody']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown group');
  });
});
