/**
 * `sluice groups list|describe|reset`: the consumer groups of a data directory (list and
 * describe read-only; reset needs the directory to itself, so no server's members are live).
 */
import type { Command } from 'commander';
import type { ResetTarget } from '../../broker/broker';
import { position, type Position } from '../args';
import { withData } from '../open';
import { printJson, printTable } from '../output';

interface DataOptions {
  data: string;
  json?: boolean;
}

export function groupsCommand(program: Command): void {
  const groups = program.command('groups').description('list, describe and reset consumer groups');
  groups
    .command('list')
    .description('the groups, with their model and lag')
    .requiredOption('--data <dir>', 'the broker data directory')
    .option('--json', 'print JSON')
    .action((o: DataOptions) =>
      withData(o.data, 'read', async (b) => {
        const all = b.listGroups().map((g) => b.describeGroup(g));
        if (o.json) printJson(all.map((g) => ({ name: g.name, model: g.model, lag: g.lag, inFlight: g.inFlight, redeliveries: g.redeliveries })));
        else printTable(['GROUP', 'MODEL', 'LAG'], all.map((g) => [g.name, g.model, g.lag]));
      }),
    );
  groups
    .command('describe <group>')
    .description('a group: its position and lag in each partition')
    .requiredOption('--data <dir>', 'the broker data directory')
    .option('--json', 'print JSON')
    .action((name: string, o: DataOptions) =>
      withData(o.data, 'read', async (b) => {
        const g = b.describeGroup(name);
        if (o.json) {
          printJson(g);
          return;
        }
        process.stdout.write(`group ${g.name} (${g.model} model): lag ${g.lag}\n`);
        printTable(['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG'], g.partitions.map((p) => [p.topic, p.partition, p.committedOffset, p.endOffset, p.lag]));
      }),
    );
  groups
    .command('reset <group>')
    .description("move a group's position in a topic (refused while the group has members)")
    .requiredOption('--data <dir>', 'the broker data directory')
    .requiredOption('--topic <topic>', 'the topic whose partitions move')
    .requiredOption('--to <position>', 'earliest, latest, an offset (each partition) or a time (ISO 8601)', position)
    .option('--json', 'print JSON')
    .action((name: string, o: DataOptions & { topic: string; to: Position }) =>
      withData(o.data, 'write', async (b) => {
        const moved = await b.resetGroup(name, o.topic, resetTarget(o.to));
        if (o.json) printJson({ group: name, topic: o.topic, partitions: moved });
        else printTable(['PARTITION', 'OFFSET'], moved.map((m) => [m.partition, m.offset]));
      }),
    );
}

function resetTarget(p: Position): ResetTarget {
  if (p.kind === 'earliest' || p.kind === 'latest') return p.kind;
  return p.kind === 'offset' ? { offset: p.offset } : { timestamp: p.timestamp };
}
