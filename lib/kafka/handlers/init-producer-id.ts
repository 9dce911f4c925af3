/**
 * InitProducerId: a producer id for an idempotent producer (no transactional id), new from the
 * broker's producer ids, epoch 0, every time: as Kafka does, an id and epoch the request names
 * (version 3 on, KIP-360) are not trusted without a transactional id, so a client can never take
 * over or fence another producer's id. Transactions are not supported yet: a request with a
 * transactional id gets INVALID_REQUEST, which clients report as fatal.
 */
import { decodeInitProducerIdRequest, encodeInitProducerIdResponse, type InitProducerIdRequest, type InitProducerIdResponse } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { kafkaErrorOf } from './errors';
import type { ApiHandler, RequestContext } from './handler';

async function handle(ctx: RequestContext, req: InitProducerIdRequest): Promise<InitProducerIdResponse> {
  if (req.transactionalId !== null) return answer(KafkaError.INVALID_REQUEST, -1, -1);
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
