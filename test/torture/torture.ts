/**
 * The torture run (`npm run torture`, and test/crash/torture.test.ts at a small size): one
 * long-lived parent crashes children again and again, each running one target's workload (the
 * Log, the Broker, the Kafka server; see targets.ts), and after every crash checks what the
 * README promises survives. Each iteration chooses how its child stops, from a PRNG seeded by the
 * run's seed, the target and the iteration's number within that target:
 *   kill    SIGKILL at a random moment after the child is ready (now and then while it opens)
 *   power   the child simulates a power failure (everything not synced is lost) and exits
 *   point   the child dies (SIGKILL) at a named crash point on its K-th pass (SLUICE_CRASH_POINT,
 *           native/include/sluice/crash_point.h and lib/crash-points.ts); if the workload does not
 *           reach the point in time, the parent kills it anyway (counted as not reached)
 * Each target keeps one data directory that grows across iterations and is replaced by a fresh
 * one every `resetEvery` iterations of that target, so a failing iteration replays alone by
 * rerunning its target from the last reset (the command is printed with the failure).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Prng } from '../helpers/durability-crash-loop';
import { createTarget, TARGET_NAMES, type Stop, type Target, type TargetName, type Workload } from './targets';

export interface TortureOptions {
  iterations: number;
  seed: number;
  targets: readonly TargetName[];
  /** Where the targets' data directories go (emptied first). */
  root: string;
  /** Iterations of a target between fresh data directories. */
  resetEvery: number;
  workload: Workload;
  /** Replay: run only this target's iterations from its last reset up to `iteration`. */
  replay?: { target: TargetName; iteration: number };
  /** Progress and failure lines (default: stdout). */
  print?: (line: string) => void;
  /** Called with the report so far at every progress line and at the end (to keep a partial one). */
  onProgress?: (report: TortureReport) => void;
}

export interface PointStats {
  armed: number;
  fired: number;
}

export interface TargetStats {
  iterations: number;
  kills: number;
  powerCuts: number;
  points: Record<string, PointStats>;
  durationMs: number;
  /** The target's own counts (messages confirmed, acks checked, ...). */
  checks: Record<string, number>;
}

export interface TortureReport {
  seed: number;
  iterations: number;
  durationMs: number;
  targets: Partial<Record<TargetName, TargetStats>>;
}

/** The seed of one iteration: the run's seed, the target and its iteration number mixed. */
function iterationSeed(seed: number, target: TargetName, iteration: number): number {
  const r = new Prng((seed ^ Math.imul(TARGET_NAMES.indexOf(target) + 1, 0x9e3779b1) ^ Math.imul(iteration + 1, 0x27d4eb2d)) >>> 0);
  r.next();
  return r.next();
}

/** How this iteration's child stops. */
function chooseStop(rand: Prng, target: Target, workload: Workload): Stop {
  const r = rand.next() % 100;
  const scale = workload === 'ci' ? 0.5 : 1;
  if (r < 35) {
    const whileOpening = rand.chance(0.1);
    return { kind: 'kill', afterMs: Math.round(rand.between(5, target.busyMs) * scale), whileOpening };
  }
  if (r < 60) return { kind: 'power', afterMs: Math.round(rand.between(5, target.busyMs) * scale) };
  const points = target.points;
  const point = points[rand.next() % points.length];
  return { kind: 'point', point, pass: rand.between(1, 3), fallbackMs: target.pointWaitMs };
}

function emptyStats(): TargetStats {
  return { iterations: 0, kills: 0, powerCuts: 0, points: {}, durationMs: 0, checks: {} };
}

function replayCommand(options: TortureOptions, target: TargetName, iteration: number): string {
  return `npm run torture -- --seed ${options.seed} --target ${target} --replay ${iteration} --reset-every ${options.resetEvery} --workload ${options.workload}`;
}

