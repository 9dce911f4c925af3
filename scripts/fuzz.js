'use strict';
// `npm run fuzz -- --seconds N [--target NAME] [--runs N] [--jobs J] [--seed S]`: runs each fuzz
// target (or the one named) for N seconds (default 60), or until N executions with --runs, and
// prints its executions, crashes and peak RSS. With --jobs, J processes of the target run at once,
// each with its own seed (S, S + 1, ...; default from the clock) and its share of --runs; the
// executions are their sum, the peak RSS the largest (native jobs share the corpus directory,
// and libFuzzer reloads what the others add). Targets:
//
//   kafka-decode      every request the Kafka server advertises (API and version), decoded the way
//                     Connection#onFrame decodes it: mutated committed requests (test/fuzz/corpus),
//                     fast-check properties (test/fuzz/kafka-decode.fuzz.ts)
//   kafka-connection  mutated requests through a Connection over a fake socket, handlers and a
//                     real broker behind it (test/fuzz/kafka-connection.fuzz.ts)
//   record-batch      libFuzzer + ASan + UBSan: the RecordBatch parser (native/fuzz/)
//   recovery          libFuzzer + ASan + UBSan: a log directory image reopened (native/fuzz/)
//
// The native targets are built here with clang (-fsanitize=fuzzer,address,undefined) into
// native/build-fuzz/, which ignores itself; their seeds are native/fuzz/corpus/<target>/, and the
// units libFuzzer finds go to native/build-fuzz/corpus/<target>/. Crashing inputs are saved in
// native/build-fuzz/artifacts/. Exits non-zero when any target crashed, hung or could not run.
// The machine is shared: run long fuzzing under `nice -n 19`.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'native', 'build-fuzz');
const artifacts = path.join(buildDir, 'artifacts');

const NATIVE = ['record-batch', 'recovery'];
const JS = ['kafka-decode', 'kafka-connection'];
const TARGETS = [...JS, ...NATIVE];
// libFuzzer's limits: an input that runs longer than this many seconds is a hang; past the RSS or
// single-allocation limit it is a crash (an allocation sized by a claimed length).
const TIMEOUT_S = 10;
const RSS_LIMIT_MB = 1024;
const MALLOC_LIMIT_MB = 256;

function usage(message) {
  console.error(`fuzz.js: ${message}\nusage: npm run fuzz -- [--seconds N] [--runs N] [--jobs J] [--seed S] [--target ${TARGETS.join('|')}] [--build-only]`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { seconds: 60, runs: 0, jobs: 1, seed: Date.now() % 2 ** 31, targets: TARGETS, buildOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--build-only') o.buildOnly = true;
    else if (a === '--seconds' || a === '--runs' || a === '--jobs' || a === '--seed') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n <= 0 || (a === '--seed' && n >= 2 ** 31)) usage(`${a} needs a positive integer${a === '--seed' ? ' under 2^31' : ''}`);
      o[a.slice(2)] = n;
    } else if (a === '--target') {
      const t = argv[++i];
      if (!TARGETS.includes(t)) usage(`unknown target ${t}`);
      o.targets = [t];
    } else usage(`unknown argument ${a}`);
  }
  return o;
}

/** The core's sources, as the shipping build (binding.gyp) lists them. */
function coreSources() {
  const gyp = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8');
  return [...gyp.matchAll(/"(native\/core\/[a-z0-9_]+\.cc)"/g)].map((m) => m[1]);
}

const FLAGS = ['-std=c++17', '-O1', '-g', '-Wall', '-Wextra', '-pthread', '-fno-omit-frame-pointer', '-fno-sanitize-recover=undefined', `-I${path.join(root, 'native', 'include')}`];

function newest(paths) {
  return Math.max(...paths.map((p) => fs.statSync(p).mtimeMs));
}

function clangError(e) {
  const hint = e.code === 'ENOENT' ? ' (apt-get install -y clang; .ci/run installs it)' : '';
  return new Error(`cannot run clang++: ${e.message}${hint}`);
}

function compile(args) {
  const r = spawnSync('clang++', args, { cwd: root, stdio: 'inherit' });
  if (r.error) throw clangError(r.error);
  if (r.status !== 0) throw new Error(`clang++ ${args.slice(-3).join(' ')} failed`);
}

/** Runs the compilations, one per core at a time. */
async function compileAll(jobs) {
  const next = jobs.values();
  const worker = async () => {
    for (const args of next) {
      await new Promise((resolve, reject) => {
        const child = spawn('clang++', args, { cwd: root, stdio: 'inherit' });
        child.on('error', (e) => reject(clangError(e)));
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`clang++ ${args.slice(-3).join(' ')} failed`))));
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs.length, os.availableParallelism()) }, worker));
}

/** Builds native/build-fuzz/<target> (the core compiled once, instrumented); returns its path. */
async function buildNative(target) {
  fs.mkdirSync(path.join(buildDir, 'core'), { recursive: true });
  fs.writeFileSync(path.join(buildDir, '.gitignore'), '*\n');
  const headers = fs.readdirSync(path.join(root, 'native', 'include', 'sluice')).map((h) => path.join(root, 'native', 'include', 'sluice', h));
  const headerTime = newest(headers);
  const stale = [];
  const objects = coreSources().map((src) => {
    const obj = path.join(buildDir, 'core', `${path.basename(src, '.cc')}.o`);
    if (!fs.existsSync(obj) || fs.statSync(obj).mtimeMs < Math.max(headerTime, newest([path.join(root, src)]))) {
      stale.push([...FLAGS, '-fsanitize=fuzzer-no-link,address,undefined', '-c', path.join(root, src), '-o', obj]);
    }
    return obj;
  });
  await compileAll(stale);
  const harness = path.join(root, 'native', 'fuzz', `${target.replace('-', '_')}_fuzz.cc`);
  const exe = path.join(buildDir, target);
  if (!fs.existsSync(exe) || fs.statSync(exe).mtimeMs < newest([harness, ...objects])) {
    compile([...FLAGS, '-fsanitize=fuzzer,address,undefined', harness, ...objects, '-o', exe]);
  }
  return exe;
}

