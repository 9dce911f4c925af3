#!/usr/bin/env node
/**
 * The `sluice` command (the package's bin). Commands:
 *
 *   sluice serve --data DIR [--listen HOST:PORT]   serve the broker in DIR over the Kafka protocol
 *
 * Exit codes: 0 done (serve: shut down cleanly on SIGINT or SIGTERM), 1 a failure while running
 * (the message says what; serve: also a second signal, which exits without waiting), 2 a usage
 * error (unknown option, bad value).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Broker } from '../broker/broker';
import type { SyncPolicy } from '../storage/log';
import { Server } from '../kafka/server';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function listenAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  if (m === null) throw new InvalidArgumentError('want HOST:PORT, e.g. 127.0.0.1:9092 or [::1]:9092');
  const port = Number(m[3]);
  if (port > 65535) throw new InvalidArgumentError('the port must be 0 to 65535');
  return { host: m[1] ?? (m[2] === '' ? '127.0.0.1' : m[2]), port };
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('want a positive integer');
  return n;
}

interface ServeOptions {
  data: string;
  listen: { host: string; port: number };
  advertise?: { host: string; port: number };
  partitions: number;
  sync: SyncPolicy;
  autoCreateTopics: boolean;
}

async function serve(o: ServeOptions): Promise<void> {
  const broker = await Broker.open(o.data);
  let server: Server;
  try {
    server = await Server.start({
      broker,
      host: o.listen.host,
      port: o.listen.port,
      advertisedHost: o.advertise?.host,
      advertisedPort: o.advertise?.port,
      autoCreateTopics: o.autoCreateTopics,
      topicDefaults: { partitions: o.partitions, sync: o.sync },
    });
  } catch (e) {
    await broker.close();
    throw e;
  }
  const { host, port } = server.address;
  process.stdout.write(`listening on ${host.includes(':') ? `[${host}]` : host}:${port}\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second signal: the user will not wait for clients to finish (or close their side).
        process.stderr.write(`${signal} again: exiting without waiting\n`);
        process.exit(EXIT_FAILURE);
      }
      stopping = true;
      process.stdout.write(`${signal}: answering requests in flight, then closing\n`);
      void (async () => {
        await server.close();
        await broker.close();
        resolve();
      })();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write('closed\n');
}

export function program(): Command {
  const cmd = new Command('sluice').description('Sluice: an embeddable message log and queue engine').exitOverride();
  cmd
    .command('serve')
    .description('serve the broker in a data directory to Kafka clients')
    .requiredOption('--data <dir>', 'the broker data directory (created if missing)')
    .option('--listen <host:port>', 'where to listen (loopback unless told otherwise)', listenAddress, { host: '127.0.0.1', port: 9092 })
    .option('--advertise <host:port>', 'what clients are told to connect to (default: the listen address)', listenAddress)
    .option('--partitions <n>', 'partitions of topics created through the protocol', positiveInteger, 1)
    .addOption(new Option('--sync <policy>', 'durability of topics created through the protocol').choices(['always', 'interval', 'none']).default('always'))
    .option('--no-auto-create-topics', 'do not create topics that Metadata requests ask for')
    .action(async (o: ServeOptions) => serve(o));
  return cmd;
}

async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    process.stderr.write(`sluice: ${err.message ?? String(e)}\n`);
    return EXIT_FAILURE;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
