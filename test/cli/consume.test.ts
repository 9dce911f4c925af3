/**
 * `sluice consume` in a group (offset and ack model: the position moves, a second run prints only
 * what is new, --max stops early and keeps the rest for the next run) and following (without a
 * group beside a broker that keeps writing, and in a group), stopped by SIGTERM with exit 0.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { SLUICE_BIN, sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '..', '..');

async function seeded(model: 'offset' | 'ack' | null, values: string[]): Promise<string> {
  const data = tmpDir('sluice-consume-');
  const b = await Broker.open(data);
  await b.createTopic('t', { partitions: 2, sync: 'always' });
  await b.sendBatch('t', values.map((value) => ({ value })));
  if (model !== null) await b.consumer({ group: 'g', topics: 't', model }).close();
  await b.close();
  return data;
}

/** Runs `sluice consume ... --follow` until `until(stdout)` holds, then SIGTERM; its exit code and output. */
function follow(args: string[], until: (stdout: string) => boolean, meanwhile: () => Promise<void>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...SLUICE_BIN, 'consume', ...args, '--follow'], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    let stopped = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!stopped && until(stdout)) {
        stopped = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    meanwhile().catch(reject);
  });
}

const lines = (s: string): string[] => s.trim().split('\n').filter((l) => l !== '').sort();

describe('sluice consume', () => {
  for (const model of ['offset', 'ack'] as const) {
    it(`--group moves the group's position (${model} model): a second run prints only what is new`, async () => {
      const data = await seeded(model, ['a', 'b', 'c', 'd']);
      const first = await sluice(['consume', '--data', data, '--topic', 't', '--group', 'g', '--max', '3']);
      expect(first.code).toBe(0);
      expect(lines(first.stdout)).toHaveLength(3);
      const rest = await sluice(['consume', '--data', data, '--topic', 't', '--group', 'g']);
      expect(lines(first.stdout + rest.stdout)).toEqual(['a', 'b', 'c', 'd']);
      const g = JSON.parse((await sluice(['groups', 'describe', 'g', '--data', data, '--json'])).stdout);
      expect(g.model).toBe(model);
      expect(g.lag).toBe(0);
      expect((await sluice(['consume', '--data', data, '--topic', 't', '--group', 'g'])).stdout).toBe('');
    });
  }

  it('--group for a new group starts at --from; --partition and offsets are refused with a group', async () => {
    const data = await seeded(null, ['a', 'b']);
    expect((await sluice(['consume', '--data', data, '--topic', 't', '--group', 'late', '--from', 'latest'])).stdout).toBe('');
    const g = JSON.parse((await sluice(['groups', 'describe', 'late', '--data', data, '--json'])).stdout);
    expect(g.lag).toBe(0);
    for (const extra of [['--partition', '0'], ['--from', '3']]) {
      const r = await sluice(['consume', '--data', data, '--topic', 't', '--group', 'x', ...extra]);
      expect(r.code).toBe(2);
    }
    const unknown = await sluice(['consume', '--data', data, '--topic', 'nope', '--group', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('nope');
  });

  it('--follow without a group prints what a running broker writes later, and exits 0 on SIGTERM', async () => {
    const data = await seeded(null, ['a']);
    const b = await Broker.open(data);
    try {
      const r = await follow(
        ['--data', data, '--topic', 't', '--poll-ms', '50'],
        (out) => lines(out).length >= 3,
        async () => {
          await new Promise((r) => setTimeout(r, 300));
          await b.sendBatch('t', [{ value: 'b' }, { value: 'c' }]);
        },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(lines(r.stdout)).toEqual(['a', 'b', 'c']);
    } finally {
      await b.close();
    }
  });

  it('--follow in a group waits for new messages and commits what it printed', async () => {
    const data = await seeded('offset', ['a']);
    const r = await follow(['--data', data, '--topic', 't', '--group', 'g'], (out) => lines(out).length >= 1, async () => undefined);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual(['a']);
    const g = JSON.parse((await sluice(['groups', 'describe', 'g', '--data', data, '--json'])).stdout);
    expect(g.lag).toBe(0);
  });
});
