/**
 * The ACL model, as Kafka's: an entry allows or denies one principal (or every one, 'User:*') one
 * operation on the resources one pattern names. A pattern is a resource type and a name, literal
 * (that name; '*' is every name) or prefixed (every name that starts with it). Checked by
 * authorizer.ts, stored by acl-store.ts. Plain values, no behaviour but their validation.
 */
import { oneOf, shown } from '../../validate';

export const OPERATIONS = ['read', 'write', 'create', 'delete', 'alter', 'describe', 'describe-configs', 'idempotent-write', 'all'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const RESOURCE_TYPES = ['topic', 'group', 'cluster', 'transactional-id'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const PATTERN_TYPES = ['literal', 'prefixed'] as const;
export type PatternType = (typeof PATTERN_TYPES)[number];

export const PERMISSIONS = ['allow', 'deny'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** The one cluster resource's name, Kafka's. */
export const CLUSTER_NAME = 'kafka-cluster';
/** A literal pattern of this name matches every name; a principal of this form every principal. */
export const WILDCARD = '*';
export const WILDCARD_PRINCIPAL = 'User:*';

/** What a request touches: a resource of a type, by name. */
export interface Resource {
  readonly type: ResourceType;
  readonly name: string;
}

export interface AclEntry {
  readonly principal: string;
  readonly permission: Permission;
  readonly operation: Operation;
  readonly resourceType: ResourceType;
  readonly patternType: PatternType;
  readonly name: string;
}

/**
 * The operations each resource type has (Kafka's, less those of APIs this server does not serve:
 * AlterConfigs, cluster actions between brokers). 'all' stands for each of them.
 */
export const OPERATIONS_OF: Readonly<Record<ResourceType, readonly Operation[]>> = {
  topic: ['read', 'write', 'create', 'delete', 'alter', 'describe', 'describe-configs', 'all'],
  group: ['read', 'delete', 'describe', 'all'],
  cluster: ['create', 'alter', 'describe', 'describe-configs', 'idempotent-write', 'all'],
  'transactional-id': ['write', 'describe', 'all'],
};

/** Kafka's implied operations: allowing any of these allows describe too (denying them denies only them). */
export const IMPLIES_DESCRIBE: ReadonlySet<Operation> = new Set(['read', 'write', 'delete', 'alter']);

/** Principals are Kafka's `<type>:<name>` (User:alice); names and principals at most this long. */
export const ACL_NAME_CHARS_MAX = 1024;

/** An ACL entry from untrusted input (a file, a command line): checked whole, or a TypeError or RangeError saying what is wrong. */
export function aclEntry(value: unknown, where = 'ACL entry'): AclEntry {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${where} must be an object, got ${shown(value)}`);
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).filter((k) => !ENTRY_KEYS.has(k));
  if (unknown.length > 0) throw new TypeError(`${where}: unknown field ${unknown[0]}`);
  const principal = principalOf(v.principal, where);
  const permission = required(v.permission, PERMISSIONS, `${where}: permission`);
  const resourceType = required(v.resourceType, RESOURCE_TYPES, `${where}: resourceType`);
  const operation = required(v.operation, OPERATIONS, `${where}: operation`);
  if (!OPERATIONS_OF[resourceType].includes(operation)) throw new RangeError(`${where}: a ${resourceType} has no operation ${operation} (it has ${OPERATIONS_OF[resourceType].join(', ')})`);
  const patternType = required(v.patternType, PATTERN_TYPES, `${where}: patternType`);
  const name = nameOf(v.name, `${where}: name`);
  if (resourceType === 'cluster' && (name !== CLUSTER_NAME || patternType !== 'literal')) throw new RangeError(`${where}: the cluster resource is literal ${CLUSTER_NAME}`);
  if (patternType === 'prefixed' && name === WILDCARD) throw new RangeError(`${where}: a prefixed pattern '*' would only match names starting with '*': use a literal '*' for every name`);
  return { principal, permission, operation, resourceType, patternType, name };
}

const ENTRY_KEYS = new Set(['principal', 'permission', 'operation', 'resourceType', 'patternType', 'name']);

/** A principal: `<type>:<name>` with both parts non-empty (User:alice, User:*). */
export function principalOf(value: unknown, where = 'principal'): string {
  if (typeof value !== 'string' || !/^[^:\s]+:\S/.test(value) || value.length > ACL_NAME_CHARS_MAX) {
    throw new (typeof value === 'string' ? RangeError : TypeError)(`${where}: a principal is TYPE:NAME, e.g. User:alice or User:* (at most ${ACL_NAME_CHARS_MAX} characters), got ${shown(value)}`);
  }
  return value;
}

function nameOf(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > ACL_NAME_CHARS_MAX) throw new (typeof value === 'string' ? RangeError : TypeError)(`${where} must be a non-empty string of at most ${ACL_NAME_CHARS_MAX} characters, got ${shown(value)}`);
  return value;
}

function required<T extends string>(value: unknown, values: readonly T[], where: string): T {
  if (value === undefined) throw new TypeError(`${where} is missing`);
  return oneOf(value, where, values, values[0]);
}

/** Whether two entries are the same (the store keeps each once). */
export function sameEntry(a: AclEntry, b: AclEntry): boolean {
  return a.principal === b.principal && a.permission === b.permission && a.operation === b.operation && a.resourceType === b.resourceType && a.patternType === b.patternType && a.name === b.name;
}
