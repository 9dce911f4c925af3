/**
 * Fault injection for tests, available only when the process starts with
 * SLUICE_FAULT_INJECTION=1 (the addon offers nothing otherwise, and normal runs pay nothing).
 * Simulated power loss is a method of Log: `log.simulatePowerLoss()`.
 */
import { native } from '../native';

export type FaultKind = 'sync' | 'allocate' | 'write';
export type FaultErrno = 'EIO' | 'ENOSPC';

export const faultInjection = {
  get available(): boolean {
    return typeof native.armFault === 'function';
  },
  /**
   * Fails the next `count` calls of a kind: 'sync' (fdatasync/fsync/msync), 'allocate' (a new
   * segment's space reservation) or 'write' (the writer thread's pwrite of sealed batches, writePath 'pwrite').
   * With `pathPart`, only calls on a file or directory whose path contains it count (and fail):
   * a partition's directory, say, so that the other logs of the process keep working.
   */
  arm(kind: FaultKind, errno: FaultErrno, count = 1, pathPart = ''): void {
    if (typeof native.armFault !== 'function') throw new Error('fault injection needs SLUICE_FAULT_INJECTION=1 in the environment');
    if (typeof pathPart !== 'string') throw new TypeError('pathPart must be a string');
    native.armFault(kind, errno, count, pathPart);
  },
  disarm(kind: FaultKind): void {
    if (typeof native.armFault === 'function') native.armFault(kind, 'EIO', 0);
  },
};
