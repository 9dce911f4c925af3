/**
 * Produce: each partition's record batches go to its Log through appendRaw, checked whole
 * (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE) before anything is written. The answer waits for what acks
 * asks: 0 none at all, 1 the batches written to the segment file (readable), -1 the topic's
 * durability (on stable storage for a `sync: 'always'` topic). A partition whose wait outlasts the
 * request's timeout answers REQUEST_TIMED_OUT (its records stay appended, as in Kafka). Versions 0
 * to 2 carry the old message formats: advertised (librdkafka enables compression only when Produce
 * 0 is), but answered UNSUPPORTED_VERSION per partition.
 */
import { decodeProduceRequest, encodeProduceResponse, type ProduceRequest, type ProduceResponse, type ProduceResponsePartitionProduceResponse } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { errorMessageOf, kafkaErrorOf, partitionOf } from './errors';
import type { ApiHandler, RequestContext } from './handler';

const FIRST_RECORD_BATCH_VERSION = 3;

async function handle(ctx: RequestContext, req: ProduceRequest, version: number): Promise<ProduceResponse | null> {
  const responses = await Promise.all(
    req.topicData.map(async (t) => ({
      name: t.name,
      partitionResponses: await Promise.all(t.partitionData.map((p) => producePartition(ctx, t.name, p.index, p.records, req.acks, req.timeoutMs, version))),
    })),
  );
  if (req.acks === 0) return null;
  return { responses, throttleTimeMs: 0 };
}

async function producePartition(ctx: RequestContext, topic: string, index: number, records: Buffer | null, acks: number, timeoutMs: number, version: number): Promise<ProduceResponsePartitionProduceResponse> {
  if (version < FIRST_RECORD_BATCH_VERSION) return failed(index, KafkaError.UNSUPPORTED_VERSION, 'Produce versions 0 to 2 (message formats 0 and 1) are not supported: use version 3 or later');
  if (acks !== 0 && acks !== 1 && acks !== -1) return failed(index, KafkaError.INVALID_REQUIRED_ACKS, `acks ${acks}: use 0, 1 or -1`);
  if (records === null || records.length === 0) return failed(index, KafkaError.CORRUPT_MESSAGE, 'no record batches');
  const partition = partitionOf(ctx.server.broker, topic, index);
  if ('errorCode' in partition) return failed(index, partition.errorCode, partition.message);
  let first: number;
  try {
    first = partition.appendRaw(records);
  } catch (e) {
    return failed(index, kafkaErrorOf(e), errorMessageOf(e));
  }
  const last = partition.offsets().endOffset - 1;
  if (acks !== 0) {
    const reached = acks === 1 ? partition.visible(last) : partition.confirm(last);
    const outcome = await withTimeout(reached, timeoutMs);
    if (outcome === 'timeout') return failed(index, KafkaError.REQUEST_TIMED_OUT, `not ${acks === 1 ? 'written' : 'durable'} within ${timeoutMs} ms`);
    if (outcome instanceof Error) return failed(index, kafkaErrorOf(outcome), errorMessageOf(outcome));
  }
  return { index, errorCode: KafkaError.NONE, baseOffset: first, logAppendTimeMs: -1, logStartOffset: partition.offsets().startOffset, recordErrors: [], errorMessage: null };
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
