/**
 * `sluice users` beside a running `sluice serve --sasl ... --tls-cert ... --tls-key ...` of the
 * same data directory (both as a user runs them, through tsx): a user added while the server runs
 * authenticates with kcat (SASL_SSL, SCRAM-SHA-256) at once; `users list` shows it; once removed
 * it no longer authenticates; removing it again fails. Usage errors (exit 2): no password, TLS
 * without its key, an unknown SASL mechanism for serve or SCRAM mechanism for users.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../lib/cli/exit-codes';
import { program } from '../../lib/cli/sluice';
import { kcat, kcatSettings } from '../helpers/kafka-clients';
import { SLUICE_BIN, sluice } from '../helpers/sluice-cli';
import { makeCerts, removeCerts, type CertFiles } from '../helpers/tls-certs';
import { tmpDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '..', '..');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
let certs: CertFiles;
beforeAll(() => {
  certs = makeCerts();
});
afterAll(() => removeCerts(certs));

/** `sluice serve` with `args`: the line it printed once listening. */
function serve(args: string[]): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [...SLUICE_BIN, 'serve', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening on .*$/m.exec(out);
      if (m) resolve({ child, line: m[0] });
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => reject(new Error(`exited before listening: ${out}`)));
  });
}

describe('sluice users', () => {
  it('adds, lists and removes users beside a running serve, which sees each change at the next login', async () => {
    const data = tmpDir();
    const { child, line } = await serve(['--data', data, '--listen', '127.0.0.1:0', '--sasl', 'scram-sha-256,PLAIN', '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey]);
    expect(line).toMatch(/^listening on 127\.0\.0\.1:\d+ \(SASL_SSL SCRAM-SHA-256,PLAIN\)$/);
    const address = /listening on (\S+)/.exec(line)![1];
    const login = kcatSettings({ 'security.protocol': 'sasl_ssl', 'ssl.ca.location': certs.caCert, 'sasl.mechanisms': 'SCRAM-SHA-256', 'sasl.username': 'alice', 'sasl.password': 'pw-1' });

    expect(await sluice(['users', 'add', 'alice', '--data', data, '--password-stdin'], 'pw-1\n')).toMatchObject({ code: 0, stdout: 'added user alice\n' });
    expect(await kcat(['-b', address, ...login, '-L', '-m', '5'])).toContain('1 brokers');
    const listed = await sluice(['users', 'list', '--data', data, '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([{ name: 'alice', mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'], iterations: 4096 }]);

    expect(await sluice(['users', 'remove', 'alice', '--data', data])).toMatchObject({ code: 0, stdout: 'removed user alice\n' });
    await expect(kcat(['-b', address, ...login, '-L', '-m', '1'])).rejects.toThrow(/Authentication failure|invalid credentials/);
    expect(await sluice(['users', 'remove', 'alice', '--data', data])).toMatchObject({ code: 1, stderr: expect.stringContaining('no user "alice"') });
    child.kill('SIGTERM');
  });

  it('exits 2 on usage errors', async () => {
    const data = tmpDir();
    expect(await sluice(['users', 'add', 'bob', '--data', data])).toMatchObject({ code: 2, stderr: expect.stringMatching(/exactly one of --password P and --password-stdin/) });
    // The same parser in process (a spawn each costs seconds on a busy machine).
    const parse = (args: string[]) => program().configureOutput({ writeErr: () => {}, writeOut: () => {} }).parseAsync(['node', 'sluice', ...args]);
    await expect(parse(['serve', '--data', data, '--listen', '127.0.0.1:0', '--tls-cert', certs.serverCert])).rejects.toThrow(UsageError);
    await expect(parse(['serve', '--data', data, '--listen', '127.0.0.1:0', '--tls-cert', certs.serverCert])).rejects.toThrow(/both --tls-cert and --tls-key/);
    await expect(parse(['serve', '--data', data, '--sasl', 'GSSAPI'])).rejects.toMatchObject({ code: 'commander.invalidArgument', message: expect.stringContaining('unknown SASL mechanism "GSSAPI"') });
    await expect(parse(['users', 'add', 'bob', '--data', data, '--password', 'x', '--mechanism', 'PLAIN'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
  });
});
