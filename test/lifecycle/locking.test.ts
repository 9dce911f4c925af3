/**
 * One Log per directory, across threads and processes: a second open gets LOCKED. Method: hold a
 * log open here and open it again here; hold it open in a child process
 * (test/helpers/hold-log.cjs) and open it here; then let the child exit, with and without closing,
 * and open it here again.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, Log, SluiceError } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';

const root = path.join(__dirname, '..', '..');
const holder = path.join(root, 'test', 'helpers', 'hold-log.cjs');

const open: Log[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await once(c, 'exit');
    }
  }
});

async function openLog(dir: string): Promise<Log> {
  const log = await Log.open(dir, { segmentBytes: 65536 });
  open.push(log);
  return log;
}

async function openError(dir: string): Promise<unknown> {
  return Log.open(dir, { segmentBytes: 65536 }).then(
    async (log) => {
      await log.close();
      return new Error('opened a locked directory');
    },
    (e: unknown) => e,
  );
}

function expectLocked(e: unknown): void {
  expect(e).toBeInstanceOf(SluiceError);
  expect((e as SluiceError).code).toBe(ErrorCode.LOCKED);
  expect((e as SluiceError).message).toMatch(/already open/);
}

type HolderMessage = { ready: true; endOffset: number } | { error: string };

async function startHolder(dir: string, count: number): Promise<{ child: ChildProcess; message: HolderMessage }> {
  expect(fs.existsSync(path.join(root, 'dist', 'index.js')), 'build dist first: npx tsc -p .').toBe(true);
  const child = fork(holder, [dir, String(count)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const [message] = (await once(child, 'message')) as [HolderMessage];
  return { child, message };
}

describe('one log per directory', () => {
  it('gives LOCKED to a second open in the same process, until the first is closed', async () => {
    const dir = tmpDir();
    const first = await openLog(dir);
    first.append('a');
    expectLocked(await openError(dir));
    // A failed attempt must not release the holder's lock.
    expectLocked(await openError(dir));
    await first.visible(); // readable once the writer thread has written it (a hop after the seal)
    expect(first.read(0).map((r) => r.value!.toString())).toEqual(['a']);
    expect(first.append('b')).toBe(1);
    await first.close();
    const second = await openLog(dir);
    expect(second.endOffset).toBe(2);
  });

  it('gives LOCKED to another process while this one holds the log', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    expectLocked(await openError(dir));
    const { child, message } = await startHolder(dir, 10);
    expect(message).toEqual({ error: ErrorCode.LOCKED });
    await once(child, 'exit');
    expect(log.append('still mine')).toBe(0);
  });

  it('gives LOCKED here while a child process holds the log, and opens once it exited without closing', async () => {
    const dir = tmpDir();
    const { child, message } = await startHolder(dir, 100);
    expect(message).toEqual({ ready: true, endOffset: 100 });
    expectLocked(await openError(dir));
    expectLocked(await openError(dir));
    child.send('exit');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const log = await openLog(dir);
    expect(log.recovery.cleanShutdown).toBe(false);
    // The child flushed before it reported: everything it appended is here.
    expect(log.endOffset).toBe(100);
    const records = log.read(0);
    expect(records.map((r) => r.value!.toString())).toEqual(Array.from({ length: 100 }, (_, i) => `record-${i}`));
    expect(log.append('next')).toBe(100);
  });

  it('opens cleanly after the child closed the log and exited', async () => {
    const dir = tmpDir();
    const { child, message } = await startHolder(dir, 50);
    expect(message).toEqual({ ready: true, endOffset: 50 });
    expectLocked(await openError(dir));
    child.send('close');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const log = await openLog(dir);
    expect(log.recovery.cleanShutdown).toBe(true);
    expect(log.endOffset).toBe(50);
  });

  it('opens after the holding child was killed', async () => {
    const dir = tmpDir();
    const { child, message } = await startHolder(dir, 20);
    expect(message).toEqual({ ready: true, endOffset: 20 });
    expectLocked(await openError(dir));
    child.kill('SIGKILL');
    await once(child, 'exit');
    const log = await openLog(dir);
    expect(log.endOffset).toBe(20);
  });
});
