/**
 * Method: the loop of confirmed-writes-survive-kill.test.ts, with a power failure instead of a
 * kill. A killed process leaves its dirty pages in the page cache, which the kernel writes back
 * anyway, so kill -9 alone cannot show that a confirm waited for stable storage. Here the child
 * (test/helpers/durability-crash-writer.cjs, run with SLUICE_FAULT_INJECTION=1) calls
 * `log.simulatePowerLoss()` 5-60 ms after its log is open (a delay chosen by the seeded PRNG the
 * parent passes it), part-way through a burst of appends or while waiting for confirms, then exits;
 * the simulation discards every byte past each segment's last sync and every file whose directory
 * entry was not fsynced, as a power cut would. Appends use sync 'always' and 128 KiB segments, so
 * failures land between the append and the sync, mid-roll, and before a new segment's directory
 * entry is durable. The parent reopens the directory and checks that every message confirmed
 * durable is there exactly once, at its offset, with its bytes; that nothing below the durable
 * offset the child last saw was lost; that offsets run contiguously from startOffset to endOffset
 * and every record reads back whole; and that appending continues. Each directory takes 5 power
 * failures, and a third of the time the next writer recovers the failed log itself. The seed is
 * printed below: SLUICE_CRASH_SEED replays it, SLUICE_CRASH_ITERATIONS sets the number of power
 * failures (default 100).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { crashDirectory, crashIterations, crashSeed, emptyStats, ITERATIONS_PER_DIR } from '../helpers/durability-crash-loop';
import { tmpDir } from '../helpers/tmp';

const seed = crashSeed();
const iterations = crashIterations();
const stats = emptyStats();
console.log(`confirmed writes survive power loss: seed=${seed} iterations=${iterations} (replay: SLUICE_CRASH_SEED=${seed} SLUICE_CRASH_ITERATIONS=${iterations})`);

afterAll(() => {
  console.log(`confirmed writes survive power loss: seed=${seed} ${JSON.stringify(stats)}`);
});

describe('confirmed writes survive power loss', () => {
  const dirs = Math.ceil(iterations / ITERATIONS_PER_DIR);
  for (let d = 0; d < dirs; d++) {
    const n = Math.min(ITERATIONS_PER_DIR, iterations - d * ITERATIONS_PER_DIR);
    it(`keeps every confirmed message, whole and in place, across ${n} power failures of one log (directory ${d + 1} of ${dirs})`, async () => {
      const dir = path.join(tmpDir('sluice-crash-power-'), 'log');
      fs.mkdirSync(dir);
      await crashDirectory('power', dir, seed, d, n, stats);
    }, 600_000);
  }
});
