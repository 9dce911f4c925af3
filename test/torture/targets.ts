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

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
