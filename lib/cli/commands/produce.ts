/**
 * `sluice produce`: messages from stdin into a topic of a data directory. `--format lines` (the
 * default): each line is a message's value, with --key and --header for all of them. `--format
 * json`: each line is {"value", "key"?, "headers"?, "partition"?}; a value that is not a string
 * is stored as its JSON text. Sent in batches; prints how many when stdin ends.
 */
import * as readline from 'node:readline';
import { type Command, Option } from 'commander';
import type { ProducerMessage } from '../../broker/produce/producer-message';
import { header } from '../args';
import { withData } from '../open';
import { printJson } from '../output';

const BATCH = 1000;

interface ProduceOptions {
  data: string;
  topic: string;
  format: 'lines' | 'json';
  key?: string;
  header?: [string, string][];
  json?: boolean;
}

export function produceCommand(program: Command): void {
  program
    .command('produce')
    .description('send messages from stdin: one per line, or one JSON object per line')
    .requiredOption('--data <dir>', 'the broker data directory')
    .requiredOption('--topic <topic>', 'the topic to send to (it must exist)')
    .addOption(new Option('--format <format>', 'how stdin holds messages').choices(['lines', 'json']).default('lines'))
    .option('--key <key>', 'the key of every message (lines format)')
    .option('--header <name=value>', 'a header of every message (lines format; repeatable)', header)
    .option('--json', 'print the result as JSON')
    .action((o: ProduceOptions) =>
      withData(o.data, 'write', async (b) => {
        b.describeTopic(o.topic); // UNKNOWN_TOPIC before reading anything
        let sent = 0;
        let line = 0;
        let batch: ProducerMessage[] = [];
        const flush = async (): Promise<void> => {
          if (batch.length === 0) return;
          await b.sendBatch(o.topic, batch);
          sent += batch.length;
          batch = [];
        };
        for await (const text of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
          line++;
          if (o.format === 'json' && text.trim() === '') continue;
          batch.push(o.format === 'json' ? jsonMessage(text, line) : lineMessage(text, o));
          if (batch.length >= BATCH) await flush();
        }
        await flush();
        if (o.json) printJson({ topic: o.topic, produced: sent });
        else process.stdout.write(`produced ${sent} message(s) to ${o.topic}\n`);
      }),
    );
}

function lineMessage(text: string, o: ProduceOptions): ProducerMessage {
  const m: ProducerMessage = { value: text };
  if (o.key !== undefined) m.key = o.key;
  if (o.header !== undefined) m.headers = o.header;
  return m;
}

function jsonMessage(text: string, line: number): ProducerMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`line ${line}: not JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !('value' in v)) throw new Error(`line ${line}: want an object {"value", "key"?, "headers"?, "partition"?}`);
  const o = v as { value: unknown; key?: unknown; headers?: unknown; partition?: unknown };
  const m: ProducerMessage = { value: typeof o.value === 'string' || o.value === null ? o.value : JSON.stringify(o.value) };
  if (o.key !== undefined && o.key !== null) {
    if (typeof o.key !== 'string') throw new Error(`line ${line}: key must be a string`);
    m.key = o.key;
  }
  if (o.headers !== undefined) {
    if (o.headers === null || typeof o.headers !== 'object' || Array.isArray(o.headers) || Object.values(o.headers).some((h) => typeof h !== 'string')) {
      throw new Error(`line ${line}: headers must be an object of strings`);
    }
    m.headers = o.headers as Record<string, string>;
  }
  if (o.partition !== undefined) {
    if (typeof o.partition !== 'number') throw new Error(`line ${line}: partition must be a number`);
    m.partition = o.partition;
  }
  return m;
}
