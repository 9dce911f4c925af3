/**
 * Topic ids for the API versions that carry them (CreateTopics 7, DeleteTopics 6). Sluice topics
 * have no stored id: the id is derived from the topic's name and creation time, so it is stable for
 * the topic's life and differs for a topic re-created under the same name, as Kafka's ids do.
 */
import { createHash } from 'node:crypto';
import type { Broker } from '../broker/broker';

/** Kafka's Uuid.ZERO_UUID: no topic. */
export const ZERO_TOPIC_ID = Buffer.alloc(16);

export function topicIdOf(name: string, createdAt: number): Buffer {
  const id = createHash('sha256').update(`${name}\u0000${createdAt}`).digest().subarray(0, 16);
  // Never the zero id, which means none.
  if (id.equals(ZERO_TOPIC_ID)) id[15] = 1;
  return Buffer.from(id);
}

/** The name of the broker's topic with `id`, or null. */
export function topicNamed(broker: Broker, id: Buffer): string | null {
  for (const name of broker.listTopics()) if (topicIdOf(name, broker.describeTopic(name).createdAt).equals(id)) return name;
  return null;
}
