/**
 * Named points where a crash test's child process kills itself (SIGKILL), to prove that the
 * broker recovers from a crash exactly there, not only at random moments. Set
 * SLUICE_CRASH_POINT=<name> in the child's environment; otherwise each point costs one
 * comparison. The points (where the code calls crashPoint):
 *   txn.before-commit-point   a transaction's partitions are flushed, its commit not recorded
 *   txn.after-commit-point    its commit point is durable, no marker written
 *   txn.between-markers       its first partition's marker is durable, the others' not written
 *   txn.after-markers         every marker is durable, TXN_DONE not recorded
 *   mirror.before-commit      `sluice mirror` sent a transaction's records, not its EndTxn
 */
const wanted = process.env.SLUICE_CRASH_POINT;

/** Whether the child was told to crash at `name` (to do work that only matters then). */
export function crashPointArmed(name: string): boolean {
  return wanted === name;
}

/** Kills this process with SIGKILL if it was told to crash at `name`. */
export function crashPoint(name: string): void {
  if (wanted !== name) return;
  process.kill(process.pid, 'SIGKILL');
}
