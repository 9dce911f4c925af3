/**
 * The idempotent producers of one partition (Kafka's producer state): per producer id, its epoch
 * and the sequence numbers and first offsets of its last PRODUCER_BATCHES_KEPT batches. A batch
 * whose sequence range is one of those is a retry of a batch already stored: it is answered with
 * the first offset it got and not written again. A batch that does not follow the last one is out
 * of order; one from an older epoch is fenced.
 *
 * Built from the log's batch headers when first needed (rebuildProducerStates, so a restart
 * loses nothing a retrying producer relies on), over the batches of the last
 * PRODUCER_STATE_WINDOW_MS by their timestamps and at least the last PRODUCER_REBUILD_OFFSETS_MIN
 * offsets (timestamps are the producers'); kept current by every idempotent append. A
 * producer that has appended nothing for that long is forgotten (Kafka's
 * producer.id.expiration.ms, whose default is a day: this window bounds what a rebuild reads), as
 * are the longest-idle ones past PRODUCERS_MAX per partition (batches may name any producer id).
 * Thread-confined.
 */
import * as fs from 'node:fs';
import type { RawSlice } from '../../storage/log';

/** Kafka keeps the last five batches of each producer (max.in.flight.requests.per.connection <= 5). */
export const PRODUCER_BATCHES_KEPT = 5;
/** Producers idle for this long are forgotten, and a rebuild reads the batches of this last stretch. */
export const PRODUCER_STATE_WINDOW_MS = 15 * 60 * 1000;
/** A rebuild reads at least this many of the last offsets, whatever their timestamps say. */
export const PRODUCER_REBUILD_OFFSETS_MIN = 100_000;
/** At most this many producers are remembered per partition. */
export const PRODUCERS_MAX = 10_000;
const SEQUENCE_MAX = 2 ** 31 - 1;

/** What identifies a batch of an idempotent producer (from its RecordBatch header). */
export interface ProducerBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** lastOffsetDelta: the batch holds this many records plus one. */
  lastOffsetDelta: number;
}

export type SequenceVerdict =
  | { kind: 'append' }
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number }
  | { kind: 'fenced'; epoch: number }
  | { kind: 'out-of-order'; expected: number };

interface Kept {
  baseSequence: number;
  lastSequence: number;
  firstOffset: number;
}

interface Producer {
  epoch: number;
  batches: Kept[];
  lastSeenMs: number;
}

export class ProducerStates {
  readonly #producers = new Map<number, Producer>();

  /** What storing `b` would be: a new batch, a retry of a kept one, or refused. */
  check(b: ProducerBatch): SequenceVerdict {
    const p = this.#producers.get(b.producerId);
    if (p === undefined) return { kind: 'append' }; // a producer new here (or forgotten) may start anywhere
    if (b.producerEpoch < p.epoch) return { kind: 'fenced', epoch: p.epoch };
    if (b.producerEpoch > p.epoch) return b.baseSequence === 0 ? { kind: 'append' } : { kind: 'out-of-order', expected: 0 };
    const last = lastSequence(b);
    for (const k of p.batches) {
      if (k.baseSequence === b.baseSequence && k.lastSequence === last) return { kind: 'duplicate', firstOffset: k.firstOffset, lastOffset: k.firstOffset + b.lastOffsetDelta };
    }
    const expected = p.batches.length === 0 ? b.baseSequence : next(p.batches[p.batches.length - 1].lastSequence);
    return b.baseSequence === expected ? { kind: 'append' } : { kind: 'out-of-order', expected };
  }

  /** Notes that `b` was stored at `firstOffset`, at `nowMs`. */
  record(b: ProducerBatch, firstOffset: number, nowMs: number): void {
    let p = this.#producers.get(b.producerId);
    if (p === undefined || b.producerEpoch > p.epoch) {
      if (p === undefined && this.#producers.size >= PRODUCERS_MAX) this.#forgetIdle(nowMs);
      p = { epoch: b.producerEpoch, batches: [], lastSeenMs: nowMs };
    }
    this.#producers.delete(b.producerId); // re-inserted last: the map stays in order of last use
    this.#producers.set(b.producerId, p);
    p.lastSeenMs = Math.max(p.lastSeenMs, nowMs);
    p.batches.push({ baseSequence: b.baseSequence, lastSequence: lastSequence(b), firstOffset });
    if (p.batches.length > PRODUCER_BATCHES_KEPT) p.batches.shift();
  }

