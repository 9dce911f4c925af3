/**
 * `npm run soak -- --minutes M [--rate N] [--seed S] [--out DIR]`: a soak run of `sluice serve`
 * (bench/soak/run.ts). Prints a line per sample and the summary; exits 0 when every check passed,
 * 1 when one failed, 2 for a usage error. Needs the built bin: `npx tsc -p tsconfig.json` first.
 */
import { Command, InvalidArgumentError } from 'commander';
import { writeReport } from '../bench/soak/report';
import { DEFAULTS } from '../bench/soak/options';
import { runSoak } from '../bench/soak/run';

const number = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};
const integer = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
};

const program = new Command('soak')
  .description('soak sluice serve: steady producers, a fast and a slow consumer group, rebalances, churn and retention')
  .option('--minutes <m>', 'minutes of load (then the groups drain)', number, DEFAULTS.minutes)
  .option('--rate <n>', 'messages per second of the steady producer', number, DEFAULTS.rate)
  .option('--seed <s>', 'seed of the keys, churn and rebalance timing', integer, DEFAULTS.seed)
  .option('--out <dir>', 'where summary.json, summary.txt, samples.csv and chart.svg go', DEFAULTS.out)
  .option('--data <dir>', 'the server data directory (default: a temporary one, removed after)')
  .option('--sample-ms <ms>', 'sampling interval', number, DEFAULTS.sampleMs)
  .option('--rebalance-every-ms <ms>', 'a member joins or leaves a group this often', number, DEFAULTS.rebalanceEveryMs)
  .option('--churn-every-ms <ms>', 'a short-lived client this often', number, DEFAULTS.churnEveryMs)
  .option('--value-bytes <n>', 'message value size', number, DEFAULTS.valueBytes)
  .option('--partitions <n>', 'partitions of the topic', number, DEFAULTS.partitions)
  .option('--segment-bytes <n>', 'segment.bytes of the topic', number, DEFAULTS.segmentBytes)
  .option('--retention-bytes <n>', 'retention.bytes per partition (default: 3x the slow group\'s expected peak backlog)', number)
  .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2));

async function main(): Promise<void> {
  program.parse();
  const a = program.opts<{ minutes: number; rate: number; seed: number; out: string; data?: string; sampleMs: number; rebalanceEveryMs: number; churnEveryMs: number; valueBytes: number; partitions: number; segmentBytes: number; retentionBytes?: number }>();
  const command = `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim();
  const { summary, samples } = await runSoak({
    ...DEFAULTS,
    minutes: a.minutes,
    rate: a.rate,
    seed: a.seed,
    out: a.out,
    dataDir: a.data ?? null,
    sampleMs: a.sampleMs,
    rebalanceEveryMs: a.rebalanceEveryMs,
    churnEveryMs: a.churnEveryMs,
    valueBytes: a.valueBytes,
    partitions: a.partitions,
    segmentBytes: a.segmentBytes,
    retentionBytes: a.retentionBytes ?? null,
    drainTimeoutMs: Math.max(DEFAULTS.drainTimeoutMs, a.minutes * 10_000),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(writeReport(a.out, summary, samples, command));
  process.exitCode = summary.pass ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`soak: ${signal}, stopping the server\n`);
    process.exit(130);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`soak: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
