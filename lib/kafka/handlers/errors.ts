/** Sluice errors as the Kafka error code a client acts on (retries, refreshes metadata, gives up). */
import { ErrorCode, SluiceError } from '../../errors';
import { KafkaError } from '../protocol/error-codes';

export function kafkaErrorOf(e: unknown): number {
  if (e instanceof RangeError) return KafkaError.UNKNOWN_TOPIC_OR_PARTITION; // a partition the topic does not have
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
    default:
      return KafkaError.UNKNOWN_SERVER_ERROR;
  }
}
