/**
 * Short files never SIGBUS. Method: a log of three 64 KiB segments is written through the public
 * API (random messages, seeded) and left in three states: closed cleanly, copied aside while open
 * (an unclean shutdown: sealed segments below the recovery point, the active one above it), and
 * closed cleanly with sluice.meta deleted (every segment rescanned). In copies of each, one segment
 * file, the first, the middle or the active one, is cut with fs.truncateSync to a short length:
 * empty, a few bytes, inside a header, on and around batch and page boundaries, inside the last
 * batch, exactly at the end of the data. A mapped file shorter than the mapping would raise SIGBUS
 * on access, so the opens run in child processes (test/helpers/crash-open.cjs, over dist/), which
 * read every record, slice and search by time in each log, append and close; the test asserts on
 * their exit status, so a signal is a test failure, not a dead test runner. Every open must either
 * succeed with a contiguous run of the records appended, or reject with CORRUPT naming the file.
 * Where recovery's contract (native/core/log_recovery.cc) decides which, the test checks that too:
 * lost data below the recovery point or after a clean shutdown is CORRUPT, lost data above it is a
 * torn tail, and a file cut exactly at the end of its data loses nothing. The active segment of a
 * log with 1 MiB segments is cut the same way: its file (reserved in steps, segment.h) is shorter
 * than the segment's capacity, which the writer maps whole.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Log, type LogOptions } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { appendGroups, batchesOf, copyDir, prng, recordText, segmentsOf, testSeed } from '../helpers/crash-files.cjs';
import { type Expected } from '../helpers/crashed-log';

const OPENER = path.join(__dirname, '..', 'helpers', 'crash-open.cjs');
const SEGMENT_BYTES = 64 * 1024;
const OPTIONS: LogOptions = { segmentBytes: SEGMENT_BYTES, indexIntervalBytes: 1024 };
// Segments that reserve their space in steps: files shorter than their capacity.
const GROWING: LogOptions = { segmentBytes: 16 * SEGMENT_BYTES, indexIntervalBytes: 1024 };

type Outcome =
  | { dir: string; ok: true; endOffset: number; startOffset: number; texts: string[]; appendedAt: number; recovery: Record<string, unknown> }
  | { dir: string; ok: false; code: string | null; path: string | null; position: number | null; message: string };

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  outcomes: Map<string, Outcome>;
  lastBegun: string | null;
}

function textHash(r: Expected): string {
  return crypto.createHash('sha256').update(recordText(r)).digest('hex').slice(0, 16);
}

function openInChild(dirs: string[], options: LogOptions): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [OPENER, JSON.stringify(dirs), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const outcomes = new Map<string, Outcome>();
      let lastBegun: string | null = null;
      for (const line of stdout.split('\n')) {
        if (line.startsWith('BEGIN ')) lastBegun = line.slice(6);
        else if (line.startsWith('{')) {
          const o = JSON.parse(line) as Outcome;
          outcomes.set(o.dir, o);
        }
      }
      resolve({ code, signal, stderr, outcomes, lastBegun });
    });
  });
}

type State = 'clean' | 'unclean' | 'no meta';

/** A log of three segments in the given state, and what was appended to it. */
async function makeLog(seed: number, state: State, options = OPTIONS, tailGroups = 12): Promise<{ dir: string; expected: Expected[] }> {
  const rng = prng(seed);
  const clock = { now: 1_700_000_000_000 };
  const expected: Expected[] = [];
  const dir = tmpDir();
  const log = await Log.open(dir, options);
  while (log.stats().segments < 3) appendGroups(log, rng, clock, 1, 2000, expected);
  appendGroups(log, rng, clock, tailGroups, 300, expected);
  if (state === 'unclean') {
    await log.flush();
    const snapshot = tmpDir();
    fs.rmSync(snapshot, { recursive: true });
    copyDir(dir, snapshot);
    await log.close();
    return { dir: snapshot, expected };
  }
  await log.close();
  if (state === 'no meta') fs.rmSync(path.join(dir, 'sluice.meta'));
  return { dir, expected };
}

/** The short lengths to try for a segment whose batches are `batches`. */
function shortLengths(batches: ReturnType<typeof batchesOf>): number[] {
  const first = batches[0];
  const middle = batches[Math.floor(batches.length / 2)];
  const last = batches[batches.length - 1];
  const all = [0, 1, 7, 60, 61, 62, first.end - 1, first.end, first.end + 1, middle.position + 30, 4095, 4096, 4097, last.position + 30, last.end - 1, last.end];
  return [...new Set(all)].filter((n) => n >= 0 && n <= last.end).sort((a, b) => a - b);
}

