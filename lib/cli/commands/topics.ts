/** `sluice topics list|describe|create|delete`: the topics of a data directory. */
import { type Command, Option } from 'commander';
import { UsageError } from '../exit-codes';
import type { TopicConfigInput } from '../../broker/topic/topic-config';
import { positiveInteger } from '../args';
import { withData } from '../open';
import { printJson, printTable } from '../output';

interface DataOptions {
  data: string;
  json?: boolean;
}

interface CreateOptions extends DataOptions {
  partitions?: number;
  sync?: 'always' | 'interval' | 'none';
  retentionMs?: number;
  retentionBytes?: number;
  maxBacklog?: number;
  messageTtlMs?: number;
}

export function topicsCommand(program: Command): void {
  const topics = program.command('topics').description('list, describe, create and delete topics');
  topics
    .command('list')
    .description('the topics, with their partitions, messages and backlog')
    .requiredOption('--data <dir>', 'the broker data directory')
    .option('--json', 'print JSON')
    .action((o: DataOptions) =>
      withData(o.data, 'read', async (b) => {
        const all = b.listTopics().map((t) => b.describeTopic(t));
        if (o.json) printJson(all.map((t) => ({ name: t.name, partitions: t.partitions.length, messages: t.messages, backlog: t.backlog, groups: t.groups })));
        else printTable(['TOPIC', 'PARTITIONS', 'MESSAGES', 'BACKLOG', 'GROUPS'], all.map((t) => [t.name, t.partitions.length, t.messages, t.backlog, t.groups.join(',')]));
      }),
    );
  topics
    .command('describe <topic>')
    .description('a topic: its config and each partition’s offsets')
    .requiredOption('--data <dir>', 'the broker data directory')
    .option('--json', 'print JSON')
    .action((name: string, o: DataOptions) =>
      withData(o.data, 'read', async (b) => {
        const t = b.describeTopic(name);
        if (o.json) {
          printJson(t);
          return;
        }
        process.stdout.write(`topic ${t.name}: ${t.partitions.length} partition(s), ${t.messages} message(s), backlog ${t.backlog}\n`);
        process.stdout.write(`config ${JSON.stringify(t.config)}\n`);
        printTable(
          ['PARTITION', 'START', 'END', 'STABLE', 'DURABLE'],
          t.partitions.map((p) => [p.partition, p.startOffset, p.endOffset, p.lastStableOffset, p.durableOffset]),
        );
      }),
    );
  topics
    .command('create <topic>')
    .description('create a topic')
    .requiredOption('--data <dir>', 'the broker data directory (created if missing)')
    .option('--partitions <n>', 'partitions (default 1)', positiveInteger)
    .addOption(new Option('--sync <policy>', 'durability (default interval)').choices(['always', 'interval', 'none']))
    .option('--retention-ms <ms>', 'delete segments older than this', positiveInteger)
    .option('--retention-bytes <bytes>', 'delete the oldest segments past this size per partition', positiveInteger)
    .option('--max-backlog <n>', 'bounded queue: refuse sends past this many unconsumed messages', positiveInteger)
    .option('--message-ttl-ms <ms>', 'messages expire this long after their timestamp', positiveInteger)
    .option('--json', 'print the new topic as JSON')
    .action((name: string, o: CreateOptions) =>
      withData(o.data, 'write', async (b) => {
        const config: TopicConfigInput = {};
        if (o.partitions !== undefined) config.partitions = o.partitions;
        if (o.sync !== undefined) config.sync = o.sync;
        if (o.retentionMs !== undefined) config.retentionMs = o.retentionMs;
        if (o.retentionBytes !== undefined) config.retentionBytes = o.retentionBytes;
        if (o.maxBacklog !== undefined) config.maxBacklog = o.maxBacklog;
        if (o.messageTtlMs !== undefined) config.messageTtlMs = o.messageTtlMs;
        const t = await b.createTopic(name, config);
        if (o.json) printJson(t);
        else process.stdout.write(`created topic ${t.name} (${t.partitions.length} partition(s))\n`);
      }),
    );
  topics
    .command('delete <topic>')
    .description('delete a topic, its data and every group’s progress in it')
    .requiredOption('--data <dir>', 'the broker data directory')
    .option('--yes', 'confirm the deletion (required)')
    .action((name: string, o: DataOptions & { yes?: boolean }) =>
      withData(o.data, 'write', async (b) => {
        if (o.yes !== true) throw new UsageError(`deleting topic ${name} loses its data: pass --yes`);
        await b.deleteTopic(name);
        process.stdout.write(`deleted topic ${name}\n`);
      }),
    );
}
