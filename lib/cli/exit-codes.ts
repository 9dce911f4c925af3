/**
 * The exit codes of every `sluice` command: 0 done; 1 a failure while running (the message says
 * what; serve: also a second signal, which exits without waiting; verify: damage found); 2 a
 * usage error (unknown command or option, bad value).
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A usage error found by a command itself (not by the argument parser): printed, exit code 2. */
export class UsageError extends Error {}
