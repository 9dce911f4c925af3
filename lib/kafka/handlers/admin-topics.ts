/**
 * CreateTopics, DeleteTopics, CreatePartitions and DescribeConfigs (topics), enough for kafkajs's
 * admin client and kcat. A topic created here takes its settings from the request's Kafka configs
 * (../topic-configs.ts) over the server's defaults; one node means a replication factor of 1
 * (-1: the default) and no replica assignments. Authorization as Kafka's: create on the cluster or
 * the topic (CreateTopics), delete (DeleteTopics), alter (CreatePartitions), describe-configs on
 * the topic or, for the broker's configs, the cluster (DescribeConfigs); a refusal is
 * TOPIC_AUTHORIZATION_FAILED (CLUSTER_AUTHORIZATION_FAILED for the broker) for that topic alone.
 */
import { ErrorCode, SluiceError } from '../../errors';
import { LIMITS } from '../../limits';
import { PARTITIONS_MAX } from '../../broker/topic/topic-config';
import {
  decodeCreatePartitionsRequest,
  encodeCreatePartitionsResponse,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
  decodeCreateTopicsRequest,
  decodeDeleteTopicsRequest,
  decodeDescribeConfigsRequest,
  encodeCreateTopicsResponse,
  encodeDeleteTopicsResponse,
  encodeDescribeConfigsResponse,
  type CreateTopicsRequest,
  type CreateTopicsRequestCreatableTopic,
  type CreateTopicsResponse,
  type CreateTopicsResponseCreatableTopicResult,
  type DeleteTopicsRequest,
  type DeleteTopicsResponse,
  type DescribeConfigsRequest,
  type DescribeConfigsResponse,
  type DescribeConfigsResponseDescribeConfigsResult,
} from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { topicIdOf, topicNamed, ZERO_TOPIC_ID } from '../topic-ids';
import { ConfigError, fromKafkaConfigs, toKafkaConfigs } from '../topic-configs';
import { errorMessageOf, kafkaErrorOf } from './errors';
import { CLUSTER_NAME } from '../acl/acl';
import { authorized, clusterRefusal, mayCreateTopic, refusal, refusedMessage } from './authorize';
import type { ApiHandler, RequestContext } from './handler';

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;
/** DescribeConfigs config sources. */
const DYNAMIC_TOPIC_CONFIG = 1;

async function createTopics(ctx: RequestContext, req: CreateTopicsRequest): Promise<CreateTopicsResponse> {
  const topics: CreateTopicsResponseCreatableTopicResult[] = [];
  for (const t of req.topics) topics.push(await createOne(ctx, t, req.validateOnly === true));
  return { throttleTimeMs: 0, topics };
}

