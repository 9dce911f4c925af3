/**
 * Producer ids for idempotent producers (Kafka's InitProducerId; in-process idempotent producers
 * later): unique for the life of the data directory. They are handed out from blocks of
 * BLOCK_SIZE whose end is recorded durably (producer-ids.json) before the block's first id is
 * used, so a crash loses at most the rest of a block, never repeats an id.
 */
import type { BrokerDirectory } from '../store/broker-directory';

const BLOCK_SIZE = 1000;
/** Kafka's producer ids are int64; these stay far below 2^53. */
const PRODUCER_ID_MAX = Number.MAX_SAFE_INTEGER - BLOCK_SIZE;

export class ProducerIds {
  readonly #directory: BrokerDirectory;
  #next = 0;
  #blockEnd = 0;
  /** The block being recorded, shared by the callers waiting for it. */
  #growing: Promise<void> | null = null;

  constructor(directory: BrokerDirectory) {
    this.#directory = directory;
  }

  async next(): Promise<number> {
    while (this.#next >= this.#blockEnd) {
      this.#growing ??= this.#grow().finally(() => (this.#growing = null));
      await this.#growing;
    }
    return this.#next++;
  }

  async #grow(): Promise<void> {
    const start = Math.max(this.#blockEnd, await this.#directory.readProducerIdsNext());
    if (start > PRODUCER_ID_MAX) throw new RangeError('producer ids are exhausted');
    await this.#directory.writeProducerIdsNext(start + BLOCK_SIZE);
    this.#next = start;
    this.#blockEnd = start + BLOCK_SIZE;
  }
}
