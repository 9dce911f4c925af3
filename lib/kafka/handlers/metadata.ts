/**
 * Metadata: this one node is every partition's leader, its only replica and the controller (a
 * failed partition lists it as offline too, see below). Topics
 * asked for that do not exist are created when the server allows it and the request does (v4+;
 * older versions always ask), with the server's topic defaults, as Kafka's auto.create.topics.enable.
 */
import { ErrorCode, SluiceError } from '../../errors';
import type { TopicDescription } from '../../broker/describe';
import { decodeMetadataRequest, encodeMetadataResponse, type MetadataRequest, type MetadataResponse, type MetadataResponseTopic } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import type { ApiHandler, RequestContext } from './handler';

/** "Not known": the value Kafka gives authorized-operations fields nobody asked for. */
const OPERATIONS_UNKNOWN = -2147483648;

async function handle(ctx: RequestContext, req: MetadataRequest, version: number): Promise<MetadataResponse> {
  const { broker, nodeId } = ctx.server;
  // v0: an empty list means every topic; v1+: null does, and an empty list means none.
  const all = req.topics === null || (version === 0 && req.topics.length === 0);
  const names = all ? broker.listTopics() : req.topics!.map((t) => t.name);
  const mayCreate = ctx.server.autoCreateTopics && (version < 4 || req.allowAutoTopicCreation !== false);
  const topics: MetadataResponseTopic[] = [];
  for (const name of names) topics.push(await describeOrCreate(ctx, name, !all && mayCreate, nodeId));
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId, host: ctx.server.advertisedHost, port: ctx.server.advertisedPort, rack: null }],
    clusterId: ctx.server.clusterId,
    controllerId: nodeId,
    topics,
    clusterAuthorizedOperations: OPERATIONS_UNKNOWN,
  };
}

async function describeOrCreate(ctx: RequestContext, name: string, mayCreate: boolean, nodeId: number): Promise<MetadataResponseTopic> {
  const { broker } = ctx.server;
  let description: TopicDescription | null = null;
  try {
    description = broker.describeTopic(name);
  } catch (e) {
    if (!(e instanceof SluiceError && e.code === ErrorCode.UNKNOWN_TOPIC)) throw e;
  }
  if (description === null && mayCreate) {
    try {
      description = await broker.createTopic(name, ctx.server.topicDefaults);
    } catch (e) {
      if (e instanceof SluiceError && e.code === ErrorCode.TOPIC_EXISTS) {
        // Made by a request racing this one (or deleted again at once: unknown, then).
        try {
          description = broker.describeTopic(name);
        } catch {
          return topicError(name, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
        }
      } else if (e instanceof TypeError || e instanceof RangeError) return topicError(name, KafkaError.INVALID_TOPIC_EXCEPTION);
      else throw e;
    }
  }
  if (description === null) return topicError(name, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
  return {
    errorCode: KafkaError.NONE,
    name,
    isInternal: false,
    partitions: description.partitions.map((p) => ({
      errorCode: KafkaError.NONE,
      partitionIndex: p.partition,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      // A failed partition (fail-stop) names this node an offline replica (v5+) but keeps it the
      // leader with no error: kafkajs 2.2.4 fails a whole Metadata request on any partition
      // error, and the partition still serves fetches of what it holds. Produce says the rest.
      offlineReplicas: p.failure === null ? [] : [nodeId],
    })),
    topicAuthorizedOperations: OPERATIONS_UNKNOWN,
  };
}

function topicError(name: string, errorCode: number): MetadataResponseTopic {
  return { errorCode, name, isInternal: false, partitions: [], topicAuthorizedOperations: OPERATIONS_UNKNOWN };
}

export const metadataHandler: ApiHandler<MetadataRequest, MetadataResponse> = {
  key: 3,
  decode: decodeMetadataRequest,
  encode: encodeMetadataResponse,
  handle,
};
