/**
 * Shared benchmark machinery: the host description, scratch directories, a tinybench run with a
 * fixed time per task, and the Markdown report written to bench/results/<suite>.md.
 *
 * Every task does a fixed unit of work per iteration (so many messages, so many payload bytes);
 * rates are that unit divided by the mean iteration time, and each engine task is reported as a
 * ratio to the plain-Node baseline task measured in the same run.
 *
 * Environment: BENCH_TINY=1 runs every task for a few milliseconds at tiny sizes and writes no
 * results file (CI uses it so that no bench rots); BENCH_TIME_MS sets the measured time per task
 * (default 2000); BENCH_DIR chooses where scratch data goes (default: the OS temp dir, which must
 * be on the file system being measured — the report names it).
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver, type IntervalHistogram, type PerformanceEntry } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { Bench, type Task } from 'tinybench';

export const tiny = process.env.BENCH_TINY === '1';

// 2 s per task keeps a whole suite under a minute while giving >= 20 samples of 100 ms work units.
const TIME_MS = tiny ? 5 : Number(process.env.BENCH_TIME_MS ?? 2000);
const WARMUP_MS = tiny ? 1 : Math.min(500, TIME_MS / 4);
// tinybench's default minimum of 64 iterations would make 0.3 s work units run for 20 s.
const ITERATIONS_MIN = tiny ? 2 : 5;

const RESULTS_DIR = path.join(__dirname, 'results');
const REPO_DIR = path.resolve(__dirname, '..');

// ---- Scratch directories ----

const scratch = new Set<string>();

/** The directory scratch data goes under. */
export function benchRoot(): string {
  return path.resolve(process.env.BENCH_DIR ?? os.tmpdir());
}

/** A fresh directory under benchRoot(), removed by removeDir() or at exit. */
export function makeDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(benchRoot(), `sluice-bench-${prefix}-`));
  scratch.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  scratch.delete(dir);
}

