/**
 * `sluice bench WORKLOAD`: runs a workload file (YAML or JSON, OMB-style fields: bench/workload.ts)
 * against Sluice in-process, Sluice over the Kafka protocol, and the peers installed here (Redis
 * Streams, NATS JetStream, RabbitMQ at their most durable setting and at their default, each
 * server started by the bench), one after another; writes results.json (versioned, with the host
 * and every setting) and report.html (self-contained, inline SVG charts) to --out, and prints a
 * summary. `--results FILE` rebuilds the report (and --markdown table) from a saved results.json
 * without running anything. A progress bar on a terminal (cli-progress).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { checkSelection, driverNames, runBench } from '../../bench/bench';
import { benchMarkdown, renderBenchHtml } from '../../bench/bench-report';
import { BENCH_RESULTS_FORMAT, type BenchResults } from '../../bench/results';
import { loadWorkload, withDuration } from '../../bench/workload';
import { UsageError } from '../exit-codes';
import { printJson, printTable } from '../output';

interface BenchOptions {
  duration?: number;
  driver?: string[];
  out: string;
  tmp?: string;
  markdown?: boolean;
  json?: boolean;
  results?: string;
}

/** `2s`, `500ms`, `1.5m`, or a plain number of seconds. */
export function durationSeconds(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (m === null) throw new InvalidArgumentError('want a duration such as 2s, 500ms or 1m');
  const n = Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1);
  if (!(n > 0) || n > 86_400) throw new InvalidArgumentError('want a duration from 1ms to 24h');
  return n;
}

function driverList(value: string, previous: string[] = []): string[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new InvalidArgumentError(`want driver names: ${driverNames().join(', ')}`);
  return [...previous, ...names];
}

export function benchCommand(program: Command): void {
  program
    .command('bench')
    .description('run a workload file against Sluice and the installed peers; JSON results and an HTML report')
    .argument('[workload]', 'the workload file (YAML or JSON; see workloads/)')
    .option('--duration <time>', 'measure for this long instead of the workload\'s duration (2s, 500ms, 1m); warm-up and burst scale with it', durationSeconds)
    .option('--driver <names>', `only these drivers, comma-separated: ${driverNames().join(', ')} or a driver name such as redis-durable`, driverList)
    .option('--out <dir>', 'where results.json and report.html go', 'sluice-bench-out')
    .option('--tmp <dir>', 'where the drivers make their data directories (default: the OS temp dir); the filesystem under test')
    .option('--markdown', 'print the comparison as a markdown table')
    .option('--json', 'print the results JSON instead of the summary table')
    .option('--results <file>', 'rebuild the report from a saved results.json instead of running')
    .action(async (file: string | undefined, o: BenchOptions) => {
      const results = o.results !== undefined ? readResults(o.results) : await run(file, o);
      fs.mkdirSync(o.out, { recursive: true });
      if (o.results === undefined) fs.writeFileSync(path.join(o.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
      fs.writeFileSync(path.join(o.out, 'report.html'), renderBenchHtml(results));
      if (o.json) printJson(results);
      else if (o.markdown) process.stdout.write(benchMarkdown(results));
      else printSummary(results, o.out);
      if (results.drivers.some((d) => d.status === 'failed')) process.exitCode = 1;
    });
}

function readResults(file: string): BenchResults {
  let r: BenchResults;
  try {
    r = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResults;
  } catch (e) {
    throw new UsageError(`${file}: not a readable results file (${(e as Error).message})`);
  }
  if (r.format !== BENCH_RESULTS_FORMAT || r.version !== 1) throw new UsageError(`${file}: not sluice-bench results version 1`);
  return r;
}

async function run(file: string | undefined, o: BenchOptions): Promise<BenchResults> {
  if (file === undefined) throw new UsageError('give a workload file (see workloads/), or --results FILE');
  let workload;
  try {
    workload = loadWorkload(file);
    checkSelection(o.driver);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (o.duration !== undefined) workload = withDuration(workload, o.duration);
  const tty = process.stderr.isTTY === true && o.json !== true;
  const bar = tty ? new SingleBar({ format: '{driver} [{bar}] {percentage}% | {published} published, {consumed} consumed', hideCursor: true, clearOnComplete: true }) : null;
  let current = '';
  const args = process.argv.slice(2).join(' ');
  return runBench({
    workload,
    workloadSource: fs.readFileSync(file, 'utf8'),
    drivers: o.driver,
    tmpDir: o.tmp,
    command: `sluice ${args}`,
    log: (line) => {
      bar?.stop();
      process.stderr.write(`${line}\n`);
    },
    onDriver: (name, i, n) => {
      bar?.stop();
      current = name;
      if (!tty) process.stderr.write(`[${i + 1}/${n}] ${name}\n`);
      bar?.start(100, 0, { driver: `[${i + 1}/${n}] ${name}`, published: 0, consumed: 0 });
    },
    onTick: (elapsed, total, published, consumed) => {
      bar?.update(Math.floor((100 * elapsed) / total), { driver: current, published, consumed });
      if (elapsed >= total) bar?.stop();
    },
  }).finally(() => bar?.stop());
}

function printSummary(r: BenchResults, out: string): void {
  printTable(
    ['DRIVER', 'PUB MSG/S', 'PUB P50 MS', 'PUB P99', 'E2E P50 MS', 'E2E P99', 'E2E MAX', 'ERRORS', 'CONSUMED/EXPECTED'],
    r.drivers.map((d) =>
      d.status === 'failed'
        ? [d.driver, `failed: ${d.error}`, '', '', '', '', '', '', '']
        : [d.driver, d.throughput.publishMsgPerSec, d.latency.publish.p50Ms, d.latency.publish.p99Ms, d.latency.endToEnd.p50Ms, d.latency.endToEnd.p99Ms, d.latency.endToEnd.maxMs, d.counts.publishErrors + d.counts.notSent, `${d.counts.consumed}/${d.counts.expectedConsumed}`],
    ),
  );
  for (const s of r.skipped) process.stdout.write(`skipped ${s.driver}: ${s.reason}\n`);
  process.stdout.write(`results: ${path.join(out, 'results.json')}\nreport: ${path.join(out, 'report.html')}\n`);
}
