/**
 * Dead letters (ack model): a message whose failed deliveries reach the consumer's maxDeliveries,
 * or that a handler rejects (msg.reject), goes to a dead-letter topic (default `<topic>.dlq`) with
 * its key, value, headers and timestamp as stored, plus the headers below; the append there and
 * the ack of the original are one transaction (broker/txn/), so a crash in between neither loses
 * nor duplicates it. Dead-letter topics are ordinary topics.
 */
import type { LogRecord, Message } from '../../../storage/log';
import { EXPIRES_HEADER } from '../../topic/ttl';

/** The headers a dead letter carries beside its own (values UTF-8 strings). */
export const DEAD_LETTER_HEADERS = Object.freeze({
  topic: 'sluice.dlq.topic',
  partition: 'sluice.dlq.partition',
  offset: 'sluice.dlq.offset',
  group: 'sluice.dlq.group',
  reason: 'sluice.dlq.reason',
  deliveries: 'sluice.dlq.deliveries',
  error: 'sluice.dlq.error',
});

/** Why a message was dead-lettered (`sluice.dlq.reason`; msg.reject may give its own). */
export const DeadLetterReason = Object.freeze({ MAX_DELIVERIES: 'max-deliveries', REJECTED: 'rejected', EXPIRED: 'expired' });

/** The suffix of a topic's default dead-letter topic. */
export const DEAD_LETTER_SUFFIX = '.dlq';

/** Longest error text kept in a dead letter's header. */
const ERROR_TEXT_MAX = 4096;

export interface DeadLetterRequest {
  group: string;
  topic: string;
  partition: number;
  offset: number;
  record: LogRecord;
  reason: string;
  /** Deliveries of the message so far. */
  deliveries: number;
  /** The last failure's text (a handler's error, a nack's), or null. */
  error: string | null;
  deadLetterTopic: string;
}

/** Where an AckPartition sends its dead letters: resolves once the transaction committed. */
export type DeadLetterSink = (request: DeadLetterRequest) => Promise<void>;

/** The dead letter to append for `r`: the stored message and the dead-letter headers. */
export function deadLetterMessage(r: DeadLetterRequest): Message {
  // A dead letter does not expire (its original's expiry is dropped): it waits to be looked at.
  const headers: [string, string | Uint8Array | null][] = r.record.headers.filter((h) => h.key !== EXPIRES_HEADER).map((h) => [h.key, h.value]);
  headers.push(
    [DEAD_LETTER_HEADERS.topic, r.topic],
    [DEAD_LETTER_HEADERS.partition, String(r.partition)],
    [DEAD_LETTER_HEADERS.offset, String(r.offset)],
    [DEAD_LETTER_HEADERS.group, r.group],
    [DEAD_LETTER_HEADERS.reason, r.reason],
    [DEAD_LETTER_HEADERS.deliveries, String(r.deliveries)],
  );
  if (r.error !== null) headers.push([DEAD_LETTER_HEADERS.error, r.error.slice(0, ERROR_TEXT_MAX)]);
  return { key: r.record.key, value: r.record.value, headers, timestamp: r.record.timestamp };
}

/** The text of a failure, for the error header. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
