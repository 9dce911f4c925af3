/**
 * Shared by the crash tests that damage a log's files: the record a test expects back, a log left
 * as an unclean shutdown leaves it, and the CORRUPT error an open is expected to fail with.
 */
import * as fs from 'node:fs';
import { Buffer } from 'node:buffer';
import { expect } from 'vitest';
import { Log, type LogOptions, type SluiceError } from '../../lib/index';
import { appendGroups, copyDir, type prng, readAll, recordText } from './crash-files.cjs';
import { tmpDir } from './tmp';

/** A record as appended, to compare with what a log returns (see recordText). */
export interface Expected {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

export type Rng = ReturnType<typeof prng>;

/** The log holds exactly `expected`, in order. */
export function expectHolds(log: Log, expected: readonly Expected[], what?: string): void {
  expect(readAll(log).map(recordText), what).toEqual(expected.map(recordText));
}

/**
 * Writes a log (rolled once first when `roll`, with values up to 1500 bytes) whose active segment
 * ends with `activeBatches` batches of values up to `valueBytesMax` bytes, flushes it and copies
 * its directory aside before closing it: the copy is what an unclean shutdown leaves.
 */
export async function crashedLog(
  options: LogOptions,
  rng: Rng,
  activeBatches: number,
  roll: boolean,
  valueBytesMax: number,
): Promise<{ snapshot: string; expected: Expected[] }> {
  const dir = tmpDir();
  const snapshot = tmpDir();
  const expected: Expected[] = [];
  const clock = { now: 1_700_000_000_000 };
  const log = await Log.open(dir, options);
  if (roll) {
    while (log.stats().segments < 2) appendGroups(log, rng, clock, 1, 1500, expected);
  }
  appendGroups(log, rng, clock, activeBatches, valueBytesMax, expected);
  await log.flush();
  fs.rmSync(snapshot, { recursive: true });
  copyDir(dir, snapshot);
  await log.close();
  return { snapshot, expected };
}

/** The error that opening `dir` fails with; opening successfully fails the test. */
export async function openError(dir: string, options: LogOptions): Promise<SluiceError> {
  return Log.open(dir, options).then(
    async (l) => {
      const end = l.endOffset;
      await l.close();
      throw new Error(`open succeeded (end offset ${end}); expected CORRUPT`);
    },
    (e: SluiceError) => e,
  );
}
