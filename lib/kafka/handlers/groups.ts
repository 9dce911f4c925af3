/**
 * FindCoordinator (this node, for every group and transactional id), JoinGroup, SyncGroup, Heartbeat and LeaveGroup
 * (../groups/coordinator.ts), and OffsetCommit / OffsetFetch, whose offsets are the broker's
 * (Broker.groupOffsets: durable in its group state).
 *
 * Authorization as Kafka's: read on the group to join, sync, heartbeat, leave and commit (and read
 * on each topic committed to), describe on the group and its topics to fetch offsets or describe
 * it, describe on the group or transactional id to find its coordinator; a refused group is
 * GROUP_AUTHORIZATION_FAILED, a refused topic TOPIC_AUTHORIZATION_FAILED for its partitions.
 * ListGroups lists every group for describe on the cluster, else the groups the principal may describe.
 */
import {
  decodeDescribeGroupsRequest,
  decodeListGroupsRequest,
  encodeDescribeGroupsResponse,
  encodeListGroupsResponse,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  type ListGroupsRequest,
  type ListGroupsResponse,
  decodeFindCoordinatorRequest,
  decodeHeartbeatRequest,
  decodeJoinGroupRequest,
  decodeLeaveGroupRequest,
  decodeOffsetCommitRequest,
  decodeOffsetFetchRequest,
  decodeSyncGroupRequest,
  encodeFindCoordinatorResponse,
  encodeHeartbeatResponse,
  encodeJoinGroupResponse,
  encodeLeaveGroupResponse,
  encodeOffsetCommitResponse,
  encodeOffsetFetchResponse,
  encodeSyncGroupResponse,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type LeaveGroupRequest,
  type LeaveGroupResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type OffsetFetchResponsePartition,
  type SyncGroupRequest,
  type SyncGroupResponse,
} from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { errorMessageOf, kafkaErrorOf } from './errors';
import { authorized, clusterRefusal, OPERATIONS_UNKNOWN, refusal, refusedMessage } from './authorize';
import type { ApiHandler, RequestContext } from './handler';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;
/** JoinGroup answers MEMBER_ID_REQUIRED from this version (KIP-394). */
const MEMBER_ID_REQUIRED_FROM = 4;

function findCoordinator(ctx: RequestContext, req: FindCoordinatorRequest, version: number): FindCoordinatorResponse {
  const { nodeId, advertisedHost: host, advertisedPort: port } = ctx.server;
  const keyType = req.keyType ?? KEY_TYPE_GROUP;
  // This node coordinates every group and every transactional id.
  const known = keyType === KEY_TYPE_GROUP || keyType === KEY_TYPE_TRANSACTION;
  const answer = (key: string): { errorCode: number; errorMessage: string | null } => {
    if (!known) return { errorCode: KafkaError.INVALID_REQUEST, errorMessage: `unknown coordinator key type ${keyType} (0 groups, 1 transactions)` };
    const type = keyType === KEY_TYPE_GROUP ? 'group' : 'transactional-id';
    const errorCode = refusal(ctx, 'describe', type, key);
    return { errorCode, errorMessage: errorCode === KafkaError.NONE ? null : refusedMessage(ctx, 'describe', type, key) };
  };
  if (version >= 4) return { throttleTimeMs: 0, coordinators: (req.coordinatorKeys ?? []).map((key) => ({ key, nodeId, host, port, ...answer(key) })) };
  return { throttleTimeMs: 0, ...answer(req.key ?? ''), nodeId, host, port };
}

