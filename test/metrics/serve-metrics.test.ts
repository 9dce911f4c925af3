/**
 * `sluice serve --metrics` as a user runs it: it prints where the metrics are, kcat produces and a
 * kcat group consumes, /metrics shows both, and `sluice why --server` asks its /explain for the
 * group's view of a message (committed), in text and JSON. A data directory whose partition failed
 * (a sync failure injected in a child broker) answers /health with 503 and the failure, and the
 * partition's failed gauge is 1.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../helpers/prometheus-text';
import { SLUICE_BIN, sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Starts a child and resolves with the first match of each pattern in its stdout. */
function start(command: string, args: string[], patterns: RegExp[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; found: string[] }> {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const look = () => {
      const found = patterns.map((p) => p.exec(out)?.[1]);
      if (found.every((f) => f !== undefined)) resolve({ child, found: found as string[] });
    };
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      look();
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => reject(new Error(`exited early: ${out}`)));
  });
}

describe('sluice serve --metrics', () => {
  it('serves metrics for kcat traffic and answers sluice why --server', async () => {
    const data = tmpDir();
    const { child, found } = await start(process.execPath, [...SLUICE_BIN, 'serve', '--data', data, '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0'], [/listening on (\S+)/, /metrics on (http:\/\/\S+)\/metrics/]);
    const [kafka, url] = found;
    await run('sh', ['-c', `printf 'a\\nb\\nc\\n' | kcat -P -b ${kafka} -t jobs`]);
    const { stdout } = await run('kcat', ['-b', kafka, '-G', 'g1', '-e', '-q', '-X', 'auto.offset.reset=earliest', 'jobs']);
    expect(stdout.trim().split('\n')).toEqual(['a', 'b', 'c']);

    const f = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    const sample = (name: string, labels: Record<string, string>) => f.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(sample('sluice_partition_messages_in_total', { topic: 'jobs', partition: '0' })).toBe(3);
    expect(sample('sluice_partition_messages_out_total', { topic: 'jobs', partition: '0' })).toBe(3);
    expect(sample('sluice_group_lag', { group: 'g1', topic: 'jobs', partition: '0' })).toBe(0);
    expect(sample('sluice_server_requests_total', { api: 'JoinGroup' })).toBeGreaterThanOrEqual(1);
    expect(sample('sluice_server_group_members', { group: 'g1', state: 'Empty' })).toBe(0); // kcat left

    const text = await sluice(['why', '--server', url, '--topic', 'jobs', '--partition', '0', '--offset', '1', '--group', 'g1']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('jobs/0@1 for group g1: committed');
    const json = await sluice(['why', '--server', url, '--topic', 'jobs', '--partition', '0', '--offset', '1', '--group', 'g1', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ state: 'committed', group: 'g1', offset: 1 });
    const unknown = await sluice(['why', '--server', url, '--topic', 'jobs', '--partition', '0', '--offset', '1', '--group', 'nobody']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown group');

    child.kill('SIGTERM');
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
  });

  it('reports a failed partition on /health (503) and in its gauge', async () => {
    const data = tmpDir();
    const { found } = await start(process.execPath, [path.join(ROOT, 'test', 'helpers', 'metrics-fault-child.cjs'), data], [/metrics (http:\/\/\S+)/, /(failed)/], { ...process.env, SLUICE_FAULT_INJECTION: '1' });
    const [url] = found;
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; failed: { topic: string; partition: number; failure: string }[] };
    expect(body.status).toBe('failing');
    expect(body.failed).toEqual([{ topic: 'fragile', partition: 0, failure: expect.stringContaining('fdatasync failed: Input/output error') }]);
    const f = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    const failed = f.get('sluice_partition_failed')!.samples;
    expect(failed.find((s) => s.labels.topic === 'fragile')!.value).toBe(1);
    expect(failed.find((s) => s.labels.topic === 'sturdy')!.value).toBe(0);
  });
});
