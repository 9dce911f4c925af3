/**
 * InitProducerId. Without a transactional id: a producer id for an idempotent producer, new from
 * the broker's producer ids, epoch 0, every time: as Kafka does, an id and epoch the request
 * names (version 3 on, KIP-360) are not trusted without a transactional id, so a client can never
 * take over or fence another producer's id. With one: the broker's transaction coordinator
 * (broker/txn/txn-coordinator.ts) aborts the id's open transaction and answers its producer id at
 * the next epoch, which fences every producer holding an older one. An empty transactional id is
 * INVALID_REQUEST, a timeout over TRANSACTION_TIMEOUT_MS_MAX (or under 1 ms)
 * INVALID_TRANSACTION_TIMEOUT, a named id and epoch that are not the current ones PRODUCER_FENCED
 * (INVALID_PRODUCER_EPOCH before version 4), as in Kafka. Authorization: write on the
 * transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED); without one, idempotent-write on
 * the cluster or write on some topic (else CLUSTER_AUTHORIZATION_FAILED).
 */
import { TRANSACTION_TIMEOUT_MS_MAX } from '../../broker/txn/txn-coordinator';
import { decodeInitProducerIdRequest, encodeInitProducerIdResponse, type InitProducerIdRequest, type InitProducerIdResponse } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { fencedFor, kafkaErrorOf } from './errors';
import { idempotentRefusal, refusal } from './authorize';
import type { ApiHandler, RequestContext } from './handler';

/** InitProducerId answers PRODUCER_FENCED from version 4 on. */
const FENCED_FROM = 4;

async function handle(ctx: RequestContext, req: InitProducerIdRequest, version: number): Promise<InitProducerIdResponse> {
  const refused = req.transactionalId === null ? idempotentRefusal(ctx) : refusal(ctx, 'write', 'transactional-id', req.transactionalId);
  if (refused !== KafkaError.NONE) return answer(refused, -1, -1);
  try {
    if (req.transactionalId === null) return answer(KafkaError.NONE, await ctx.server.broker.newProducerId(), 0);
    if (req.transactionalId === '') return answer(KafkaError.INVALID_REQUEST, -1, -1);
    if (!(req.transactionTimeoutMs >= 1 && req.transactionTimeoutMs <= TRANSACTION_TIMEOUT_MS_MAX)) return answer(KafkaError.INVALID_TRANSACTION_TIMEOUT, -1, -1);
    const named = (req.producerId ?? -1) >= 0 ? { producerId: req.producerId!, epoch: req.producerEpoch ?? -1 } : null;
    const got = await ctx.server.broker.transactions.initProducerId(req.transactionalId, req.transactionTimeoutMs, named);
    return answer(KafkaError.NONE, got.producerId, got.epoch);
  } catch (e) {
    return answer(fencedFor(kafkaErrorOf(e), version, FENCED_FROM), -1, -1);
  }
}

function answer(errorCode: number, producerId: number, producerEpoch: number): InitProducerIdResponse {
  return { throttleTimeMs: 0, errorCode, producerId, producerEpoch };
}

export const initProducerIdHandler: ApiHandler<InitProducerIdRequest, InitProducerIdResponse> = {
  key: 22,
  decode: decodeInitProducerIdRequest,
  encode: encodeInitProducerIdResponse,
  handle,
};
