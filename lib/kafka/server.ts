/**
 * Server: serves an in-process Broker over the Kafka protocol, so that Kafka clients (kafkajs,
 * librdkafka and kcat, @platformatic/kafka, ...) produce to and consume from it unchanged.
 *
 *   const server = await Server.start({ broker, host: '127.0.0.1', port: 9092 });
 *   ...
 *   await server.close(); // answers what is in flight, then closes every connection
 *
 * One node: it is every partition's leader and the group coordinator. It listens on loopback
 * unless told otherwise. The broker stays the application's: close() does not close it.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Broker } from '../broker/broker';
import type { TopicConfigInput } from '../broker/topic/topic-config';
import { integer, optionsObject, checkKeys, shown } from '../validate';
import { Connection, type ConnectionLimits, type ConnectionProblem } from './connection';
import { ANONYMOUS_PRINCIPAL, type ServerContext, type Session } from './handlers/handler';
import { HANDLERS } from './handlers';
import { GroupCoordinator } from './groups/coordinator';
import { SegmentDescriptors } from './file-region';
import type { SendCounters } from './region-sender';
import { RequestStats, type ApiRequestStats } from './request-stats';
import { SaslAuthenticator, saslListener, type SaslListener, type SaslOptions } from './security/sasl/authenticator';
import { onTlsConnections, tlsListener, type TlsOptions } from './security/tls';

export interface ServerOptions {
  broker: Broker;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 9092; 0 picks a free port (see `address`). */
  port?: number;
  /** What Metadata tells clients to connect to. Default: the host and port listened on. */
  advertisedHost?: string;
  advertisedPort?: number;
  /** The node id of this broker. Default 0. */
  nodeId?: number;
  /** Create topics that Metadata is asked about and that do not exist (when the request allows it). Default true. */
  autoCreateTopics?: boolean;
  /** Settings of topics created through the protocol where the request gives none. Default { partitions: 1, sync: 'always' }. */
  topicDefaults?: TopicConfigInput;
  /** The largest request frame accepted; a larger one closes the connection. Default 100 MiB. */
  requestBytesMax?: number;
  /** At most this many connections at once; more are closed at once. Default 10000. */
  connectionsMax?: number;
  /** A connection that sends nothing for this long is closed. Default 600000 (Kafka's connections.max.idle.ms). */
  idleTimeoutMs?: number;
  /** A connection that leaves a request frame half sent for this long is closed. Default 30000. */
  frameTimeoutMs?: number;
  /** Told why a connection was closed by the server (malformed request, limits, timeouts). */
  onClientError?: (problem: ConnectionProblem) => void;
  /** How long a new group's first rebalance waits for more members (Kafka's group.initial.rebalance.delay.ms). Default 3000. */
  groupInitialRebalanceDelayMs?: number;
  /** Send fetched records from the segment files with sendfile where the platform allows. Default true; false copies them. */
  zeroCopy?: boolean;
  /** Serve TLS (security/tls.ts): certificate, key, and CAs for client certificates (mutual TLS). Fetches then copy records (sendfile cannot encrypt). */
  tls?: TlsOptions;
  /** Require SASL authentication (security/sasl/): the mechanisms offered; users come from `<broker.dir>/security/users.json` (`sluice users`). */
  sasl?: SaslOptions;
}

/** What the server has done so far. */
export interface ServerStats {
  /** Record bytes fetches sent from the files to sockets with sendfile. */
  fetchBytesZeroCopy: number;
  /** Record bytes fetches read and wrote (probes of a full socket, and every byte where sendfile cannot serve). */
  fetchBytesCopied: number;
  /** Whether fetches may send records with sendfile; when not, zeroCopyOff says why. */
  zeroCopy: boolean;
  zeroCopyOff: 'tls' | 'disabled' | 'platform' | null;
  /** Whether the listener is TLS, and the SASL mechanisms it requires (none: no SASL). */
  tls: boolean;
  saslMechanisms: string[];
  /** Connections open now, by principal (User:ANONYMOUS until authenticated). */
  principals: { principal: string; connections: number }[];
  /** SASL authentications that succeeded and that failed since start. */
  authenticationsSucceeded: number;
  authenticationsFailed: number;
  /** Connections open now. */
  connections: number;
  /** Segment file descriptors that fetch responses hold now (one per file, shared). */
  segmentDescriptors: number;
  /** Connections accepted since start. */
  connectionsAccepted: number;
  /** Connections closed at once because connectionsMax were open. */
  connectionsRefused: number;
  /** Connections the server closed for a problem (malformed request, a limit, a timeout; see onClientError). */
  connectionsDropped: number;
  /** Per API seen: requests, failures and latency. */
  requests: ApiRequestStats[];
  /** The Kafka consumer groups the server coordinates now: their state and members. */
  groups: { group: string; state: string; members: number }[];
}

