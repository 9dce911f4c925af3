/**
 * `sluice serve` as a user runs it (the bin's source through tsx): it prints `listening on
 * HOST:PORT` once it accepts connections, serves kcat and kafkajs, and on SIGTERM or SIGINT
 * answers what is in flight, closes the broker and exits 0; SIGHUP reopens failed partitions and
 * leaves it serving. Usage errors exit 2, failures 1.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { tmpDir } from '../helpers/tmp';
import { SLUICE_BIN } from '../helpers/sluice-cli';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = SLUICE_BIN;
const run = promisify(execFile);
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function start(args: string[]): { child: ChildProcess; listening: Promise<string>; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [...BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => reject(new Error(`exited before listening: ${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, listening, output: () => out, exited };
}

describe('sluice serve', () => {
  it('listens, serves kcat, and shuts down cleanly on SIGTERM and on SIGINT', async () => {
    const data = tmpDir();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const s = start(['serve', '--data', data, '--listen', '127.0.0.1:0', '--partitions', '3']);
      const address = await s.listening;
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      const { stdout } = await run('kcat', ['-b', address, '-L', '-t', `made-by-kcat-${signal}`, '-m', '5']);
      expect(stdout).toContain(`broker 0 at ${address} (controller)`);
      s.child.kill(signal);
      expect(await s.exited).toBe(0);
      expect(s.output()).toContain(`${signal}: answering requests in flight, then closing`);
      expect(s.output()).toContain('closed');
    }
    // The broker was closed (its lock released): it opens here.
    const broker = await Broker.open(data);
    await broker.close();
  });

  it('on SIGHUP reopens the failed partitions, says so, and keeps serving (storage-faults.test.ts fails some)', async () => {
    const s = start(['serve', '--data', tmpDir(), '--listen', '127.0.0.1:0']);
    const address = await s.listening;
    s.child.kill('SIGHUP');
    const deadline = Date.now() + 30_000;
    while (!s.output().includes('SIGHUP: no failed partitions') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(s.output(), s.output()).toContain('SIGHUP: no failed partitions');
    const { stdout } = await run('kcat', ['-b', address, '-L']);
    expect(stdout).toContain(`broker 0 at ${address} (controller)`);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('runs as the README runs it: npx sluice (the built bin is executable)', async () => {
    // npx links this checkout into its cache the first time, running its install script (node-gyp
    // rebuild, which empties build/ while other test files load the addon): scripts off, as the
    // checkout is built already.
    const { stdout } = await run('npx', ['--no-install', 'sluice', '--help'], { cwd: ROOT, env: { ...process.env, npm_config_ignore_scripts: 'true' } });
    expect(stdout).toContain('serve');
  });

  it('exits 2 on usage errors and 1 when it cannot serve', async () => {
    const usage = async (args: string[]): Promise<{ code: number; stderr: string }> => {
      try {
        await run(process.execPath, [...BIN, ...args], { cwd: ROOT });
        return { code: 0, stderr: '' };
      } catch (e) {
        const err = e as { code: number; stderr: string };
        return { code: err.code, stderr: err.stderr };
      }
    };
    expect((await usage(['serve'])).code).toBe(2); // --data missing
    const bad = await usage(['serve', '--data', tmpDir(), '--listen', 'nowhere']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/want HOST:PORT/);
    expect((await usage(['serve', '--data', tmpDir(), '--sync', 'sometimes'])).code).toBe(2);
    const quota = await usage(['serve', '--data', tmpDir(), '--quota', 'client-id=etl:produce=fast']);
    expect(quota.code).toBe(2);
    expect(quota.stderr).toMatch(/"fast" is not a byte rate/);
    const override = await usage(['serve', '--data', tmpDir(), '--connections-per-ip-override', 'db.local=5']);
    expect(override.code).toBe(2);
    expect(override.stderr).toMatch(/not an IP address/);
    const file = path.join(tmpDir(), 'a-file');
    fs.writeFileSync(file, 'x');
    const failed = await usage(['serve', '--data', file, '--listen', '127.0.0.1:0']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^sluice: /);
    const help = await usage(['serve', '--help']);
    expect(help.code).toBe(0);
  });
});
