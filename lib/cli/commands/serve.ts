/**
 * `sluice serve`: the broker in a data directory, served to Kafka clients until SIGINT or SIGTERM;
 * with --metrics, Prometheus metrics, health and explain over HTTP too (metrics/metrics-server.ts);
 * with --acls, the ACLs of the data directory enforced (sluice acls manages them).
 */
import { type Command, Option } from 'commander';
import { Broker } from '../../broker/broker';
import { aclFileOf } from '../../kafka/acl/acl-store';
import { Server } from '../../kafka/server';
import { MetricsServer } from '../../metrics/metrics-server';
import type { SyncPolicy } from '../../storage/log';
import { listenAddress, positiveInteger } from '../args';
import { EXIT_FAILURE } from '../exit-codes';

interface ServeOptions {
  data: string;
  listen: { host: string; port: number };
  advertise?: { host: string; port: number };
  partitions: number;
  sync: SyncPolicy;
  autoCreateTopics: boolean;
  metrics?: { host: string; port: number };
  acls?: boolean;
}

const shownHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

export async function serve(o: ServeOptions): Promise<void> {
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
      authorization: o.acls === undefined ? undefined : o.acls ? 'acls' : 'none',
    });
  } catch (e) {
    await broker.close();
    throw e;
  }
  let metrics: MetricsServer | null = null;
  if (o.metrics !== undefined) {
    try {
      metrics = await MetricsServer.start({ broker, server, host: o.metrics.host, port: o.metrics.port });
    } catch (e) {
      await server.close();
      await broker.close();
      throw e;
    }
  }
  const { host, port } = server.address;
  process.stdout.write(`listening on ${shownHost(host)}:${port}\n`);
  if (server.authorization === 'acls') process.stdout.write(`ACLs enforced from ${aclFileOf(o.data)} (sluice acls changes them while serving)\n`);
  if (metrics !== null) process.stdout.write(`metrics on http://${shownHost(metrics.address.host)}:${metrics.address.port}/metrics\n`);
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
        await metrics?.close();
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

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the broker in a data directory to Kafka clients')
    .requiredOption('--data <dir>', 'the broker data directory (created if missing)')
    .option('--listen <host:port>', 'where to listen (loopback unless told otherwise)', listenAddress, { host: '127.0.0.1', port: 9092 })
    .option('--advertise <host:port>', 'what clients are told to connect to (default: the listen address)', listenAddress)
    .option('--partitions <n>', 'partitions of topics created through the protocol', positiveInteger, 1)
    .addOption(new Option('--sync <policy>', 'durability of topics created through the protocol').choices(['always', 'interval', 'none']).default('always'))
    .option('--no-auto-create-topics', 'do not create topics that Metadata requests ask for')
    .option('--acls', 'enforce the ACLs of the data directory (sluice acls); clients not allowed get Kafka authorization errors')
    .option('--no-acls', 'do not enforce ACLs (the default for now)')
    .option('--metrics <host:port>', 'also serve Prometheus /metrics, /health and /explain over HTTP there (e.g. 127.0.0.1:9644)', listenAddress)
    .action(async (o: ServeOptions) => serve(o));
}
