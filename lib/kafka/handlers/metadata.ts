/**
 * Metadata: this one node is every partition's leader, its only replica and the controller (a
 * failed partition lists it as offline too, see below). Topics
 * asked for that do not exist are created when the server allows it and the request does (v4+;
 * older versions always ask), with the server's topic defaults, as Kafka's auto.create.topics.enable.
 * Authorization as Kafka's: a topic named that the principal may not describe, or that does not
 * exist and it may not create, is TOPIC_AUTHORIZATION_FAILED; a listing of every topic leaves out
 * those it may not describe.
 */
import { ErrorCode, SluiceError } from '../../errors';
import type { TopicDescription } from '../../broker/describe';
import { decodeMetadataRequest, encodeMetadataResponse, type MetadataRequest, type MetadataResponse, type MetadataResponseTopic } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { authorized, mayCreateTopic, OPERATIONS_UNKNOWN } from './authorize';
import type { ApiHandler, RequestContext } from './handler';


async function handle(ctx: RequestContext, req: MetadataRequest, version: number): Promise<MetadataResponse> {
  const { broker, nodeId } = ctx.server;
  // v0: an empty list means every topic; v1+: null does, and an empty list means none.
  const all = req.topics === null || (version === 0 && req.topics.length === 0);
  // Listing every topic omits those the principal may not describe; one named is refused.
  const names = all ? broker.listTopics().filter((name) => authorized(ctx, 'describe', 'topic', name)) : req.topics!.map((t) => t.name);
  const mayCreate = ctx.server.autoCreateTopics && (version < 4 || req.allowAutoTopicCreation !== false);
  const topics: MetadataResponseTopic[] = [];
  for (const name of names) {
    if (all || authorized(ctx, 'describe', 'topic', name)) topics.push(await describeOrCreate(ctx, name, !all && mayCreate, nodeId));
    else topics.push(topicError(name, KafkaError.TOPIC_AUTHORIZATION_FAILED));
  }
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
    if (!mayCreateTopic(ctx, name)) return topicError(name, KafkaError.TOPIC_AUTHORIZATION_FAILED);
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
