/**
 * Builds the power-loss shim (native/tools/powerloss/shim.c) with the system C compiler, once per
 * change of its source, and names the environment that loads it into a child process.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SOURCE = path.join(ROOT, 'native', 'tools', 'powerloss', 'shim.c');
const LIBRARY = path.join(ROOT, 'build', 'powerloss', 'shim.so');

/** The shim's path, compiled first if it is missing or older than its source (~1 s). */
export function buildShim(): string {
  const stale = !fs.existsSync(LIBRARY) || fs.statSync(LIBRARY).mtimeMs < fs.statSync(SOURCE).mtimeMs;
  if (stale) {
    fs.mkdirSync(path.dirname(LIBRARY), { recursive: true });
    const tmp = `${LIBRARY}.${process.pid}.tmp`;
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-U_FORTIFY_SOURCE', '-shared', '-fPIC', '-fvisibility=hidden', '-o', tmp, SOURCE, '-ldl', '-lpthread'], { stdio: 'inherit' });
    fs.renameSync(tmp, LIBRARY); // whole, even when two test files build at once
  }
  return LIBRARY;
}

/**
 * The environment of a child whose I/O under `dataDir` the shim journals into `journalDir`
 * (emptied here). Both must exist; the data directory is named without symlinks, as the shim
 * compares it with the kernel's names of open files.
 */
export function shimEnv(dataDir: string, journalDir: string): Record<string, string> {
  fs.rmSync(journalDir, { recursive: true, force: true });
  fs.mkdirSync(journalDir, { recursive: true });
  // libuv submits file operations through io_uring when told to, and those bypass libc.
  return { LD_PRELOAD: buildShim(), UV_USE_IO_URING: '0', SLUICE_POWERLOSS_DIR: fs.realpathSync(dataDir), SLUICE_POWERLOSS_JOURNAL: fs.realpathSync(journalDir) };
}
