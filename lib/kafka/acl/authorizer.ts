/**
 * Authorizers: whether a principal may do an operation on a resource. The server holds one
 * (ServerContext.authorizer) and handlers ask it through handlers/authorize.ts only.
 *
 * AclAuthorizer decides as Kafka's StandardAuthorizer does by default: a matching deny entry
 * (the operation or 'all') denies, whatever allows; else a matching allow entry (the operation,
 * 'all', or for describe one of the operations that imply it) allows; else nothing is allowed
 * (Kafka's allow.everyone.if.no.acl.found=false). An entry matches a principal that is its own
 * or when it is 'User:*'. Called on the event loop, per resource of each request, over an index
 * of the entries (AclIndex) built again whenever the source hands out new ones.
 */
import { IMPLIES_DESCRIBE, WILDCARD, WILDCARD_PRINCIPAL, type AclEntry, type Operation, type Resource, type ResourceType } from './acl';

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

/** Where the entries come from, asked at every decision: the same array until they change (AclStore). */
export interface AclSource {
  entries(): readonly AclEntry[];
}

export class AclAuthorizer implements Authorizer {
  readonly #source: AclSource;
  #indexed: readonly AclEntry[] | undefined;
  #index = new AclIndex([]);

  constructor(source: AclSource) {
    this.#source = source;
  }

  authorize(principal: string, operation: Operation, resource: Resource): boolean {
    let allowed = false;
    for (const e of this.#current().matching(principal, resource)) {
      if (e.permission === 'deny') {
        if (denies(e, operation)) return false;
      } else if (allows(e, operation)) allowed = true;
    }
    return allowed;
  }

  authorizeAny(principal: string, operation: Operation, type: ResourceType): boolean {
    const entries = this.#current().ofType(principal, type);
    // An allow entry that no deny entry covers whole: some resource it names is allowed.
    return entries.some((allow) => allow.permission === 'allow' && allows(allow, operation) && !entries.some((deny) => deny.permission === 'deny' && denies(deny, operation) && covers(deny, allow)));
  }

  /** The index of the source's entries, built again when they are new ones. */
  #current(): AclIndex {
    const entries = this.#source.entries();
    if (entries !== this.#indexed) {
      this.#index = new AclIndex(entries);
      this.#indexed = entries;
    }
    return this.#index;
  }
}

interface Bucket {
  /** Literal patterns by name ('*' among them). */
  readonly literal: Map<string, AclEntry[]>;
  /** Prefixed patterns by prefix, and the lengths of those prefixes. */
  readonly prefixed: Map<string, AclEntry[]>;
  readonly prefixLengths: Set<number>;
  readonly all: AclEntry[];
}

/**
 * The entries by resource type and principal, names looked up directly: a decision reads only the
 * entries of its type and principal (and of 'User:*'), and of those only the literal ones of its
 * name or '*' and the prefixed ones of its prefixes (one lookup per prefix length in use), so it
 * costs the same with ten entries or ten thousand.
 */
class AclIndex {
  readonly #buckets = new Map<string, Bucket>();

  constructor(entries: readonly AclEntry[]) {
    for (const e of entries) {
      const key = bucketKey(e.resourceType, e.principal);
      let b = this.#buckets.get(key);
      if (b === undefined) this.#buckets.set(key, (b = { literal: new Map(), prefixed: new Map(), prefixLengths: new Set(), all: [] }));
      b.all.push(e);
      const byName = e.patternType === 'prefixed' ? b.prefixed : b.literal;
      byName.set(e.name, [...(byName.get(e.name) ?? []), e]);
      if (e.patternType === 'prefixed') b.prefixLengths.add(e.name.length);
    }
  }

  *matching(principal: string, r: Resource): Generator<AclEntry> {
    for (const b of this.#bucketsOf(principal, r.type)) {
      yield* b.literal.get(r.name) ?? [];
      if (r.name !== WILDCARD) yield* b.literal.get(WILDCARD) ?? [];
      for (const length of b.prefixLengths) if (length <= r.name.length) yield* b.prefixed.get(r.name.slice(0, length)) ?? [];
    }
  }

  ofType(principal: string, type: ResourceType): AclEntry[] {
    return this.#bucketsOf(principal, type).flatMap((b) => b.all);
  }

  #bucketsOf(principal: string, type: ResourceType): Bucket[] {
    const own = this.#buckets.get(bucketKey(type, principal));
    const everyone = principal === WILDCARD_PRINCIPAL ? undefined : this.#buckets.get(bucketKey(type, WILDCARD_PRINCIPAL));
    return [own, everyone].filter((b): b is Bucket => b !== undefined);
  }
}

function bucketKey(type: ResourceType, principal: string): string {
  return `${type}\0${principal}`;
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
