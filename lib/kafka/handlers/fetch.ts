/**
 * Fetch: whole record batches from the one holding each fetch offset, as stored (so compressed
 * batches go out as the producer sent them), up to each partition's and the request's byte limits
 * but at least one batch (KIP-74: a consumer must never be stuck behind a batch larger than its
 * limits). An offset below the log start or past its end is OFFSET_OUT_OF_RANGE; at the high
 * watermark, nothing. Long poll: until minBytes are there or maxWaitMs pass, woken by appends.
 * read_committed (isolation level 1) reaches the last stable offset, below any transaction still
 * open, and lists the aborted transactions of what it returns (with the markers, as stored, the
 * client passes their records over); read_uncommitted reaches the high watermark. No fetch
 * sessions. A topic the principal may not read is TOPIC_AUTHORIZATION_FAILED for each of its
 * partitions, answered at once, with no records.
 *
 * The records are file regions of the segments, not bytes in memory: the connection sends them
 * from the file to the socket (sendfile, or copies in chunks where it cannot; region-sender.ts).
 *
 * Quotas (quotas/client-quotas.ts): a response takes at most what the client's fetch quota allows
 * in one window; one that would take the client over its quota is answered with no records and
 * the throttle time instead (as Kafka does), and the connection is muted for it.
 */
import type { PartitionAccess } from '../../broker/topic/partition-access';
import { FileRegion } from '../file-region';
import { EMPTY } from '../protocol/codec-support';
import { decodeFetchRequest, encodeFetchResponse, type FetchRequest, type FetchResponse, type FetchResponsePartitionData } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { partitionOf } from './errors';
import { refusal } from './authorize';
import type { ApiHandler, RequestContext } from './handler';

/** A long poll lasts at most this long whatever the client asks (Kafka caps it by its request timeout). */
const MAX_WAIT_MS_CAP = 30_000;
/**
 * The most one Fetch response carries, whatever the client asks (Kafka's broker-side
 * fetch.max.bytes default). Records are sent from the files, so this bounds the time one response
 * holds its connection, not memory.
 */
export const FETCH_BYTES_MAX = 50 * 1024 * 1024;

interface Collected {
  response: FetchResponse;
  bytes: number;
  /** The partitions fetched from, to wait on when there is not enough, and their high watermarks then. */
  waitOn: PartitionAccess[];
  watermarks: number[];
  anyError: boolean;
  /** The records of the response, to release if it is not sent. */
  regions: FileRegion[];
}

const READ_COMMITTED = 1;

async function handle(ctx: RequestContext, req: FetchRequest): Promise<FetchResponse> {
  const deadline = Date.now() + Math.min(Math.max(req.maxWaitMs, 0), MAX_WAIT_MS_CAP);
  const quotas = ctx.server.quotas;
  const bytesMax = Math.min(req.maxBytes, FETCH_BYTES_MAX, quotas.fetchBytesMax(ctx.session.principal, ctx.clientId));
  for (;;) {
    const got = collect(ctx, req, bytesMax);
    const left = deadline - Date.now();
    if (got.bytes >= req.minBytes || got.anyError || left <= 0 || got.waitOn.length === 0 || ctx.server.closing.aborted) {
      const throttleTimeMs = quotas.admitFetch(ctx.session.principal, ctx.clientId, got.bytes);
      ctx.throttle(throttleTimeMs);
      if (throttleTimeMs > 0) {
        for (const r of got.regions) r.release();
        return { throttleTimeMs, errorCode: KafkaError.NONE, sessionId: 0, responses: [] };
      }
      ctx.regions.push(...got.regions);
      return got.response;
    }
    for (const r of got.regions) r.release();
    await waitForData(got.waitOn, got.watermarks, left, ctx.server.closing);
  }
}

function collect(ctx: RequestContext, req: FetchRequest, bytesMax: number): Collected {
  const got: Collected = { response: { throttleTimeMs: 0, errorCode: KafkaError.NONE, sessionId: 0, responses: [] }, bytes: 0, waitOn: [], watermarks: [], anyError: false, regions: [] };
  try {
    collectInto(ctx, req, bytesMax, got);
  } catch (e) {
    // A partition that fails to read (CORRUPT, say) must not keep the regions already taken.
    for (const r of got.regions) r.release();
    throw e;
  }
  return got;
}

