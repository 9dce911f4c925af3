/**
 * One owner per directory, across threads and processes, for directories that are not a Log (a
 * Log locks its own): an exclusive flock(2) on `<dir>/.lock` held until `release()`
 * (native/include/sluice/dir_lock.h). A second lock of the same directory, here or in another
 * process, fails with LOCKED: "the <what> <dir> is already open (in this or another process)".
 * The kernel drops the lock when the process dies, so a crash never leaves a directory locked.
 */
import { native, type NativeDirectoryLock } from '../native';

export type DirectoryLock = NativeDirectoryLock;

/** Locks the existing directory `dir`; `what` names it in the LOCKED message ("broker directory"). */
export function lockDirectory(dir: string, what: string): DirectoryLock {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty string');
  if (typeof what !== 'string' || what.length === 0) throw new TypeError('what must be a non-empty string');
  return native.lockDirectory(dir, what);
}
