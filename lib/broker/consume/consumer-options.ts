/**
 * The options of consumers and of their poll(), run(), seek(), commit() and pause() calls:
 * types, validation (TypeError for a wrong type, RangeError for a value out of range) and defaults.
 */
import { READ_RECORDS_MAX } from '../../limits';
import { boolean, checkKeys, duration, integer, oneOf, optionsObject, shown } from '../../validate';
import type { DeliveryModel } from '../group/group-state';
import { isPattern, TopicPattern } from '../routing/topic-pattern';
import { MessageFilter } from '../routing/message-filter';
import { RetryBackoff, type RetryBackoffInput } from '../delivery/ack/retry-backoff';

export type StartPosition = 'earliest' | 'latest' | { timestamp: number };

export interface ConsumerOptions {
  /** The consumer group to join (created on first use). */
  group: string;
  /**
   * The topics to consume: names, or patterns (`orders.*`: one word; `logs.#`: any number of
   * words; see routing/topic-pattern.ts), whose topics created later are consumed too.
   */
  topics: string | readonly string[];
  /**
   * Deliver only messages this expression accepts (routing/message-filter.ts), e.g.
   * `region = 'eu' AND amount > 100`; the others are passed over (the group's position moves
   * past them). Every member of a group gives the same filter.
   */
  filter?: string;
  /** The group's delivery model; must match an existing group. Default 'offset'. */
  model?: DeliveryModel;
  /** Where a group starts in a topic it has never consumed. Default 'earliest'. */
  start?: StartPosition;
  /** Offset model: commit automatically after processing. Default true. */
  autoCommit?: boolean;
  /** Ack model: the most messages this consumer may have unacked at once. Default 1000. */
  maxInFlight?: number;
  /** Ack model: an unacked message is delivered again this long after its delivery. Default 30000. */
  visibilityTimeoutMs?: number;
  /**
   * Ack model: how long a message whose delivery failed (a nack without delayMs, a handler that
   * threw, a visibility timeout, an undecodable value) waits before its next delivery, by its
   * number of failures: a list of delays ([1000, 5000, 30000]: the last one repeats) or
   * {initialMs, maxMs, multiplier?, jitter?} (see retry-backoff.ts). The wait is durable. Default:
   * none (a nack redelivers at once; run() waits its retryDelayMs).
   */
  retryBackoff?: RetryBackoffInput;
  /**
   * Ack model: after this many failed deliveries (see retryBackoff) a message goes to the
   * dead-letter topic instead of being retried. Default: never.
   */
  maxDeliveries?: number;
  /** Ack model: the topic dead letters go to; it must exist. Default `<topic>.dlq`, created when first needed. */
  deadLetterTopic?: string;
  /** Records read from a partition at a time. Default 1024. */
  fetchMax?: number;
  /** Offset model: how long a revoked partition waits for messages in progress. Default 30000. */
  rebalanceTimeoutMs?: number;
  /**
   * How long close() waits for run() handlers still in progress before abandoning them (their
   * messages are then redelivered, ack model, or not committed, offset model). Default 30000.
   */
  closeTimeoutMs?: number;
  /** Aborting closes the consumer. */
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** Overrides the consumer's closeTimeoutMs for this close. */
  timeoutMs?: number;
}

export interface PollOptions {
  /** Resolve with no messages after this long (default: wait for messages, abort or close). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RunOptions<M> {
  /** Offset model: partitions processed at once; ack model: messages processed at once. Default 1. */
  concurrency?: number;
  /** After a handler throws, the message is retried after this delay. Default 1000. */
  retryDelayMs?: number;
  /** Told about every handler failure (default: a process warning). */
  onError?: (error: unknown, message: M) => void;
  /** Aborting stops the run (the consumer stays open). */
  signal?: AbortSignal;
  /**
   * Ack model, 'key': messages with the same key are handled one at a time, in offset order (a
   * retry keeps its place: the key's next message waits until it is acked or dead-lettered),
   * while different keys run in parallel up to `concurrency`. Keyless messages are not held.
   * The offset model always handles a partition in order.
   */
  orderBy?: 'key';
}

export interface SeekTarget {
  topic: string;
  /** One partition (default: every partition of the topic this consumer holds). */
  partition?: number;
  offset?: number;
  /** The first message at or after this time (the end of the partition if there is none). */
  timestamp?: number;
}

export interface CommitEntry {
  topic: string;
  partition: number;
  /** The next offset to consume. */
  offset: number;
}

export interface PartitionRef {
  topic: string;
  partition?: number;
}

export function integerOption(v: unknown, what: string, min: number, max: number, dflt: number): number {
  return integer(v, what, min, max, dflt);
}

/** A duration that must be above 0 (a visibility timeout of 0 would redeliver at once). */
function positiveDuration(v: unknown, name: string, dflt: number): number {
  const ms = duration(v, name, dflt);
  if (ms === 0) throw new RangeError(`${name} must be above 0 ms, got 0`);
  return ms;
}

