/**
 * Topic names and per-topic configuration: validation, defaults, and the Log options each
 * partition is opened with. The normalised config is what topic.json stores.
 */
import type { LogOptions, SyncPolicy } from '../../storage/log';
import { LIMITS } from '../../limits';
import { checkKeys, integer, oneOf, optionsObject } from '../../validate';

const SYNC_POLICIES: readonly SyncPolicy[] = ['always', 'interval', 'none'];

/** Kafka's rule: ASCII letters, digits, '.', '_' and '-', 1 to 249 of them, and not "." or "..". */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Each partition holds an open Log (a mapped segment, index files, a flusher slot): bound them. */
export const PARTITIONS_MAX = 1024;
/** Segments are preallocated, so the default is smaller than the Log's own (256 MiB). */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export interface TopicConfig {
  /** Number of partitions, each its own Log. Default 1. */
  partitions: number;
  /** The Log durability policy of every partition (see LogOptions.sync). Default 'interval'. */
  sync: SyncPolicy;
  /** For sync 'interval'. Default 1000. */
  syncIntervalMs: number;
  /** Per partition: delete the oldest segments past this many bytes. null: no limit. */
  retentionBytes: number | null;
  /** Per partition: delete segments whose newest message is older than this. null: no limit. */
  retentionMs: number | null;
  /**
   * Bounded queue: the most messages the topic may hold that its slowest consumer group has not
   * consumed (committed or acked); a send that would go past it fails with QUEUE_FULL (or waits).
   * With no group yet, every retained message counts. null: unbounded.
   */
  maxBacklog: number | null;
  /** Segment file capacity of each partition. Default 64 MiB. */
  segmentBytes: number;
  /** The largest message (with its batch header); null: the Log's default (1 MiB, at most segmentBytes). */
  messageBytesMax: number | null;
  /** Messages expire this long after their timestamp: never delivered after (see broker/topic/ttl.ts). null: never. */
  messageTtlMs: number | null;
  /** Idempotent publish (dedup-window.ts): a send's id is remembered this long (ms). Default 2 minutes. */
  dedupWindowMs: number;
  /** ... and for at most this many of the topic's latest messages sent with an id. Default 100,000. */
  dedupWindowCount: number;
}

export type TopicConfigInput = Partial<TopicConfig>;

const KEYS = new Set<string>(['partitions', 'sync', 'syncIntervalMs', 'retentionBytes', 'retentionMs', 'maxBacklog', 'segmentBytes', 'messageBytesMax', 'messageTtlMs', 'dedupWindowMs', 'dedupWindowCount']);

export const DEDUP_WINDOW_MS_DEFAULT = 120_000;
export const DEDUP_WINDOW_COUNT_DEFAULT = 100_000;
/** Each id in the window costs memory: at most this many per topic. */
export const DEDUP_WINDOW_COUNT_MAX = 10_000_000;

export function checkTopicName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new TypeError(`topic name must be a string, got ${typeof name}`);
  if (!TOPIC_NAME.test(name) || name === '.' || name === '..') {
    throw new RangeError(
      `invalid topic name ${JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}...` : name)}: use 1 to 249 of a-z A-Z 0-9 . _ - (and not "." or "..")`,
    );
  }
}

// The storage engine's bounds (native/include/sluice/log.h, through lib/limits.ts).
const SEGMENT_BYTES_MIN = LIMITS.segmentBytesMin;
const SEGMENT_BYTES_MAX = LIMITS.segmentBytesMax;
const MESSAGE_BYTES_MAX_MIN = LIMITS.messageBytesMaxMin;
const SYNC_INTERVAL_MS_MAX = LIMITS.syncIntervalMsMax;

function limit(v: unknown, what: string): number | null {
  if (v === undefined || v === null) return null;
  return integer(v, what, 1, Number.MAX_SAFE_INTEGER);
}

/** Checks a topic config as given to createTopic and fills in the defaults. */
export function normalizeTopicConfig(input: unknown): TopicConfig {
  const c = optionsObject(input, 'topic config');
  checkKeys(c, KEYS, 'topic option');
  const segmentBytes = integer(c.segmentBytes, 'segmentBytes', SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX, DEFAULT_SEGMENT_BYTES);
  const config: TopicConfig = {
    partitions: integer(c.partitions, 'partitions', 1, PARTITIONS_MAX, 1),
    sync: oneOf(c.sync, 'sync', SYNC_POLICIES, 'interval'),
    syncIntervalMs: integer(c.syncIntervalMs, 'syncIntervalMs', 1, SYNC_INTERVAL_MS_MAX, 1000),
    retentionBytes: limit(c.retentionBytes, 'retentionBytes'),
    retentionMs: limit(c.retentionMs, 'retentionMs'),
    maxBacklog: limit(c.maxBacklog, 'maxBacklog'),
    segmentBytes,
    messageBytesMax: c.messageBytesMax === undefined || c.messageBytesMax === null ? null : integer(c.messageBytesMax, 'messageBytesMax', MESSAGE_BYTES_MAX_MIN, segmentBytes),
    messageTtlMs: limit(c.messageTtlMs, 'messageTtlMs'),
    dedupWindowMs: integer(c.dedupWindowMs, 'dedupWindowMs', 1, Number.MAX_SAFE_INTEGER, DEDUP_WINDOW_MS_DEFAULT),
    dedupWindowCount: integer(c.dedupWindowCount, 'dedupWindowCount', 1, DEDUP_WINDOW_COUNT_MAX, DEDUP_WINDOW_COUNT_DEFAULT),
  };
  return config;
}

/** The storage Log's default limit on one message: 1 MiB, or the segment size if smaller. */
const LOG_MESSAGE_BYTES_DEFAULT = LIMITS.messageBytesMaxDefault;

/** The limit every partition Log of the topic applies to one message (its batch header included). */
export function messageBytesMaxOf(config: TopicConfig): number {
  return config.messageBytesMax ?? Math.min(LOG_MESSAGE_BYTES_DEFAULT, config.segmentBytes);
}

/** The options every partition Log of a topic is opened with. */
export function logOptionsOf(config: TopicConfig): LogOptions {
  const o: LogOptions = { segmentBytes: config.segmentBytes, sync: config.sync };
  if (config.sync === 'interval') o.syncIntervalMs = config.syncIntervalMs;
  if (config.retentionBytes !== null) o.retentionBytes = config.retentionBytes;
  if (config.retentionMs !== null) o.retentionMs = config.retentionMs;
  // Always explicit, so that the producer's checks (messageBytesMaxOf) and the Log's agree.
  o.messageBytesMax = messageBytesMaxOf(config);
  return o;
}
