/**
 * What every API handler is: the API's generated codec pair and a function from a decoded request
 * to a response (or to null: no response, as for Produce with acks 0). The connection decodes,
 * calls, encodes and keeps responses in request order; handlers never see bytes.
 */
import type { Broker } from '../../broker/broker';
import type { TopicConfigInput } from '../../broker/topic/topic-config';
import type { FileRegion, SegmentDescriptors } from '../file-region';
import type { GroupCoordinator } from '../groups/coordinator';
import type { Reader } from '../protocol/reader';
import type { Writer } from '../protocol/writer';
import type { SendCounters } from '../region-sender';
import type { RequestStats } from '../request-stats';
import type { SaslAuthenticator } from '../security/sasl/authenticator';

/** What handlers know of the server they run in. */
export interface ServerContext {
  readonly broker: Broker;
  readonly nodeId: number;
  /** The host and port clients are told to connect to (Metadata, FindCoordinator). */
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  readonly clusterId: string;
  /** Whether Metadata may create the topics it is asked about (and the request allows it). */
  readonly autoCreateTopics: boolean;
  /** Settings of topics created through the protocol, where the request gives none. */
  readonly topicDefaults: Readonly<TopicConfigInput>;
  /** The consumer groups' membership. */
  readonly groups: GroupCoordinator;
  /** Aborted when the server starts closing: long polls answer with what they have. */
  readonly closing: AbortSignal;
  /** Whether record regions may go out with sendfile (else they are copied). */
  readonly zeroCopy: boolean;
  /** Record bytes sent so far, by how. */
  readonly sent: SendCounters;
  /** Requests and connections counted so far. */
  readonly requests: RequestStats;
  /** The segment descriptors that fetch responses' file regions share. */
  readonly segments: SegmentDescriptors;
}

/**
 * Who is at the other end of one connection. The connection makes one when it opens;
 * authentication (mutual TLS, SASL) sets its principal, and authorization and quotas read it.
 */
export interface Session {
  /** Kafka's form, 'User:<name>'; ANONYMOUS_PRINCIPAL until authenticated. */
  principal: string;
  /** The client's IP address. */
  readonly clientAddress: string;
  /** Whether the connection is encrypted (TLS). */
  readonly tls: boolean;
}

/** The principal of a connection no one has authenticated, as Kafka names it. */
export const ANONYMOUS_PRINCIPAL = 'User:ANONYMOUS';

export interface RequestContext {
  readonly server: ServerContext;
  readonly clientId: string | null;
  /** The connection's session: the same object for every request on it. */
  readonly session: Session;
  /** The connection's SASL state, on a listener with SASL (the SaslHandshake and SaslAuthenticate handlers use it). */
  readonly authenticator?: SaslAuthenticator;
  /**
   * The file regions the response carries (a handler adds each it puts in its response): the
   * connection releases them once the response is written or discarded.
   */
  readonly regions: FileRegion[];
}

export interface ApiHandler<Req = any, Res = any> {
  readonly key: number;
  decode(r: Reader, version: number): Req;
  encode(w: Writer, version: number, response: Res): void;
  handle(ctx: RequestContext, request: Req, version: number): Res | null | Promise<Res | null>;
}
