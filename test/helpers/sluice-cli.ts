/** Runs the `sluice` command as a user does (the bin's source through tsx), with `stdin` fed to it. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = ['--import', 'tsx', path.join(ROOT, 'lib', 'cli', 'sluice.ts')];

export function sluice(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...BIN, ...args], { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr });
    });
    child.stdin!.end(stdin);
  });
}
