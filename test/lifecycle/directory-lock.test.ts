/**
 * One broker per data directory, across processes, through the directory lock (<dir>/.lock,
 * storage/directory-lock.ts). Method: open a broker and open it again here and from a child
 * process (test/helpers/hold-broker.cjs); hold it in a child and open it here; check that LOCKED
 * names the user's directory, that close() and a failed open release the lock, and that the lock
 * itself checks its arguments.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, ErrorCode, SluiceError } from '../../lib/index';
import { lockDirectory } from '../../lib/storage/directory-lock';
import { tmpDir } from '../helpers/tmp';

const root = path.join(__dirname, '..', '..');
const holder = path.join(root, 'test', 'helpers', 'hold-broker.cjs');

const brokers: Broker[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.close();
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await once(c, 'exit');
    }
  }
});

async function openBroker(dir: string): Promise<Broker> {
  const b = await Broker.open(dir);
  brokers.push(b);
  return b;
}

async function openError(dir: string): Promise<unknown> {
  return Broker.open(dir).then(
    async (b) => {
      await b.close();
      return new Error('opened a locked broker directory');
    },
    (e: unknown) => e,
  );
}

function lockedMessage(dir: string): string {
  return `the broker directory ${dir} is already open (in this or another process)`;
}

function expectLocked(e: unknown, dir: string): void {
  expect(e).toBeInstanceOf(SluiceError);
  expect((e as SluiceError).code).toBe(ErrorCode.LOCKED);
  expect((e as SluiceError).message).toBe(lockedMessage(dir));
}

type HolderMessage = { ready: true } | { error: string; message: string };

async function startHolder(dir: string): Promise<{ child: ChildProcess; message: HolderMessage }> {
  expect(fs.existsSync(path.join(root, 'dist', 'broker', 'broker.js')), 'build dist first: npx tsc -p .').toBe(true);
  const child = fork(holder, [dir], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const [message] = (await once(child, 'message')) as [HolderMessage];
  return { child, message };
}

describe('one broker per directory', () => {
  it('gives LOCKED naming the directory to a second open in this process, until close()', async () => {
    const dir = tmpDir('sluice-broker-');
    const first = await openBroker(dir);
    await first.createTopic('t', { segmentBytes: 1 << 20 });
    expectLocked(await openError(dir), dir);
    // A failed attempt leaves the holder's lock, and the holder, alone.
    expectLocked(await openError(dir), dir);
    await first.send('t', { value: 'still mine' });
    await brokers.pop()!.close();
    const second = await openBroker(dir);
    expect(second.listTopics()).toEqual(['t']);
    // The lock is a file, not a Log directory.
    expect(fs.statSync(path.join(dir, '.lock')).isFile()).toBe(true);
    expect(fs.existsSync(path.join(dir, 'lock'))).toBe(false);
  });

  it('gives LOCKED naming the directory to another process while this one holds it', async () => {
    const dir = tmpDir('sluice-broker-');
    await openBroker(dir);
    const { child, message } = await startHolder(dir);
    expect(message).toEqual({ error: ErrorCode.LOCKED, message: lockedMessage(dir) });
    await once(child, 'exit');
  });

  it('gives LOCKED here while a child holds it, and opens once the child closed or died', async () => {
    const dir = tmpDir('sluice-broker-');
    let { child, message } = await startHolder(dir);
    expect(message).toEqual({ ready: true });
    expectLocked(await openError(dir), dir);
    child.send('close');
    expect((await once(child, 'exit'))[0]).toBe(0);
    await openBroker(dir);
    await brokers.pop()!.close();

    ({ child, message } = await startHolder(dir));
    expect(message).toEqual({ ready: true });
    expectLocked(await openError(dir), dir);
    child.kill('SIGKILL');
    await once(child, 'exit');
    await openBroker(dir);
  });

  it('releases the lock when the open fails', async () => {
    const dir = tmpDir('sluice-broker-');
    await openBroker(dir);
    await brokers.pop()!.close();
    // A topic description that does not parse makes every open fail with CORRUPT, not LOCKED.
    fs.mkdirSync(path.join(dir, 'topics', 'bad'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'topics', 'bad', 'topic.json'), '{ not json');
    for (let i = 0; i < 2; i++) {
      const e = await openError(dir);
      expect((e as SluiceError).code).toBe(ErrorCode.CORRUPT);
    }
    const lock = lockDirectory(dir, 'broker directory');
    lock.release();
  });

  it('names the resolved directory for a relative path', async () => {
    const dir = tmpDir('sluice-broker-');
    await openBroker(dir);
    const relative = path.relative(process.cwd(), dir);
    expectLocked(await openError(relative), dir);
  });
});

describe('lockDirectory', () => {
  it('locks a directory once, with the given name in the message, until released', () => {
    const dir = tmpDir();
    const lock = lockDirectory(dir, 'spool directory');
    expect(() => lockDirectory(dir, 'spool directory')).toThrow(
      expect.objectContaining({ code: ErrorCode.LOCKED, message: `the spool directory ${dir} is already open (in this or another process)` }),
    );
    lock.release();
    lock.release(); // idempotent
    lockDirectory(dir, 'spool directory').release();
  });

  it('reports a missing directory as IO with its path', () => {
    const dir = path.join(tmpDir(), 'missing');
    expect(() => lockDirectory(dir, 'spool directory')).toThrow(
      expect.objectContaining({ code: ErrorCode.IO, errno: expect.any(Number), path: path.join(dir, '.lock') }),
    );
  });

  it('checks its arguments with TypeErrors', () => {
    expect(() => lockDirectory('', 'x')).toThrow(TypeError);
    expect(() => lockDirectory(tmpDir(), '')).toThrow(TypeError);
    expect(() => lockDirectory(42 as unknown as string, 'x')).toThrow(TypeError);
  });
});
