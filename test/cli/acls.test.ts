/**
 * `sluice acls add|remove|list`: a round trip in text and JSON, usage errors (exit 2) that say
 * what is wrong, a remove that matches nothing (exit 1), run in process through the bin's main()
 * (two dozen runs; each spawned through tsx would take seconds); then as a user runs them (the
 * bin through tsx) beside a running `sluice serve --acls`, which applies what they change.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../lib/cli/sluice';
import { SLUICE_BIN, sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** `sluice ARGS` in this process: its exit code and what it printed. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    const code = await main(['node', 'sluice', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}

describe('sluice acls', () => {
  it('adds, lists and removes entries', async () => {
    const data = tmpDir();
    const add = await inProcess(['acls', 'add', '--data', data, '--principal', 'User:alice', '--allow', '--operation', 'read,write', '--topic', 'orders.', '--prefixed']);
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/User:alice\s+allow\s+read\s+topic\s+prefixed\s+orders\./);
    expect((await inProcess(['acls', 'add', '--data', data, '--principal', 'User:*', '--deny', '--operation', 'all', '--group', 'admin'])).code).toBe(0);
    const again = await inProcess(['acls', 'add', '--data', data, '--principal', 'User:alice', '--allow', '--operation', 'read', '--topic', 'orders.', '--prefixed']);
    expect(again.stdout).toContain('(1 already present)');

    const listed = await inProcess(['acls', 'list', '--data', data, '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([
      { principal: 'User:alice', permission: 'allow', operation: 'read', resourceType: 'topic', patternType: 'prefixed', name: 'orders.' },
      { principal: 'User:alice', permission: 'allow', operation: 'write', resourceType: 'topic', patternType: 'prefixed', name: 'orders.' },
      { principal: 'User:*', permission: 'deny', operation: 'all', resourceType: 'group', patternType: 'literal', name: 'admin' },
    ]);
    expect(JSON.parse((await inProcess(['acls', 'list', '--data', data, '--json', '--principal', 'User:*'])).stdout)).toHaveLength(1);
    expect((await inProcess(['acls', 'list', '--data', data])).stdout.split('\n')[0]).toMatch(/^PRINCIPAL\s+PERMISSION\s+OPERATION\s+RESOURCE\s+PATTERN\s+NAME$/);

    const removed = await inProcess(['acls', 'remove', '--data', data, '--principal', 'User:alice', '--allow', '--operation', 'write', '--topic', 'orders.', '--prefixed', '--json']);
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toHaveLength(1);
    // The same again matches nothing: a typo must not pass for done.
    const none = await inProcess(['acls', 'remove', '--data', data, '--principal', 'User:alice', '--allow', '--operation', 'write', '--topic', 'orders.', '--prefixed']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no ACL entry matches');
    expect(JSON.parse((await inProcess(['acls', 'list', '--data', data, '--json'])).stdout)).toHaveLength(2);
  });

  it('says what is wrong with bad input, with exit code 2 (1 for a missing directory)', async () => {
    const data = tmpDir();
    const base = ['acls', 'add', '--data', data, '--principal', 'User:bob'];
    const cases: [string[], RegExp][] = [
      [[...base, '--allow', '--operation', 'reed', '--topic', 't'], /unknown operation "reed": use read, write/],
      [[...base, '--allow', '--operation', 'write', '--group', 'g'], /a group has no operation write/],
      [[...base, '--allow', '--operation', 'read'], /give one resource: --topic NAME, --group NAME/],
      [[...base, '--allow', '--operation', 'read', '--topic', 't', '--group', 'g'], /give one resource/],
      [[...base, '--operation', 'read', '--topic', 't'], /give one of --allow and --deny/],
      [[...base, '--allow', '--deny', '--operation', 'read', '--topic', 't'], /give one of --allow and --deny/],
      [[...base, '--allow', '--operation', 'create', '--cluster', '--prefixed'], /--prefixed names topics/],
      [['acls', 'add', '--data', data, '--principal', 'bob', '--allow', '--operation', 'read', '--topic', 't'], /a principal is TYPE:NAME/],
      [['acls', 'list', '--data', data, '--principal', 'nobody'], /a principal is TYPE:NAME/],
    ];
    for (const [args, message] of cases) {
      const r = await inProcess(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect((await inProcess(['acls', 'add', '--data', data, '--allow', '--operation', 'read', '--topic', 't'])).code).toBe(2);
    const missing = await inProcess(['acls', 'list', '--data', path.join(data, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/is not a directory/);
    expect((await inProcess(['acls', 'list', '--data', data, '--json'])).stdout.trim()).toBe('[]');
    expect((await inProcess(['--help'])).stdout).toMatch(/acls/);
  });

  it('works beside a running sluice serve --acls, which applies the change', async () => {
    const data = tmpDir();
    const child = spawn(process.execPath, [...SLUICE_BIN, 'serve', '--data', data, '--listen', '127.0.0.1:0', '--acls'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', () => reject(new Error(`exited before listening: ${out}`)));
    });
    // Nothing allowed yet: kcat's Metadata for a new topic is refused, and nothing is created.
    const refused = await run('kcat', ['-b', address, '-L', '-t', 'made', '-m', '5']);
    expect(refused.stdout).toMatch(/topic "made" with 0 partitions: Broker: Topic authorization failed/);
    const added = await sluice(['acls', 'add', '--data', data, '--principal', 'User:ANONYMOUS', '--allow', '--operation', 'create,describe', '--topic', 'made']);
    expect(added.code).toBe(0);
    const end = Date.now() + 15_000;
    for (;;) {
      const { stdout } = await run('kcat', ['-b', address, '-L', '-t', 'made', '-m', '5']);
      if (stdout.includes('topic "made" with 1 partitions')) break;
      if (Date.now() > end) throw new Error(`not applied: ${stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
