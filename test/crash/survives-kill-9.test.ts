/**
 * Survives kill -9. Method: a child process (test/helpers/crash-appender.cjs, over dist/) appends
 * random messages to one log directory in a loop, single appends and appendBatch, sealing and
 * flushing at random, with 128 KiB segments so that it rolls every few dozen batches. Before each
 * message can be sealed it tells the parent its offset, timestamp and a digest of its bytes; after
 * each flush() it reports the durable offset. The parent SIGKILLs it at a random moment (after a
 * random number of its lines, seeded; sometimes while it is still opening the log), then reopens
 * the directory itself and checks: everything flushed before the kill is there; the offsets are
 * contiguous from the start offset; every record that is readable is whole and is exactly the
 * message announced for its offset (a kill cannot invent, shift or tear records); the sync policy
 * varies between runs. It then appends a record of its own, closes, and hands the same directory
 * to the next child, so later runs recover logs with many segments and earlier crashes in them.
 * SLUICE_CRASH_ITERATIONS sets the number of runs (default 20); the seed is printed, and
 * SLUICE_TEST_SEED replays the same choices (the kill moments themselves depend on timing).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { Log, type SyncPolicy } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { digest, prng, readAll, segmentsOf, testSeed } from '../helpers/crash-files.cjs';

const APPENDER = path.join(__dirname, '..', 'helpers', 'crash-appender.cjs');
const SEGMENT_BYTES = 128 * 1024;
const ITERATIONS = Number(process.env.SLUICE_CRASH_ITERATIONS ?? 20);

interface Announced {
  timestamp: number;
  digest: string;
}

interface Run {
  opened: number | null;
  flushed: number;
  lines: number;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/** Runs the appender until it has written `killAfterLines` lines, then SIGKILLs it. */
function runAppender(dir: string, seed: number, sync: SyncPolicy, killAfterLines: number, known: Map<number, Announced>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [APPENDER, dir, String(seed), JSON.stringify({ segmentBytes: SEGMENT_BYTES, sync, valueBytesMax: 30_000 })], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Run = { opened: null, flushed: 0, lines: 0, signal: null, code: null, stderr: '' };
    let killed = false;
    const kill = (): void => {
      if (!killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    child.stderr.on('data', (d: Buffer) => (run.stderr += d.toString()));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      // Lines still in the pipe after the kill were written before it: they hold too.
      run.lines++;
      const [kind, a, b, c] = line.split(' ');
      if (kind === 'O') run.opened = Number(a);
      else if (kind === 'A') known.set(Number(a), { timestamp: Number(b), digest: c });
      else if (kind === 'F') run.flushed = Math.max(run.flushed, Number(a));
      if (run.lines >= killAfterLines) kill();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      run.code = code;
      run.signal = signal;
      resolve(run);
    });
    // A child that dies on its own (an exception) must not hang the test.
    setTimeout(kill, 60_000).unref();
  });
}

describe('survives kill -9', () => {
  it(`keeps every flushed record intact across ${ITERATIONS} SIGKILLed appenders`, async () => {
    const seed = testSeed('survives-kill-9');
    const rng = prng(seed);
    const dir = tmpDir();
    // What each offset must hold, from the appenders' announcements and our own appends.
    const known = new Map<number, Announced>();
    let end = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const sync = (['none', 'interval', 'always'] as const)[rng.int(0, 2)];
      const killAfterLines = rng.next() < 0.1 ? 1 : rng.int(2, 400);
      const run = await runAppender(dir, rng.int(0, 2 ** 31), sync, killAfterLines, known);
      const what = `run ${i} (sync ${sync}, killed after ${killAfterLines} lines, flushed to ${run.flushed})`;
      expect(run.stderr, what).toBe('');
      expect(run.signal, `${what}: the appender exited by itself with code ${run.code}`).toBe('SIGKILL');
      if (run.opened !== null) expect(run.opened, `${what}: the appender opened at the wrong end offset`).toBe(end);

      const log = await Log.open(dir, { segmentBytes: SEGMENT_BYTES });
      try {
        expect(log.startOffset, what).toBe(0);
        expect(log.endOffset, `${what}: flushed records were lost`).toBeGreaterThanOrEqual(Math.max(run.flushed, end));
        expect(log.highWatermark, what).toBe(log.endOffset);
        const records = readAll(log);
        expect(records.length, what).toBe(log.endOffset);
        records.forEach((r: { offset: number; timestamp: number; value: Buffer | null; key: Buffer | null; headers: { key: string; value: Buffer | null }[] }, k: number) => {
          expect(r.offset, `${what}: offsets are not contiguous`).toBe(k);
          const want = known.get(r.offset);
          expect(want, `${what}: offset ${r.offset} holds a record nobody appended`).toBeDefined();
          expect(r.timestamp, `${what}: offset ${r.offset}`).toBe(want!.timestamp);
          expect(digest(r.value, r.key, r.headers), `${what}: offset ${r.offset} holds other bytes than were appended`).toBe(want!.digest);
        });
        expect(log.read(log.endOffset), what).toEqual([]);

        // Appending goes on at the end, and the next appender starts from a clean close.
        const mine = Buffer.from(`parent after run ${i}`);
        const timestamp = 1_600_000_000_000 + i;
        const at = log.append(mine, { timestamp });
        expect(at, what).toBe(records.length);
        known.set(at, { timestamp, digest: digest(mine, null, []) });
        end = (await log.flush()) as number;
        expect(end, what).toBe(at + 1);
      } finally {
        await log.close();
      }
    }
    // The kills landed in a log that rolled many times.
    expect(segmentsOf(dir).length).toBeGreaterThan(ITERATIONS >= 10 ? 2 : 0);
    expect(fs.existsSync(path.join(dir, 'sluice.meta'))).toBe(true);
  });
});