async function createOne(ctx: RequestContext, t: CreateTopicsRequestCreatableTopic, validateOnly: boolean): Promise<CreateTopicsResponseCreatableTopicResult> {
  const fail = (errorCode: number, errorMessage: string): CreateTopicsResponseCreatableTopicResult => ({ name: t.name, topicId: ZERO_TOPIC_ID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null });
  if (!mayCreateTopic(ctx, t.name)) return fail(KafkaError.TOPIC_AUTHORIZATION_FAILED, refusedMessage(ctx, 'create', 'topic', t.name));
  if (t.replicationFactor !== -1 && t.replicationFactor !== 1) return fail(KafkaError.INVALID_REPLICATION_FACTOR, `replication factor ${t.replicationFactor}: this is a single node (use 1 or -1)`);
  if (t.assignments.length > 0) return fail(KafkaError.INVALID_REQUEST, 'replica assignments are not supported on a single node (give numPartitions instead)');
  if (t.numPartitions !== -1 && t.numPartitions < 1) return fail(KafkaError.INVALID_PARTITIONS, `numPartitions ${t.numPartitions}: give at least 1 (or -1 for the default)`);
  let config;
  try {
    config = { ...ctx.server.topicDefaults, ...fromKafkaConfigs(t.configs), ...(t.numPartitions === -1 ? {} : { partitions: t.numPartitions }) };
  } catch (e) {
    if (e instanceof ConfigError) return fail(KafkaError.INVALID_CONFIG, errorMessageOf(e));
    throw e;
  }
  const broker = ctx.server.broker;
  if (broker.listTopics().includes(t.name)) return fail(KafkaError.TOPIC_ALREADY_EXISTS, errorMessageOf(`topic ${t.name} already exists`));
  if (validateOnly) return { name: t.name, topicId: ZERO_TOPIC_ID, errorCode: KafkaError.NONE, errorMessage: null, numPartitions: config.partitions ?? 1, replicationFactor: 1, configs: [] };
  try {
    const d = await broker.createTopic(t.name, config);
    // The configs go back only to a principal that may describe them (KIP-525), as in Kafka.
    const configsRefused = refusal(ctx, 'describe-configs', 'topic', t.name);
    const configs = configsRefused !== KafkaError.NONE ? [] : describedConfigs(d.config).map((c) => ({ ...c, readOnly: false, configSource: DYNAMIC_TOPIC_CONFIG, isSensitive: false }));
    return { name: t.name, topicId: topicIdOf(t.name, d.createdAt), errorCode: KafkaError.NONE, errorMessage: null, topicConfigErrorCode: configsRefused, numPartitions: d.config.partitions, replicationFactor: 1, configs };
  } catch (e) {
    if (e instanceof SluiceError && e.code === ErrorCode.TOPIC_EXISTS) return fail(KafkaError.TOPIC_ALREADY_EXISTS, errorMessageOf(e));
    if (e instanceof TypeError || e instanceof RangeError) return fail(/name/.test(e.message) ? KafkaError.INVALID_TOPIC_EXCEPTION : KafkaError.INVALID_CONFIG, errorMessageOf(e));
    return fail(kafkaErrorOf(e), errorMessageOf(e));
  }
}

function describedConfigs(config: Parameters<typeof toKafkaConfigs>[0]): { name: string; value: string }[] {
  return toKafkaConfigs(config, LIMITS.messageBytesMaxDefault);
}

/** DeleteTopics: by name (v0-5), or from v6 by name or topic id. */
async function deleteTopics(ctx: RequestContext, req: DeleteTopicsRequest, version: number): Promise<DeleteTopicsResponse> {
  const broker = ctx.server.broker;
  const asked = version >= 6 ? (req.topics ?? []) : (req.topicNames ?? []).map((name) => ({ name, topicId: ZERO_TOPIC_ID }));
  const responses = [];
  for (const t of asked) {
    const name = t.name ?? topicNamed(broker, t.topicId);
    if (name === null) {
      responses.push({ name: null, topicId: t.topicId, errorCode: KafkaError.UNKNOWN_TOPIC_ID, errorMessage: 'no topic has this id' });
      continue;
    }
    // By id, a topic the principal may not describe is refused without its name (ids are not secret).
    const refused = t.name === null && !authorized(ctx, 'describe', 'topic', name) ? KafkaError.TOPIC_AUTHORIZATION_FAILED : refusal(ctx, 'delete', 'topic', name);
    if (refused !== KafkaError.NONE) {
      responses.push({ name: t.name, topicId: t.topicId, errorCode: refused, errorMessage: refusedMessage(ctx, 'delete', 'topic', t.name ?? `with id ${t.topicId}`) });
      continue;
    }
    let topicId = t.topicId;
    try {
      topicId = topicIdOf(name, broker.describeTopic(name).createdAt);
      await broker.deleteTopic(name);
      responses.push({ name, topicId, errorCode: KafkaError.NONE, errorMessage: null });
    } catch (e) {
      responses.push({ name, topicId, errorCode: kafkaErrorOf(e), errorMessage: errorMessageOf(e) });
    }
  }
  return { throttleTimeMs: 0, responses };
}

function describeConfigs(ctx: RequestContext, req: DescribeConfigsRequest, version: number): DescribeConfigsResponse {
  return { throttleTimeMs: 0, results: req.resources.map((r) => describeOne(ctx, r.resourceType, r.resourceName, r.configurationKeys, version)) };
}