async function joinGroup(ctx: RequestContext, req: JoinGroupRequest, version: number): Promise<JoinGroupResponse> {
  const refused = refusal(ctx, 'read', 'group', req.groupId);
  if (refused !== KafkaError.NONE) return { throttleTimeMs: 0, errorCode: refused, generationId: -1, protocolName: '', leader: '', memberId: '', members: [] };
  const r = await ctx.server.groups.join({
    groupId: req.groupId,
    memberId: req.memberId,
    clientId: ctx.clientId ?? 'client',
    sessionTimeoutMs: req.sessionTimeoutMs,
    // v0 has no rebalance timeout: the session timeout stands for it, as in Kafka.
    rebalanceTimeoutMs: req.rebalanceTimeoutMs ?? req.sessionTimeoutMs,
    protocolType: req.protocolType,
    protocols: req.protocols,
    requireKnownMemberId: version >= MEMBER_ID_REQUIRED_FROM,
  });
  return { throttleTimeMs: 0, errorCode: r.errorCode, generationId: r.generationId, protocolName: r.protocolName ?? '', leader: r.leader, memberId: r.memberId, members: r.members };
}

async function syncGroup(ctx: RequestContext, req: SyncGroupRequest): Promise<SyncGroupResponse> {
  const refused = refusal(ctx, 'read', 'group', req.groupId);
  if (refused !== KafkaError.NONE) return { throttleTimeMs: 0, errorCode: refused, assignment: Buffer.alloc(0) };
  const r = await ctx.server.groups.sync(req.groupId, req.generationId, req.memberId, req.assignments);
  return { throttleTimeMs: 0, errorCode: r.errorCode, assignment: r.assignment };
}

function heartbeat(ctx: RequestContext, req: HeartbeatRequest): HeartbeatResponse {
  const refused = refusal(ctx, 'read', 'group', req.groupId);
  return { throttleTimeMs: 0, errorCode: refused !== KafkaError.NONE ? refused : ctx.server.groups.heartbeat(req.groupId, req.generationId, req.memberId) };
}

function leaveGroup(ctx: RequestContext, req: LeaveGroupRequest, version: number): LeaveGroupResponse {
  const refused = refusal(ctx, 'read', 'group', req.groupId);
  if (refused !== KafkaError.NONE) return { throttleTimeMs: 0, errorCode: refused, members: version >= 3 ? [] : undefined };
  if (version < 3) {
    const [errorCode] = ctx.server.groups.leave(req.groupId, [req.memberId ?? '']);
    return { throttleTimeMs: 0, errorCode };
  }
  const members = req.members ?? [];
  const codes = ctx.server.groups.leave(req.groupId, members.map((m) => m.memberId));
  return { throttleTimeMs: 0, errorCode: KafkaError.NONE, members: members.map((m, i) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: codes[i] })) };
}

/** The longest commit metadata stored (Kafka's offset.metadata.max.bytes default): longer is OFFSET_METADATA_TOO_LARGE. */
export const OFFSET_METADATA_BYTES_MAX = 4096;

async function offsetCommit(ctx: RequestContext, req: OffsetCommitRequest): Promise<OffsetCommitResponse> {
  const { broker, groups } = ctx.server;
  let offsets;
  try {
    offsets = broker.groupOffsets;
  } catch (e) {
    const errorCode = kafkaErrorOf(e); // the broker is closing
    return { throttleTimeMs: 0, topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })) };
  }
  const groupRefused = refusal(ctx, 'read', 'group', req.groupId);
  const allowed = groupRefused !== KafkaError.NONE ? groupRefused : groups.checkCommit(req.groupId, req.generationId ?? -1, req.memberId ?? '');
  const entries: { topic: string; partition: number; offset: number; metadata: string | null }[] = [];
  const topics = req.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => {
      let errorCode = allowed === KafkaError.NONE ? refusal(ctx, 'read', 'topic', t.name) : allowed;
      if (errorCode === KafkaError.NONE && p.committedMetadata !== null && Buffer.byteLength(p.committedMetadata) > OFFSET_METADATA_BYTES_MAX) errorCode = KafkaError.OFFSET_METADATA_TOO_LARGE;
      if (errorCode === KafkaError.NONE) {
        try {
          offsets.check(req.groupId, t.name, p.partitionIndex);
          entries.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.committedMetadata });
        } catch (e) {
          errorCode = e instanceof RangeError ? KafkaError.UNKNOWN_TOPIC_OR_PARTITION : kafkaErrorOf(e);
        }
      }
      return { partitionIndex: p.partitionIndex, errorCode };
    }),
  }));
  if (entries.length > 0) {
    try {
      await offsets.commit(req.groupId, entries);
    } catch (e) {
      // Not durable: every partition of the request is told so.
      const errorCode = kafkaErrorOf(e);
      for (const t of topics) for (const p of t.partitions) if (p.errorCode === KafkaError.NONE) p.errorCode = errorCode;
      void errorMessageOf(e);
    }
  }
  return { throttleTimeMs: 0, topics };
}

