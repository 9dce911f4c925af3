/**
 * `sluice why`: why has a consumer group not got this message? `broker.explain()` on a data
 * directory opened read-only (beside a running serve too: then from the durable state, with no
 * members or messages in flight known), for one group or every group that consumes the topic;
 * or asked of a running `sluice serve --metrics` (`--server URL`: its /explain endpoint, from
 * the live state, members and messages in flight included).
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
  data?: string;
  server?: string;
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
    .option('--data <dir>', 'the broker data directory (opened read-only)')
    .option('--server <url>', 'a running sluice serve: its --metrics address (http://HOST:PORT), asked for the live state')
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
      if ((o.data === undefined) === (o.server === undefined)) throw new UsageError('give --data DIR or --server URL');
      if (o.server !== undefined) {
        if (o.group === undefined) throw new UsageError('--server needs --group');
        return askServer(o.server, { ...where(o), group: o.group }).then((e) => print(o, [e]));
      }
      return withData(o.data!, 'read', async (b) => why(b, o));
    });
}

function where(o: WhyOptions): Omit<ExplainQuery, 'group'> {
  return o.delayId !== undefined ? { topic: o.topic, delayId: o.delayId } : { topic: o.topic, partition: o.partition, offset: o.offset };
}

async function why(b: Broker, o: WhyOptions): Promise<void> {
  const groups = o.group !== undefined ? [o.group] : b.describeTopic(o.topic).groups;
  if (groups.length === 0) throw new Error(`no group consumes topic ${o.topic}: name one with --group`);
  print(
    o,
    groups.map((group) => b.explain({ ...where(o), group })),
  );
}

function print(o: WhyOptions, answers: Explanation[]): void {
  if (o.json) printJson(o.group !== undefined ? answers[0] : answers);
  else process.stdout.write(answers.map(asText).join('\n'));
}

/** GET <server>/explain?...: the server's explanation, or its error message. */
async function askServer(server: string, q: ExplainQuery): Promise<Explanation> {
  const url = new URL('/explain', server);
  for (const [k, v] of Object.entries(q)) if (v !== undefined) url.searchParams.set(k, String(v));
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`cannot reach ${server}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message} (is sluice serve running with --metrics?)`);
  }
  const body = (await res.json().catch(() => null)) as (Explanation & { error?: string }) | null;
  if (!res.ok || body === null) throw new Error(body?.error ?? `${server} answered ${res.status}`);
  return body;
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
