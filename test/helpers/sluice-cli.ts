/**
 * Runs the `sluice` command as a user does: the installed bin (dist/cli/sluice.js, built by npm
 * install's `prepare`), or the source through tsx when a file under lib/ is newer than the build
 * (a change not yet compiled is what gets tested). The bin starts in a third of tsx's time, which
 * the CLI tests, spawning it about a hundred times, feel.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST_BIN = path.join(ROOT, 'dist', 'cli', 'sluice.js');

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSourceMs(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function binArgs(): string[] {
  const built = fs.existsSync(DIST_BIN) ? fs.statSync(DIST_BIN).mtimeMs : 0;
  return built >= newestSourceMs(path.join(ROOT, 'lib')) ? [DIST_BIN] : ['--import', 'tsx', path.join(ROOT, 'lib', 'cli', 'sluice.ts')];
}

/** `node ...SLUICE_BIN args` runs the sluice command. */
export const SLUICE_BIN: readonly string[] = binArgs();

export function sluice(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...SLUICE_BIN, ...args], { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr });
    });
    child.stdin!.end(stdin);
  });
}