process.on('exit', () => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

/** Resolves on the next turn of the event loop, after this tick's nextTick work (the log's seal). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ---- Latency: HDR histograms, event-loop gaps, GC pauses ----

/**
 * An HDR histogram of microseconds (1 µs to 60 s, three significant digits; hdr-histogram-js,
 * pure JS): a fixed footprint however many values, exact to 0.1%, so every latency table records
 * all its samples instead of sorting arrays of them.
 */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/** Records `us` microseconds (anything under 1 µs counts as 1 µs, the histogram's floor). */
export function recordUs(h: hdr.Histogram, us: number): void {
  h.recordValue(us < 1 ? 1 : Math.round(us));
}

/** p50/p99/p99.9/max in microseconds; NaN for an empty histogram. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: NaN, p99: NaN, p999: NaN, max: NaN };
  return { count: h.totalCount, p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue };
}

/** Microseconds for a table cell: "42 µs", "1.25 ms". */
export function formatUs(us: number): string {
  if (Number.isNaN(us)) return '-';
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`;
}

/** The four cells "p50 | p99 | p99.9 | max" of a summary. */
export function latencyCells(s: LatencySummary): string {
  return `${formatUs(s.p50)} | ${formatUs(s.p99)} | ${formatUs(s.p999)} | ${formatUs(s.max)}`;
}

export interface LoopGapReport {
  /** Turns of the event loop that took longer than the threshold, their total and the largest three (ms). */
  count: number;
  totalMs: number;
  largestMs: number[];
  /** perf_hooks.monitorEventLoopDelay over the same time (ms). */
  delayP99Ms: number;
  delayMaxMs: number;
}

/**
 * The gaps between turns of the event loop, timed by a setImmediate chain (a turn that took
 * longer than `thresholdMs` is a gap), beside perf_hooks.monitorEventLoopDelay. A gap is the
 * thread busy (or blocked) for that long: every message due in it waits at least that long.
 */
export class LoopGaps {
  readonly #thresholdMs: number;
  readonly #gaps: number[] = [];
  #delay: IntervalHistogram | undefined;
  #running = false;
  #last = 0;
  readonly #turn = (): void => {
    const now = performance.now();
    if (now - this.#last > this.#thresholdMs) this.#gaps.push(now - this.#last);
    this.#last = now;
    if (this.#running) setImmediate(this.#turn);
  };

  constructor(thresholdMs = 1) {
    this.#thresholdMs = thresholdMs;
  }

  start(): void {
    this.#delay = monitorEventLoopDelay({ resolution: 1 });
    this.#delay.enable();
    this.#running = true;
    this.#last = performance.now();
    setImmediate(this.#turn);
  }

  stop(): LoopGapReport {
    this.#running = false;
    this.#delay?.disable();
    const g = this.#gaps;
    return {
      count: g.length,
      totalMs: g.reduce((a, b) => a + b, 0),
      largestMs: [...g].sort((a, b) => b - a).slice(0, 3),
      delayP99Ms: (this.#delay?.percentile(99) ?? 0) / 1e6,
      delayMaxMs: (this.#delay?.max ?? 0) / 1e6,
    };
  }
}

/** "count, total (share of durationMs), largest" cells of a gap report. */
export function gapCells(r: LoopGapReport, durationMs: number): string {
  const largest = r.largestMs.length === 0 ? '-' : `${r.largestMs.map((g) => g.toFixed(1)).join(', ')} ms`;
  return `${r.count} | ${r.totalMs.toFixed(0)} ms (${((r.totalMs / durationMs) * 100).toFixed(1)}%) | ${largest}`;
}

export interface GcReport {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** Garbage-collection pauses (perf_hooks 'gc' entries) between start() and stop(). */
export class GcPauses {
  #observer: PerformanceObserver | undefined;
  #count = 0;
  #totalMs = 0;
  #maxMs = 0;

  start(): void {
    this.#observer = new PerformanceObserver((list) => this.#add(list.getEntries()));
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  stop(): GcReport {
    // Entries are delivered asynchronously: take those not delivered yet.
    if (this.#observer !== undefined) {
      this.#add(this.#observer.takeRecords());
      this.#observer.disconnect();
    }
    return { count: this.#count, totalMs: this.#totalMs, maxMs: this.#maxMs };
  }

  #add(entries: readonly PerformanceEntry[]): void {
    for (const e of entries) {
      this.#count++;
      this.#totalMs += e.duration;
      if (e.duration > this.#maxMs) this.#maxMs = e.duration;
    }
  }
}

// ---- Host description ----

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function run(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** The file system type and source of the mount holding `dir`: the longest matching mount point. */
export function fileSystemOf(dir: string): string {
  const real = fs.realpathSync(dir);
  let best: { point: string; type: string; source: string } | undefined;
  for (const line of readText('/proc/mounts').split('\n')) {
    const [source, point, type] = line.split(' ');
    if (point === undefined || type === undefined) continue;
    const p = point.replace(/\\040/g, ' ');
    const inside = p === '/' || real === p || real.startsWith(p + '/');
    // Later lines win ties: they are mounted over the earlier ones.
    if (inside && (best === undefined || p.length >= best.point.length)) best = { point: p, type, source };
  }
  if (best !== undefined) return `${best.type} (${best.source} on ${best.point})`;
  const df = run('df', ['-T', real]).split('\n')[1]?.split(/\s+/);
  return df !== undefined && df.length > 1 ? `${df[1]} (${df[0]})` : 'unknown';
}

/** The device: `count` fdatasync latencies (µs) after a 4 KiB append, as a program that syncs every write sees. */
export function deviceSyncLatencies(dir: string, count: number): number[] {
  const out: number[] = [];
  const file = path.join(dir, 'device.dat');
  const fd = fs.openSync(file, 'w');
  const block = randomFillSync(Buffer.alloc(4096));
  for (let i = 0; i < count; i++) {
    fs.writeSync(fd, block);
    const t = process.hrtime.bigint();
    fs.fdatasyncSync(fd);
    out.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  fs.closeSync(fd);
  fs.rmSync(file);
  return out;
}

export interface Host {
  cpu: string;
  cores: string;
  memory: string;
  kernel: string;
  os: string;
  node: string;
  benchDir: string;
  load: string;
}

export function describeHost(): Host {
  const cpuinfo = readText('/proc/cpuinfo');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const flags = /^flags\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].split(' ') ?? [];
  const mhz = /^cpu MHz\s*:\s*(.+)$/m.exec(cpuinfo)?.[1];
  const logical = (cpuinfo.match(/^processor\s*:/gm) ?? []).length || os.cpus().length;
  const osName = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readText('/etc/os-release'))?.[1] ?? os.type();
  const virt = flags.includes('hypervisor') ? ', virtual machine' : '';
  return {
    cpu: `${model}${mhz !== undefined ? ` @ ${Math.round(Number(mhz))} MHz` : ''}${flags.includes('sse4_2') ? ', SSE4.2' : ''}`,
    cores: `${logical} logical (${os.availableParallelism()} available to Node)${virt}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    os: osName,
    node: `${process.version} (V8 ${process.versions.v8})`,
    benchDir: `${benchRoot()}: ${fileSystemOf(benchRoot())}`,
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

function revision(): string {
  const head = run('git', ['rev-parse', '--short', 'HEAD'], REPO_DIR);
  if (head === '') return 'unknown';
  // (Names only: porcelain lines start with a space that trimming the output would eat.)
  const dirty = run('git', ['diff', '--name-only', 'HEAD', '--', 'lib', 'native', 'binding.gyp'], REPO_DIR);
  return dirty === '' ? head : `${head} with uncommitted changes to ${dirty.split('\n').join(', ')}`;
}

// ---- Running ----

export interface BenchCase {
  /** The parameters go in the name: `append 100B batch=1000`. */
  name: string;
  /** Messages and payload bytes one call of `fn` handles. */
  messagesPerIteration: number;
  payloadBytesPerIteration: number;
  /** The name of the plain-Node case this one is compared with; absent for baselines. */
  baseline?: string;
  /** The figure the engine is asked to reach, if any: shown with whether this run reached it. */
  target?: { msgPerSec?: number; bytesPerSec?: number };
  fn: () => Promise<void>;
  /** Run once before the warmup and once before the measured iterations, and after each. */
  beforeAll?: () => Promise<void> | void;
  afterAll?: () => Promise<void> | void;
}

export interface Suite {
  /** The results file is bench/results/<name>.md. */
  name: string;
  title: string;
  cases: BenchCase[];
  /** Paragraphs printed under the table: what each task does. */
  notes: string[];
}

interface Row {
  c: BenchCase;
  msgPerSec: number;
  bytesPerSec: number;
  periodMs: number;
  rme: number;
  samples: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

export async function runSuite(suite: Suite): Promise<void> {
  const names = new Set(suite.cases.map((c) => c.name));
  for (const c of suite.cases) {
    if (c.baseline !== undefined && !names.has(c.baseline)) throw new Error(`${c.name}: no baseline case ${c.baseline}`);
  }
  const host = describeHost();
  const bench = new Bench({
    name: suite.name,
    time: TIME_MS,
    warmupTime: WARMUP_MS,
    iterations: ITERATIONS_MIN,
    warmupIterations: tiny ? 1 : 2,
    throws: true,
  });
  for (const c of suite.cases) {
    bench.add(c.name, c.fn, {
      async: true,
      beforeAll: async () => {
        await c.beforeAll?.();
        gc?.(); // garbage from the previous task or the setup is not this task's cost
      },
      afterAll: c.afterAll,
    });
  }
  bench.addEventListener('cycle', (e) => {
    const t = e.task as Task;
    const r = t.result;
    const ms = 'period' in r ? r.period.toFixed(2) : '?';
    process.stderr.write(`  ${t.name}: ${t.runs} iterations, ${ms} ms each\n`);
  });
  process.stderr.write(`${suite.title}: ${suite.cases.length} tasks, ${TIME_MS} ms each${tiny ? ' (BENCH_TINY)' : ''}\n`);
  await bench.run();

  const rows = new Map<string, Row>();
  for (const c of suite.cases) {
    const t = bench.getTask(c.name)!;
    const r = t.result;
    if (r.state !== 'completed') {
      throw new Error(`${c.name}: ${r.state}${'error' in r ? `: ${r.error.stack ?? r.error.message}` : ''}`);
    }
    const seconds = r.period / 1000;
    rows.set(c.name, {
      c,
      msgPerSec: c.messagesPerIteration / seconds,
      bytesPerSec: c.payloadBytesPerIteration / seconds,
      periodMs: r.period,
      rme: r.latency.rme,
      samples: r.latency.samplesCount,
    });
  }
  report(suite, host, [...rows.values()], rows);
}

// ---- Reporting ----

function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

function command(): string {
  const base = process.env.SLUICE_BENCH_COMMAND ?? `node --import tsx ${path.relative(REPO_DIR, process.argv[1] ?? '')}`;
  const env = ['BENCH_TIME_MS', 'BENCH_DIR', 'BENCH_TINY'].filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
  return [...env, base].join(' ');
}

function targetCell(row: Row): string {
  const t = row.c.target;
  if (t === undefined) return '';
  const cells: string[] = [];
  if (t.msgPerSec !== undefined) {
    const f = row.msgPerSec / t.msgPerSec;
    cells.push(`>= ${t.msgPerSec / 1e6} M msg/s: ${f >= 1 ? 'met' : `${(f * 100).toFixed(0)}%`}`);
  }
  if (t.bytesPerSec !== undefined) {
    const f = row.bytesPerSec / t.bytesPerSec;
    cells.push(`>= ${(t.bytesPerSec / 1e9).toFixed(1)} GB/s: ${f >= 1 ? 'met' : `${(f * 100).toFixed(0)}%`}`);
  }
  return cells.join(', ');
}

function markdownTable(rows: Row[], byName: Map<string, Row>): string {
  const lines = [
    '| Task | msg/s | MB/s | vs baseline | Baseline | Target | ms/iteration | ±% | Samples |',
    '| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const base = row.c.baseline === undefined ? undefined : byName.get(row.c.baseline);
    const ratio = base === undefined ? '(baseline)' : `${(row.msgPerSec / base.msgPerSec).toFixed(2)}x`;
    lines.push(
      `| ${row.c.name} | ${rate(row.msgPerSec)} | ${(row.bytesPerSec / 1e6).toFixed(0)} | ${ratio} | ${base?.c.name ?? ''} | ${targetCell(row)} | ` +
        `${row.periodMs.toFixed(2)} | ${row.rme.toFixed(1)} | ${row.samples} |`,
    );
  }
  return lines.join('\n');
}

function report(suite: Suite, host: Host, rows: Row[], byName: Map<string, Row>): void {
  const table = markdownTable(rows, byName);
  const text = [
    `# ${suite.title}`,
    '',
    `- Command: \`${command()}\``,
    `- Date: ${new Date().toISOString()}`,
    `- Revision: ${revision()}`,
    `- Time per task: ${TIME_MS} ms after ${WARMUP_MS} ms of warmup, at least ${ITERATIONS_MIN} iterations (tinybench)`,
    '',
    '## Host',
    '',
    '| | |',
    '| --- | --- |',
    `| CPU | ${host.cpu} |`,
    `| Cores | ${host.cores} |`,
    `| Memory | ${host.memory} |`,
    `| OS | ${host.os}, ${host.kernel} |`,
    `| Node | ${host.node} |`,
    `| Bench directory | ${host.benchDir} |`,
    `| Load average at start | ${host.load} |`,
    '',
    '## Results',
    '',
    'msg/s and MB/s (10^6 bytes of payload, framing not counted) are the work of one iteration over',
    'the mean iteration time; "vs baseline" is msg/s over that of the plain-Node task named beside it,',
    'measured in the same run. ±% is the 95% margin of error of the mean iteration time.',
    '',
    table,
    '',
    ...suite.notes.flatMap((n) => [n, '']),
  ].join('\n');
  writeResults(suite.name, text);
}

/** Prints a suite's Markdown report and writes it to bench/results/<name>.md (not under BENCH_TINY). */
export function writeResults(name: string, text: string): void {
  process.stdout.write(`\n${text}`);
  if (tiny) {
    process.stdout.write(`(BENCH_TINY: figures are meaningless and bench/results/${name}.md was not written)\n`);
    return;
  }
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.md`);
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
  process.stdout.write(`(written to ${path.relative(REPO_DIR, file)})\n`);
}
