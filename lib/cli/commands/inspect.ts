/**
 * `sluice inspect`: the files of a partition (or one file) as they are on disk, the way Kafka's
 * dump-log tool prints them: each segment's batches (header fields, CRC checked, control and
 * compressed batches included; with --records every record), and the offset, time and
 * aborted-transaction index entries. Reads files only: it never opens the Log, so it works on a
 * directory a server holds and on a damaged one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { dumpOffsetIndex, dumpSegment, dumpTimeIndex, dumpTxnIndex, type DumpedBatch, type DumpedRecord } from '../../storage/segment-dump';
import { nonNegativeInteger } from '../args';
import { UsageError } from '../exit-codes';
import { printJson, textOrBase64 } from '../output';

interface InspectOptions {
  data?: string;
  topic?: string;
  partition?: number;
  records?: boolean;
  json?: boolean;
}

const KINDS = ['.log', '.index', '.timeindex', '.txnindex'];

export function inspectCommand(program: Command): void {
  program
    .command('inspect [path]')
    .description("print a partition's segments, batches, records and index entries (a partition directory or one file)")
    .option('--data <dir>', 'the broker data directory (with --topic and --partition, instead of a path)')
    .option('--topic <topic>', 'the topic')
    .option('--partition <n>', 'the partition', nonNegativeInteger)
    .option('--records', 'print every record of every batch')
    .option('--json', 'print JSON')
    .action(async (target: string | undefined, o: InspectOptions) => {
      const files = filesOf(target, o);
      const out = files.map((f) => dump(f, o.records === true));
      if (o.json) printJson(out.map(jsonReady));
      else for (const d of out) printDump(d);
    });
}

function filesOf(target: string | undefined, o: InspectOptions): string[] {
  let p = target;
  if (p === undefined) {
    if (o.data === undefined || o.topic === undefined || o.partition === undefined) throw new UsageError('give a path, or --data, --topic and --partition');
    p = path.join(o.data, 'topics', o.topic, String(o.partition));
  }
  if (!fs.existsSync(p)) throw new Error(`${p} does not exist`);
  if (fs.statSync(p).isFile()) return [p];
  // Segment by segment (base offsets sort as their zero-padded names), the log before its indexes.
  const order = (n: string) => KINDS.findIndex((k) => n.endsWith(k));
  const names = fs
    .readdirSync(p)
    .filter((n) => order(n) >= 0)
    .sort((a, b) => (a.slice(0, 20) === b.slice(0, 20) ? order(a) - order(b) : a < b ? -1 : 1));
  if (names.length === 0) throw new Error(`${p} holds no segment or index files`);
  return names.map((n) => path.join(p, n));
}

type Dump = { file: string; kind: string } & Record<string, unknown>;

/** Record bytes as text (or base64) for --json. */
function jsonReady(d: Dump): Dump {
  if (d.kind !== 'segment') return d;
  const batches = (d.batches as DumpedBatch[]).map((b) =>
    b.records === undefined
      ? b
      : { ...b, records: b.records.map((r) => ({ ...r, key: textOrBase64(r.key), value: textOrBase64(r.value), headers: r.headers.map((h) => ({ key: h.key, value: textOrBase64(h.value) })) })) },
  );
  return { ...d, batches };
}

function dump(file: string, records: boolean): Dump {
  const kind = KINDS.find((k) => file.endsWith(k));
  if (kind === '.log') return { file, kind: 'segment', ...dumpSegment(file, records) };
  if (kind === '.index') return { file, kind: 'offset index', entries: dumpOffsetIndex(file) };
  if (kind === '.timeindex') return { file, kind: 'time index', entries: dumpTimeIndex(file) };
  if (kind === '.txnindex') return { file, kind: 'aborted transactions index', entries: dumpTxnIndex(file) };
  throw new UsageError(`${file}: not a .log, .index, .timeindex or .txnindex file`);
}

function printDump(d: Dump): void {
  process.stdout.write(`Dumping ${d.file} (${d.kind})\n`);
  if (d.kind === 'segment') {
    for (const b of d.batches as DumpedBatch[]) printBatch(b);
    const tail = d.tail as { position: number; bytes: number; zeros: boolean } | null;
    if (tail !== null) process.stdout.write(`${tail.zeros ? 'preallocated' : 'UNREADABLE'} tail: ${tail.bytes} bytes from position ${tail.position}${tail.zeros ? ' (zeros)' : ''}\n`);
    return;
  }
  for (const e of d.entries as Record<string, number>[]) process.stdout.write(`${Object.entries(e).map(([k, v]) => `${k}: ${v}`).join(' ')}\n`);
}

function printBatch(b: DumpedBatch): void {
  const fields = [
    `baseOffset: ${b.baseOffset}`,
    `lastOffset: ${b.lastOffset}`,
    `count: ${b.count}`,
    `position: ${b.position}`,
    `size: ${b.bytes}`,
    `magic: ${b.magic}`,
    `compresscodec: ${b.codec}`,
    `crc: ${b.crc}`,
    `isValid: ${b.crcValid}`,
    `producerId: ${b.producerId}`,
    `producerEpoch: ${b.producerEpoch}`,
    `baseSequence: ${b.baseSequence}`,
    `isTransactional: ${b.transactional}`,
    `isControl: ${b.control}`,
    `${b.timestampType === 'log-append' ? 'LogAppendTime' : 'CreateTime'}: ${b.maxTimestamp}`,
  ];
  if (b.marker !== undefined) fields.push(`endTxnMarker: ${b.marker.toUpperCase()}`);
  if (b.problem !== undefined) fields.push(`PROBLEM: ${b.problem}`);
  process.stdout.write(`${fields.join(' ')}\n`);
  for (const r of b.records ?? []) process.stdout.write(`| ${recordLine(r)}\n`);
}

function recordLine(r: DumpedRecord): string {
  const show = (x: Buffer | null) => (x === null ? 'null' : JSON.stringify(x.toString('utf8')));
  const headers = r.headers.map((h) => `${h.key}=${show(h.value)}`).join(',');
  return `offset: ${r.offset} timestamp: ${r.timestamp} keySize: ${r.key?.length ?? -1} valueSize: ${r.value?.length ?? -1} key: ${show(r.key)} value: ${show(r.value)} headers: [${headers}]`;
}