function fetchGroupOffsets(ctx: RequestContext, groupId: string, asked: { name: string; partitionIndexes: number[] }[] | null): { name: string; partitions: OffsetFetchResponsePartition[] }[] | number {
  const refused = refusal(ctx, 'describe', 'group', groupId);
  if (refused !== KafkaError.NONE) return refused;
  let offsets;
  let topics;
  try {
    offsets = ctx.server.broker.groupOffsets;
    // null: every topic the group has committed offsets for (that the principal may describe), every partition of each.
    topics =
      asked ??
      offsets
        .topics(groupId)
        .filter((name) => authorized(ctx, 'describe', 'topic', name))
        .map((name) => ({ name, partitionIndexes: ctx.server.broker.describeTopic(name).partitions.map((p) => p.partition) }));
  } catch (e) {
    return kafkaErrorOf(e); // an ack-model group of that name, or the broker closing
  }
  const o = offsets;
  return topics.map((t) => {
    const topicRefused = refusal(ctx, 'describe', 'topic', t.name);
    let committed: ({ offset: number; metadata: string | null } | null)[];
    try {
      committed = topicRefused !== KafkaError.NONE ? t.partitionIndexes.map(() => null) : o.fetch(groupId, t.name, t.partitionIndexes);
    } catch {
      committed = t.partitionIndexes.map(() => null);
    }
    return {
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex, i) => ({
        partitionIndex,
        committedOffset: committed[i]?.offset ?? -1,
        committedLeaderEpoch: -1,
        metadata: committed[i]?.metadata ?? '',
        errorCode: topicRefused,
      })),
    };
  });
}

function offsetFetch(ctx: RequestContext, req: OffsetFetchRequest, version: number): OffsetFetchResponse {
  if (version >= 8) {
    return {
      throttleTimeMs: 0,
      groups: (req.groups ?? []).map((g) => {
        const found = fetchGroupOffsets(ctx, g.groupId, g.topics);
        if (typeof found === 'number') return { groupId: g.groupId, topics: [], errorCode: found };
        return { groupId: g.groupId, topics: found.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...p, committedLeaderEpoch: -1 })) })), errorCode: KafkaError.NONE };
      }),
    };
  }
  const found = fetchGroupOffsets(ctx, req.groupId ?? '', req.topics ?? null);
  if (typeof found === 'number') return { throttleTimeMs: 0, topics: [], errorCode: found };
  return { throttleTimeMs: 0, topics: found, errorCode: KafkaError.NONE };
}