/** Runs a child, killed after `ms`; resolves with its exit, output, and whether it was killed. */
function run(cmd, args, ms, onLine) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, ms);
    const take = (d) => {
      out += d;
      if (onLine) onLine(String(d));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, killed });
    });
  });
}

function stat(out, name) {
  const m = out.match(new RegExp(`stat::${name}:\\s*(\\d+)`));
  return m ? Number(m[1]) : 0;
}

/** One job of a native target (built: `exe`): its seed, its share of the runs, its own log. */
async function runNative(target, o, job, exe) {
  const found = path.join(buildDir, 'corpus', target);
  const seeds = path.join(root, 'native', 'fuzz', 'corpus', target);
  fs.mkdirSync(found, { recursive: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const args = [
    `-max_total_time=${o.seconds}`,
    `-timeout=${TIMEOUT_S}`,
    `-rss_limit_mb=${RSS_LIMIT_MB}`,
    `-malloc_limit_mb=${MALLOC_LIMIT_MB}`,
    `-artifact_prefix=${artifacts}/${target}-`,
    '-print_final_stats=1',
    `-seed=${job.seed}`,
    ...(job.runs > 0 ? [`-runs=${job.runs}`] : []),
    found,
    seeds,
  ];
  const r = await run(exe, args, (o.seconds + 120) * 1000);
  const log = path.join(buildDir, o.jobs > 1 ? `${target}.${job.index}.log` : `${target}.log`);
  fs.writeFileSync(log, r.out);
  const crashed = r.code !== 0 || r.killed;
  if (crashed) process.stderr.write(r.out.split('\n').slice(-60).join('\n'));
  // The last status line's coverage and corpus ("cov: 333 ft: 834 corp: 154/14242b"), and the seed.
  const status = [...r.out.matchAll(/cov: \d+ ft: \d+ corp: \d+\/\d+\w*/g)].pop();
  const detail = `${status ? status[0] : 'no status'}, seed ${job.seed}, log ${path.relative(root, log)}`;
  return { target, executions: stat(r.out, 'number_of_executed_units'), crashes: crashed ? 1 : 0, peakRssMb: stat(r.out, 'peak_rss_mb'), hung: r.killed, detail };
}

async function runJs(target, o, job) {
  const script = path.join(root, 'test', 'fuzz', `${target}.fuzz.ts`);
  const args = ['--import', 'tsx', script, '--seconds', String(o.seconds), '--seed', String(job.seed), ...(job.runs > 0 ? ['--runs', String(job.runs)] : []), '--artifacts', artifacts];
  fs.mkdirSync(artifacts, { recursive: true });
  const r = await run(process.execPath, args, (o.seconds + 120) * 1000);
  const line = r.out.split('\n').reverse().find((l) => l.startsWith('{"target"'));
  if (line === undefined || r.code !== 0) process.stderr.write(r.out.split('\n').slice(-60).join('\n'));
  if (line === undefined) return { target, executions: 0, crashes: 1, peakRssMb: 0, hung: r.killed };
  const report = JSON.parse(line);
  const counts = Object.entries(report.counts).map(([k, n]) => `${k} ${n}`).join(', ');
  return { ...report, hung: r.killed, detail: `${counts}; slowest ${report.slowestMs} ms, seed ${report.seed}` };
}

/** Runs the target's jobs at once; their executions summed, their peak RSS the largest. */
async function runJobs(target, o) {
  const exe = NATIVE.includes(target) ? await buildNative(target) : null;
  const one = exe !== null ? (t, opts, job) => runNative(t, opts, job, exe) : runJs;
  const jobs = Array.from({ length: o.jobs }, (_, index) => ({ index, seed: (o.seed + index) % 2 ** 31, runs: o.runs > 0 ? Math.ceil(o.runs / o.jobs) : 0 }));
  const rs = await Promise.all(jobs.map((job) => one(target, o, job)));
  if (rs.length === 1) return rs[0];
  return {
    target,
    executions: rs.reduce((n, r) => n + r.executions, 0),
    crashes: rs.reduce((n, r) => n + r.crashes, 0),
    peakRssMb: Math.max(...rs.map((r) => r.peakRssMb)),
    hung: rs.some((r) => r.hung),
    detail: rs.map((r, i) => `job ${i}: ${r.executions} (${r.detail})`).join('; '),
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.buildOnly) {
    for (const t of o.targets.filter((x) => NATIVE.includes(x))) console.log(await buildNative(t));
    return 0;
  }
  let failed = false;
  for (const target of o.targets) {
    const started = Date.now();
    let r;
    try {
      r = await runJobs(target, o);
    } catch (e) {
      console.error(`${target}: ${e.message}`);
      failed = true;
      continue;
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    console.log(`${target}: ${r.executions} executions in ${seconds} s, ${r.crashes} crashes${r.hung ? ' (hung: killed)' : ''}, peak RSS ${r.peakRssMb} MB (${r.detail})`);
    if (r.crashes > 0 || r.hung) failed = true;
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
