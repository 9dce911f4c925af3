/**
 * The headers the broker sets itself, named once. A producer may not set any of them
 * (value-codec.ts checks), so that each keeps the meaning its owner gives it:
 *   sluice.codec                how the value is encoded (value-codec.ts)
 *   sluice.expires              a message's expiry (topic/ttl.ts)
 *   sluice.id                   an idempotent send's id (topic/dedup-window.ts)
 *   sluice.delay.*              a delayed message's record in the delay log (delay/delay-store.ts)
 *   sluice.half.*               a half message's record in the half log (txn/half-messages.ts)
 *   sluice.schedule, .at        a schedule's firing (schedule/scheduler.ts)
 *   sluice.mirror.source, .progress   where `sluice mirror` copied a record from, and how far
 *                               it got (mirror/progress.ts; written over the Kafka protocol)
 * The dead-letter headers (sluice.dlq.*, delivery/ack/dead-letters.ts) are set on dead letters
 * only, and a redrive strips them.
 */
export const CODEC_HEADER = 'sluice.codec';
export const EXPIRES_HEADER = 'sluice.expires';
export const ID_HEADER = 'sluice.id';
export const DELAY_HEADERS = Object.freeze({ topic: 'sluice.delay.topic', partition: 'sluice.delay.partition', timestamp: 'sluice.delay.timestamp' });
export const HALF_HEADERS = Object.freeze({ topic: 'sluice.half.topic', partition: 'sluice.half.partition', timestamp: 'sluice.half.timestamp' });
export const SCHEDULE_HEADERS = Object.freeze({ name: 'sluice.schedule', at: 'sluice.schedule.at' });

export const MIRROR_HEADERS = Object.freeze({ source: 'sluice.mirror.source', progress: 'sluice.mirror.progress' });

export const RESERVED_HEADERS: readonly string[] = Object.freeze([
  CODEC_HEADER,
  EXPIRES_HEADER,
  ID_HEADER,
  ...Object.values(DELAY_HEADERS),
  ...Object.values(HALF_HEADERS),
  ...Object.values(SCHEDULE_HEADERS),
  ...Object.values(MIRROR_HEADERS),
]);
