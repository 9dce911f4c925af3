/**
 * The durable table of Kafka transactional ids, part of the group state (group-state.ts applies
 * and snapshots it): per id, the producer id it holds, its current epoch, its transaction timeout
 * and how its last transaction ended. The transaction coordinator (txn-coordinator.ts) changes it
 * through GroupState, whose operations are:
 *   [TXN_ID, id, producerId, epoch, timeoutMs, atMs]   an InitProducerId, or a fence (the broker
 *                                                       aborted the open transaction and bumped
 *                                                       the epoch): the id holds producerId at
 *                                                       epoch from now on, nothing ended yet
 *   [TXN_ID_OPEN, id, atMs]                             a transaction of the id opened (its first
 *                                                       AddPartitionsToTxn or AddOffsetsToTxn):
 *                                                       one still open at the next open is aborted
 *                                                       and the id fenced, even one that wrote
 *                                                       nothing but offsets
 *   [TXN_ID_END, id, committed, atMs]                   its transaction ended (markers durable),
 *                                                       committed or aborted: a retried EndTxn of
 *                                                       the same outcome is answered as done
 *   [TXN_ID_DROP, id]                                   expired: unused for TRANSACTIONAL_ID_EXPIRY_MS
 * Snapshot rows: [id, producerId, epoch, timeoutMs, atMs, lastEnd (0 none, 1 commit, 2 abort),
 * open (0 or 1)].
 * Thread-confined (the broker's thread).
 */

/** How a transactional id's last transaction ended since its epoch began. */
export type TransactionEnd = 'commit' | 'abort' | null;

export class TransactionalIdRecord {
  readonly id: string;
  producerId: number;
  epoch: number;
  timeoutMs: number;
  /** When it last changed (ms): ids idle for TRANSACTIONAL_ID_EXPIRY_MS are forgotten. */
  atMs: number;
  lastEnd: TransactionEnd = null;
  /** A transaction of the id is open (TXN_ID_OPEN, not yet ended). */
  open = false;

  constructor(id: string, producerId: number, epoch: number, timeoutMs: number, atMs: number) {
    this.id = id;
    this.producerId = producerId;
    this.epoch = epoch;
    this.timeoutMs = timeoutMs;
    this.atMs = atMs;
  }
}

/** Kafka's transactional.id.expiration.ms default: 7 days. */
export const TRANSACTIONAL_ID_EXPIRY_MS = 7 * 24 * 60 * 60 * 1000;

type Row = [string, number, number, number, number, number, number?];

export class TransactionalIds {
  readonly #ids = new Map<string, TransactionalIdRecord>();
  readonly #byProducer = new Map<number, TransactionalIdRecord>();

  get(id: string): TransactionalIdRecord | undefined {
    return this.#ids.get(id);
  }

  /** The id holding `producerId`, if any (in-process transactions' producer ids have none). */
  ofProducer(producerId: number): TransactionalIdRecord | undefined {
    return this.#byProducer.get(producerId);
  }

  get size(): number {
    return this.#ids.size;
  }

  values(): IterableIterator<TransactionalIdRecord> {
    return this.#ids.values();
  }

  set(id: string, producerId: number, epoch: number, timeoutMs: number, atMs: number): void {
    const old = this.#ids.get(id);
    if (old !== undefined) this.#byProducer.delete(old.producerId);
    const r = new TransactionalIdRecord(id, producerId, epoch, timeoutMs, atMs);
    this.#ids.set(id, r);
    this.#byProducer.set(producerId, r);
  }

  markOpen(id: string, atMs: number): void {
    const r = this.#ids.get(id);
    if (r === undefined) return;
    r.open = true;
    r.atMs = atMs;
  }

  end(id: string, committed: boolean, atMs: number): void {
    const r = this.#ids.get(id);
    if (r === undefined) return;
    r.lastEnd = committed ? 'commit' : 'abort';
    r.open = false;
    r.atMs = atMs;
  }

  drop(id: string): void {
    const r = this.#ids.get(id);
    if (r === undefined) return;
    this.#ids.delete(id);
    this.#byProducer.delete(r.producerId);
  }

  clear(): void {
    this.#ids.clear();
    this.#byProducer.clear();
  }

  rows(): Row[] {
    return [...this.#ids.values()].map((r) => [r.id, r.producerId, r.epoch, r.timeoutMs, r.atMs, r.lastEnd === null ? 0 : r.lastEnd === 'commit' ? 1 : 2, r.open ? 1 : 0]);
  }

  restore(rows: readonly Row[]): void {
    this.clear();
    for (const [id, producerId, epoch, timeoutMs, atMs, lastEnd, open] of rows) {
      this.set(id, producerId, epoch, timeoutMs, atMs);
      const r = this.#ids.get(id)!;
      r.lastEnd = lastEnd === 1 ? 'commit' : lastEnd === 2 ? 'abort' : null;
      r.open = open === 1;
    }
  }
}
