/**
 * Choosing a partition. A keyed message goes where Kafka's default partitioner would put it:
 * toPositive(murmur2(keyBytes)) % partitions, with murmur2 being the 32-bit MurmurHash2 variant of
 * the Java client (seed 0x9747b28c, little-endian 4-byte blocks, signed result) and toPositive
 * clearing the sign bit. So a key lands on the same partition number here as from a Kafka client,
 * for the same partition count. A string key is hashed as its UTF-8 bytes.
 *
 * Keyless messages take turns: each send call, and each batch, goes to the next partition of the
 * topic (all the keyless messages of one batch stay together, as Kafka's sticky partitioner keeps
 * a batch whole). An explicit `partition` on the message, or a custom partitioner, wins.
 */
import { Buffer } from 'node:buffer';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 over `bytes`: a signed 32-bit integer, as Java's `Utils.murmur2` returns. */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.length;
  let h = SEED ^ length;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= bytes[blocks + 2] << 16;
  if (tail >= 2) h ^= bytes[blocks + 1] << 8;
  if (tail >= 1) {
    h ^= bytes[blocks];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

// ASCII keys are hashed from their char codes, without encoding them into a Buffer first.
let scratch = new Uint8Array(256);

/** The UTF-8 bytes of a key, possibly in a scratch array reused by the next call. */
function keyBytes(key: string | Uint8Array): Uint8Array {
  if (typeof key !== 'string') return key;
  const n = key.length;
  if (n > scratch.length) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) return Buffer.from(key, 'utf8');
    scratch[i] = c;
  }
  return scratch.subarray(0, n);
}

/** The partition Kafka's default partitioner gives `key` among `partitions`. */
export function keyPartition(key: string | Uint8Array, partitions: number): number {
  return (murmur2(keyBytes(key)) & 0x7fffffff) % partitions;
}

/** What a custom partitioner is told about each message. */
export interface PartitionerInput {
  topic: string;
  /** The number of partitions of the topic. */
  partitions: number;
  key: string | Uint8Array | null;
  /** The value as given to send, before encoding. */
  value: unknown;
}

/** Returns a partition number in [0, partitions). */
export type Partitioner = (input: PartitionerInput) => number;

/** Round-robin for keyless messages: one counter per topic, advanced once per send or batch. */
export class KeylessRotation {
  readonly #next = new Map<string, number>();

  /** The partition for the next keyless send (or batch) to `topic`. */
  take(topic: string, partitions: number): number {
    const n = this.#next.get(topic) ?? 0;
    this.#next.set(topic, n + 1 >= partitions ? 0 : n + 1);
    return n % partitions;
  }
}

export function checkPartitionResult(p: unknown, partitions: number, topic: string): number {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= partitions) {
    throw new RangeError(`the partitioner returned ${String(p)} for topic ${JSON.stringify(topic)}, which has partitions 0 to ${partitions - 1}`);
  }
  return p;
}