function collectInto(ctx: RequestContext, req: FetchRequest, bytesMax: number, got: Collected): void {
  let budget = bytesMax;
  for (const t of req.topics) {
    const partitions: FetchResponsePartitionData[] = [];
    const refused = refusal(ctx, 'read', 'topic', t.topic);
    for (const p of t.partitions) {
      if (refused !== KafkaError.NONE) {
        partitions.push(empty(p.partition, refused, -1, -1, -1));
        got.anyError = true;
        continue;
      }
      const out = fetchPartition(ctx, t.topic, p.partition, p.fetchOffset, Math.min(p.partitionMaxBytes, budget), got.bytes === 0, req.isolationLevel === READ_COMMITTED);
      partitions.push(out.data);
      if (out.data.errorCode !== KafkaError.NONE) got.anyError = true;
      if (out.partition !== null) {
        got.waitOn.push(out.partition);
        got.watermarks.push(out.data.highWatermark);
      }
      if (out.data.records instanceof FileRegion) got.regions.push(out.data.records);
      got.bytes += out.bytes;
      budget = Math.max(0, budget - out.bytes);
    }
    got.response.responses.push({ topic: t.topic, partitions });
  }
}

function fetchPartition(ctx: RequestContext, topic: string, index: number, offset: number, maxBytes: number, first: boolean, readCommitted: boolean): { data: FetchResponsePartitionData; bytes: number; partition: PartitionAccess | null } {
  const partition = partitionOf(ctx.server.broker, topic, index);
  if ('errorCode' in partition) return { data: empty(index, partition.errorCode, -1, -1, -1), bytes: 0, partition: null };
  const { startOffset, endOffset, highWatermark, lastStableOffset } = partition.offsets();
  if (offset < startOffset || offset > endOffset) return { data: empty(index, KafkaError.OFFSET_OUT_OF_RANGE, highWatermark, lastStableOffset, startOffset), bytes: 0, partition: null };
  const nothing = { data: empty(index, KafkaError.NONE, highWatermark, lastStableOffset, startOffset), bytes: 0, partition };
  // read_committed reaches the last stable offset (nothing of an open transaction), with the
  // aborted transactions of what it returns; read_uncommitted the high watermark.
  const readable = readCommitted ? lastStableOffset : highWatermark;
  // The first partition with data gets at least one batch, past the limits (KIP-74); the others
  // only what fits, or nothing this time.
  if (offset >= readable || (maxBytes <= 0 && !first)) return nothing;
  const slice = partition.slice(offset, Math.max(1, maxBytes), readCommitted);
  if (slice === null) return nothing;
  const records = ctx.server.segments.region(slice);
  if (!first && slice.length > maxBytes) {
    records.release();
    return nothing;
  }
  const aborted = readCommitted ? partition.abortedTransactions(slice.firstOffset, slice.nextOffset).map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset })) : [];
  return { data: { ...nothing.data, abortedTransactions: aborted.length > 0 ? aborted : null, records }, bytes: records.byteLength, partition };
}

function empty(partitionIndex: number, errorCode: number, highWatermark: number, lastStableOffset: number, logStartOffset: number): FetchResponsePartitionData {
  return { partitionIndex, errorCode, highWatermark, lastStableOffset, logStartOffset, abortedTransactions: null, preferredReadReplica: -1, records: EMPTY };
}

/**
 * Resolves when any of the partitions gets data past the high watermark it had when it was read
 * (checked again once the waits are registered: an append during the reads must not be missed),
 * or after `ms`, or when the server starts closing. A wait that ends is taken off every partition
 * it was on.
 */
function waitForData(partitions: PartitionAccess[], watermarks: number[], ms: number, closing: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      closing.removeEventListener('abort', finish);
      for (const p of partitions) p.cancelWait(waiter);
      resolve();
    };
    const waiter = { wake: finish };
    const timer = setTimeout(finish, ms);
    closing.addEventListener('abort', finish);
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