const KEYS = new Set(['broker', 'host', 'port', 'advertisedHost', 'advertisedPort', 'nodeId', 'autoCreateTopics', 'topicDefaults', 'requestBytesMax', 'connectionsMax', 'idleTimeoutMs', 'frameTimeoutMs', 'onClientError', 'groupInitialRebalanceDelayMs', 'zeroCopy', 'tls', 'sasl']);

/** Request frames at most this large (Kafka's socket.request.max.bytes is 100 MiB). */
export const REQUEST_BYTES_MAX_DEFAULT = 100 * 1024 * 1024;
// Kafka answers one request per connection at a time; a few more pipelined keep a client busy
// without letting it queue unbounded work.
const RESPONSES_IN_FLIGHT_MAX = 16;
const WRITE_BUFFER_BYTES_MAX = 8 * 1024 * 1024;

export class Server {
  readonly #server: net.Server;
  #zeroCopyOff: ServerStats['zeroCopyOff'] = null;
  #tls = false;
  #sasl: SaslListener | null = null;
  readonly #connections = new Set<Connection>();
  #closing: Promise<void> | undefined;
  readonly #closingSignal = new AbortController();
  readonly #host: string;
  readonly #port: number;
  #groups: GroupCoordinator | undefined;
  #sent: SendCounters | undefined;
  #segments: SegmentDescriptors | undefined;
  #requests: RequestStats | undefined;

  private constructor(server: net.Server, host: string, port: number) {
    this.#server = server;
    this.#host = host;
    this.#port = port;
  }