function describeOne(ctx: RequestContext, resourceType: number, resourceName: string, keys: string[] | null, version: number): DescribeConfigsResponseDescribeConfigsResult {
  const result = (errorCode: number, errorMessage: string | null, configs: { name: string; value: string }[]): DescribeConfigsResponseDescribeConfigsResult => ({
    errorCode,
    errorMessage,
    resourceType,
    resourceName,
    configs: configs
      .filter((c) => keys === null || keys.includes(c.name))
      .map((c) => ({ name: c.name, value: c.value, readOnly: resourceType !== RESOURCE_TOPIC, isDefault: false, configSource: version >= 1 ? DYNAMIC_TOPIC_CONFIG : undefined, isSensitive: false, synonyms: [], configType: 0, documentation: null })),
  });
  if (resourceType === RESOURCE_BROKER) {
    const refused = clusterRefusal(ctx, 'describe-configs');
    if (refused !== KafkaError.NONE) return result(refused, refusedMessage(ctx, 'describe-configs', 'cluster', CLUSTER_NAME), []);
    return result(KafkaError.NONE, null, [{ name: 'auto.create.topics.enable', value: String(ctx.server.autoCreateTopics) }]);
  }
  if (resourceType !== RESOURCE_TOPIC) return result(KafkaError.INVALID_REQUEST, `resource type ${resourceType} is not supported (2: topic, 4: broker)`, []);
  const refused = refusal(ctx, 'describe-configs', 'topic', resourceName);
  if (refused !== KafkaError.NONE) return result(refused, refusedMessage(ctx, 'describe-configs', 'topic', resourceName), []);
  try {
    return result(KafkaError.NONE, null, describedConfigs(ctx.server.broker.describeTopic(resourceName).config));
  } catch (e) {
    return result(kafkaErrorOf(e), errorMessageOf(e), []);
  }
}

/**
 * CreatePartitions: each topic grows to `count` partitions (Broker.addPartitions). Fewer or as
 * many as it has is INVALID_PARTITIONS, as in Kafka; replica assignments may only name this node.
 */
async function createPartitions(ctx: RequestContext, req: CreatePartitionsRequest): Promise<CreatePartitionsResponse> {
  const results = [];
  for (const t of req.topics) {
    const fail = (errorCode: number, errorMessage: string) => ({ name: t.name, errorCode, errorMessage });
    const broker = ctx.server.broker;
    const refused = refusal(ctx, 'alter', 'topic', t.name);
    if (refused !== KafkaError.NONE) {
      results.push(fail(refused, refusedMessage(ctx, 'alter', 'topic', t.name)));
      continue;
    }
    if (t.assignments !== null && t.assignments.some((a) => a.brokerIds.some((id) => id !== ctx.server.nodeId))) {
      results.push(fail(KafkaError.INVALID_REPLICA_ASSIGNMENT, `this is a single node: assignments may only name broker ${ctx.server.nodeId}`));
      continue;
    }
    let current: number;
    try {
      current = broker.describeTopic(t.name).config.partitions;
    } catch (e) {
      results.push(fail(kafkaErrorOf(e), errorMessageOf(e)));
      continue;
    }
    if (t.count <= current || t.count > PARTITIONS_MAX) {
      results.push(fail(KafkaError.INVALID_PARTITIONS, `topic ${t.name} has ${current} partitions: ask for more than that and at most ${PARTITIONS_MAX}`));
      continue;
    }
    if (req.validateOnly) {
      results.push({ name: t.name, errorCode: KafkaError.NONE, errorMessage: null });
      continue;
    }
    try {
      await broker.addPartitions(t.name, t.count);
      results.push({ name: t.name, errorCode: KafkaError.NONE, errorMessage: null });
    } catch (e) {
      results.push(fail(kafkaErrorOf(e), errorMessageOf(e)));
    }
  }
  return { throttleTimeMs: 0, results };
}

export const createPartitionsHandler: ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse> = { key: 37, decode: decodeCreatePartitionsRequest, encode: encodeCreatePartitionsResponse, handle: createPartitions };
export const createTopicsHandler: ApiHandler<CreateTopicsRequest, CreateTopicsResponse> = { key: 19, decode: decodeCreateTopicsRequest, encode: encodeCreateTopicsResponse, handle: createTopics };
export const deleteTopicsHandler: ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse> = { key: 20, decode: decodeDeleteTopicsRequest, encode: encodeDeleteTopicsResponse, handle: deleteTopics };
export const describeConfigsHandler: ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse> = { key: 32, decode: decodeDescribeConfigsRequest, encode: encodeDescribeConfigsResponse, handle: describeConfigs };
