/**
 * Method: a power cut can undo the rename that turned the prepared segment file
 * (next.log.prepared) into a segment while pages written into it survive, so the next open finds
 * the prepared file holding batches. The preparer reuses that file (O_TRUNC, then fallocate); if
 * that truncation is not durable before data is written into the file and msynced, a second cut
 * can bring the old batches back behind the new, synced ones. This test builds that state
 * directly: a log whose first segment rolled into a second one (its batches become the leftover
 * prepared file), and a log of the same first segment that ends where the second would start. A
 * child under the power-loss shim (test/helpers/powerloss/) opens the second log with the mmap
 * write path, appends fewer, larger values (so the old batches neither line up nor end before
 * the new data) until it has rolled into
 * the reused file and every append is confirmed, and is killed; the directory is cut to its
 * all-undone state (shim.c's model: only what was synced survives). No page of the old batches may
 * be left in the reused file, and the log must open, hold every confirmed message and nothing
 * past them.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../lib/index';
import { Prng } from '../helpers/durability-crash-loop';
import { Rewinder } from '../helpers/powerloss/rewind';
import { shimEnv } from '../helpers/powerloss/shim';
import { tmpDir } from '../helpers/tmp';

const SEGMENT_BYTES = 131072;
const OPTIONS = { sync: 'always', segmentBytes: SEGMENT_BYTES, writePath: 'mmap' } as const;
const DIST = path.resolve(__dirname, '..', '..', 'dist', 'index.js');

async function fill(dir: string, count: number, size: number): Promise<void> {
  const log = await Log.open(dir, OPTIONS);
  for (let i = 0; i < count; i++) log.append(Buffer.alloc(size, (i % 255) + 1)); // no zero sectors
  await log.confirm(log.endOffset - 1);
  await log.close();
}

// Appends `count` values of `size` bytes, each confirmed durable, then waits to be killed.
const APPENDER = `
const { Log } = require(process.argv[1]);
const [dir, count, size] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
(async () => {
  const log = await Log.open(dir, ${JSON.stringify(OPTIONS)});
  let last = 0;
  for (let i = 0; i < count; i++) last = log.append(Buffer.alloc(size, 0x5a));
  const c = await log.confirm(last);
  process.stdout.write('confirmed ' + c.offset + ' ' + c.durable + '\\n');
  setInterval(() => {}, 1000);
})();
`;

function appendAndKill(dir: string, journal: string, count: number, size: number): Promise<string> {
  const child = spawn(process.execPath, ['-e', APPENDER, DIST, dir, String(count), String(size)], { env: { ...process.env, ...shimEnv(dir, journal) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) child.kill('SIGKILL');
    });
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(out.trim()) : reject(new Error(`the appender exited by itself: ${out}`))));
  });
}

describe('a prepared segment file left holding batches by an undone rename', () => {
  it('never brings them back after the next power cut', async () => {
    const base = tmpDir('sluice-prepared-leftovers-');
    const donor = path.join(base, 'donor');
    const dir = path.join(base, 'log');
    // The donor rolls into a second segment and writes batches there.
    await fill(donor, 200, 1000);
    const segments = fs.readdirSync(donor).filter((n) => n.endsWith('.log')).sort();
    expect(segments.length).toBeGreaterThanOrEqual(2);
    const second = Number(segments[1].slice(0, 20));
    // The same first segment, ending where the donor's second segment starts ...
    await fill(dir, second, 1000);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.log'))).toEqual([segments[0]]);
    // ... and the donor's second segment as its prepared file, as the undone rename left it.
    fs.copyFileSync(path.join(donor, segments[1]), path.join(dir, 'next.log.prepared'));

    const journal = path.join(base, 'journal');
    const said = await appendAndKill(dir, journal, 10, 3000);
    expect(said).toMatch(/^confirmed \d+ true$/);
    const confirmedEnd = Number(said.split(' ')[1]) + 1;
    new Rewinder(dir, journal, 'undone', new Prng(1), 0).run();

    // None of the old batches is durable in the reused file: had the roll's directory fsync come
    // before the new segment's first sync, they would have been all of it (and with some of the
    // new pages, a batch torn at position 0 followed by valid ones: an open refused as corrupt).
    const old = fs.readFileSync(path.join(donor, segments[1]));
    const reused = fs.readFileSync(path.join(dir, segments[1]));
    const leftovers: number[] = [];
    for (let p = 0; p < old.length; p += 4096) {
      const page = old.subarray(p, p + 4096);
      if (page.some((b) => b !== 0) && page.equals(reused.subarray(p, p + 4096))) leftovers.push(p);
    }
    expect(leftovers, 'positions of old pages still in the reused file').toEqual([]);

    const log = await Log.open(dir, OPTIONS);
    try {
      expect(log.endOffset).toBe(confirmedEnd);
      for (let o = second; o < confirmedEnd; o++) {
        const [r] = log.read(o, { maxRecords: 1 });
        expect(r.value!.equals(Buffer.alloc(3000, 0x5a)), `offset ${o}`).toBe(true);
      }
    } finally {
      await log.close();
    }
  }, 60_000);
});
