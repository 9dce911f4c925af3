/**
 * `sluice mirror`: copies topics from a Sluice data directory (read-only, beside a running serve)
 * or a Kafka-protocol cluster into a Kafka-protocol cluster or a Sluice data directory (writable:
 * no serve may hold it; the mirror serves it to itself on a loopback port for the time of the
 * copy, so both targets are written the same way). See lib/mirror/ for how it resumes.
 *
 * Progress (per partition: the next source offset copied, the source end, the lag) goes to stderr
 * every --progress-ms, as text or JSON lines (--json); the summary goes to stdout at the end.
 */
import { type Command, Option } from 'commander';
import type { Broker } from '../../broker/broker';
import { Server } from '../../kafka/server';
import { KafkaCluster } from '../../mirror/kafka-cluster';
import { mirror, type Partitioning, type Report } from '../../mirror/mirror';
import { DataSource, KafkaSource, type Source } from '../../mirror/sources';
import { positiveInteger } from '../args';
import { UsageError } from '../exit-codes';
import { openData } from '../open';
import { printJson, printTable } from '../output';

interface MirrorCommandOptions {
  fromData?: string;
  fromBrokers?: string[];
  toData?: string;
  toBrokers?: string[];
  topic: string[];
  pattern?: string;
  partitioning: Partitioning;
  sourceId?: string;
  follow?: boolean;
  pollMs: number;
  batch: number;
  progressMs: number;
  timeoutMs: number;
  json?: boolean;
}

const FETCH_BYTES = 1 << 20;
const RETRIES = 3;

function brokerList(value: string, previous: string[] = []): string[] {
  const list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0 || list.some((s) => !/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(s))) throw new UsageError(`want HOST:PORT[,HOST:PORT...], got ${JSON.stringify(value)}`);
  return [...previous, ...list];
}

function repeated(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function mirrorCommand(program: Command): void {
  program
    .command('mirror')
    .description('copy topics between Sluice data directories and Kafka-protocol clusters (resumes where it stopped, exactly once)')
    .option('--from-data <dir>', 'copy from this data directory (opened read-only)')
    .option('--from-brokers <host:port,...>', 'copy from this Kafka-protocol cluster (a sluice serve, Kafka, Redpanda)', brokerList)
    .option('--to-data <dir>', 'copy into this data directory (no sluice serve may have it open)')
    .option('--to-brokers <host:port,...>', 'copy into this Kafka-protocol cluster', brokerList)
    .option('--topic <topic>', 'a topic to copy (repeatable)', repeated, [])
    .option('--pattern <regex>', 'copy every topic whose whole name matches (internal __ topics left out)')
    .addOption(new Option('--partitioning <how>', 'preserve: the same partition number; key: the target partition of the key (murmur2)').choices(['preserve', 'key']).default('preserve'))
    .option('--source-id <id>', "names the source in the progress the target keeps (default: the source's cluster id)")
    .option('--follow', 'keep copying new records until interrupted (SIGINT/SIGTERM)')
    .option('--poll-ms <ms>', 'following: how often to look for new records', positiveInteger, 1000)
    .option('--batch <n>', 'records per target transaction at most', positiveInteger, 1000)
    .option('--progress-ms <ms>', 'how often to report the lag on stderr', positiveInteger, 5000)
    .option('--timeout-ms <ms>', 'connection and request timeout of a Kafka cluster', positiveInteger, 10_000)
    .option('--json', 'progress (stderr) and summary (stdout) as JSON')
    .action(async (o: MirrorCommandOptions) => runMirror(o));
}

async function runMirror(o: MirrorCommandOptions): Promise<void> {
  if ((o.fromData === undefined) === (o.fromBrokers === undefined)) throw new UsageError('give one source: --from-data DIR or --from-brokers HOST:PORT');
  if ((o.toData === undefined) === (o.toBrokers === undefined)) throw new UsageError('give one target: --to-data DIR or --to-brokers HOST:PORT');
  if ((o.topic.length > 0) === (o.pattern !== undefined)) throw new UsageError('say what to copy: --topic T (repeatable) or --pattern REGEX');
  let pattern: RegExp | undefined;
  if (o.pattern !== undefined) {
    try {
      pattern = new RegExp(`^(?:${o.pattern})$`);
    } catch (e) {
      throw new UsageError(`--pattern: ${(e as Error).message}`);
    }
  }
  const closers: (() => Promise<unknown>)[] = [];
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const source = await openSource(o);
    closers.push(() => source.close());
    const target = await openTarget(o, closers);
    const summary = await mirror({
      source,
      target,
      sourceId: o.sourceId ?? (await source.defaultId()),
      topics: pattern ?? o.topic,
      partitioning: o.partitioning,
      follow: o.follow === true,
      pollMs: o.pollMs,
      batchRecords: o.batch,
      fetchBytes: FETCH_BYTES,
      progressMs: o.progressMs,
      signal: ac.signal,
      report: (r) => progress(r, o.json === true),
    });
    printSummary(summary, o.json === true);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    for (const c of closers.reverse()) await c().catch(() => {});
  }
}

async function openSource(o: MirrorCommandOptions): Promise<Source> {
  if (o.fromData !== undefined) return DataSource.open(o.fromData);
  const cluster = await KafkaCluster.connect({ brokers: o.fromBrokers!, clientId: 'sluice-mirror-source', timeoutMs: o.timeoutMs, retries: RETRIES });
  return new KafkaSource(cluster, o.fromBrokers!);
}

/** The target cluster; a data directory is served to the mirror alone, on a loopback port. */
async function openTarget(o: MirrorCommandOptions, closers: (() => Promise<unknown>)[]): Promise<KafkaCluster> {
  let brokers = o.toBrokers;
  if (o.toData !== undefined) {
    const broker: Broker = await openData(o.toData, 'write');
    closers.push(() => broker.close());
    const server = await Server.start({ broker, host: '127.0.0.1', port: 0, autoCreateTopics: false, groupInitialRebalanceDelayMs: 0 });
    closers.push(() => server.close());
    brokers = [`127.0.0.1:${server.address.port}`];
  }
  const cluster = await KafkaCluster.connect({ brokers: brokers!, clientId: 'sluice-mirror-target', timeoutMs: o.timeoutMs, retries: RETRIES });
  closers.push(() => cluster.close());
  return cluster;
}

function progress(r: Report, json: boolean): void {
  if (json) {
    process.stderr.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const lag = r.partitions.reduce((n, p) => n + p.lag, 0);
  const parts = r.partitions.map((p) => `${p.topic}/${p.partition} ${p.copied}/${p.end}`).join(', ');
  process.stderr.write(`mirror: ${r.records} records copied, lag ${lag} (${parts})\n`);
}

function printSummary(r: Report, json: boolean): void {
  if (json) {
    printJson(r);
    return;
  }
  printTable(
    ['TOPIC', 'PARTITION', 'COPIED', 'END', 'LAG'],
    r.partitions.map((p) => [p.topic, p.partition, p.copied, p.end, p.lag]),
  );
  process.stdout.write(`${r.records} records copied\n`);
}
