/**
 * Authorizers: whether a principal may do an operation on a resource. The server holds one
 * (ServerContext.authorizer) and handlers ask it through handlers/authorize.ts only.
 *
 * AclAuthorizer decides as Kafka's StandardAuthorizer does by default: a matching deny entry
 * (the operation or 'all') denies, whatever allows; else a matching allow entry (the operation,
 * 'all', or for describe one of the operations that imply it) allows; else nothing is allowed
 * (Kafka's allow.everyone.if.no.acl.found=false). An entry matches a principal that is its own
 * or when it is 'User:*'. Called on the event loop, per resource of each request: one pass over
 * the entries (see AclStore for how many there may be).
 */
import { IMPLIES_DESCRIBE, patternMatches, WILDCARD, WILDCARD_PRINCIPAL, type AclEntry, type Operation, type Resource, type ResourceType } from './acl';

export interface Authorizer {
  /** Whether `principal` may do `operation` on `resource`. */
  authorize(principal: string, operation: Operation, resource: Resource): boolean;
  /**
   * Whether `principal` may do `operation` on some resource of `type` (Kafka's
   * authorizeByResourceType: an idempotent producer needs to be allowed to write some topic).
   */
  authorizeAny(principal: string, operation: Operation, type: ResourceType): boolean;
}

/** Everything is allowed: the server without authorization. */
export const ALLOW_ALL: Authorizer = {
  authorize: () => true,
  authorizeAny: () => true,
};

/** Where the entries come from: read again by the authorizer at every decision (AclStore caches them). */
export interface AclSource {
  entries(): readonly AclEntry[];
}

export class AclAuthorizer implements Authorizer {
  readonly #source: AclSource;

  constructor(source: AclSource) {
    this.#source = source;
  }

  authorize(principal: string, operation: Operation, resource: Resource): boolean {
    return decide(this.#source.entries(), principal, operation, resource);
  }

  authorizeAny(principal: string, operation: Operation, type: ResourceType): boolean {
    const entries = this.#source.entries().filter((e) => e.resourceType === type && principalMatches(e, principal));
    // An allow entry that no deny entry covers whole: some resource it names is allowed.
    return entries.some((allow) => allow.permission === 'allow' && allows(allow, operation) && !entries.some((deny) => deny.permission === 'deny' && denies(deny, operation) && covers(deny, allow)));
  }
}

/** The decision for one request of one resource, from the entries. */
export function decide(entries: readonly AclEntry[], principal: string, operation: Operation, resource: Resource): boolean {
  let allowed = false;
  for (const e of entries) {
    if (!principalMatches(e, principal) || !patternMatches(e, resource)) continue;
    if (e.permission === 'deny') {
      if (denies(e, operation)) return false;
    } else if (allows(e, operation)) allowed = true;
  }
  return allowed;
}

function principalMatches(e: AclEntry, principal: string): boolean {
  return e.principal === principal || e.principal === WILDCARD_PRINCIPAL;
}

function denies(e: AclEntry, operation: Operation): boolean {
  return e.operation === operation || e.operation === 'all';
}

function allows(e: AclEntry, operation: Operation): boolean {
  return e.operation === operation || e.operation === 'all' || (operation === 'describe' && IMPLIES_DESCRIBE.has(e.operation));
}

/** Whether every name `inner`'s pattern matches, `outer`'s matches too. */
function covers(outer: AclEntry, inner: AclEntry): boolean {
  if (outer.patternType === 'literal') return outer.name === WILDCARD || (inner.patternType === 'literal' && inner.name === outer.name);
  const innerAll = inner.patternType === 'literal' && inner.name === WILDCARD;
  return !innerAll && inner.name.startsWith(outer.name);
}
