/**
 * `sluice acls add|remove|list`: the ACLs of a data directory (kafka/acl/acl-store.ts), which
 * `sluice serve --acls` enforces. They never open the broker, so they work beside a running
 * serve, which applies a change within about a second.
 */
import { type Command } from 'commander';
import { CLUSTER_NAME, OPERATIONS, OPERATIONS_OF, principalOf, sameEntry, type AclEntry, type Operation, type Permission, type ResourceType } from '../../kafka/acl/acl';
import { modifyAcls, readAcls } from '../../kafka/acl/acl-store';
import { EXIT_FAILURE, UsageError } from '../exit-codes';
import { printJson, printTable } from '../output';

interface SelectorOptions {
  data: string;
  principal: string;
  allow?: boolean;
  deny?: boolean;
  operation: string;
  topic?: string;
  group?: string;
  transactionalId?: string;
  cluster?: boolean;
  prefixed?: boolean;
  json?: boolean;
}

export function aclsCommand(program: Command): void {
  const acls = program.command('acls').description('add, remove and list the ACLs that sluice serve --acls enforces');
  selectors(acls.command('add').description('allow or deny a principal operations on a topic, group, transactional id or the cluster')).action(async (o: SelectorOptions) => {
    const wanted = entriesOf(o);
    let added: AclEntry[] = [];
    await modifyAcls(o.data, (entries) => {
      added = wanted.filter((w) => !entries.some((e) => sameEntry(e, w)));
      return [...entries, ...added];
    });
    print(o, added);
    if (added.length < wanted.length && !o.json) process.stdout.write(`(${wanted.length - added.length} already present)
`);
  });
  selectors(acls.command('remove').description('remove ACL entries (exactly those the options name)')).action(async (o: SelectorOptions) => {
    const wanted = entriesOf(o);
    let removed: AclEntry[] = [];
    await modifyAcls(o.data, (entries) => {
      removed = entries.filter((e) => wanted.some((w) => sameEntry(e, w)));
      return entries.filter((e) => !removed.includes(e));
    });
    // A remove that matched nothing (a typo) would leave access in place: say so, and fail.
    if (removed.length === 0) {
      process.stderr.write('sluice: no ACL entry matches: nothing removed (see sluice acls list)\n');
      process.exitCode = EXIT_FAILURE;
    } else print(o, removed);
  });
  acls
    .command('list')
    .description('the ACL entries')
    .requiredOption('--data <dir>', 'the broker data directory')
    .option('--principal <principal>', 'only the entries of this principal (exactly: User:* entries are their own)')
    .option('--json', 'print JSON')
    .action((o: { data: string; principal?: string; json?: boolean }) => {
      const principal = o.principal === undefined ? undefined : usage(() => principalOf(o.principal, '--principal'));
      print(o, readAcls(o.data).filter((e) => principal === undefined || e.principal === principal));
    });
}

function selectors(c: Command): Command {
  return c
    .requiredOption('--data <dir>', 'the broker data directory')
    .requiredOption('--principal <principal>', "who: User:NAME, or User:* for every principal (unauthenticated clients are User:ANONYMOUS)")
    .option('--allow', 'allow the operations')
    .option('--deny', 'deny the operations (a deny beats any allow)')
    .requiredOption('--operation <ops>', `comma-separated: ${OPERATIONS.join(', ')}`)
    .option('--topic <name>', "a topic ('*': every topic)")
    .option('--group <name>', "a consumer group ('*': every group)")
    .option('--transactional-id <id>', "a transactional id ('*': every one)")
    .option('--cluster', 'the cluster (creating topics, idempotent producers, broker configs, listing every group)')
    .option('--prefixed', 'the name is a prefix: every topic, group or id that starts with it')
    .option('--json', 'print JSON');
}

/** The entries the options name, one per operation; a UsageError for what is missing or wrong. */
function entriesOf(o: SelectorOptions): AclEntry[] {
  if (o.allow === o.deny) throw new UsageError('give one of --allow and --deny');
  const permission: Permission = o.allow ? 'allow' : 'deny';
  const principal = usage(() => principalOf(o.principal, '--principal'));
  const { resourceType, name } = resourceOf(o);
  if (o.prefixed && resourceType === 'cluster') throw new UsageError('--prefixed names topics, groups or transactional ids, not the cluster');
  if (o.prefixed && name === '*') throw new UsageError("--prefixed '*' would match only names starting with '*': leave out --prefixed for every name");
  const operations = o.operation.split(',').map((s) => s.trim());
  for (const op of operations) {
    if (!(OPERATIONS as readonly string[]).includes(op)) throw new UsageError(`unknown operation ${JSON.stringify(op)}: use ${OPERATIONS.join(', ')}`);
    if (!OPERATIONS_OF[resourceType].includes(op as Operation)) throw new UsageError(`a ${resourceType} has no operation ${op} (it has ${OPERATIONS_OF[resourceType].join(', ')})`);
  }
  const patternType = o.prefixed ? 'prefixed' : 'literal';
  return [...new Set(operations)].map((operation) => ({ principal, permission, operation: operation as Operation, resourceType, patternType, name }));
}

function resourceOf(o: SelectorOptions): { resourceType: ResourceType; name: string } {
  const given: { resourceType: ResourceType; name: string }[] = [];
  if (o.topic !== undefined) given.push({ resourceType: 'topic', name: o.topic });
  if (o.group !== undefined) given.push({ resourceType: 'group', name: o.group });
  if (o.transactionalId !== undefined) given.push({ resourceType: 'transactional-id', name: o.transactionalId });
  if (o.cluster) given.push({ resourceType: 'cluster', name: CLUSTER_NAME });
  if (given.length !== 1) throw new UsageError('give one resource: --topic NAME, --group NAME, --transactional-id ID or --cluster');
  if (given[0].name.length === 0) throw new UsageError(`the ${given[0].resourceType} name is empty`);
  return given[0];
}

/** `fn`'s result, its TypeError or RangeError (a bad value) as a UsageError. */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}

function print(o: { json?: boolean }, entries: readonly AclEntry[]): void {
  if (o.json) printJson(entries);
  else printTable(['PRINCIPAL', 'PERMISSION', 'OPERATION', 'RESOURCE', 'PATTERN', 'NAME'], entries.map((e) => [e.principal, e.permission, e.operation, e.resourceType, e.patternType, e.name]));
}
