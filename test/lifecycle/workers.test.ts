/**
 * The addon in worker threads. Method: start several workers at once
 * (test/helpers/worker-log.cjs), each opening its own log, appending, reading back and closing,
 * while this thread uses a log of its own; then reopen every worker's log here. Workers that leave
 * without closing (returning, process.exit() in the worker, terminate() from outside) run inside
 * a child process (test/helpers/worker-main.cjs), so that a crash fails the test rather than the
 * runner; that process must exit normally and the logs must open again with their flushed data.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';

const root = path.join(__dirname, '..', '..');
const helpers = path.join(root, 'test', 'helpers');

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

interface Report {
  ok: boolean;
  endOffset?: number;
  durable?: number;
  checked?: number;
  error?: string;
}

function runWorker(workerData: { dir: string; count: number; tag: string; mode: string }): Promise<{ report: Report | undefined; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(path.join(helpers, 'worker-log.cjs'), { workerData });
    let report: Report | undefined;
    w.on('message', (m: Report) => (report = m));
    w.on('error', reject);
    w.on('exit', (exitCode) => resolve({ report, exitCode }));
  });
}

function distBuilt(): void {
  expect(fs.existsSync(path.join(root, 'dist', 'index.js')), 'build dist first: npx tsc -p .').toBe(true);
}

describe('worker threads', () => {
  it('run a log each, at the same time, beside one on this thread', async () => {
    distBuilt();
    const base = tmpDir();
    const count = 3000;
    const dirs = Array.from({ length: 4 }, (_, i) => path.join(base, `w${i}`));
    const running = dirs.map((dir, i) => runWorker({ dir, count, tag: `w${i}`, mode: 'close' }));
    const mine = await Log.open(path.join(base, 'main'), { segmentBytes: 65536 });
    open.push(mine);
    for (let i = 0; i < count; i++) {
      mine.append(`main-${i}`);
      if (i % 100 === 0) await nextTick();
    }
    const results = await Promise.all(running);
    for (const { report, exitCode } of results) {
      expect(report, JSON.stringify(report)).toMatchObject({ ok: true, endOffset: count, checked: count });
      expect(report!.durable).toBeGreaterThanOrEqual(count);
      expect(exitCode).toBe(0);
    }
    await mine.visible();
    expect(mine.read(count - 1)[0].value!.toString()).toBe(`main-${count - 1}`);

    for (const [i, dir] of dirs.entries()) {
      const log = await Log.open(dir, { segmentBytes: 65536 });
      open.push(log);
      expect(log.recovery.cleanShutdown).toBe(true);
      expect(log.endOffset).toBe(count);
      const [first] = log.read(0, { maxRecords: 1 });
      expect(first.key!.toString()).toBe(`w${i}-0`);
      const [last] = log.read(count - 1);
      expect(last.value!.toString()).toBe(`w${i}-value-${count - 1}-${'x'.repeat((count - 1) % 100)}`);
    }
  });

  it('run one after another in the same directory', async () => {
    distBuilt();
    const dir = tmpDir();
    for (let round = 0; round < 3; round++) {
      const { report, exitCode } = await runWorker({ dir, count: 500, tag: 'same', mode: 'close' });
      expect(exitCode).toBe(0);
      // Every round appends 500 more and checks all of them, the earlier rounds' included.
      expect(report).toMatchObject({ ok: true, endOffset: 500 * (round + 1), checked: 500 * (round + 1) });
    }
  });

  // Several rounds of several workers per process: each worker's teardown is a separate chance
  // for the race between its exit and the log's background threads to go wrong.
  const WORKERS = 6;
  const ROUNDS = 3;
  for (const mode of ['leave-open', 'exit', 'hang'] as const) {
    const how = { 'leave-open': 'returns', exit: 'calls process.exit() with flushes in flight', hang: 'is terminated with flushes in flight' }[mode];
    it(`survive a worker that ${how} without closing its log`, async () => {
      distBuilt();
      const base = tmpDir();
      const r = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
        const args = [path.join(helpers, 'worker-main.cjs'), base, mode, String(WORKERS), String(ROUNDS)];
        const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
      });
      expect(r.stderr, 'the process must not crash').toBe('');
      expect(r.signal).toBeNull();
      expect(r.code).toBe(0);
      const results = JSON.parse(r.stdout.trim()) as Array<{ report: Report; exitCode: number; reopened: { ok: boolean; count: number; code?: string } }>;
      expect(results).toHaveLength(WORKERS * ROUNDS);
      for (const res of results) {
        expect(res.report).toMatchObject({ ok: true, endOffset: 2000 });
        // The worker's log is released with its thread: it opens here, with everything that was
        // flushed (and, for the workers that appended 20 more without waiting, at most those).
        expect(res.reopened).toMatchObject({ ok: true });
        expect(res.reopened.count).toBeGreaterThanOrEqual(2000);
        expect(res.reopened.count).toBeLessThanOrEqual(mode === 'leave-open' ? 2000 : 2020);
      }
    });
  }
});
