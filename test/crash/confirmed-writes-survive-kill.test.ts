/**
 * Method: a child process (test/helpers/durability-crash-writer.cjs) opens a log with sync 'always'
 * and 128 KiB segments and appends values of random sizes (36 B to 40 KB) in bursts, with a random
 * bound on unconfirmed messages; for every confirm that resolves durable it prints the offset and
 * the SHA-1 of the value. The parent SIGKILLs it 5-60 ms after the log is open (one time in ten,
 * 0-4 ms after it starts opening, to interrupt recovery itself), so kills land mid-batch, mid-roll,
 * while the flusher writes indexes or the checkpoint. The parent then reopens the directory and
 * checks that every confirmed message is there exactly once, at its offset, with its bytes; that
 * offsets run contiguously from startOffset to endOffset; that every record reads back whole (each
 * value carries its length, offset and a SHA-1 of itself); and that appending continues. Each
 * directory takes 5 kills; a third of the time the parent skips its reopen so that the next writer
 * recovers the killed log and is killed in turn. A killed process leaves the page cache intact, so
 * this checks recovery from torn writes and interrupted metadata, not durability (see
 * confirmed-writes-survive-power-loss.test.ts). All choices come from one seed, printed below;
 * SLUICE_CRASH_SEED replays it (the kill moments are then the same, the engine's progress at those
 * moments only nearly so) and SLUICE_CRASH_ITERATIONS sets the number of kills (default 100).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { crashDirectory, crashIterations, crashSeed, emptyStats, ITERATIONS_PER_DIR } from '../helpers/durability-crash-loop';
import { tmpDir } from '../helpers/tmp';

const seed = crashSeed();
const iterations = crashIterations();
const stats = emptyStats();
console.log(`confirmed writes survive SIGKILL: seed=${seed} iterations=${iterations} (replay: SLUICE_CRASH_SEED=${seed} SLUICE_CRASH_ITERATIONS=${iterations})`);

afterAll(() => {
  console.log(`confirmed writes survive SIGKILL: seed=${seed} ${JSON.stringify(stats)}`);
});

describe('confirmed writes survive SIGKILL', () => {
  const dirs = Math.ceil(iterations / ITERATIONS_PER_DIR);
  for (let d = 0; d < dirs; d++) {
    const n = Math.min(ITERATIONS_PER_DIR, iterations - d * ITERATIONS_PER_DIR);
    it(`keeps every confirmed message, whole and in place, across ${n} kills of one log (directory ${d + 1} of ${dirs})`, async () => {
      const dir = path.join(tmpDir('sluice-crash-kill-'), 'log');
      fs.mkdirSync(dir);
      await crashDirectory('kill', dir, seed, d, n, stats);
    }, 600_000);
  }
});
