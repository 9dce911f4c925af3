/**
 * The one catalogue of Sluice error codes. Every error the engine raises on purpose is a
 * SluiceError whose `code` is one of these; argument mistakes are TypeError or RangeError.
 */
export const ErrorCode = {
  /** The log (or broker) was closed. */
  CLOSED: 'CLOSED',
  /** Another handle, in this or another process, has the directory open. */
  LOCKED: 'LOCKED',
  /**
   * Durable bytes failed a checksum or structure check; `path` and `position` say where. From
   * appendRaw: a batch given failed them; `position` is its byte position in the input (no `path`).
   */
  CORRUPT: 'CORRUPT',
  /** An offset below the log start or beyond the log end. */
  OFFSET_OUT_OF_RANGE: 'OFFSET_OUT_OF_RANGE',
  /** A message over `messageBytesMax`. */
  TOO_LARGE: 'TOO_LARGE',
  /** A system call failed; `errno`, `syscall` and `path` say which. */
  IO: 'IO',
  /** The file system is full (ENOSPC or EDQUOT); appends work again once space is freed. */
  NO_SPACE: 'NO_SPACE',
  /** The log was opened `readOnly`, or a flush failed so it stopped accepting writes (fail-stop; reopen it to recover). */
  READ_ONLY: 'READ_ONLY',
  /** Broker: no topic of that name. */
  UNKNOWN_TOPIC: 'UNKNOWN_TOPIC',
  /** Broker: a topic of that name already exists. */
  TOPIC_EXISTS: 'TOPIC_EXISTS',
  /** Broker: no consumer group of that name. */
  UNKNOWN_GROUP: 'UNKNOWN_GROUP',
  /** Broker: the group has members, so it cannot be deleted. */
  GROUP_ACTIVE: 'GROUP_ACTIVE',
  /** Broker: the group exists with the other delivery model ('offset' or 'ack'). */
  GROUP_MODEL_MISMATCH: 'GROUP_MODEL_MISMATCH',
  /** Broker: the operation belongs to the other delivery model (seek on an ack group, ack on an offset group). */
  WRONG_MODEL: 'WRONG_MODEL',
  /** Broker: the topic's backlog is at its maxBacklog (and the send did not wait, or waited in vain). */
  QUEUE_FULL: 'QUEUE_FULL',
  /** Broker: the message was already acked (by this delivery or an earlier one) or nacked. */
  ALREADY_ACKED: 'ALREADY_ACKED',
  /** Broker: the message was delivered to another consumer group. */
  WRONG_GROUP: 'WRONG_GROUP',
  /** Broker: the partition is not assigned to this consumer. */
  NOT_ASSIGNED: 'NOT_ASSIGNED',
  /** Broker, explain: no such delayed message in the delay store (never sent, or moved and deleted long ago). */
  UNKNOWN_MESSAGE: 'UNKNOWN_MESSAGE',
  /**
   * Broker: a message value marked `sluice.codec: msgpack` whose bytes do not decode (written by
   * another client, or by another version); thrown by `msg.value`, and passed to run()'s onError
   * for a delivery that failed for it (the handler is not called; the message is retried).
   */
  UNDECODABLE: 'UNDECODABLE',
  /** Broker: the transaction was committed or aborted (or is committing): it takes nothing more. */
  TRANSACTION_ENDED: 'TRANSACTION_ENDED',
  /** Broker: broker.transaction() called inside another transaction's function (transactions do not nest). */
  TRANSACTION_NESTED: 'TRANSACTION_NESTED',
  /**
   * Broker, Kafka transactions: a transactional id's producer used an epoch that is no longer its
   * current one (a newer producer initialised the same transactional id, or the broker aborted
   * the transaction for its timeout or at a restart, which bumps the epoch).
   */
  PRODUCER_FENCED: 'PRODUCER_FENCED',
  /** Broker, Kafka transactions: the producer id is not the one the transactional id has (or the id is unknown). */
  UNKNOWN_PRODUCER_ID: 'UNKNOWN_PRODUCER_ID',
  /**
   * Broker, Kafka transactions: the operation does not fit the transaction's state: a
   * transactional batch to a partition not added to an open transaction, offsets of a group not
   * added, an end with no transaction open (or the other outcome than the one just reached).
   */
  INVALID_TRANSACTION_STATE: 'INVALID_TRANSACTION_STATE',
  /**
   * Kafka server: a request that does not decode (cut short, a length or count past the end of its
   * frame, a null where none is allowed, an unknown API version); the server closes the connection.
   */
  MALFORMED_REQUEST: 'MALFORMED_REQUEST',
  /**
   * Kafka server: a SASL exchange failed (wrong credentials, a malformed token, a step out of
   * order); the server answers SASL_AUTHENTICATION_FAILED and closes the connection.
   */
  AUTHENTICATION_FAILED: 'AUTHENTICATION_FAILED',
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
