/**
 * npm run torture -- --iterations N [--seed S] [--target log|broker|server|all]
 *                    [--reset-every K] [--workload full|ci] [--dir D] [--replay I] [--json FILE]
 *                    [--parallel]
 *
 * Crashes (SIGKILL, simulated power loss, named crash points) children running the Log, the
 * Broker or the Kafka server, again and again, and checks after each crash what the README
 * promises survives: see test/torture/torture.ts. Prints the seed; a failure prints the command
 * that replays its iteration alone (--replay, with --target). Exit code 0 when every iteration
 * passed, 1 at the first broken promise, 2 for a usage error. --json keeps the report there,
 * rewritten at every progress line (every 30 s), so a run stopped early leaves its figures.
 * --parallel runs each target in a process of its own at once (the same iterations: each one's
 * choices depend on the seed, its target and its number within the target only), prefixing
 * their lines with the target's name, and merges their reports.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { runTorture, type TortureReport } from '../test/torture/torture';
import { TARGET_NAMES, type TargetName, type Workload } from '../test/torture/targets';

function usage(message: string): never {
  process.stderr.write(`torture: ${message}\nusage: npm run torture -- --iterations N [--seed S] [--target log|broker|server|all] [--reset-every K] [--workload full|ci] [--dir D] [--replay I] [--json FILE] [--parallel]\n`);
  process.exit(2);
}

function integer(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isSafeInteger(n) || n < min || n > max) usage(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  return n;
}

function parse(argv: readonly string[]) {
  let iterations = 100;
  let seed = (Math.random() * 0x100000000) >>> 0;
  let targets: TargetName[] = [...TARGET_NAMES];
  let resetEvery = 25;
  let workload: Workload = 'full';
  let root = path.join(os.tmpdir(), `sluice-torture-${process.pid}`);
  let replay: number | undefined;
  let json: string | undefined;
  let parallel = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--parallel') {
      parallel = true;
      continue;
    }
    const value = argv[++i];
    switch (flag) {
      case '--iterations':
        iterations = integer(flag, value, 1, 10_000_000);
        break;
      case '--seed':
        seed = integer(flag, value, 0, 0xffffffff);
        break;
      case '--target':
        if (value === 'all') targets = [...TARGET_NAMES];
        else if ((TARGET_NAMES as readonly string[]).includes(value)) targets = [value as TargetName];
        else usage(`--target must be log, broker, server or all, got ${value}`);
        break;
      case '--reset-every':
        resetEvery = integer(flag, value, 1, 1_000_000);
        break;
      case '--workload':
        if (value !== 'full' && value !== 'ci') usage(`--workload must be full or ci, got ${value}`);
        workload = value;
        break;
      case '--dir':
        if (value === undefined) usage('--dir needs a directory');
        root = path.resolve(value);
        break;
      case '--replay':
        replay = integer(flag, value, 0, 10_000_000);
        break;
      case '--json':
        if (value === undefined) usage('--json needs a file');
        json = value;
        break;
      default:
        usage(`unknown option ${flag}`);
    }
  }
  if (replay !== undefined && targets.length !== 1) usage('--replay needs --target log, broker or server');
  if (parallel && replay !== undefined) usage('--parallel and --replay do not go together');
  return { iterations, seed, targets, resetEvery, workload, root, replay: replay === undefined ? undefined : { target: targets[0], iteration: replay }, json, parallel };
}

type Options = ReturnType<typeof parse>;

/** One process per target, each given the iterations the interleaved run would give it. */
async function runParallel(o: Options): Promise<boolean> {
  fs.mkdirSync(o.root, { recursive: true });
  const runs = o.targets.map((target, k) => {
    const share = Math.ceil((o.iterations - k) / o.targets.length);
    const json = path.join(o.root, `${target}.json`);
    const args = ['--import', 'tsx', __filename, '--target', target, '--iterations', String(share), '--seed', String(o.seed), '--reset-every', String(o.resetEvery), '--workload', o.workload, '--dir', path.join(o.root, target), '--json', json];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${target}] ${line}\n`));
    }
    return new Promise<{ ok: boolean; json: string }>((resolve) => child.on('close', (code) => resolve({ ok: code === 0, json })));
  });
  const results = await Promise.all(runs);
  const merged: TortureReport = { seed: o.seed, iterations: 0, durationMs: 0, targets: {} };
  for (const r of results) {
    if (!fs.existsSync(r.json)) continue;
    const part = JSON.parse(fs.readFileSync(r.json, 'utf8')) as TortureReport;
    merged.iterations += part.iterations;
    merged.durationMs = Math.max(merged.durationMs, part.durationMs);
    Object.assign(merged.targets, part.targets);
  }
  console.log(`torture: ${results.every((r) => r.ok) ? 'passed' : 'FAILED'} ${merged.iterations} iterations in ${Math.round(merged.durationMs / 1000)} s (targets in parallel)`);
  if (o.json !== undefined) fs.writeFileSync(o.json, JSON.stringify(merged, null, 1) + '\n');
  return results.every((r) => r.ok);
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  if (o.parallel && o.targets.length > 1) {
    const ok = await runParallel(o);
    if (ok) fs.rmSync(o.root, { recursive: true, force: true });
    else throw new Error('a target failed');
    return;
  }
  const json = o.json;
  const keep = json === undefined ? undefined : (report: TortureReport) => fs.writeFileSync(json, JSON.stringify(report, null, 1) + '\n');
  await runTorture({ ...o, onProgress: keep });
  fs.rmSync(o.root, { recursive: true, force: true });
}

// A wait that nothing can end (a harness bug) empties the event loop: say so instead of exiting 0.
process.once('beforeExit', () => {
  process.stderr.write('torture: the event loop emptied before the run finished (a wait nothing could end)\n');
  process.exit(1);
});

main().then(
  () => process.exit(0),
  () => process.exit(1),
);