/** How long close() waits for running handlers by default. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

/** The close timeout of `options`, or `fallback`. */
export function checkCloseOptions(options: unknown, fallback: number): number {
  if (options === undefined) return fallback;
  if (options === null || typeof options !== 'object') throw new TypeError('close options must be an object');
  const o = options as CloseOptions;
  for (const k of Object.keys(o)) if (k !== 'timeoutMs') throw new TypeError(`unknown close option ${JSON.stringify(k)}`);
  return duration(o.timeoutMs, 'timeoutMs', fallback);
}

export function checkSignal(signal: unknown, what: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new TypeError(`${what} must be an AbortSignal`);
  return signal;
}

export function checkRefs(targets: unknown): PartitionRef[] {
  if (!Array.isArray(targets)) throw new TypeError('pause/resume take an array of {topic, partition?}');
  for (const t of targets) {
    if (t === null || typeof t !== 'object' || typeof t.topic !== 'string') throw new TypeError('pause/resume take an array of {topic, partition?}');
    if (t.partition !== undefined) integerOption(t.partition, 'partition', 0, Number.MAX_SAFE_INTEGER, 0);
  }
  return targets as PartitionRef[];
}

/** Consumer options after validation and defaults. */
export interface NormalizedConsumerOptions {
  group: string;
  /** The topics named (each must exist). */
  topics: string[];
  /** The topic patterns. */
  patterns: TopicPattern[];
  filter: MessageFilter | null;
  model: DeliveryModel;
  start: StartPosition;
  autoCommit: boolean;
  maxInFlight: number;
  visibilityTimeoutMs: number;
  retryBackoff: RetryBackoff | null;
  maxDeliveries: number | null;
  deadLetterTopic: string | null;
  fetchMax: number;
  rebalanceTimeoutMs: number;
  closeTimeoutMs: number;
  signal: AbortSignal | undefined;
}

const CONSUMER_KEYS = new Set(['group', 'topics', 'filter', 'model', 'start', 'autoCommit', 'maxInFlight', 'visibilityTimeoutMs', 'retryBackoff', 'maxDeliveries', 'deadLetterTopic', 'fetchMax', 'rebalanceTimeoutMs', 'closeTimeoutMs', 'signal']);

function deadLetterTopicOption(v: unknown): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || v.length === 0) throw new TypeError(`deadLetterTopic must be a topic name, got ${shown(v)}`);
  return v;
}

export function normalizeConsumerOptions(options: unknown): NormalizedConsumerOptions {
  if (options === undefined) throw new TypeError('consumer options must be an object, got undefined');
  const o = optionsObject(options, 'consumer options') as unknown as ConsumerOptions;
  checkKeys(o, CONSUMER_KEYS, 'consumer option');
  if (typeof o.group !== 'string') throw new TypeError(`group must be a string, got ${shown(o.group)}`);
  if (o.group.length === 0 || o.group.length > 249) throw new RangeError(`group must be 1 to 249 characters, got ${o.group.length}`);
  const topics = typeof o.topics === 'string' ? [o.topics] : o.topics;
  if (!Array.isArray(topics) || topics.length === 0 || topics.some((t) => typeof t !== 'string')) throw new TypeError(`topics must be a topic name or a non-empty array of them, got ${shown(o.topics)}`);
  const model = oneOf(o.model, 'model', ['offset', 'ack'] as const, 'offset');
  const start = o.start ?? 'earliest';
  if (start !== 'earliest' && start !== 'latest') {
    if (start === null || typeof start !== 'object' || typeof start.timestamp !== 'number' || !Number.isSafeInteger(start.timestamp)) {
      throw new TypeError("start must be 'earliest', 'latest' or {timestamp}");
    }
  }
  const autoCommit = boolean(o.autoCommit, 'autoCommit', true);
  return {
    group: o.group,
    topics: [...new Set((topics as string[]).filter((t) => !isPattern(t)))],
    patterns: [...new Set((topics as string[]).filter(isPattern))].map((p) => new TopicPattern(p)),
    filter: o.filter === undefined ? null : new MessageFilter(o.filter),
    model,
    start,
    autoCommit,
    maxInFlight: integerOption(o.maxInFlight, 'maxInFlight', 1, 1_000_000, 1000),
    visibilityTimeoutMs: positiveDuration(o.visibilityTimeoutMs, 'visibilityTimeoutMs', 30_000),
    retryBackoff: RetryBackoff.parse(o.retryBackoff),
    maxDeliveries: o.maxDeliveries === undefined ? null : integerOption(o.maxDeliveries, 'maxDeliveries', 1, 1_000_000, 1),
    deadLetterTopic: deadLetterTopicOption(o.deadLetterTopic),
    fetchMax: integerOption(o.fetchMax, 'fetchMax', 1, READ_RECORDS_MAX, 1024),
    rebalanceTimeoutMs: duration(o.rebalanceTimeoutMs, 'rebalanceTimeoutMs', 30_000),
    closeTimeoutMs: duration(o.closeTimeoutMs, 'closeTimeoutMs', DEFAULT_CLOSE_TIMEOUT_MS),
    signal: checkSignal(o.signal, 'signal'),
  };
}
