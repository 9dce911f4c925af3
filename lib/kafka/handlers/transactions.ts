/**
 * The transaction APIs: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit, served
 * by the broker's transaction coordinator (broker/txn/txn-coordinator.ts; InitProducerId is in
 * init-producer-id.ts, transactional Produce in produce.ts). An epoch that is not the
 * transactional id's current one is PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for the versions
 * before the one that added it (as Kafka answers); an unknown transactional id or a producer id
 * not its own is INVALID_PRODUCER_ID_MAPPING; a request out of step with the transaction
 * (offsets of a group not added, an end with nothing open) INVALID_TXN_STATE.
 *
 * Authorization as Kafka's: each needs write on the transactional id (else
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED for all of it); AddPartitionsToTxn write on each topic (a
 * refused topic's partitions TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED),
 * AddOffsetsToTxn and TxnOffsetCommit read on the group (else GROUP_AUTHORIZATION_FAILED),
 * TxnOffsetCommit read on each topic (a refused topic's partitions TOPIC_AUTHORIZATION_FAILED).
 */
import type { TransactionCoordinator } from '../../broker/txn/txn-coordinator';
import {
  decodeAddOffsetsToTxnRequest,
  decodeAddPartitionsToTxnRequest,
  decodeEndTxnRequest,
  decodeTxnOffsetCommitRequest,
  encodeAddOffsetsToTxnResponse,
  encodeAddPartitionsToTxnResponse,
  encodeEndTxnResponse,
  encodeTxnOffsetCommitResponse,
  type AddOffsetsToTxnRequest,
  type AddOffsetsToTxnResponse,
  type AddPartitionsToTxnRequest,
  type AddPartitionsToTxnResponse,
  type EndTxnRequest,
  type EndTxnResponse,
  type TxnOffsetCommitRequest,
  type TxnOffsetCommitResponse,
} from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { fencedFor, kafkaErrorOf } from './errors';
import { OFFSET_METADATA_BYTES_MAX } from './groups';
import { refusal } from './authorize';
import type { ApiHandler, RequestContext } from './handler';

/** AddPartitionsToTxn, AddOffsetsToTxn and EndTxn answer PRODUCER_FENCED from version 2 on. */
const FENCED_FROM = 2;
/** TxnOffsetCommit checks the member and generation from version 3 on. */
const MEMBER_CHECKED_FROM = 3;

/** Runs `fn` on the coordinator; the Kafka error code of what it threw (NONE if nothing). */
async function codeOf(ctx: RequestContext, version: number, fn: (c: TransactionCoordinator) => Promise<unknown>): Promise<number> {
  try {
    await fn(ctx.server.broker.transactions);
    return KafkaError.NONE;
  } catch (e) {
    return fencedFor(kafkaErrorOf(e), version, FENCED_FROM);
  }
}

async function addPartitions(ctx: RequestContext, req: AddPartitionsToTxnRequest, version: number): Promise<AddPartitionsToTxnResponse> {
  const wanted = req.topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
  const txnRefused = refusal(ctx, 'write', 'transactional-id', req.transactionalId);
  const refusedTopics = new Set(req.topics.filter((t) => refusal(ctx, 'write', 'topic', t.name) !== KafkaError.NONE).map((t) => t.name));
  let missing: { topic: string; partition: number }[] = [];
  let code: number;
  if (txnRefused !== KafkaError.NONE) code = txnRefused;
  else if (req.transactionalId === '') code = KafkaError.INVALID_REQUEST;
  else if (refusedTopics.size > 0) code = KafkaError.OPERATION_NOT_ATTEMPTED;
  else
    code = await codeOf(ctx, version, async (c) => {
      missing = await c.addPartitions(req.transactionalId, req.producerId, req.producerEpoch, wanted);
    });
  // Kafka's rule: when some partition fails, the others are not attempted.
  const codeFor = (topic: string, partition: number): number => {
    if (code === KafkaError.OPERATION_NOT_ATTEMPTED && refusedTopics.has(topic)) return KafkaError.TOPIC_AUTHORIZATION_FAILED;
    if (code !== KafkaError.NONE) return code;
    if (missing.length === 0) return KafkaError.NONE;
    return missing.some((m) => m.topic === topic && m.partition === partition) ? KafkaError.UNKNOWN_TOPIC_OR_PARTITION : KafkaError.OPERATION_NOT_ATTEMPTED;
  };
  return {
    throttleTimeMs: 0,
    resultsByTopic: req.topics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: codeFor(t.name, p) })) })),
  };
}

