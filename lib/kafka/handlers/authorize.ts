/**
 * The one place handlers ask whether the request's principal may do what it asks (the server's
 * Authorizer, acl/authorizer.ts), and the Kafka error a refusal answers for each kind of resource.
 * Which operation each API needs is in the README ("ACLs"), as Kafka's KafkaApis asks them.
 */
import { CLUSTER_NAME, type Operation, type ResourceType } from '../acl/acl';
import { KafkaError } from '../protocol/error-codes';
import type { RequestContext } from './handler';

/** "Not known": the value Kafka gives authorized-operations fields nobody asked for. */
export const OPERATIONS_UNKNOWN = -2147483648;

/** The error each resource type's refusal is answered with. */
const REFUSED: Readonly<Record<ResourceType, number>> = {
  topic: KafkaError.TOPIC_AUTHORIZATION_FAILED,
  group: KafkaError.GROUP_AUTHORIZATION_FAILED,
  cluster: KafkaError.CLUSTER_AUTHORIZATION_FAILED,
  'transactional-id': KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
};

export function authorized(ctx: RequestContext, operation: Operation, type: ResourceType, name: string): boolean {
  return ctx.server.authorizer.authorize(ctx.session.principal, operation, { type, name });
}

/** NONE when allowed; else the Kafka error for a refusal of this resource type. */
export function refusal(ctx: RequestContext, operation: Operation, type: ResourceType, name: string): number {
  return authorized(ctx, operation, type, name) ? KafkaError.NONE : REFUSED[type];
}

/** What a refusal's errorMessage says, where the response has one. */
export function refusedMessage(ctx: RequestContext, operation: Operation, type: ResourceType, name: string): string {
  return `${ctx.session.principal} may not ${operation} ${type} ${name} (see sluice acls)`;
}

/** NONE, or CLUSTER_AUTHORIZATION_FAILED. */
export function clusterRefusal(ctx: RequestContext, operation: Operation): number {
  return refusal(ctx, operation, 'cluster', CLUSTER_NAME);
}

/** Creating a topic: allowed by create on the cluster or on the topic, as in Kafka. */
export function mayCreateTopic(ctx: RequestContext, topic: string): boolean {
  return authorized(ctx, 'create', 'cluster', CLUSTER_NAME) || authorized(ctx, 'create', 'topic', topic);
}

/**
 * An idempotent producer's id (InitProducerId without a transactional id): idempotent-write on
 * the cluster, or write on some topic (Kafka's rule since KIP-679); NONE or CLUSTER_AUTHORIZATION_FAILED.
 */
export function idempotentRefusal(ctx: RequestContext): number {
  if (authorized(ctx, 'idempotent-write', 'cluster', CLUSTER_NAME) || ctx.server.authorizer.authorizeAny(ctx.session.principal, 'write', 'topic')) return KafkaError.NONE;
  return KafkaError.CLUSTER_AUTHORIZATION_FAILED;
}
