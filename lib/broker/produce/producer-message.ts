/** What a producer sends: the message as the application gives it (see producer.ts). */
import type { HeadersInput } from '../../storage/log';

export interface ProducerMessage {
  /**
   * Buffer, Uint8Array or string: stored as bytes; another ArrayBufferView (Float64Array,
   * DataView...): stored as its bytes, and consumers get a Buffer; null: no value; anything else: msgpack.
   */
  value: unknown;
  key?: string | Uint8Array | null;
  headers?: HeadersInput;
  /** Milliseconds since the epoch; default: the broker clock's now. */
  timestamp?: number;
  /** An explicit partition: wins over the key and the partitioner. */
  partition?: number;
  /** The message expires this long after its timestamp: never delivered after (see broker/topic/ttl.ts). */
  ttlMs?: number;
  /** Deliver this many ms from now: durable at once, invisible to consumers until then (broker/delay/). */
  delayMs?: number;
  /** Deliver at this time (a Date or ms since the epoch); the past means now. Not with delayMs. */
  deliverAt?: Date | number;
  /**
   * Idempotent publish: a second send of the same id to the topic within its dedup window
   * resolves with the first one's confirm (`duplicate: true`) and writes nothing (topic/dedup-window.ts).
   */
  id?: string;
}
