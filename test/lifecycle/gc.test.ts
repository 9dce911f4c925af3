/**
 * Mappings are released once their views are garbage collected. Method: a child process run with
 * --expose-gc (test/helpers/gc-views.cjs) opens, reads, and closes many logs, keeping record views
 * of some (views of segments that retention deleted among them) and dropping the rest; it counts
 * the mappings of the logs' files in /proc/self/maps while the views are held and after they were
 * dropped and collected, and the process's file-backed mappings before and after.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/tmp';

const root = path.join(__dirname, '..', '..');

function run(args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('garbage collection of views', () => {
  it('unmaps every segment once the views of closed logs are collected', async () => {
    expect(fs.existsSync(path.join(root, 'dist', 'index.js')), 'build dist first: npx tsc -p .').toBe(true);
    const base = tmpDir();
    const r = await run(['--expose-gc', path.join(root, 'test', 'helpers', 'gc-views.cjs'), base]);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout.trim()) as Record<string, number | boolean>;
    expect(result.baseline).toBe(0);
    // Kept views keep their (closed, some deleted) segments mapped, and their bytes intact...
    expect(result.held).toBeGreaterThan(0);
    expect(result.deletedHeld).toBeGreaterThan(0);
    expect(result.intact).toBe(true);
    // ...and once they are collected nothing of any log is mapped any more.
    expect(result.released).toBe(0);
    expect(result.filesReleased).toBe(result.filesBaseline);
  });
});
