/**
 * The `sluice` commands on a data directory, run as a user runs them (the bin's source through
 * tsx): topics create/list/describe/delete, produce (lines and JSON from stdin), consume (text
 * and JSON, from offsets, times and the end, one partition, at most N), groups list/describe;
 * --json output parsed; read-only commands work beside a broker holding the directory, writing
 * ones say it is held; --help on every command; exit codes 0, 1 and 2.
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

describe('sluice commands', () => {
  it('topics, produce and consume on a data directory', async () => {
    const data = tmpDir('sluice-cli-');
    expect((await sluice(['topics', 'create', 'orders', '--data', data, '--partitions', '2'])).stdout).toContain('created topic orders (2 partition(s))');
    expect((await sluice(['produce', '--data', data, '--topic', 'orders', '--key', 'k1', '--header', 'src=cli'], 'a\nb\nc\n')).stdout).toContain('produced 3 message(s)');
    const json = await sluice(['produce', '--data', data, '--topic', 'orders', '--format', 'json', '--json'], '{"value":{"x":1},"key":"k2","headers":{"h":"v"}}\n\n{"value":"p0","partition":0}\n');
    expect(JSON.parse(json.stdout)).toEqual({ topic: 'orders', produced: 2 });

    const list = JSON.parse((await sluice(['topics', 'list', '--data', data, '--json'])).stdout);
    expect(list).toEqual([{ name: 'orders', partitions: 2, messages: 5, backlog: 5, groups: [] }]);
    const d = JSON.parse((await sluice(['topics', 'describe', 'orders', '--data', data, '--json'])).stdout);
    expect(d.partitions.map((p: { endOffset: number }) => p.endOffset).reduce((a: number, b: number) => a + b)).toBe(5);

    const all = (await sluice(['consume', '--data', data, '--topic', 'orders'])).stdout.trim().split('\n').sort();
    expect(all).toEqual(['a', 'b', 'c', 'p0', '{"x":1}']);
    const p = d.partitions.find((x: { endOffset: number }) => x.endOffset === 4).partition;
    const lines = (await sluice(['consume', '--data', data, '--topic', 'orders', '--partition', String(p), '--from', '1', '--max', '2', '--format', 'json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((m) => [m.offset, m.key, m.value, m.headers])).toEqual([
      [1, 'k1', 'b', { src: 'cli' }],
      [2, 'k1', 'c', { src: 'cli' }],
    ]);
    expect((await sluice(['consume', '--data', data, '--topic', 'orders', '--from', 'latest'])).stdout).toBe('');
    expect((await sluice(['consume', '--data', data, '--topic', 'orders', '--from', '2099-01-01T00:00:00Z'])).stdout).toBe('');

    const refused = await sluice(['topics', 'delete', 'orders', '--data', data]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    expect((await sluice(['topics', 'delete', 'orders', '--data', data, '--yes'])).code).toBe(0);
    expect(JSON.parse((await sluice(['topics', 'list', '--data', data, '--json'])).stdout)).toEqual([]);
  });

  it('groups list and describe; read-only beside a broker holding the directory; writes say it is held', async () => {
    const data = tmpDir('sluice-cli-');
    const b = await Broker.open(data);
    await b.createTopic('jobs', { sync: 'always' });
    await b.sendBatch('jobs', [{ value: '1' }, { value: '2' }, { value: '3' }]);
    const c = b.consumer({ group: 'workers', topics: 'jobs', model: 'ack' });
    const [m] = await c.poll(1, { timeoutMs: 1000 });
    await m.ack();
    try {
      const groups = JSON.parse((await sluice(['groups', 'list', '--data', data, '--json'])).stdout);
      expect(groups).toEqual([{ name: 'workers', model: 'ack', lag: 2, inFlight: 0, redeliveries: 0 }]);
      const g = JSON.parse((await sluice(['groups', 'describe', 'workers', '--data', data, '--json'])).stdout);
      expect(g.partitions[0]).toMatchObject({ topic: 'jobs', partition: 0, committedOffset: 1, endOffset: 3, lag: 2 });
      expect((await sluice(['consume', '--data', data, '--topic', 'jobs'])).stdout).toBe('1\n2\n3\n');
      const held = await sluice(['topics', 'create', 'more', '--data', data]);
      expect(held.code).toBe(1);
      expect(held.stderr).toContain('is open in another broker');
    } finally {
      await b.close();
    }
    const reset = JSON.parse((await sluice(['groups', 'reset', 'workers', '--data', data, '--topic', 'jobs', '--to', 'earliest', '--json'])).stdout);
    expect(reset).toEqual({ group: 'workers', topic: 'jobs', partitions: [{ partition: 0, offset: 0 }] });
    expect(JSON.parse((await sluice(['groups', 'describe', 'workers', '--data', data, '--json'])).stdout).lag).toBe(3);
    expect((await sluice(['groups', 'reset', 'workers', '--data', data, '--topic', 'jobs', '--to', 'soon'])).code).toBe(2);
  });

  it('--help on every command; usage errors exit 2, failures 1', async () => {
    for (const args of [[], ['serve'], ['topics'], ['topics', 'list'], ['topics', 'describe'], ['topics', 'create'], ['topics', 'delete'], ['groups'], ['groups', 'list'], ['groups', 'describe'], ['groups', 'reset'], ['produce'], ['consume'], ['inspect'], ['verify'], ['why']]) {
      const r = await sluice([...args, '--help']);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('Usage: sluice');
    }
    const data = tmpDir('sluice-cli-');
    expect((await sluice(['topics', 'create', 't', '--data', data, '--partitions', 'zero'])).code).toBe(2);
    expect((await sluice(['consume', '--data', data, '--topic', 't', '--from', 'yesterday'])).code).toBe(2);
    expect((await sluice(['nonsense'])).code).toBe(2);
    const missing = await sluice(['topics', 'describe', 'nope', '--data', tmpDir('sluice-cli-')]);
    expect(missing.code).toBe(1);
    expect((await sluice(['topics', 'create', 't', '--data', data])).code).toBe(0);
    const bad = await sluice(['produce', '--data', data, '--topic', 't', '--format', 'json'], '{"value": 1}\nnot json\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('line 2: not JSON');
  });
});
