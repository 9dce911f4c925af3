/**
 * Produce: each partition's record batches go to its Log through appendRaw, checked whole
 * (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE) before anything is written. The answer waits for what acks
 * asks: 0 none at all, 1 the batches written to the segment file (readable), -1 the topic's
 * durability (on stable storage for a `sync: 'always'` topic). A partition whose wait outlasts the
 * request's timeout answers REQUEST_TIMED_OUT (its records stay appended, as in Kafka). Versions 0
 * to 2 carry the old message formats: advertised (librdkafka enables compression only when Produce
 * 0 is), but answered UNSUPPORTED_VERSION per partition.
 *
 * Idempotent producers (a batch with a producer id, from InitProducerId): one batch per partition,
 * checked against the partition's producer state (broker/topic/producer-state.ts): a retry of a
 * batch already stored is answered with its first offset and not written again (once it reaches
 * what acks asks, like the original); a gap in the sequence is OUT_OF_ORDER_SEQUENCE_NUMBER, an
 * older epoch INVALID_PRODUCER_EPOCH.
 *
 * Transactional producers' batches (attributes bit 4) are appended only with the transaction
 * coordinator's admission (PartitionAccess.appendTransactional), checked and appended in one
 * step: the request must name the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
 * as Kafka answers), whose producer id the batch carries (else INVALID_PRODUCER_ID_MAPPING) at
 * its current epoch (else INVALID_PRODUCER_EPOCH, which Produce has for every fence), and the
 * partition must be in its open transaction (else INVALID_TXN_STATE: AddPartitionsToTxn first).
 *
 * Authorization: write on each topic (else TOPIC_AUTHORIZATION_FAILED for its partitions), and
 * write on the transactional id the request names (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED for
 * every partition); nothing refused is appended.
 *
 * Quotas: the whole request counts against the client's produce quota, whatever becomes of it
 * (as in Kafka); over the quota, the response carries the throttle time and the connection is
 * muted for it (acks 0 too, which has no response).
 */
import type { PartitionAccess } from '../../broker/topic/partition-access';
import { producerBatchAt, type ProducerBatch } from '../../broker/topic/producer-state';
import { decodeProduceRequest, encodeProduceResponse, type ProduceRequest, type ProduceResponse, type ProduceResponsePartitionProduceResponse } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { errorMessageOf, fencedFor, kafkaErrorOf, partitionOf } from './errors';
import { refusal, refusedMessage } from './authorize';
import type { ApiHandler, RequestContext } from './handler';

const FIRST_RECORD_BATCH_VERSION = 3;
const BATCH_HEADER_BYTES = 61;
const ATTRIBUTES_AT = 21;
const TRANSACTIONAL_FLAG = 0x10;

async function handle(ctx: RequestContext, req: ProduceRequest, version: number): Promise<ProduceResponse | null> {
  const throttleTimeMs = ctx.server.quotas.recordProduce(ctx.session.principal, ctx.clientId, ctx.requestBytes);
  ctx.throttle(throttleTimeMs);
  const txnRefused = req.transactionalId == null ? KafkaError.NONE : refusal(ctx, 'write', 'transactional-id', req.transactionalId);
  const responses = await Promise.all(
    req.topicData.map(async (t) => {
      const refused = txnRefused !== KafkaError.NONE ? txnRefused : refusal(ctx, 'write', 'topic', t.name);
      const partitionResponses = await Promise.all(t.partitionData.map((p) => (refused !== KafkaError.NONE ? failed(p.index, refused, txnRefused !== KafkaError.NONE ? refusedMessage(ctx, 'write', 'transactional-id', req.transactionalId!) : refusedMessage(ctx, 'write', 'topic', t.name)) : producePartition(ctx, t.name, p.index, p.records, req, version))));
      return { name: t.name, partitionResponses };
    }),
  );
  if (req.acks === 0) return null;
  return { responses, throttleTimeMs };
}

