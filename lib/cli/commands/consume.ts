/**
 * `sluice consume`: the messages of a topic of a data directory, to stdout, from a position
 * (earliest, latest, an offset, a time) to the end. Read-only (beside a running serve, it sees
 * what was on disk when it opened): it reads the partitions directly, in no group. `--format
 * text` prints each value on a line; `json` one object per line with topic, partition, offset,
 * timestamp, key, value and headers (text, or base64 for bytes that are not UTF-8).
 */
import { type Command, Option } from 'commander';
import type { Broker } from '../../broker/broker';
import type { LogRecord } from '../../storage/log';
import { nonNegativeInteger, positiveInteger, position, type Position } from '../args';
import { withData } from '../open';
import { textOrBase64 } from '../output';

interface ConsumeOptions {
  data: string;
  topic: string;
  partition?: number;
  from: Position;
  max?: number;
  format: 'text' | 'json';
}

const STEP = 1000;

export function consumeCommand(program: Command): void {
  program
    .command('consume')
    .description("print a topic's messages, from a position to the end (read-only, no group)")
    .requiredOption('--data <dir>', 'the broker data directory')
    .requiredOption('--topic <topic>', 'the topic to read')
    .option('--partition <n>', 'only this partition', nonNegativeInteger)
    .option('--from <position>', 'earliest, latest, an offset (per partition) or a time (ISO 8601)', position, { kind: 'earliest' } as Position)
    .option('--max <n>', 'stop after this many messages', positiveInteger)
    .addOption(new Option('--format <format>', 'how to print each message').choices(['text', 'json']).default('text'))
    .action((o: ConsumeOptions) => withData(o.data, 'read', async (b) => consume(b, o)));
}

async function consume(b: Broker, o: ConsumeOptions): Promise<void> {
  const t = b.describeTopic(o.topic);
  const partitions = o.partition === undefined ? t.partitions.map((p) => p.partition) : [o.partition];
  if (o.partition !== undefined && o.partition >= t.partitions.length) throw new Error(`topic ${o.topic} has partitions 0 to ${t.partitions.length - 1}`);
  let printed = 0;
  for (const p of partitions) {
    const access = b.partition(o.topic, p);
    const offsets = access.offsets();
    let at = startOf(o.from, offsets, (ts) => access.offsetForTime(ts));
    while (at < offsets.lastStableOffset && (o.max === undefined || printed < o.max)) {
      const { records, nextOffset } = access.read(at, STEP);
      for (const r of records) {
        if (o.max !== undefined && printed >= o.max) break;
        process.stdout.write(`${o.format === 'json' ? JSON.stringify(asJson(o.topic, p, r)) : (r.value?.toString() ?? '')}\n`);
        printed++;
      }
      if (nextOffset <= at) break;
      at = nextOffset;
    }
  }
}

function startOf(from: Position, offsets: { startOffset: number; endOffset: number }, forTime: (ts: number) => number): number {
  switch (from.kind) {
    case 'earliest':
      return offsets.startOffset;
    case 'latest':
      return offsets.endOffset;
    case 'offset':
      return Math.max(offsets.startOffset, from.offset);
    default:
      return forTime(from.timestamp);
  }
}

function asJson(topic: string, partition: number, r: LogRecord): unknown {
  return {
    topic,
    partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: textOrBase64(r.key),
    value: textOrBase64(r.value),
    headers: Object.fromEntries(r.headers.map((h) => [h.key, textOrBase64(h.value)])),
  };
}
