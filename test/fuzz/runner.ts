/**
 * What the JavaScript fuzz targets share: fast-check runs a target's property over mutated seeds
 * (mutate.ts) for a time or a number of executions, measuring the peak RSS and the slowest
 * execution; a failure is shrunk by fast-check, and the failing input saved as
 * <artifacts>/<target>-<time>.bin. Each target file is also a command (scripts/fuzz.js runs it):
 *   node --import tsx test/fuzz/<target>.fuzz.ts --seconds N [--runs N] [--seed N] [--artifacts DIR]
 * which prints its report as one JSON line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { FUZZ_INPUT, type FuzzInput, mutate } from './mutate';

/**
 * One execution slower than this is reported as a hang: libFuzzer's -timeout in scripts/fuzz.js.
 * Executions take well under a millisecond, but a nice'd run on a loaded machine can wait for the
 * CPU for hundreds of them.
 */
export const HANG_MS = 10_000;

export interface FuzzOptions {
  seconds: number;
  /** Executions at most (0: as many as the time allows). */
  runs?: number;
  seed?: number;
  /** Where a failing input is saved (none: not saved). */
  artifacts?: string;
}

export interface FuzzReport {
  target: string;
  executions: number;
  crashes: number;
  peakRssMb: number;
  slowestMs: number;
  seed: number;
  /** The failure, with the input in hex, when there was one. */
  failure?: string;
  /** Counts the target keeps (outcomes of the decodes, say). */
  counts: Record<string, number>;
}

export type Property = (frame: Buffer) => void | Promise<void>;

const RSS_SAMPLE_EVERY = 1024;

export async function fuzz(target: string, seeds: readonly Buffer[], property: Property, o: FuzzOptions, counts: Record<string, number> = {}): Promise<FuzzReport> {
  const seed = o.seed ?? Date.now() % 2 ** 31;
  let executions = 0;
  let peakRss = process.memoryUsage.rss();
  let slowestMs = 0;
  const execute = async (input: FuzzInput): Promise<void> => {
    const frame = mutate(input, seeds);
    const started = performance.now();
    await property(frame);
    const ms = performance.now() - started;
    if (ms > slowestMs) slowestMs = ms;
    if (ms > HANG_MS) throw new Error(`one execution took ${ms.toFixed(0)} ms (a hang is over ${HANG_MS} ms)`);
    if (++executions % RSS_SAMPLE_EVERY === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
  };
  const details = await fc.check(fc.asyncProperty(FUZZ_INPUT, execute), {
    seed,
    numRuns: o.runs && o.runs > 0 ? o.runs : Number.MAX_SAFE_INTEGER,
    interruptAfterTimeLimit: o.seconds * 1000,
    markInterruptAsFailure: false,
  });
  const report: FuzzReport = { target, executions, crashes: details.failed ? 1 : 0, peakRssMb: Math.round(Math.max(peakRss, process.memoryUsage.rss()) / 2 ** 20), slowestMs: Math.round(slowestMs), seed, counts };
  if (details.failed && details.counterexample !== null) {
    const frame = mutate(details.counterexample[0], seeds);
    const error = details.errorInstance instanceof Error ? (details.errorInstance.stack ?? details.errorInstance.message) : String(details.errorInstance);
    report.failure = `${error}\ninput (hex): ${frame.toString('hex')}`;
    if (o.artifacts !== undefined) {
      fs.mkdirSync(o.artifacts, { recursive: true });
      fs.writeFileSync(path.join(o.artifacts, `${target}-${Date.now()}.bin`), frame);
    }
  }
  return report;
}

/** The command line of a target file: runs `run` with the options given and prints the report. */
export function fuzzMain(run: (o: FuzzOptions) => Promise<FuzzReport>): void {
  const args = process.argv.slice(2);
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const o: FuzzOptions = { seconds: Number(value('--seconds') ?? 60), runs: Number(value('--runs') ?? 0), artifacts: value('--artifacts') };
  if (value('--seed') !== undefined) o.seed = Number(value('--seed'));
  run(o).then(
    (r) => {
      if (r.failure !== undefined) console.error(`${r.target}: ${r.failure}`);
      console.log(JSON.stringify(r));
      process.exit(r.crashes > 0 ? 1 : 0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