async function producePartition(ctx: RequestContext, topic: string, index: number, records: Buffer | null, req: ProduceRequest, version: number): Promise<ProduceResponsePartitionProduceResponse> {
  const { acks, timeoutMs } = req;
  if (version < FIRST_RECORD_BATCH_VERSION) return failed(index, KafkaError.UNSUPPORTED_VERSION, 'Produce versions 0 to 2 (message formats 0 and 1) are not supported: use version 3 or later');
  if (acks !== 0 && acks !== 1 && acks !== -1) return failed(index, KafkaError.INVALID_REQUIRED_ACKS, `acks ${acks}: use 0, 1 or -1`);
  if (records === null || records.length === 0) return failed(index, KafkaError.CORRUPT_MESSAGE, 'no record batches');
  const partition = partitionOf(ctx.server.broker, topic, index);
  if ('errorCode' in partition) return failed(index, partition.errorCode, partition.message);
  const stored = await store(partition, index, records, req.transactionalId ?? null);
  if ('errorCode' in stored) return stored;
  if (acks !== 0) {
    const reached = acks === 1 ? partition.visible(stored.last) : partition.confirm(stored.last);
    const outcome = await withTimeout(reached, timeoutMs);
    if (outcome === 'timeout') return failed(index, KafkaError.REQUEST_TIMED_OUT, `not ${acks === 1 ? 'written' : 'durable'} within ${timeoutMs} ms`);
    if (outcome instanceof Error) return failed(index, kafkaErrorOf(outcome), errorMessageOf(outcome));
  }
  return { index, errorCode: KafkaError.NONE, baseOffset: stored.first, logAppendTimeMs: -1, logStartOffset: partition.offsets().startOffset, recordErrors: [], errorMessage: null };
}

/** Appends the batches (or finds them stored already, for an idempotent retry): their first and last offsets. */
async function store(partition: PartitionAccess, index: number, records: Buffer, transactionalId: string | null): Promise<{ first: number; last: number } | ProduceResponsePartitionProduceResponse> {
  const producer = records.length >= BATCH_HEADER_BYTES ? producerBatchAt(records, 0) : null;
  try {
    if (producer !== null) return await storeIdempotent(partition, index, records, producer, transactionalId);
    if (laterProducerBatch(records)) return failed(index, KafkaError.INVALID_RECORD, 'an idempotent producer sends one record batch per partition');
    const first = partition.appendRaw(records);
    return { first, last: partition.offsets().endOffset - 1 };
  } catch (e) {
    // Produce has no PRODUCER_FENCED: a fenced transactional producer gets INVALID_PRODUCER_EPOCH.
    return failed(index, fencedFor(kafkaErrorOf(e), 0, 1), errorMessageOf(e));
  }
}

async function storeIdempotent(partition: PartitionAccess, index: number, records: Buffer, b: ProducerBatch, transactionalId: string | null): Promise<{ first: number; last: number } | ProduceResponsePartitionProduceResponse> {
  const transactional = (records.readInt16BE(ATTRIBUTES_AT) & TRANSACTIONAL_FLAG) !== 0;
  if (transactional && transactionalId === null) return failed(index, KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactional batches need the request to name their transactional id');
  if (12 + records.readInt32BE(8) !== records.length) return failed(index, KafkaError.INVALID_RECORD, 'an idempotent producer sends one record batch per partition');
  const states = await partition.producers();
  const verdict = states.check(b);
  switch (verdict.kind) {
    case 'fenced':
      return failed(index, KafkaError.INVALID_PRODUCER_EPOCH, `producer ${b.producerId} epoch ${b.producerEpoch} is older than its epoch ${verdict.epoch}`);
    case 'out-of-order':
      return failed(index, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, `producer ${b.producerId} sent sequence ${b.baseSequence}, expected ${verdict.expected}`);
    case 'duplicate':
      return { first: verdict.firstOffset, last: verdict.lastOffset };
    case 'append': {
      const first = transactional ? partition.appendTransactional(records, transactionalId!, b.producerId, b.producerEpoch) : partition.appendRaw(records);
      states.record(b, first, Date.now());
      return { first, last: partition.offsets().endOffset - 1 };
    }
  }
}

/** Whether a batch after the first names a producer (appendRaw checks the lengths themselves). */
function laterProducerBatch(records: Buffer): boolean {
  if (records.length < BATCH_HEADER_BYTES || records.readInt32BE(8) <= 0) return false;
  for (let at = 12 + records.readInt32BE(8); at + BATCH_HEADER_BYTES <= records.length; ) {
    if (producerBatchAt(records, at) !== null) return true;
    const length = records.readInt32BE(at + 8);
    if (length <= 0) return false;
    at += 12 + length;
  }
  return false;
}

function failed(index: number, errorCode: number, message: string): ProduceResponsePartitionProduceResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage: message };
}

/** 'ok', the rejection, or 'timeout' once `ms` pass (a timeout of 0 or less waits as long as it takes). */
function withTimeout(p: Promise<unknown>, ms: number): Promise<'ok' | 'timeout' | Error> {
  const settled = p.then(
    () => 'ok' as const,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  if (ms <= 0) return settled;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
}

export const produceHandler: ApiHandler<ProduceRequest, ProduceResponse> = {
  key: 0,
  decode: decodeProduceRequest,
  encode: encodeProduceResponse,
  handle,
};