export const findCoordinatorHandler: ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> = { key: 10, decode: decodeFindCoordinatorRequest, encode: encodeFindCoordinatorResponse, handle: findCoordinator };
export const joinGroupHandler: ApiHandler<JoinGroupRequest, JoinGroupResponse> = { key: 11, decode: decodeJoinGroupRequest, encode: encodeJoinGroupResponse, handle: joinGroup };
export const heartbeatHandler: ApiHandler<HeartbeatRequest, HeartbeatResponse> = { key: 12, decode: decodeHeartbeatRequest, encode: encodeHeartbeatResponse, handle: heartbeat };
export const leaveGroupHandler: ApiHandler<LeaveGroupRequest, LeaveGroupResponse> = { key: 13, decode: decodeLeaveGroupRequest, encode: encodeLeaveGroupResponse, handle: leaveGroup };
export const syncGroupHandler: ApiHandler<SyncGroupRequest, SyncGroupResponse> = { key: 14, decode: decodeSyncGroupRequest, encode: encodeSyncGroupResponse, handle: syncGroup };
export const offsetCommitHandler: ApiHandler<OffsetCommitRequest, OffsetCommitResponse> = { key: 8, decode: decodeOffsetCommitRequest, encode: encodeOffsetCommitResponse, handle: offsetCommit };
export const offsetFetchHandler: ApiHandler<OffsetFetchRequest, OffsetFetchResponse> = { key: 9, decode: decodeOffsetFetchRequest, encode: encodeOffsetFetchResponse, handle: offsetFetch };

/**
 * DescribeGroups: a Kafka group's members and state from the coordinator; a group known only to
 * the broker (committed offsets, or an in-process group) is Empty with no members; one known to
 * neither is Dead, as Kafka answers.
 */
function describeGroups(ctx: RequestContext, req: DescribeGroupsRequest): DescribeGroupsResponse {
  return {
    throttleTimeMs: 0,
    groups: req.groups.map((groupId) => {
      const refused = refusal(ctx, 'describe', 'group', groupId);
      if (refused !== KafkaError.NONE) return { errorCode: refused, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: OPERATIONS_UNKNOWN };
      const d = ctx.server.groups.describe(groupId);
      const known = d !== null || brokerGroups(ctx).includes(groupId);
      return {
        errorCode: KafkaError.NONE,
        groupId,
        groupState: d?.state ?? (known ? 'Empty' : 'Dead'),
        protocolType: d?.protocolType ?? (known ? 'consumer' : ''),
        protocolData: d?.protocol ?? '',
        members: (d?.members ?? []).map((m) => ({ memberId: m.memberId, groupInstanceId: null, clientId: m.clientId, clientHost: '', memberMetadata: m.metadata, memberAssignment: m.assignment })),
        authorizedOperations: OPERATIONS_UNKNOWN,
      };
    }),
  };
}

/** The broker's groups, or none while it is closing. */
function brokerGroups(ctx: RequestContext): string[] {
  try {
    return ctx.server.broker.listGroups();
  } catch {
    return [];
  }
}

/** ListGroups: the coordinator's groups and the broker's (in-process groups, committed offsets). */
function listGroups(ctx: RequestContext, req: ListGroupsRequest): ListGroupsResponse {
  const live = new Map(ctx.server.groups.list().map((g) => [g.groupId, g]));
  const all = new Set([...live.keys(), ...brokerGroups(ctx)]);
  // Describe on the cluster lists every group; else those the principal may describe, as in Kafka.
  const everyGroup = clusterRefusal(ctx, 'describe') === KafkaError.NONE;
  const filter = req.statesFilter !== undefined && req.statesFilter.length > 0 ? new Set(req.statesFilter) : null;
  const groups = [...all]
    .filter((groupId) => everyGroup || authorized(ctx, 'describe', 'group', groupId))
    .sort()
    .map((groupId) => ({ groupId, protocolType: live.get(groupId)?.protocolType || 'consumer', groupState: live.get(groupId)?.state ?? 'Empty' }))
    .filter((g) => filter === null || filter.has(g.groupState));
  return { throttleTimeMs: 0, errorCode: KafkaError.NONE, groups };
}

export const describeGroupsHandler: ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse> = { key: 15, decode: decodeDescribeGroupsRequest, encode: encodeDescribeGroupsResponse, handle: describeGroups };
export const listGroupsHandler: ApiHandler<ListGroupsRequest, ListGroupsResponse> = { key: 16, decode: decodeListGroupsRequest, encode: encodeListGroupsResponse, handle: listGroups };
