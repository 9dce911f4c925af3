/** Sluice errors as the Kafka error code a client acts on (retries, refreshes metadata, gives up). */
import type { Broker } from '../../broker/broker';
import type { PartitionAccess } from '../../broker/topic/partition-access';
import { ErrorCode, SluiceError } from '../../errors';
import { KafkaError } from '../protocol/error-codes';

/** Error texts sent to clients are cut to this (a protocol string holds at most 32767 bytes). */
const ERROR_MESSAGE_CHARS_MAX = 1000;

/** The text of `e` for a response's errorMessage. */
export function errorMessageOf(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.length <= ERROR_MESSAGE_CHARS_MAX ? text : `${text.slice(0, ERROR_MESSAGE_CHARS_MAX)}...`;
}

/** The partition, or the Kafka error for a topic or partition this broker does not have. */
export function partitionOf(broker: Broker, topic: string, index: number): PartitionAccess | { errorCode: number; message: string } {
  try {
    return broker.partition(topic, index);
  } catch (e) {
    const errorCode = e instanceof RangeError ? KafkaError.UNKNOWN_TOPIC_OR_PARTITION : kafkaErrorOf(e);
    return { errorCode, message: errorMessageOf(e) };
  }
}

export function kafkaErrorOf(e: unknown): number {
  if (!(e instanceof SluiceError)) return KafkaError.UNKNOWN_SERVER_ERROR;
  switch (e.code) {
    case ErrorCode.UNKNOWN_TOPIC:
      return KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
    case ErrorCode.CORRUPT:
      return KafkaError.CORRUPT_MESSAGE;
    case ErrorCode.TOO_LARGE:
      return KafkaError.MESSAGE_TOO_LARGE;
    case ErrorCode.OFFSET_OUT_OF_RANGE:
      return KafkaError.OFFSET_OUT_OF_RANGE;
    // A bounded topic at its maxBacklog: retriable, as a broker short of in-sync replicas is.
    case ErrorCode.QUEUE_FULL:
      return KafkaError.NOT_ENOUGH_REPLICAS;
    // The log cannot take writes (a failed sync, a full disk, a read-only open): the storage error
    // Kafka gives for a failed log directory, which clients retry.
    case ErrorCode.IO:
    case ErrorCode.NO_SPACE:
    case ErrorCode.READ_ONLY:
      return KafkaError.KAFKA_STORAGE_ERROR;
    case ErrorCode.CLOSED:
      return KafkaError.LEADER_NOT_AVAILABLE;
    // Transactions. PRODUCER_FENCED reaches older clients as INVALID_PRODUCER_EPOCH (see fencedFor).
    case ErrorCode.PRODUCER_FENCED:
      return KafkaError.PRODUCER_FENCED;
    case ErrorCode.UNKNOWN_PRODUCER_ID:
      return KafkaError.INVALID_PRODUCER_ID_MAPPING;
    case ErrorCode.INVALID_TRANSACTION_STATE:
      return KafkaError.INVALID_TXN_STATE;
    // A group of that name consumes in process in the ack model: not a Kafka group.
    case ErrorCode.GROUP_MODEL_MISMATCH:
      return KafkaError.INVALID_GROUP_ID;
    default:
      return KafkaError.UNKNOWN_SERVER_ERROR;
  }
}

/**
 * PRODUCER_FENCED (90) as a client of `version` understands it: versions before `firstFencedVersion`
 * (the one whose schema adds the code) get INVALID_PRODUCER_EPOCH (47), which they handle the
 * same way, as Kafka answers them.
 */
export function fencedFor(code: number, version: number, firstFencedVersion: number): number {
  return code === KafkaError.PRODUCER_FENCED && version < firstFencedVersion ? KafkaError.INVALID_PRODUCER_EPOCH : code;
}
