/**
 * npm run torture -- --iterations N [--seed S] [--target log|broker|server|all]
 *                    [--reset-every K] [--workload full|ci] [--dir D] [--replay I] [--json FILE]
 *
 * Crashes (SIGKILL, simulated power loss, named crash points) children running the Log, the
 * Broker or the Kafka server, again and again, and checks after each crash what the README
 * promises survives: see test/torture/torture.ts. Prints the seed; a failure prints the command
 * that replays its iteration alone (--replay, with --target). Exit code 0 when every iteration
 * passed, 1 at the first broken promise, 2 for a usage error. --json keeps the report there,
 * rewritten at every progress line (every 30 s), so a run stopped early leaves its figures.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { runTorture, type TortureReport } from '../test/torture/torture';
import { TARGET_NAMES, type TargetName, type Workload } from '../test/torture/targets';

function usage(message: string): never {
  process.stderr.write(`torture: ${message}\nusage: npm run torture -- --iterations N [--seed S] [--target log|broker|server|all] [--reset-every K] [--workload full|ci] [--dir D] [--replay I] [--json FILE]\n`);
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
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
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
  return { iterations, seed, targets, resetEvery, workload, root, replay: replay === undefined ? undefined : { target: targets[0], iteration: replay }, json };
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const json = o.json;
  const keep = json === undefined ? undefined : (report: TortureReport) => fs.writeFileSync(json, JSON.stringify(report, null, 1) + '\n');
  await runTorture({ ...o, onProgress: keep });
  fs.rmSync(o.root, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  () => process.exit(1),
);
