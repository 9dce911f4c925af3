/**
 * InitProducerId: a producer id for an idempotent producer (no transactional id), new from the
 * broker's producer ids, epoch 0. From version 3 a producer may give its current id and epoch to
 * have the epoch bumped (KIP-360, after it lost track of its sequences): the same id with the next
 * epoch, or a new id once the epoch would overflow. Transactions are not supported yet: a request
 * with a transactional id gets INVALID_REQUEST, which clients report as fatal.
 */
import { decodeInitProducerIdRequest, encodeInitProducerIdResponse, type InitProducerIdRequest, type InitProducerIdResponse } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { kafkaErrorOf } from './errors';
import type { ApiHandler, RequestContext } from './handler';

const EPOCH_MAX = 32766; // Kafka bumps to a new id before the epoch reaches Short.MAX_VALUE

async function handle(ctx: RequestContext, req: InitProducerIdRequest): Promise<InitProducerIdResponse> {
  if (req.transactionalId !== null) return answer(KafkaError.INVALID_REQUEST, -1, -1);
  const id = req.producerId ?? -1;
  const epoch = req.producerEpoch ?? -1;
  if (id >= 0 && epoch >= 0 && epoch < EPOCH_MAX) return answer(KafkaError.NONE, id, epoch + 1);
  try {
    return answer(KafkaError.NONE, await ctx.server.broker.newProducerId(), 0);
  } catch (e) {
    return answer(kafkaErrorOf(e), -1, -1);
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
