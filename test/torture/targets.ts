/**
 * What the torture run (torture.ts) crashes: each target owns a data directory, runs one child
 * per iteration against it, stops the child as the Stop says, and checks the directory
 * afterwards. Lifetime: one torture run; iterations in sequence.
 */
import type { Prng } from '../helpers/durability-crash-loop';

export const TARGET_NAMES = ['log', 'broker', 'server'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** 'ci': the same code path with shorter runs between crashes (test/crash/torture.test.ts). */
export type Workload = 'full' | 'ci';

export type Stop =
  | { kind: 'kill'; afterMs: number; whileOpening: boolean }
  | { kind: 'power'; afterMs: number }
  | { kind: 'point'; point: string; pass: number; fallbackMs: number };

export interface Target {
  readonly name: TargetName;
  /** The crash points its workload passes (for the current data directory). */
  readonly points: readonly string[];
  /** Upper bound of the random moment of a kill or power cut, in ms after the child is ready. */
  readonly busyMs: number;
  /** How long an armed crash point has to fire after the child is ready before it is killed anyway. */
  readonly pointWaitMs: number;
  /** Counts of what was checked, for the report. */
  readonly checks: Record<string, number>;
  /** Starts over in a fresh directory. */
  reset(dir: string, rand: Prng): Promise<void>;
  /**
   * Runs a child until it stops as `stop` says, then checks the directory; throws an Error whose
   * message ends with `[where]` at a broken promise. `last`: the directory's last iteration (check
   * it whatever the PRNG says). Resolves whether the child died at its armed crash point.
   */
  iteration(stop: Stop, rand: Prng, where: string, last: boolean): Promise<{ fired: boolean }>;
  close(): Promise<void>;
}

export async function createTarget(name: TargetName, workload: Workload): Promise<Target> {
  switch (name) {
    case 'log':
      return new (await import('./log-target')).LogTarget(workload);
    case 'broker':
      return new (await import('./broker-target')).BrokerTarget(workload);
    case 'server':
      return new (await import('./server-target')).ServerTarget(workload);
  }
}

/** Whether a child's stderr says it died at its crash point (see crash_point.h). */
export function crashPointFired(stderr: string): boolean {
  return stderr.includes('sluice crash point ');
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child run through test/helpers/broker-spawn.cjs. */
export interface ChildHandle {
  lines: string[];
  stderr: string;
  exited: Promise<ChildExit>;
  waitFor(pred: (lines: string[]) => boolean, what?: string): Promise<void>;
  kill9(): Promise<ChildExit>;
}

/** The environment a child needs for `stop`: fault injection for a power loss, or its crash point. */
export function crashEnv(stop: Stop): Record<string, string> {
  if (stop.kind === 'power') return { SLUICE_FAULT_INJECTION: '1' };
  if (stop.kind === 'point') return { SLUICE_CRASH_POINT: `${stop.point}:${stop.pass}` };
  return {};
}

/** A function that throws `what` tagged with the iteration (see Target.iteration). */
export function failer(where: string): (what: string) => never {
  return (what: string): never => {
    throw new Error(`${what} [${where}]`);
  };
}

/**
 * Checks that `child` (a broker or server child, which says `error ...` when it fails and `power`
 * after a simulated power loss) stopped as `stop` asked; resolves whether it died at its point.
 */
export function checkStopped(child: ChildHandle, exit: ChildExit, stop: Stop, fail: (what: string) => never): boolean {
  const error = child.lines.find((l) => l.startsWith('error '));
  if (error !== undefined) fail(`the child failed: ${error} ${child.stderr}`);
  if (stop.kind === 'power' && (exit.code !== 0 || !child.lines.includes('power'))) fail(`the child did not finish with a power loss (code ${exit.code}, signal ${exit.signal}): ${child.stderr}`);
  if (stop.kind !== 'power' && exit.signal !== 'SIGKILL') fail(`the child exited by itself (code ${exit.code}): ${child.stderr}`);
  return crashPointFired(child.stderr);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
