/**
 * Kafka topic configs in Sluice's terms and back: what CreateTopics accepts and DescribeConfigs
 * reports. Durability has no single Kafka name: flush.messages=1 is sync 'always' (a sync before
 * every acknowledgement, as Redpanda does for acks=all), flush.ms=N is sync 'interval' every N ms,
 * and flush.messages at its maximum with no flush.ms is sync 'none'.
 */
import type { TopicConfig, TopicConfigInput } from '../broker/topic/topic-config';

/** Kafka's "never" for flush.messages and flush.ms (Long.MAX_VALUE). */
const NEVER = '9223372036854775807';

export class ConfigError extends Error {}

function wholeNumber(name: string, value: string, min: number): number {
  if (!/^-?\d+$/.test(value)) throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || !Number.isSafeInteger(n)) throw new ConfigError(`${name} must be an integer of at least ${min}, got ${value}`);
  return n;
}

/** The topic settings a CreateTopics request's configs ask for (on top of the server's defaults). */
export function fromKafkaConfigs(configs: readonly { name: string; value: string | null }[]): TopicConfigInput {
  const out: TopicConfigInput = {};
  let flushMessages: string | null = null;
  let flushMs: string | null = null;
  for (const { name, value } of configs) {
    if (value === null) continue; // null: the default
    switch (name) {
      case 'retention.ms':
        out.retentionMs = value === '-1' ? null : wholeNumber(name, value, 1);
        break;
      case 'retention.bytes':
        out.retentionBytes = value === '-1' ? null : wholeNumber(name, value, 1);
        break;
      case 'segment.bytes':
        out.segmentBytes = wholeNumber(name, value, 1);
        break;
      case 'max.message.bytes':
        out.messageBytesMax = wholeNumber(name, value, 1);
        break;
      case 'flush.messages':
        flushMessages = value;
        break;
      case 'flush.ms':
        flushMs = value;
        break;
      case 'cleanup.policy':
        if (value !== 'delete') throw new ConfigError(`cleanup.policy ${JSON.stringify(value)} is not supported (only delete: no compaction)`);
        break;
      default:
        throw new ConfigError(`topic config ${JSON.stringify(name)} is not supported (supported: retention.ms, retention.bytes, segment.bytes, max.message.bytes, flush.messages, flush.ms, cleanup.policy=delete)`);
    }
  }
  if (flushMessages === '1') out.sync = 'always';
  else if (flushMs !== null && flushMs !== NEVER) {
    out.sync = 'interval';
    out.syncIntervalMs = wholeNumber('flush.ms', flushMs, 1);
  } else if (flushMessages !== null || flushMs !== null) {
    if (flushMessages !== null && flushMessages !== NEVER) throw new ConfigError(`flush.messages must be 1 (sync always) or ${NEVER} (never), got ${flushMessages}`);
    out.sync = 'none';
  }
  return out;
}

/** A topic's settings under Kafka's names, for DescribeConfigs. */
export function toKafkaConfigs(config: TopicConfig, logMessageBytesMaxDefault: number): { name: string; value: string }[] {
  return [
    { name: 'cleanup.policy', value: 'delete' },
    { name: 'retention.ms', value: String(config.retentionMs ?? -1) },
    { name: 'retention.bytes', value: String(config.retentionBytes ?? -1) },
    { name: 'segment.bytes', value: String(config.segmentBytes) },
    { name: 'max.message.bytes', value: String(config.messageBytesMax ?? Math.min(logMessageBytesMaxDefault, config.segmentBytes)) },
    { name: 'flush.messages', value: config.sync === 'always' ? '1' : NEVER },
    { name: 'flush.ms', value: config.sync === 'interval' ? String(config.syncIntervalMs) : NEVER },
  ];
}
