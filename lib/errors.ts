/**
 * The one catalogue of Sluice error codes. Every error the engine raises on purpose is a
 * SluiceError whose `code` is one of these; argument mistakes are TypeError or RangeError.
 */
export const ErrorCode = {
  /** The log (or broker) was closed. */
  CLOSED: 'CLOSED',
  /** Another handle, in this or another process, has the directory open. */
  LOCKED: 'LOCKED',
  /** Durable bytes failed a checksum or structure check; `path` and `position` say where. */
  CORRUPT: 'CORRUPT',
  /** An offset below the log start or beyond the log end. */
  OFFSET_OUT_OF_RANGE: 'OFFSET_OUT_OF_RANGE',
  /** A message over `messageBytesMax`. */
  TOO_LARGE: 'TOO_LARGE',
  /** A system call failed; `errno`, `syscall` and `path` say which. */
  IO: 'IO',
  /** The file system is full (ENOSPC or EDQUOT); appends work again once space is freed. */
  NO_SPACE: 'NO_SPACE',
  /** A flush failed, so the log stopped accepting writes (fail-stop); reopen it to recover. */
  READ_ONLY: 'READ_ONLY',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class SluiceError extends Error {
  readonly code: ErrorCode;
  /** For IO and NO_SPACE: the errno number and the system call. */
  errno?: number;
  syscall?: string;
  /** The file concerned, when there is one. */
  path?: string;
  /** For CORRUPT: the byte position in `path`. */
  position?: number;
  /** For appendBatch failures: how many messages of the batch were appended before it. */
  appended?: number;

  constructor(message: string, code: ErrorCode) {
    super(message);
    this.name = 'SluiceError';
    this.code = code;
  }
}
