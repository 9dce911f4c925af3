/**
 * ListOffsets: -2 the log start (earliest), -1 the high watermark (latest; with no transactions the
 * last stable offset is the same), a timestamp the first offset whose timestamp is at or after it
 * (-1 and -1 when there is none). A topic the principal may not describe is TOPIC_AUTHORIZATION_FAILED.
 */
import { decodeListOffsetsRequest, encodeListOffsetsResponse, type ListOffsetsRequest, type ListOffsetsResponse, type ListOffsetsResponseListOffsetsPartitionResponse } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { kafkaErrorOf, partitionOf } from './errors';
import { refusal } from './authorize';
import type { ApiHandler, RequestContext } from './handler';

const LATEST = -1;
const EARLIEST = -2;

function handle(ctx: RequestContext, req: ListOffsetsRequest): ListOffsetsResponse {
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => lookUp(ctx, t.name, p.partitionIndex, p.timestamp)) })),
  };
}

function lookUp(ctx: RequestContext, topic: string, index: number, timestamp: number): ListOffsetsResponseListOffsetsPartitionResponse {
  const refused = refusal(ctx, 'describe', 'topic', topic);
  if (refused !== KafkaError.NONE) return { ...found(index, -1, -1), errorCode: refused };
  const partition = partitionOf(ctx.server.broker, topic, index);
  if ('errorCode' in partition) return { ...found(index, -1, -1), errorCode: partition.errorCode };
  try {
    const { startOffset, highWatermark } = partition.offsets();
    if (timestamp === LATEST) return found(index, -1, highWatermark);
    if (timestamp === EARLIEST) return found(index, -1, startOffset);
    if (timestamp < 0) return { ...found(index, -1, -1), errorCode: KafkaError.INVALID_REQUEST };
    // Past any timestamp a record can have (int64 values beyond 2^53 arrive rounded): none.
    if (timestamp > Number.MAX_SAFE_INTEGER) return found(index, -1, -1);
    const offset = partition.offsetForTime(timestamp);
    if (offset >= highWatermark) return found(index, -1, -1);
    // The record's own timestamp, as Kafka answers (offsetsForTimes hands it to users).
    return found(index, partition.timestampAt(offset) ?? timestamp, offset);
  } catch (e) {
    return { ...found(index, -1, -1), errorCode: kafkaErrorOf(e) };
  }
}

function found(partitionIndex: number, timestamp: number, offset: number): ListOffsetsResponseListOffsetsPartitionResponse {
  return { partitionIndex, errorCode: KafkaError.NONE, timestamp, offset, leaderEpoch: 0 };
}

export const listOffsetsHandler: ApiHandler<ListOffsetsRequest, ListOffsetsResponse> = {
  key: 2,
  decode: decodeListOffsetsRequest,
  encode: encodeListOffsetsResponse,
  handle,
};