/** Cuts segment `target` of a log in `state` to each of shortLengths() and checks every open. */
async function cutAndCheck(seed: number, state: State, target: number, name: string, options: LogOptions, tailGroups?: number): Promise<void> {
  const { dir: source, expected } = await makeLog(seed, state, options, tailGroups);
  const segs = segmentsOf(source);
  expect(segs.length).toBe(3);
  const victim = segs[target];
  const batches = batchesOf(fs.readFileSync(victim.log));
  if (options.segmentBytes! > SEGMENT_BYTES) {
    // A file past its first step, at most its capacity (the first segment grows, the ones
    // prepared after it are reserved whole).
    expect(fs.statSync(victim.log).size).toBeGreaterThan(64 * 1024);
    expect(fs.statSync(victim.log).size).toBeLessThanOrEqual(options.segmentBytes!);
  }
  const work = tmpDir();
  const cases: { dir: string; L: number; file: string }[] = [];
  for (const L of shortLengths(batches)) {
    const dir = path.join(work, `cut-${L}`);
    copyDir(source, dir);
    const file = path.join(dir, path.basename(victim.log));
    fs.truncateSync(file, L);
    cases.push({ dir, L, file });
  }
  const result = await openInChild(
    cases.map((c) => c.dir),
    options,
  );
  expect(result.signal, `the opener died of ${result.signal} in ${result.lastBegun}`).toBe(null);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);

  const dataEnd = batches[batches.length - 1].end;
  for (const { dir, L, file } of cases) {
    const what = `${name} cut to ${L} bytes (data ends at ${dataEnd}), ${state}`;
    const outcome = result.outcomes.get(dir);
    expect(outcome, `${what}: no outcome`).toBeDefined();
    if (!outcome!.ok) {
      expect(outcome!.code, `${what}: ${outcome!.message}`).toBe('CORRUPT');
      expect(outcome!.path, what).toBe(file);
      expect(typeof outcome!.position, what).toBe('number');
    } else {
      // Whatever opened holds a contiguous run of what was appended, from the start.
      expect(outcome!.startOffset, what).toBe(0);
      expect(outcome!.texts, what).toEqual(expected.slice(0, outcome!.endOffset).map(textHash));
      expect(outcome!.appendedAt, what).toBe(outcome!.endOffset);
    }

    // What recovery's contract says for this cut.
    const whole = batches.filter((b) => b.end <= L);
    const survivors = whole.length === 0 ? victim.base : whole[whole.length - 1].nextOffset;
    const lost = L < dataEnd;
    const trusted = target < 2 ? state !== 'no meta' : state === 'clean';
    if (!lost) {
      expect(outcome!.ok, `${what}: nothing was lost but open failed`).toBe(true);
      if (outcome!.ok) expect(outcome!.endOffset, what).toBe(expected.length);
    } else if (trusted) {
      expect(outcome!.ok, `${what}: data known durable was lost, yet open succeeded`).toBe(false);
    } else {
      expect(outcome!.ok, `${what}: a torn tail past the recovery point should be truncated`).toBe(true);
      if (outcome!.ok) expect(outcome!.endOffset, what).toBe(survivors);
    }
  }
}

describe('short files never SIGBUS', () => {
  const seed = testSeed('short-files-never-sigbus');

  for (const state of ['clean', 'unclean', 'no meta'] as const) {
    for (const target of [0, 1, 2]) {
      const name = ['the first sealed segment', 'the middle sealed segment', 'the active segment'][target];
      it(`opens or reports CORRUPT, never crashes, when ${name} is cut short (${state})`, async () => {
        await cutAndCheck(seed, state, target, name, OPTIONS);
      });
    }
  }

  for (const state of ['clean', 'unclean'] as const) {
    it(`opens or reports CORRUPT, never crashes, when the active segment of a log with growing reservations is cut short (${state})`, async () => {
      // ~120 KB in the active segment of a log whose segments have a 1 MiB capacity.
      await cutAndCheck(seed, state, 2, 'the active segment (1 MiB capacity)', GROWING, 400);
    });
  }

  it('reports a short or zeroed sluice.meta as CORRUPT, never crashes, and repair rescans', async () => {
    const { dir: source, expected } = await makeLog(seed, 'clean');
    const work = tmpDir();
    const metas: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['10 bytes', fs.readFileSync(path.join(source, 'sluice.meta')).subarray(0, 10)],
      ['zeros', Buffer.alloc(44)],
    ];
    const dirs = metas.map(([name, bytes]) => {
      const dir = path.join(work, name.replace(/ /g, '-'));
      copyDir(source, dir);
      fs.writeFileSync(path.join(dir, 'sluice.meta'), bytes);
      return dir;
    });
    const strict = await openInChild(dirs, OPTIONS);
    expect(strict.signal, `the opener died of ${strict.signal} in ${strict.lastBegun}`).toBe(null);
    expect(strict.code).toBe(0);
    for (const dir of dirs) {
      const o = strict.outcomes.get(dir)!;
      expect(o.ok, dir).toBe(false);
      if (!o.ok) {
        expect(o.code, o.message).toBe('CORRUPT');
        expect(o.path).toBe(path.join(dir, 'sluice.meta'));
      }
    }
    const repaired = await openInChild(dirs, { ...OPTIONS, repair: true });
    expect(repaired.signal, `the opener died of ${repaired.signal} in ${repaired.lastBegun}`).toBe(null);
    expect(repaired.code).toBe(0);
    for (const dir of dirs) {
      const o = repaired.outcomes.get(dir)!;
      expect(o.ok, dir).toBe(true);
      if (o.ok) expect(o.texts).toEqual(expected.map(textHash));
    }
  });
});