  get size(): number {
    return this.#producers.size;
  }

  /** Drops producers idle past the window, and the longest idle ones while over PRODUCERS_MAX. */
  #forgetIdle(nowMs: number): void {
    for (const [id, p] of this.#producers) {
      if (this.#producers.size < PRODUCERS_MAX && p.lastSeenMs > nowMs - PRODUCER_STATE_WINDOW_MS) break;
      this.#producers.delete(id);
    }
  }
}

function lastSequence(b: ProducerBatch): number {
  return (b.baseSequence + b.lastOffsetDelta) % (SEQUENCE_MAX + 1);
}

function next(sequence: number): number {
  return sequence === SEQUENCE_MAX ? 0 : sequence + 1;
}

// RecordBatch v2 header fields (native/include/sluice/record_batch.h).
const LAST_OFFSET_DELTA_AT = 23;
const MAX_TIMESTAMP_AT = 35;
const PRODUCER_ID_AT = 43;
const PRODUCER_EPOCH_AT = 51;
const BASE_SEQUENCE_AT = 53;
const ATTRIBUTES_AT = 21;
const BATCH_HEADER_BYTES = 61;
const CONTROL_FLAG = 0x20;

/** The producer fields of the batch at `at` of `bytes` (whose header must be whole); null for a batch without a producer id. */
export function producerBatchAt(bytes: Uint8Array, at: number): ProducerBatch | null {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const producerId = Number(v.getBigInt64(at + PRODUCER_ID_AT));
  if (producerId < 0) return null;
  return { producerId, producerEpoch: v.getInt16(at + PRODUCER_EPOCH_AT), baseSequence: v.getInt32(at + BASE_SEQUENCE_AT), lastOffsetDelta: v.getInt32(at + LAST_OFFSET_DELTA_AT) };
}

/** How a rebuild reads the log: whole batches from an offset, as file ranges. */
export interface BatchSource {
  readonly startOffset: number;
  readonly highWatermark: number;
  slice(offset: number, maxBytes: number): RawSlice | null;
  /** The first offset at or after `timestamp`. */
  offsetForTime(timestamp: number): number;
}

const REBUILD_READ_BYTES = 4 * 1024 * 1024;

/**
 * The producer states of the batches stored from PRODUCER_STATE_WINDOW_MS before `nowMs` to the
 * high watermark, read from their headers (control batches skipped).
 */
export async function rebuildProducerStates(source: BatchSource, nowMs: number): Promise<ProducerStates> {
  const states = new ProducerStates();
  const end = source.highWatermark;
  // The window by the batches' timestamps, which producers set: at least the last
  // PRODUCER_REBUILD_OFFSETS_MIN offsets too, so a producer whose clock lags (or that keeps the
  // original timestamps of what it mirrors) is not forgotten across a restart.
  const byTime = source.offsetForTime(nowMs - PRODUCER_STATE_WINDOW_MS);
  let offset = Math.max(source.startOffset, Math.min(byTime, end - PRODUCER_REBUILD_OFFSETS_MIN));
  while (offset < end) {
    const slice = source.slice(offset, REBUILD_READ_BYTES);
    if (slice === null) break;
    let bytes: Buffer;
    try {
      bytes = await readRange(slice);
    } finally {
      fs.close(slice.fd, () => {});
    }
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at + BATCH_HEADER_BYTES <= bytes.length; ) {
      const total = 12 + v.getInt32(at + 8);
      const b = (v.getUint16(at + ATTRIBUTES_AT) & CONTROL_FLAG) === 0 ? producerBatchAt(bytes, at) : null;
      if (b !== null) states.record(b, Number(v.getBigInt64(at)), Number(v.getBigInt64(at + MAX_TIMESTAMP_AT)));
      at += total;
    }
    if (slice.nextOffset <= offset) break;
    offset = slice.nextOffset;
  }
  return states;
}

async function readRange(slice: RawSlice): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(slice.length);
  for (let done = 0; done < slice.length; ) {
    const n = await new Promise<number>((resolve, reject) => fs.read(slice.fd, buf, done, slice.length - done, slice.position + done, (err, got) => (err ? reject(err) : resolve(got))));
    if (n === 0) return buf.subarray(0, done);
    done += n;
  }
  return buf;
}
