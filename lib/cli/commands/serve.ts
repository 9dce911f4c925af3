/**
 * `sluice serve`: the broker in a data directory, served to Kafka clients until SIGINT or SIGTERM;
 * with --metrics, Prometheus metrics, health and explain over HTTP too (metrics/metrics-server.ts);
 * with --tls-cert and --tls-key over TLS, with --sasl requiring SASL logins of the users that
 * `sluice users` keeps in the directory (kafka/security/). SIGHUP reopens every partition that
 * failed (fail-stop after a failed write or sync, once the disk is fixed) and prints what it did:
 * one line per partition, or that none had failed. With --acls, the ACLs of the data directory
 * are enforced (sluice acls manages them; the default with --sasl).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { Broker } from '../../broker/broker';
import { aclFileOf } from '../../kafka/acl/acl-store';
import type { PartitionReopenOutcome } from '../../broker/topic/partition-reopen';
import { Server } from '../../kafka/server';
import { MetricsServer } from '../../metrics/metrics-server';
import type { SyncPolicy } from '../../storage/log';
import type { QuotaOptions } from '../../kafka/quotas/quota-config';
import { listenAddress, positiveInteger } from '../args';
import { EXIT_FAILURE, UsageError } from '../exit-codes';
import { connectionsOverride, quotaFlag } from '../quota-flags';
import { isSaslMechanism, SASL_MECHANISMS } from '../../kafka/security/sasl/mechanism';
import type { TlsOptions } from '../../kafka/security/tls';

interface ServeOptions {
  data: string;
  listen: { host: string; port: number };
  advertise?: { host: string; port: number };
  partitions: number;
  sync: SyncPolicy;
  autoCreateTopics: boolean;
  metrics?: { host: string; port: number };
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsClientAuth?: 'required' | 'requested' | 'none';
  sasl?: string[];
  acls?: boolean;
  quota?: QuotaOptions;
  connectionsPerIp?: number;
  connectionsPerIpOverride?: Record<string, number>;
}

/** --tls-* as ServerOptions.tls (undefined: plaintext); a CA or key without its certificate is a usage error. */
function tlsOf(o: ServeOptions): TlsOptions | undefined {
  if (o.tlsCert === undefined && o.tlsKey === undefined) {
    if (o.tlsCa !== undefined || o.tlsClientAuth !== undefined) throw new UsageError('--tls-ca and --tls-client-auth need --tls-cert and --tls-key');
    return undefined;
  }
  if (o.tlsCert === undefined || o.tlsKey === undefined) throw new UsageError('TLS needs both --tls-cert and --tls-key');
  return { cert: o.tlsCert, key: o.tlsKey, ca: o.tlsCa, clientAuth: o.tlsClientAuth };
}

/** What the listener speaks, in Kafka's security.protocol names, for the startup line. */
function protocolOf(tls: boolean, sasl: string[] | undefined): string {
  const name = sasl === undefined ? (tls ? 'SSL' : 'PLAINTEXT') : tls ? 'SASL_SSL' : 'SASL_PLAINTEXT';
  return sasl === undefined ? name : `${name} ${sasl.join(',')}`;
}

function mechanismList(value: string): string[] {
  const list = value.split(',').map((m) => m.trim().toUpperCase());
  for (const m of list) if (!isSaslMechanism(m)) throw new InvalidArgumentError(`unknown SASL mechanism ${JSON.stringify(m)} (known: ${SASL_MECHANISMS.join(', ')})`);
  return list;
}

const shownHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

export async function serve(o: ServeOptions): Promise<void> {
  const tls = tlsOf(o);
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
      tls,
      sasl: o.sasl === undefined ? undefined : { mechanisms: o.sasl },
      authorization: o.acls === undefined ? undefined : o.acls ? 'acls' : 'none',
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
  // The handlers go in before the address is printed: whoever reads it may signal at once.
  const closed = new Promise<void>((resolve) => {
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
    const reopen = (): void => {
      if (!stopping) void reopenFailed(broker);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', reopen);
  });
  process.stdout.write(`listening on ${shownHost(host)}:${port} (${protocolOf(tls !== undefined, o.sasl)})\n`);
  if (server.authorization === 'acls') process.stdout.write(`ACLs enforced from ${aclFileOf(o.data)} (sluice acls changes them while serving)\n`);
  if (metrics !== null) process.stdout.write(`metrics on http://${shownHost(metrics.address.host)}:${metrics.address.port}/metrics\n`);
  await closed;
  process.stdout.write('closed\n');
}

/** SIGHUP: reopens the failed partitions, one line each (errors on stderr). */
async function reopenFailed(broker: Broker): Promise<void> {
  let outcomes: PartitionReopenOutcome[];
  try {
    outcomes = await broker.reopenFailedPartitions();
  } catch (e) {
    process.stderr.write(`SIGHUP: ${e instanceof Error ? e.message : String(e)}\n`);
    return;
  }
  if (outcomes.length === 0) process.stdout.write('SIGHUP: no failed partitions\n');
  for (const o of outcomes) {
    const name = `${o.topic}/${o.partition}`;
    if ('error' in o) {
      process.stderr.write(`SIGHUP: ${name} could not be reopened (it stays read-only): ${o.error.message}\n`);
      continue;
    }
    const lost = o.lostVisible > 0 ? `, ${o.lostVisible} written but unsynced records lost` : '';
    process.stdout.write(`SIGHUP: reopened ${name}, taking writes from offset ${o.endOffset}${lost} (it had failed: ${o.failure})\n`);
  }
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
    .option('--no-acls', 'do not enforce ACLs (the default without --sasl)')
    .option('--quota <spec>', 'a byte-rate quota, enforced with throttling (repeatable): [principal=TYPE:NAME:][client-id=ID:]produce=RATE,fetch=RATE, e.g. produce=1MiB/s or client-id=etl:fetch=512KiB/s', quotaFlag)
    .option('--connections-per-ip <n>', 'at most this many connections from one IP address', positiveInteger)
    .option('--connections-per-ip-override <address=n>', 'another limit for one address (repeatable; 0 refuses it), e.g. 10.0.0.7=500', connectionsOverride)
    .option('--metrics <host:port>', 'also serve Prometheus /metrics, /health and /explain over HTTP there (e.g. 127.0.0.1:9644)', listenAddress)
    .option('--tls-cert <file>', 'serve TLS with this certificate chain (PEM)')
    .option('--tls-key <file>', "the TLS certificate's private key (PEM)")
    .option('--tls-ca <file>', 'CA certificates (PEM) client certificates must chain to: mutual TLS')
    .addOption(new Option('--tls-client-auth <mode>', 'with --tls-ca: whether clients must present a certificate (default required)').choices(['required', 'requested', 'none']))
    .option('--sasl <mechanisms>', `require SASL authentication with these mechanisms (${SASL_MECHANISMS.join(',')}); users: sluice users`, mechanismList)
    .action(async (o: ServeOptions) => serve(o));
}
