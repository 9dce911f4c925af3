/**
 * `sluice mirror` as a user runs it: a data directory into a second `sluice serve` (every record's
 * key, value, headers, timestamp and partition equal with preserve; with key partitioning a key
 * always lands on its murmur2 partition of the target, in source order), a serve into a data
 * directory (committed records only: an aborted transaction of the source is not copied), a
 * second run copying only what is new, following a directory being written (exit 0 on SIGTERM),
 * and the errors for bad input.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { keyPartition } from '../../lib/broker/produce/partitioner';
import { BIN, content, seed, seeded, serve, storedRecords, type Served } from '../helpers/mirror-fixtures';
import { sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '..', '..');
const servers: Served[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function started(dir: string): Promise<Served> {
  const s = await serve(dir);
  servers.push(s);
  return s;
}

describe('sluice mirror', () => {
  it('copies a data directory into a serve with every record equal (preserve), then only what is new', async () => {
    const src = tmpDir();
    const dst = tmpDir();
    await seed(src, 'orders', 3, seeded(300));
    const target = await started(dst);
    const r = await sluice(['mirror', '--from-data', src, '--to-brokers', target.address, '--topic', 'orders', '--batch', '64', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ type: 'summary', records: 300 });
    expect(summary.partitions.map((p: { lag: number }) => p.lag)).toEqual([0, 0, 0]);
    await target.stop();
    const [want, got] = [await storedRecords(src, 'orders'), await storedRecords(dst, 'orders')];
    expect(got.map(content)).toEqual(want.map(content));
    expect(got.length).toBe(want.length); // nothing else in the target
    expect(got[5].source).toMatch(new RegExp(`/orders/${want[5].partition}/${want[5].offset}$`));

    // More in the source: a second run copies only those.
    const b = await Broker.open(src);
    await b.sendBatch('orders', [{ key: 'late', value: Buffer.from('new'), partition: 1 }]);
    await b.close();
    servers.push(await started(dst));
    const again = await sluice(['mirror', '--from-data', src, '--to-brokers', servers[servers.length - 1].address, '--topic', 'orders']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('1 records copied');
    await servers[servers.length - 1].stop();
    expect((await storedRecords(dst, 'orders')).length).toBe(301);
  });

  it('re-partitions by key: a key always on its murmur2 partition of the target, in source order', async () => {
    const src = tmpDir();
    const dst = tmpDir();
    await seed(src, 'events', 2, seeded(200));
    // The target has the topic already, with more partitions.
    const made = await Broker.open(dst);
    await made.createTopic('events', { partitions: 5 });
    await made.close();
    const target = await started(dst);
    const r = await sluice(['mirror', '--from-data', src, '--to-brokers', target.address, '--pattern', 'ev.*', '--partitioning', 'key', '--batch', '50']);
    expect(r.code).toBe(0);
    await target.stop();
    const want = await storedRecords(src, 'events');
    const got = await storedRecords(dst, 'events');
    expect(got.length).toBe(want.length);
    for (const g of got) {
      const [, p] = /\/events\/(\d+)\/(\d+)$/.exec(g.source!)!;
      expect(g.partition).toBe(g.key === null ? Number(p) % 5 : keyPartition(g.key, 5));
    }
    // Per source partition, the copies are in source order within each target partition.
    const bySource = (rs: typeof got) => rs.map((g) => g.source!.split('/').slice(-2).map(Number));
    for (let tp = 0; tp < 5; tp++) {
      const seq = bySource(got.filter((g) => g.partition === tp));
      for (const sp of [0, 1]) {
        const offs = seq.filter(([p]) => p === sp).map(([, o]) => o);
        expect(offs).toEqual([...offs].sort((a, b) => a - b));
      }
    }
    const strip = (rs: typeof got) => rs.map(({ key, value, headers, timestamp }) => ({ key, value, headers, timestamp })).sort((a, b) => a.timestamp - b.timestamp);
    expect(strip(got)).toEqual(strip(want));
  });

  it('copies a serve into a data directory, committed records only', async () => {
    const src = tmpDir();
    const dst = tmpDir();
    await seed(src, 'payments', 2, seeded(120, 'p-'));
    const b = await Broker.open(src);
    await b
      .transaction(async (tx) => {
        await tx.send('payments', { key: 'aborted', value: Buffer.from('never'), partition: 0 });
        throw new Error('abort it');
      })
      .catch(() => {});
    await b.transaction(async (tx) => {
      await tx.send('payments', { key: 'committed', value: Buffer.from('kept'), partition: 0, timestamp: 1_650_000_000_000 });
    });
    await b.close();
    const source = await started(src);
    const r = await sluice(['mirror', '--from-brokers', source.address, '--to-data', dst, '--topic', 'payments', '--batch', '40']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('121 records copied');
    const got = await storedRecords(dst, 'payments');
    const want = await storedRecords(src, 'payments');
    expect(got.map(content)).toEqual(want.map(content));
    expect(got.some((g) => g.key === 'aborted')).toBe(false);
    expect(got.find((g) => g.key === 'committed')).toMatchObject({ value: 'kept', timestamp: 1_650_000_000_000, partition: 0 });
    // The same again copies nothing.
    const again = await sluice(['mirror', '--from-brokers', source.address, '--to-data', dst, '--topic', 'payments']);
    expect(again.stdout).toContain('0 records copied');
  });

  it('follows: copies what is added later, reports its lag, and exits 0 on SIGTERM', async () => {
    const src = tmpDir();
    const dst = tmpDir();
    await seed(src, 'live', 2, seeded(10));
    const child = spawn(process.execPath, [...BIN, 'mirror', '--from-data', src, '--to-data', dst, '--topic', 'live', '--follow', '--poll-ms', '50', '--progress-ms', '50', '--json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const copiedAtLeast = async (n: number): Promise<void> => {
      for (;;) {
        const last = err.trim().split('\n').filter((l) => l.startsWith('{')).pop();
        if (last !== undefined && JSON.parse(last).records >= n) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await copiedAtLeast(10);
    // The source is written while the mirror follows it (it reopens the directory read-only).
    const b = await Broker.open(src);
    await b.sendBatch('live', [{ key: 'a', value: Buffer.from('later'), partition: 1 }]);
    await b.close();
    await copiedAtLeast(11);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ type: 'summary', records: 11 });
    const got = await storedRecords(dst, 'live');
    expect(got.map((g) => g.value)).toContain('later');
    expect(got.length).toBe(11);
  });

  it('reports bad input with a clear message and exit code', async () => {
    const src = tmpDir();
    const dst = tmpDir();
    await seed(src, 't', 1, seeded(3));
    const noTopic = await sluice(['mirror', '--from-data', src, '--to-data', dst, '--topic', 'nope']);
    expect(noTopic.code).toBe(1);
    expect(noTopic.stderr).toContain('topic nope does not exist in the source');
    const noSource = await sluice(['mirror', '--to-data', dst, '--topic', 't']);
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toContain('give one source');
    const noTarget = await sluice(['mirror', '--from-data', src, '--topic', 't']);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain('give one target');
    const noTopics = await sluice(['mirror', '--from-data', src, '--to-data', dst]);
    expect(noTopics.code).toBe(2);
    const unreachable = await sluice(['mirror', '--from-data', src, '--to-brokers', '127.0.0.1:1', '--topic', 't', '--timeout-ms', '500']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach the Kafka cluster at 127.0.0.1:1');
    const badList = await sluice(['mirror', '--from-brokers', 'nohost', '--to-data', dst, '--topic', 't']);
    expect(badList.code).toBe(2);
    const help = await sluice(['mirror', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--from-brokers');
    expect(help.stdout).toContain('--partitioning');
  });
});