async function addOffsets(ctx: RequestContext, req: AddOffsetsToTxnRequest, version: number): Promise<AddOffsetsToTxnResponse> {
  for (const refused of [refusal(ctx, 'write', 'transactional-id', req.transactionalId), refusal(ctx, 'read', 'group', req.groupId)]) {
    if (refused !== KafkaError.NONE) return { throttleTimeMs: 0, errorCode: refused };
  }
  if (req.transactionalId === '' || req.groupId === '') return { throttleTimeMs: 0, errorCode: KafkaError.INVALID_REQUEST };
  return { throttleTimeMs: 0, errorCode: await codeOf(ctx, version, (c) => c.addOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId)) };
}

async function endTxn(ctx: RequestContext, req: EndTxnRequest, version: number): Promise<EndTxnResponse> {
  const refused = refusal(ctx, 'write', 'transactional-id', req.transactionalId);
  if (refused !== KafkaError.NONE) return { throttleTimeMs: 0, errorCode: refused };
  if (req.transactionalId === '') return { throttleTimeMs: 0, errorCode: KafkaError.INVALID_REQUEST };
  return { throttleTimeMs: 0, errorCode: await codeOf(ctx, version, (c) => c.endTransaction(req.transactionalId, req.producerId, req.producerEpoch, req.committed)) };
}

async function txnOffsetCommit(ctx: RequestContext, req: TxnOffsetCommitRequest, version: number): Promise<TxnOffsetCommitResponse> {
  const codes = req.topics.map((t) => t.partitions.map(() => KafkaError.NONE as number));
  const entries: { topic: string; partition: number; offset: number; metadata: string | null; at: [number, number] }[] = [];
  // A topic the principal may not read is refused whatever happens to the rest.
  const topicRefused = req.topics.map((t) => refusal(ctx, 'read', 'topic', t.name));
  req.topics.forEach((t, i) => {
    t.partitions.forEach((p, j) => {
      if (topicRefused[i] !== KafkaError.NONE) return;
      if (p.committedMetadata !== null && Buffer.byteLength(p.committedMetadata) > OFFSET_METADATA_BYTES_MAX) codes[i][j] = KafkaError.OFFSET_METADATA_TOO_LARGE;
      else entries.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.committedMetadata, at: [i, j] });
    });
  });
  // The transactional id and the group refused: every partition is.
  let gate = refusal(ctx, 'write', 'transactional-id', req.transactionalId);
  if (gate === KafkaError.NONE) gate = refusal(ctx, 'read', 'group', req.groupId);
  let all = gate === KafkaError.NONE ? memberCheck(ctx, req, version) : gate;
  if (all === KafkaError.NONE && entries.length > 0) {
    // Epochs: TxnOffsetCommit never had PRODUCER_FENCED; its clients read INVALID_PRODUCER_EPOCH.
    let errors: (Error | null)[] = [];
    all = await codeOf(ctx, 0, async (c) => {
      errors = await c.commitOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId, entries);
    });
    errors.forEach((e, k) => {
      if (e !== null) codes[entries[k].at[0]][entries[k].at[1]] = e instanceof RangeError ? KafkaError.UNKNOWN_TOPIC_OR_PARTITION : kafkaErrorOf(e);
    });
  }
  const codeAt = (i: number, j: number): number => {
    if (gate !== KafkaError.NONE) return gate;
    if (topicRefused[i] !== KafkaError.NONE) return topicRefused[i];
    return all !== KafkaError.NONE ? all : codes[i][j];
  };
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t, i) => ({ name: t.name, partitions: t.partitions.map((p, j) => ({ partitionIndex: p.partitionIndex, errorCode: codeAt(i, j) })) })),
  };
}

/** From version 3 a commit naming a member and generation must match the group's (Kafka skips it for generation -1 with no member). */
function memberCheck(ctx: RequestContext, req: TxnOffsetCommitRequest, version: number): number {
  if (req.transactionalId === '' || req.groupId === '') return KafkaError.INVALID_REQUEST;
  const generationId = req.generationId ?? -1;
  const memberId = req.memberId ?? '';
  if (version < MEMBER_CHECKED_FROM || (generationId < 0 && memberId === '')) return KafkaError.NONE;
  return ctx.server.groups.checkCommit(req.groupId, generationId, memberId);
}

export const addPartitionsToTxnHandler: ApiHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = { key: 24, decode: decodeAddPartitionsToTxnRequest, encode: encodeAddPartitionsToTxnResponse, handle: addPartitions };
export const addOffsetsToTxnHandler: ApiHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> = { key: 25, decode: decodeAddOffsetsToTxnRequest, encode: encodeAddOffsetsToTxnResponse, handle: addOffsets };
export const endTxnHandler: ApiHandler<EndTxnRequest, EndTxnResponse> = { key: 26, decode: decodeEndTxnRequest, encode: encodeEndTxnResponse, handle: endTxn };
export const txnOffsetCommitHandler: ApiHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse> = { key: 28, decode: decodeTxnOffsetCommitRequest, encode: encodeTxnOffsetCommitResponse, handle: txnOffsetCommit };
