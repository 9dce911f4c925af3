/**
 * `sluice serve`: the broker in a data directory, served to Kafka clients until SIGINT or SIGTERM;
 * with --metrics, Prometheus metrics, health and explain over HTTP too (metrics/metrics-server.ts).
 */
import { type Command, Option } from 'commander';
import { Broker } from '../../broker/broker';
import { Server } from '../../kafka/server';
import { MetricsServer } from '../../metrics/metrics-server';
import type { SyncPolicy } from '../../storage/log';
import type { QuotaOptions } from '../../kafka/quotas/quota-config';
import { listenAddress, positiveInteger } from '../args';
import { connectionsOverride, quotaFlag } from '../quota-flags';
import { EXIT_FAILURE } from '../exit-codes';

interface ServeOptions {
  data: string;
  listen: { host: string; port: number };
  advertise?: { host: string; port: number };
  partitions: number;
  sync: SyncPolicy;
  autoCreateTopics: boolean;
  metrics?: { host: string; port: number };
  quota?: QuotaOptions;
  connectionsPerIp?: number;
  connectionsPerIpOverride?: Record<string, number>;
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
      quotas: o.quota,
      connectionsPerIpMax: o.connectionsPerIp,
      connectionsPerIpOverrides: o.connectionsPerIpOverride,
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
    .option('--quota <spec>', 'a byte-rate quota, enforced with throttling (repeatable): [principal=TYPE:NAME:][client-id=ID:]produce=RATE,fetch=RATE, e.g. produce=1MiB/s or client-id=etl:fetch=512KiB/s', quotaFlag)
    .option('--connections-per-ip <n>', 'at most this many connections from one IP address', positiveInteger)
    .option('--connections-per-ip-override <address=n>', 'another limit for one address (repeatable; 0 refuses it), e.g. 10.0.0.7=500', connectionsOverride)
    .option('--metrics <host:port>', 'also serve Prometheus /metrics, /health and /explain over HTTP there (e.g. 127.0.0.1:9644)', listenAddress)
    .action(async (o: ServeOptions) => serve(o));
}
