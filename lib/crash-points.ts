/**
 * Named points where a crash test's child process kills itself (SIGKILL), to prove that the
 * broker recovers from a crash exactly there, not only at random moments. Set
 * SLUICE_CRASH_POINT=<name> in the child's environment to die the first time the point is passed,
 * or <name>:<K> to die the K-th time; otherwise each point costs one comparison. Just before
 * dying a point writes "sluice crash point <name> pass <K>" to stderr. The points (where the
 * code calls crashPoint):
 *   txn.before-commit-point   a transaction's partitions are flushed, its commit not recorded
 *   txn.after-commit-point    its commit point is durable, no marker written
 *   txn.between-markers       its first partition's marker is durable, the others' not written
 *   txn.after-markers         every marker is durable, TXN_DONE not recorded
 *   group.checkpoint-opened   a group-state checkpoint's new generation holds its snapshot, not
 *                             yet flushed
 *   group.checkpoint-flushed  the snapshot is durable, broker.json still names the old generation
 *   group.checkpoint-named    broker.json names the new generation, the old one not yet removed
 *   mirror.before-commit      `sluice mirror` sent a transaction's records, not its EndTxn
 * The native core's points (log.mid-roll, index.mid-write, checkpoint.mid-write, meta.mid-write)
 * are listed in native/include/sluice/crash_point.h; the same variable arms them.
 */
export const CRASH_POINTS = [
  'txn.before-commit-point',
  'txn.after-commit-point',
  'txn.between-markers',
  'txn.after-markers',
  'group.checkpoint-opened',
  'group.checkpoint-flushed',
  'group.checkpoint-named',
  'mirror.before-commit',
] as const;
export type CrashPointName = (typeof CRASH_POINTS)[number];

function parse(spec: string | undefined): { name: string | undefined; pass: number } {
  if (spec === undefined) return { name: undefined, pass: 1 };
  const colon = spec.indexOf(':');
  if (colon < 0) return { name: spec, pass: 1 };
  const pass = Number(spec.slice(colon + 1));
  if (!Number.isSafeInteger(pass) || pass < 1) return { name: undefined, pass: 1 };
  return { name: spec.slice(0, colon), pass };
}

const { name: wanted, pass: wantedPass } = parse(process.env.SLUICE_CRASH_POINT);
let passes = 0;

/** Whether the child was told to crash at `name` (to do work that only matters then). */
export function crashPointArmed(name: CrashPointName): boolean {
  return wanted === name;
}

/** Kills this process with SIGKILL if it was told to crash at `name` on this pass. */
export function crashPoint(name: CrashPointName): void {
  if (wanted !== name) return;
  if (++passes !== wantedPass) return;
  process.stderr.write(`sluice crash point ${name} pass ${wantedPass}\n`);
  process.kill(process.pid, 'SIGKILL');
}
