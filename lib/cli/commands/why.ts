/**
 * `sluice why`: why has a consumer group not got this message? `broker.explain()` on a data
 * directory opened read-only (beside a running serve too: then from the durable state, with no
 * members or messages in flight known), for one group or every group that consumes the topic.
 * Text (the state and its reason, the group's position, the partition's offsets) or `--json`
 * (the Explanation objects, an array when several groups are asked about).
 */
import type { Command } from 'commander';
import type { Broker } from '../../broker/broker';
import type { Explanation, ExplainQuery } from '../../broker/explain/explanation';
import { nonNegativeInteger } from '../args';
import { UsageError } from '../exit-codes';
import { withData } from '../open';
import { printJson } from '../output';

interface WhyOptions {
  data: string;
  topic: string;
  partition?: number;
  offset?: number;
  delayId?: number;
  group?: string;
  json?: boolean;
}

export function whyCommand(program: Command): void {
  program
    .command('why')
    .description('why has a group not got a message? where it stands for the group, and what it waits for')
    .requiredOption('--data <dir>', 'the broker data directory (opened read-only)')
    .requiredOption('--topic <topic>', "the message's topic")
    .option('--partition <n>', "the message's partition", nonNegativeInteger)
    .option('--offset <n>', "the message's offset", nonNegativeInteger)
    .option('--delay-id <n>', "a delayed message: the delayId of its send's confirm", nonNegativeInteger)
    .option('--group <group>', 'the consumer group (default: every group consuming the topic)')
    .option('--json', 'print JSON')
    .action((o: WhyOptions) => {
      const located = o.partition !== undefined && o.offset !== undefined;
      if (located === (o.delayId !== undefined) || (!located && (o.partition !== undefined || o.offset !== undefined))) {
        throw new UsageError('give --partition and --offset, or --delay-id');
      }
      return withData(o.data, 'read', async (b) => why(b, o));
    });
}

async function why(b: Broker, o: WhyOptions): Promise<void> {
  const groups = o.group !== undefined ? [o.group] : b.describeTopic(o.topic).groups;
  if (groups.length === 0) throw new Error(`no group consumes topic ${o.topic}: name one with --group`);
  const where: Omit<ExplainQuery, 'group'> = o.delayId !== undefined ? { topic: o.topic, delayId: o.delayId } : { topic: o.topic, partition: o.partition, offset: o.offset };
  const answers = groups.map((group) => b.explain({ ...where, group }));
  if (o.json) printJson(o.group !== undefined ? answers[0] : answers);
  else process.stdout.write(answers.map(asText).join('\n'));
}

function asText(e: Explanation): string {
  const lines = [`${e.topic}/${e.partition}@${e.offset === -1 ? `delayed ${e.delayId}` : e.offset} for group ${e.group}: ${e.state}`, `  ${e.reason}`];
  const p = e.position;
  if (p !== null) {
    const member = p.member === null ? 'no member holds the partition' : `held by ${p.member}${p.paused ? ' (paused)' : ''}`;
    lines.push(`  group: ${p.model} model, position ${p.committedOffset}, ${member}, ${p.members} member(s) here${p.filter === null ? '' : `, filter ${p.filter}`}`);
  }
  const x = e.offsets;
  lines.push(`  partition: start ${x.startOffset}, end ${x.endOffset}, high watermark ${x.highWatermark}, stable ${x.lastStableOffset}, durable ${x.durableOffset}`);
  for (const n of e.notes) lines.push(`  note: ${n}`);
  return `${lines.join('\n')}\n`;
}
