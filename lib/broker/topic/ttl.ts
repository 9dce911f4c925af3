/**
 * Message expiry (TTL). A message sent with `ttlMs` carries the header EXPIRES_HEADER (its
 * expiry, ms since the epoch, as decimal text); a topic's `messageTtlMs` expires every message
 * that long after its timestamp; the earlier of the two holds. An expired message is never
 * delivered to an in-process consumer: the offset model passes it over, the ack model
 * dead-letters it (reason `expired`) when the consumer has a dead-letter setting (maxDeliveries or
 * deadLetterTopic), else counts it as acked. Kafka clients read the log as stored.
 */
import type { LogRecord, RecordHeader } from '../../storage/log';

import { EXPIRES_HEADER } from '../codec/reserved-headers';
export { EXPIRES_HEADER };

/** When `r` expires (ms), or Infinity. `topicTtlMs`: the topic's messageTtlMs. */
export function expiresAt(r: LogRecord, topicTtlMs: number | null): number {
  let at = topicTtlMs === null ? Infinity : r.timestamp + topicTtlMs;
  if (r.headers.length > 0) {
    const h = expiryHeader(r.headers);
    if (h !== undefined && h < at) at = h;
  }
  return at;
}

function expiryHeader(headers: readonly RecordHeader[]): number | undefined {
  for (const h of headers) {
    if (h.key !== EXPIRES_HEADER || h.value === null) continue;
    const v = Number(h.value.toString());
    return Number.isFinite(v) ? v : undefined;
  }
  return undefined;
}
