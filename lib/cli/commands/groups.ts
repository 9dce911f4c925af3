/** `sluice groups list|describe`: the consumer groups of a data directory (read-only). */
import type { Command } from 'commander';
import { withData } from '../open';
import { printJson, printTable } from '../output';

interface DataOptions {
  data: string;
  json?: boolean;
}

export function groupsCommand(program: Command): void {
  const groups = program.command('groups').description('list and describe consumer groups');
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
}