/** One line per target: iterations, and how its children were stopped. */
function summary(report: TortureReport): string {
  return Object.entries(report.targets)
    .map(([name, t]) => {
      const armed = Object.values(t.points).reduce((s, p) => s + p.armed, 0);
      const fired = Object.values(t.points).reduce((s, p) => s + p.fired, 0);
      return `${name} ${t.iterations} (kill ${t.kills}, power ${t.powerCuts}, points ${armed} armed ${fired} fired)`;
    })
    .join(', ');
}

/** Runs the torture; throws at the first broken promise, after printing how to replay it. */
export async function runTorture(options: TortureOptions): Promise<TortureReport> {
  const print = options.print ?? ((line: string) => console.log(line));
  fs.rmSync(options.root, { recursive: true, force: true });
  fs.mkdirSync(options.root, { recursive: true });
  const started = Date.now();
  const report: TortureReport = { seed: options.seed, iterations: 0, durationMs: 0, targets: {} };
  const names = options.replay !== undefined ? [options.replay.target] : options.targets;
  const targets = new Map<TargetName, Target>();
  for (const name of names) {
    targets.set(name, await createTarget(name, options.workload));
    report.targets[name] = emptyStats();
  }
  const next = new Map<TargetName, number>();
  const first = options.replay !== undefined ? options.replay.iteration - (options.replay.iteration % options.resetEvery) : 0;
  for (const name of names) next.set(name, first);
  const total = options.replay !== undefined ? options.replay.iteration - first + 1 : options.iterations;
  print(`torture: seed=${options.seed} iterations=${total} targets=${names.join(',')} reset-every=${options.resetEvery} workload=${options.workload}`);
  let lastProgress = Date.now();
  try {
    for (let i = 0; i < total; i++) {
      const name = names[i % names.length];
      const target = targets.get(name)!;
      const stats = report.targets[name]!;
      const j = next.get(name)!;
      next.set(name, j + 1);
      const rand = new Prng(iterationSeed(options.seed, name, j));
      if (j % options.resetEvery === 0) {
        const dir = path.join(options.root, `${name}-${j}`);
        for (const old of fs.readdirSync(options.root)) if (old.startsWith(`${name}-`)) fs.rmSync(path.join(options.root, old), { recursive: true, force: true });
        await target.reset(dir, rand);
      }
      const stop = chooseStop(rand, target, options.workload);
      const last = j % options.resetEvery === options.resetEvery - 1;
      const where = `target=${name} iteration=${j} stop=${JSON.stringify(stop)} seed=${options.seed}`;
      const t0 = Date.now();
      let fired: boolean;
      try {
        ({ fired } = await target.iteration(stop, rand, where, last));
      } catch (e) {
        const message = (e as Error).message;
        print(`torture FAILED: ${message.endsWith(']') ? message : `${message} [${where}]`}`);
        print(`replay this iteration alone: ${replayCommand(options, name, j)}`);
        throw e;
      }
      stats.iterations++;
      stats.durationMs += Date.now() - t0;
      if (stop.kind === 'kill') stats.kills++;
      else if (stop.kind === 'power') stats.powerCuts++;
      else {
        const p = (stats.points[stop.point] ??= { armed: 0, fired: 0 });
        p.armed++;
        if (fired) p.fired++;
      }
      report.iterations++;
      if (Date.now() - lastProgress > 30_000) {
        lastProgress = Date.now();
        report.durationMs = Date.now() - started;
        print(`torture: ${report.iterations}/${total} iterations, ${Math.round(report.durationMs / 1000)} s; ${summary(report)}`);
        for (const [n, t] of targets) report.targets[n]!.checks = t.checks;
        options.onProgress?.(report);
      }
    }
  } finally {
    for (const [name, target] of targets) {
      await target.close();
      report.targets[name]!.checks = target.checks;
    }
  }
  report.durationMs = Date.now() - started;
  options.onProgress?.(report);
  print(`torture: passed ${report.iterations} iterations in ${Math.round(report.durationMs / 1000)} s; ${summary(report)}`);
  print(JSON.stringify(report, null, 1));
  return report;
}
