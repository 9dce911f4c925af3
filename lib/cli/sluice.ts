#!/usr/bin/env node
/**
 * The `sluice` command (the package's bin), commander for the arguments. Commands:
 *
 *   sluice serve --data DIR [--listen HOST:PORT]   serve the broker in DIR over the Kafka protocol
 *   sluice topics list|describe|create|delete      topics of a data directory
 *   sluice groups list|describe|reset              consumer groups of a data directory
 *   sluice produce --data DIR --topic T            messages from stdin (lines or JSON)
 *   sluice consume --data DIR --topic T            messages to stdout (text or JSON), in a group or none, following
 *   sluice inspect PATH                            segments, batches, records, index entries
 *   sluice verify --data DIR                       is the directory whole? (exit 0, or 1 with a report)
 *   sluice why --data DIR --topic T ...            why has a group not got this message?
 *   sluice bench WORKLOAD [--duration 2s]          a workload against Sluice and installed peers: JSON + HTML report
 *   sluice plan [WORKLOAD] [--rate N ...]         does a workload fit this host? headroom, retention needs, cluster size
 *   sluice mirror --from-... --to-... --topic T     copy topics between data directories and Kafka clusters
 *   sluice users add|remove|list --data DIR        SASL users of a data directory (beside a running serve too)
 *
 * Every command takes --help; those that print data take --json. Commands that only read open
 * the directory read-only (beside a running serve). Exit codes: exit-codes.ts.
 */
import { Command } from 'commander';
import { benchCommand } from './commands/bench';
import { consumeCommand } from './commands/consume';
import { groupsCommand } from './commands/groups';
import { inspectCommand } from './commands/inspect';
import { mirrorCommand } from './commands/mirror';
import { planCommand } from './commands/plan';
import { produceCommand } from './commands/produce';
import { serveCommand } from './commands/serve';
import { topicsCommand } from './commands/topics';
import { usersCommand } from './commands/users';
import { verifyCommand } from './commands/verify';
import { whyCommand } from './commands/why';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './exit-codes';

export function program(): Command {
  const cmd = new Command('sluice').description('Sluice: an embeddable message log and queue engine').exitOverride();
  serveCommand(cmd);
  topicsCommand(cmd);
  groupsCommand(cmd);
  produceCommand(cmd);
  consumeCommand(cmd);
  inspectCommand(cmd);
  verifyCommand(cmd);
  whyCommand(cmd);
  benchCommand(cmd);
  mirrorCommand(cmd);
  planCommand(cmd);
  usersCommand(cmd);
  // Subcommands report their own usage errors the same way.
  for (const c of cmd.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return cmd;
}

async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    // A command that finished with a verdict (verify: damage found) set its exit code.
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    process.stderr.write(`sluice: ${err.message ?? String(e)}\n`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

if (require.main === module) {
  // Output piped into a reader that stops early (`| head`): stop quietly, as Unix tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_OK);
    throw e;
  });
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
