/**
 * The torture run (test/torture/torture.ts, `npm run torture`) at CI size: 100 iterations across
 * the three targets (the Log, the Broker with ack and offset groups and transactions, the Kafka
 * server with a kafkajs idempotent producer and a committing group), each child stopped by SIGKILL
 * at a random moment, a simulated power loss, or a named crash point (native and JavaScript), and
 * each crash followed by the checks of what the README promises. The same code path as the full
 * run, with shorter runs between crashes and a fresh data directory every 10 iterations of a
 * target. The seed is printed: SLUICE_TEST_SEED replays the run; a failure prints the command that
 * replays its iteration alone.
 */
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/tmp';
import { TARGET_NAMES } from '../torture/targets';
import { runTorture } from '../torture/torture';

const ITERATIONS = 100;

describe('torture', () => {
  it(`keeps every promise across ${ITERATIONS} crashes of the log, the broker and the Kafka server`, async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));
    const lines: string[] = [];
    const report = await runTorture({
      iterations: ITERATIONS,
      seed,
      targets: TARGET_NAMES,
      root: tmpDir('sluice-torture-'),
      resetEvery: 10,
      workload: 'ci',
      print: (line) => {
        lines.push(line);
        if (!line.startsWith('{')) console.log(line);
      },
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${lines.filter((l) => l.startsWith('replay')).join('\n')} (SLUICE_TEST_SEED=${seed})`);
    });
    expect(report.iterations).toBe(ITERATIONS);
    for (const name of TARGET_NAMES) {
      const t = report.targets[name]!;
      expect(t.iterations).toBeGreaterThan(30);
      expect(t.kills + t.powerCuts + Object.values(t.points).reduce((s, p) => s + p.armed, 0)).toBe(t.iterations);
    }
    // Crash points were armed and some fired (a point the workload did not reach in time is a kill).
    const fired = TARGET_NAMES.flatMap((n) => Object.values(report.targets[n]!.points)).reduce((s, p) => s + p.fired, 0);
    expect(fired).toBeGreaterThan(0);
  }, 300_000);
});
