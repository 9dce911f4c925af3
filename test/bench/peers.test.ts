/**
 * Peer drivers against their real servers, started by the bench itself on 127.0.0.1 and a free
 * port in a temp dir: Redis Streams at both settings (when redis-server is installed), and the
 * skip line when a binary is missing. A one-second run; no speed is asserted.
 */
import { describe, expect, it } from 'vitest';
import { runBench } from '../../lib/bench/bench';
import { redisFactory } from '../../lib/bench/drivers/redis-driver';
import type { DriverFactory } from '../../lib/bench/driver';
import { findBinary } from '../../lib/bench/peer-process';
import { validateWorkload } from '../../lib/bench/workload';
import { tmpDir } from '../helpers/tmp';

const workload = validateWorkload({ name: 'peer-smoke', messageSize: 128, producerRate: 500, durationSeconds: 1, partitionsPerTopic: 2, subscriptionsPerTopic: 2, consumerModel: 'ack' });
const REDIS_MISSING = 'redis-server is not installed (apt-get install redis-server): the Redis Streams driver is not run';

describe('peer drivers', () => {
  it.skipIf(findBinary('redis-server') === null)('redis: durable (AOF always) and default, server started and stopped by the bench', async () => {
    const r = await runBench({ workload, workloadSource: '', drivers: ['redis'], tmpDir: tmpDir(), command: 'test' });
    expect(r.drivers.map((d) => d.driver)).toEqual(['redis-durable', 'redis-default']);
    for (const d of r.drivers) {
      expect(d.status, d.error).toBe('ok');
      expect(d.counts.confirmed).toBeGreaterThan(0);
      expect(d.counts.consumed).toBe(d.counts.expectedConsumed);
      expect(d.latency.endToEnd.count).toBeGreaterThan(0);
    }
    expect(r.drivers[0].settings.persistence).toMatch(/appendfsync always/);
    expect(r.drivers[1].settings.persistence).toMatch(/no AOF/);
  });
  if (findBinary('redis-server') === null) it.skip(REDIS_MISSING, () => {});

  it('skips a driver whose server is missing, with the reason', async () => {
    const missing: DriverFactory = { ...redisFactory, family: 'redis', unavailable: () => 'redis-server is not on PATH' };
    const lines: string[] = [];
    const r = await runBench({ workload, workloadSource: '', drivers: ['redis'], tmpDir: tmpDir(), command: 'test', factories: [missing], log: (l) => lines.push(l) });
    expect(r.drivers).toEqual([]);
    expect(r.skipped).toEqual([{ driver: 'redis', reason: 'redis-server is not on PATH' }]);
    expect(lines).toEqual(['skip redis: redis-server is not on PATH']);
  });
});
