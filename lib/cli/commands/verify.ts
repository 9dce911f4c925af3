/**
 * `sluice verify`: checks a whole data directory read-only and says whether it is whole. For
 * every topic: its topic.json against its partition directories; for every partition, every
 * batch's CRC, contiguous offsets, the preallocated tails and the index files
 * (storage/partition-check.ts); then a read-only broker open, which checks the topics' metadata
 * and replays the group state against them. A progress bar on a terminal (cli-progress). Exit 0
 * when whole, 1 with a report of what is damaged and where.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { Broker } from '../../broker/broker';
import { checkPartition, type Problem } from '../../storage/partition-check';
import { printJson } from '../output';

interface VerifyOptions {
  data: string;
  json?: boolean;
}

interface Report {
  whole: boolean;
  topics: number;
  partitions: number;
  segments: number;
  batches: number;
  bytes: number;
  problems: Problem[];
}

export function verifyCommand(program: Command): void {
  program
    .command('verify')
    .description('check a whole data directory read-only: exit 0 when whole, 1 with what is damaged and where')
    .requiredOption('--data <dir>', 'the broker data directory')
    .option('--json', 'print the report as JSON')
    .action(async (o: VerifyOptions) => {
      const report = await verify(o.data, process.stderr.isTTY === true && o.json !== true);
      if (o.json) printJson(report);
      else printReport(report);
      if (!report.whole) process.exitCode = 1;
    });
}

async function verify(data: string, progress: boolean): Promise<Report> {
  const report: Report = { whole: true, topics: 0, partitions: 0, segments: 0, batches: 0, bytes: 0, problems: [] };
  const topicsDir = path.join(data, 'topics');
  if (!fs.existsSync(path.join(data, 'broker.json'))) throw new Error(`${data} is not a broker data directory (no broker.json)`);
  const partitions: string[] = [];
  for (const topic of fs.existsSync(topicsDir) ? fs.readdirSync(topicsDir).sort() : []) {
    report.topics++;
    partitions.push(...topicPartitions(path.join(topicsDir, topic), report.problems));
  }
  const bar = progress ? new SingleBar({ format: 'verify [{bar}] {value}/{total} partitions', hideCursor: true, clearOnComplete: true }) : null;
  bar?.start(partitions.length, 0);
  for (const dir of partitions) {
    const c = checkPartition(dir);
    report.partitions++;
    report.segments += c.segments;
    report.batches += c.batches;
    report.bytes += c.bytes;
    report.problems.push(...c.problems);
    bar?.increment();
  }
  bar?.stop();
  // The broker's own checks: metadata against files, and the group state replayed against them.
  try {
    const b = await Broker.open(data, { readOnly: true });
    await b.close();
  } catch (e) {
    report.problems.push({ file: data, what: `the broker does not open: ${(e as Error).message}` });
  }
  report.whole = report.problems.length === 0;
  return report;
}

/** A topic's partition directories, checked against its topic.json. */
function topicPartitions(dir: string, problems: Problem[]): string[] {
  const meta = path.join(dir, 'topic.json');
  let count: number | null = null;
  try {
    const m = JSON.parse(fs.readFileSync(meta, 'utf8')) as { config?: { partitions?: unknown } };
    if (typeof m.config?.partitions === 'number') count = m.config.partitions;
    else problems.push({ file: meta, what: 'has no partition count' });
  } catch (e) {
    problems.push({ file: meta, what: `cannot be read: ${(e as Error).message}` });
  }
  const dirs = fs.readdirSync(dir).filter((n) => /^\d+$/.test(n) && fs.statSync(path.join(dir, n)).isDirectory());
  if (count !== null) {
    for (let p = 0; p < count; p++) if (!dirs.includes(String(p))) problems.push({ file: path.join(dir, String(p)), what: `partition ${p} of ${count} is missing` });
    for (const d of dirs) if (Number(d) >= count) problems.push({ file: path.join(dir, d), what: `a partition directory past topic.json's ${count}` });
  }
  return dirs.sort((a, b) => Number(a) - Number(b)).map((d) => path.join(dir, d));
}

function printReport(r: Report): void {
  const summary = `${r.topics} topic(s), ${r.partitions} partition(s), ${r.segments} segment(s), ${r.batches} batch(es), ${r.bytes} bytes`;
  if (r.whole) {
    process.stdout.write(`whole: ${summary}\n`);
    return;
  }
  process.stdout.write(`DAMAGED: ${r.problems.length} problem(s) in ${summary}\n`);
  for (const p of r.problems) process.stdout.write(`  ${p.file}${p.position === undefined ? '' : ` @${p.position}`}: ${p.what}\n`);
}
