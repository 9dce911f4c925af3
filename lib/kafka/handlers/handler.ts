/**
 * What every API handler is: the API's generated codec pair and a function from a decoded request
 * to a response (or to null: no response, as for Produce with acks 0). The connection decodes,
 * calls, encodes and keeps responses in request order; handlers never see bytes.
 */
import type { Broker } from '../../broker/broker';
import type { TopicConfigInput } from '../../broker/topic/topic-config';
import type { GroupCoordinator } from '../groups/coordinator';
import type { Reader } from '../protocol/reader';
import type { Writer } from '../protocol/writer';

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
}

export interface RequestContext {
  readonly server: ServerContext;
  readonly clientId: string | null;
}

export interface ApiHandler<Req = any, Res = any> {
  readonly key: number;
  decode(r: Reader, version: number): Req;
  encode(w: Writer, version: number, response: Res): void;
  handle(ctx: RequestContext, request: Req, version: number): Res | null | Promise<Res | null>;
}
