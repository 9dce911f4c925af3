/**
 * Fetch: whole record batches from the one holding each fetch offset, as stored (so compressed
 * batches go out as the producer sent them), up to each partition's and the request's byte limits
 * but at least one batch (KIP-74: a consumer must never be stuck behind a batch larger than its
 * limits). An offset below the log start or past its end is OFFSET_OUT_OF_RANGE; at the high
 * watermark, nothing. Long poll: until minBytes are there or maxWaitMs pass, woken by appends.
 * High watermark and last stable offset are the same (no transactions); no fetch sessions.
 *
 * The bytes are read from the segment file into memory (fs.read on the thread pool, never on the
 * event loop) and sent with socket writes; sendfile from the segment to the socket is the next step.
 */
import * as fs from 'node:fs';
import type { PartitionAccess } from '../../broker/topic/partition-access';
import type { RawSlice } from '../../storage/log';
import { EMPTY } from '../protocol/codec-support';
import { decodeFetchRequest, encodeFetchResponse, type FetchRequest, type FetchResponse, type FetchResponsePartitionData } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { partitionOf } from './errors';
import type { ApiHandler, RequestContext } from './handler';

/** A long poll lasts at most this long whatever the client asks (Kafka caps it by its request timeout). */
const MAX_WAIT_MS_CAP = 30_000;
/**
 * The most one Fetch response carries, whatever the client asks (Kafka's broker-side
 * fetch.max.bytes default): each response is built in memory, so this bounds what a connection's
 * pipelined fetches can hold.
 */
export const FETCH_BYTES_MAX = 50 * 1024 * 1024;

interface Collected {
  response: FetchResponse;
  bytes: number;
  /** The partitions fetched from, to wait on when there is not enough, and their high watermarks then. */
  waitOn: PartitionAccess[];
  watermarks: number[];
  anyError: boolean;
}

async function handle(ctx: RequestContext, req: FetchRequest): Promise<FetchResponse> {
  const deadline = Date.now() + Math.min(Math.max(req.maxWaitMs, 0), MAX_WAIT_MS_CAP);
  for (;;) {
    const got = await collect(ctx, req);
    const left = deadline - Date.now();
    if (got.bytes >= req.minBytes || got.anyError || left <= 0 || got.waitOn.length === 0) return got.response;
    await waitForData(got.waitOn, got.watermarks, left);
  }
}

async function collect(ctx: RequestContext, req: FetchRequest): Promise<Collected> {
  let budget = Math.min(req.maxBytes, FETCH_BYTES_MAX);
  let bytes = 0;
  let anyError = false;
  const waitOn: PartitionAccess[] = [];
  const watermarks: number[] = [];
  const responses = [];
  for (const t of req.topics) {
    const partitions: FetchResponsePartitionData[] = [];
    for (const p of t.partitions) {
      const out = await fetchPartition(ctx, t.topic, p.partition, p.fetchOffset, Math.min(p.partitionMaxBytes, budget), bytes === 0);
      partitions.push(out.data);
      if (out.data.errorCode !== KafkaError.NONE) anyError = true;
      if (out.partition !== null) {
        waitOn.push(out.partition);
        watermarks.push(out.data.highWatermark);
      }
      bytes += out.bytes;
      budget = Math.max(0, budget - out.bytes);
    }
    responses.push({ topic: t.topic, partitions });
  }
  return { response: { throttleTimeMs: 0, errorCode: KafkaError.NONE, sessionId: 0, responses }, bytes, waitOn, watermarks, anyError };
}

async function fetchPartition(ctx: RequestContext, topic: string, index: number, offset: number, maxBytes: number, first: boolean): Promise<{ data: FetchResponsePartitionData; bytes: number; partition: PartitionAccess | null }> {
  const partition = partitionOf(ctx.server.broker, topic, index);
  if ('errorCode' in partition) return { data: empty(index, partition.errorCode, -1, -1), bytes: 0, partition: null };
  const { startOffset, endOffset, highWatermark } = partition.offsets();
  if (offset < startOffset || offset > endOffset) return { data: empty(index, KafkaError.OFFSET_OUT_OF_RANGE, highWatermark, startOffset), bytes: 0, partition: null };
  const nothing = { data: empty(index, KafkaError.NONE, highWatermark, startOffset), bytes: 0, partition };
  // The first partition with data gets at least one batch, past the limits (KIP-74); the others
  // only what fits, or nothing this time.
  if (offset >= highWatermark || (maxBytes <= 0 && !first)) return nothing;
  const slice = partition.slice(offset, Math.max(1, maxBytes));
  if (slice === null) return nothing;
  if (!first && slice.length > maxBytes) {
    fs.close(slice.fd, () => {});
    return nothing;
  }
  const records = await readSlice(slice);
  return { data: { ...empty(index, KafkaError.NONE, highWatermark, startOffset), records }, bytes: records.length, partition };
}

function empty(partitionIndex: number, errorCode: number, highWatermark: number, logStartOffset: number): FetchResponsePartitionData {
  return { partitionIndex, errorCode, highWatermark, lastStableOffset: highWatermark, logStartOffset, abortedTransactions: null, preferredReadReplica: -1, records: EMPTY };
}

/** The slice's bytes, read on the thread pool; its fd is closed whatever happens. */
async function readSlice(slice: RawSlice): Promise<Buffer> {
  try {
    const buf = Buffer.allocUnsafe(slice.length);
    let done = 0;
    while (done < slice.length) {
      const { bytesRead } = await new Promise<{ bytesRead: number }>((resolve, reject) =>
        fs.read(slice.fd, buf, done, slice.length - done, slice.position + done, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead }))),
      );
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done);
  } finally {
    fs.close(slice.fd, () => {});
  }
}

/**
 * Resolves when any of the partitions gets data past the high watermark it had when it was read
 * (checked again once the waits are registered: an append during the reads must not be missed),
 * or after `ms`. A wait that ends is taken off every partition it was on.
 */
function waitForData(partitions: PartitionAccess[], watermarks: number[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const p of partitions) p.cancelWait(waiter);
      resolve();
    };
    const waiter = { wake: finish };
    const timer = setTimeout(finish, ms);
    for (const p of partitions) p.waitForData(waiter);
    if (partitions.some((p, i) => p.offsets().highWatermark > watermarks[i])) finish();
  });
}

export const fetchHandler: ApiHandler<FetchRequest, FetchResponse> = {
  key: 1,
  decode: decodeFetchRequest,
  encode: encodeFetchResponse,
  handle,
};