  /** Listens and resolves once connections are accepted. */
  static async start(options: ServerOptions): Promise<Server> {
    const o = optionsObject(options, 'server options') as unknown as ServerOptions;
    checkKeys(o as unknown as Record<string, unknown>, KEYS, 'server option');
    if (o.broker === null || typeof o.broker !== 'object' || typeof o.broker.describeTopic !== 'function') throw new TypeError(`broker must be a Broker, got ${shown(o.broker)}`);
    const host = o.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host.length === 0) throw new TypeError(`host must be a non-empty string, got ${shown(host)}`);
    const port = integer(o.port ?? 9092, 'port', 0, 65535);
    const limits: ConnectionLimits = {
      requestBytesMax: integer(o.requestBytesMax ?? REQUEST_BYTES_MAX_DEFAULT, 'requestBytesMax', 1024, 2 ** 31 - 1),
      frameTimeoutMs: integer(o.frameTimeoutMs ?? 30_000, 'frameTimeoutMs', 1, 86_400_000),
      idleTimeoutMs: integer(o.idleTimeoutMs ?? 600_000, 'idleTimeoutMs', 1, 86_400_000),
      responsesInFlightMax: RESPONSES_IN_FLIGHT_MAX,
      writeBufferBytesMax: WRITE_BUFFER_BYTES_MAX,
    };
    const connectionsMax = integer(o.connectionsMax ?? 10_000, 'connectionsMax', 1, 1_000_000);
    const nodeId = integer(o.nodeId ?? 0, 'nodeId', 0, 2 ** 31 - 1);
    const zeroCopyOption = o.zeroCopy ?? true;
    if (typeof zeroCopyOption !== 'boolean') throw new TypeError(`zeroCopy must be a boolean, got ${shown(zeroCopyOption)}`);
    const secure = o.tls === undefined ? null : await tlsListener(o.tls, limits.frameTimeoutMs);
    const zeroCopyOff = secure !== null ? 'tls' : !zeroCopyOption ? 'disabled' : process.platform !== 'linux' ? 'platform' : null;
    const zeroCopy = zeroCopyOff === null;
    const onClientError = o.onClientError ?? (() => {});
    if (typeof onClientError !== 'function') throw new TypeError('onClientError must be a function');
    const requests = new RequestStats();
    const sasl = o.sasl === undefined ? null : saslListener(o.sasl, o.broker.dir, requests);
    const onProblem = (p: ConnectionProblem): void => {
      requests.connectionsDropped++;
      onClientError(p);
    };
    const netServer = secure === null ? net.createServer() : tls.createServer(secure.secure);
    await new Promise<void>((resolve, reject) => {
      netServer.once('error', reject);
      netServer.listen(port, host, () => {
        netServer.off('error', reject);
        resolve();
      });
    });
    const bound = netServer.address() as net.AddressInfo;
    const server = new Server(netServer, bound.address, bound.port);
    server.#zeroCopyOff = zeroCopyOff;
    server.#tls = secure !== null;
    server.#sasl = sasl;
    const context: ServerContext = {
      broker: o.broker,
      nodeId,
      advertisedHost: o.advertisedHost ?? (host === '0.0.0.0' || host === '::' ? 'localhost' : host),
      advertisedPort: integer(o.advertisedPort ?? bound.port, 'advertisedPort', 1, 65535),
      clusterId: clusterIdOf(o.broker.dir),
      autoCreateTopics: o.autoCreateTopics ?? true,
      topicDefaults: { partitions: 1, sync: 'always', ...o.topicDefaults },
      groups: new GroupCoordinator(integer(o.groupInitialRebalanceDelayMs ?? 3000, 'groupInitialRebalanceDelayMs', 0, 300_000)),
      closing: server.#closingSignal.signal,
      zeroCopy,
      sent: { zeroCopyBytes: 0, copiedBytes: 0 },
      requests,
      segments: new SegmentDescriptors(),
    };
    server.#groups = context.groups;
    server.#sent = context.sent;
    server.#requests = requests;
    server.#segments = context.segments;
    const accept = (socket: net.Socket, principal: string): void => server.#accept(socket, context, limits, connectionsMax, onProblem, onClientError, principal);
    if (secure === null) netServer.on('connection', (socket: net.Socket) => accept(socket, ANONYMOUS_PRINCIPAL));
    else onTlsConnections(netServer as tls.Server, (socket, principal) => accept(socket, principal ?? ANONYMOUS_PRINCIPAL), onProblem);
    return server;
  }

  /** `onProblem` is told why a connection was dropped (and counts it); `onRefused` of a refusal at the limit. */
  #accept(socket: net.Socket, context: ServerContext, limits: ConnectionLimits, connectionsMax: number, onProblem: (p: ConnectionProblem) => void, onRefused: (p: ConnectionProblem) => void, principal: string): void {
    const stats = context.requests;
    if (this.#closing !== undefined || this.#connections.size >= connectionsMax) {
      if (this.#closing === undefined) {
        stats.connectionsRefused++;
        onRefused({ remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: `more than ${connectionsMax} connections` });
      }
      socket.destroy();
      return;
    }
    stats.connectionsAccepted++;
    const session: Session = { principal, clientAddress: socket.remoteAddress ?? '', tls: this.#tls };
    const authenticator = this.#sasl === null ? null : new SaslAuthenticator(this.#sasl, session);
    const c = new Connection(socket, context, HANDLERS, limits, onProblem, { session, authenticator });
    this.#connections.add(c);
    void c.closed.then(() => this.#connections.delete(c));
  }

  /** The host and port listened on. */
  get address(): { host: string; port: number } {
    return { host: this.#host, port: this.#port };
  }

  stats(): ServerStats {
    const r = this.#requests!;
    return {
      fetchBytesZeroCopy: this.#sent!.zeroCopyBytes,
      fetchBytesCopied: this.#sent!.copiedBytes,
      zeroCopy: this.#zeroCopyOff === null,
      zeroCopyOff: this.#zeroCopyOff,
      tls: this.#tls,
      saslMechanisms: [...(this.#sasl?.mechanisms ?? [])],
      principals: this.#principals(),
      authenticationsSucceeded: r.authenticationsSucceeded,
      authenticationsFailed: r.authenticationsFailed,
      connections: this.#connections.size,
      segmentDescriptors: this.#segments!.size,
      connectionsAccepted: r.connectionsAccepted,
      connectionsRefused: r.connectionsRefused,
      connectionsDropped: r.connectionsDropped,
      requests: r.apis(),
      groups: this.#groups!.list().map((g) => ({ group: g.groupId, state: g.state, members: g.members })),
    };
  }

  #principals(): { principal: string; connections: number }[] {
    const counts = new Map<string, number>();
    for (const c of this.#connections) counts.set(c.session.principal, (counts.get(c.session.principal) ?? 0) + 1);
    return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([principal, connections]) => ({ principal, connections }));
  }

  /** Stops accepting, answers the requests already read, then closes every connection. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#closingSignal.abort(); // long-polling fetches answer now
      this.#groups?.close(); // held joins and syncs are answered, so the connections can finish
      await Promise.all([...this.#connections].map((c) => c.shutdown()));
      await stopped;
    })();
    return this.#closing;
  }
}

/** A stable id for the data directory, in the form Kafka's cluster ids take (22 base64url characters). */
export function clusterIdOf(dir: string): string {
  return createHash('sha256').update(dir).digest().subarray(0, 16).toString('base64url');
}
