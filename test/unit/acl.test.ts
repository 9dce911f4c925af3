/**
 * The ACL model, authorizer and file store (lib/kafka/acl/): Kafka's decision rules (a deny beats
 * any allow, prefixed and wildcard patterns, the 'User:*' principal, describe implied by read,
 * write, delete and alter but only for allows, 'all'), the any-resource check idempotent producers
 * need, the validation of entries, and the file: written atomically, read again by a running
 * store once it changes, a broken edit leaving the last good entries in force.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aclEntry, type AclEntry } from '../../lib/kafka/acl/acl';
import { aclFileOf, AclStore, modifyAcls, readAcls, RECHECK_MS } from '../../lib/kafka/acl/acl-store';
import { AclAuthorizer } from '../../lib/kafka/acl/authorizer';
import { tmpDir } from '../helpers/tmp';

const entry = (e: Partial<AclEntry>): AclEntry => ({ principal: 'User:alice', permission: 'allow', operation: 'read', resourceType: 'topic', patternType: 'literal', name: 'orders', ...e });
const topic = (name: string) => ({ type: 'topic' as const, name });
const decide = (acls: AclEntry[], principal: string, operation: AclEntry['operation'], resource: { type: AclEntry['resourceType']; name: string }) => new AclAuthorizer({ entries: () => acls }).authorize(principal, operation, resource);

describe('the authorizer', () => {
  it('allows nothing without an entry, and only what an entry names', () => {
    expect(decide([], 'User:alice', 'read', topic('orders'))).toBe(false);
    const acls = [entry({})];
    expect(decide(acls, 'User:alice', 'read', topic('orders'))).toBe(true);
    expect(decide(acls, 'User:alice', 'write', topic('orders'))).toBe(false);
    expect(decide(acls, 'User:bob', 'read', topic('orders'))).toBe(false);
    expect(decide(acls, 'User:alice', 'read', topic('orders2'))).toBe(false);
    expect(decide(acls, 'User:alice', 'read', { type: 'group', name: 'orders' })).toBe(false);
  });

  it('lets a deny beat any allow, whatever their order', () => {
    const allow = entry({ operation: 'all', name: '*' });
    const deny = entry({ permission: 'deny', operation: 'read', patternType: 'prefixed', name: 'secret.' });
    for (const acls of [[allow, deny], [deny, allow]]) {
      expect(decide(acls, 'User:alice', 'read', topic('secret.keys'))).toBe(false);
      expect(decide(acls, 'User:alice', 'write', topic('secret.keys'))).toBe(true);
      expect(decide(acls, 'User:alice', 'read', topic('public'))).toBe(true);
    }
    // A deny of 'all' denies every operation; a deny for every principal denies alice too.
    expect(decide([allow, entry({ permission: 'deny', operation: 'all' })], 'User:alice', 'describe', topic('orders'))).toBe(false);
    expect(decide([allow, entry({ principal: 'User:*', permission: 'deny' })], 'User:alice', 'read', topic('orders'))).toBe(false);
  });

  it('matches prefixed patterns, the literal name *, and the principal User:*', () => {
    const acls = [entry({ patternType: 'prefixed', name: 'orders.' }), entry({ principal: 'User:*', operation: 'write', name: '*' })];
    expect(decide(acls, 'User:alice', 'read', topic('orders.eu'))).toBe(true);
    expect(decide(acls, 'User:alice', 'read', topic('orders'))).toBe(false);
    expect(decide(acls, 'User:alice', 'read', topic('ORDERS.eu'))).toBe(false);
    expect(decide(acls, 'User:ANONYMOUS', 'write', topic('anything'))).toBe(true);
    expect(decide(acls, 'User:ANONYMOUS', 'read', topic('orders.eu'))).toBe(false);
    // A literal '*' entry matches a topic named '*' as every other; a prefixed entry never matches as a wildcard.
    expect(decide([entry({ patternType: 'prefixed', name: 'a*' })], 'User:alice', 'read', topic('ab'))).toBe(false);
  });

  it('implies describe from read, write, delete and alter allows, not from their denies', () => {
    for (const operation of ['read', 'write', 'delete', 'alter'] as const) expect(decide([entry({ operation })], 'User:alice', 'describe', topic('orders'))).toBe(true);
    expect(decide([entry({ operation: 'create' })], 'User:alice', 'describe', topic('orders'))).toBe(false);
    expect(decide([entry({ operation: 'describe' })], 'User:alice', 'read', topic('orders'))).toBe(false);
    const acls = [entry({ operation: 'describe' }), entry({ permission: 'deny', operation: 'read' })];
    expect(decide(acls, 'User:alice', 'describe', topic('orders'))).toBe(true);
    expect(decide(acls, 'User:alice', 'read', topic('orders'))).toBe(false);
  });

  it('finds whether some resource of a type is allowed (idempotent producers: write on some topic)', () => {
    const any = (acls: AclEntry[]) => new AclAuthorizer({ entries: () => acls }).authorizeAny('User:alice', 'write', 'topic');
    expect(any([])).toBe(false);
    expect(any([entry({ operation: 'write', name: 'orders' })])).toBe(true);
    expect(any([entry({ principal: 'User:*', operation: 'all', patternType: 'prefixed', name: 'o' })])).toBe(true);
    expect(any([entry({ operation: 'write' }), entry({ permission: 'deny', operation: 'write', name: '*' })])).toBe(false);
    expect(any([entry({ operation: 'write', name: 'orders' }), entry({ permission: 'deny', operation: 'all', patternType: 'prefixed', name: 'ord' })])).toBe(false);
    expect(any([entry({ operation: 'write', patternType: 'prefixed', name: 'o' }), entry({ permission: 'deny', operation: 'write', name: 'orders' })])).toBe(true);
    expect(any([entry({ operation: 'read' })])).toBe(false);
  });
});

describe('ACL entries', () => {
  it('are checked whole, with what is wrong', () => {
    expect(aclEntry(entry({}))).toEqual(entry({}));
    expect(() => aclEntry({ ...entry({}), host: '*' })).toThrow(/unknown field host/);
    expect(() => aclEntry({ ...entry({}), principal: 'alice' })).toThrow(/TYPE:NAME/);
    expect(() => aclEntry({ ...entry({}), operation: 'reed' })).toThrow(/operation must be/);
    expect(() => aclEntry({ ...entry({}), permission: undefined })).toThrow(/permission is missing/);
    expect(() => aclEntry(entry({ resourceType: 'group', operation: 'write' }))).toThrow(/a group has no operation write/);
    expect(() => aclEntry(entry({ resourceType: 'cluster', operation: 'create', name: 'x' }))).toThrow(/kafka-cluster/);
    expect(() => aclEntry(entry({ patternType: 'prefixed', name: '*' }))).toThrow(/literal '\*'/);
    expect(() => aclEntry(entry({ name: '' }))).toThrow(/non-empty/);
  });
});

describe('the ACL file', () => {
  it('round-trips through modifyAcls, each entry once, with no temporary file left', async () => {
    const dir = tmpDir();
    expect(readAcls(dir)).toEqual([]);
    await modifyAcls(dir, (e) => [...e, entry({}), entry({}), entry({ operation: 'write' })]);
    expect(readAcls(dir)).toEqual([entry({}), entry({ operation: 'write' })]);
    await modifyAcls(dir, (e) => e.filter((x) => x.operation !== 'read'));
    expect(readAcls(dir)).toEqual([entry({ operation: 'write' })]);
    expect(fs.readdirSync(`${dir}/security`).sort()).toEqual(['.lock', 'acls.json']);
    expect(JSON.parse(fs.readFileSync(aclFileOf(dir), 'utf8'))).toEqual({ format: 1, acls: [entry({ operation: 'write' })] });
    await expect(modifyAcls(`${dir}/missing`, (e) => e)).rejects.toThrow(/not a directory/);
  });

  it('is read again by a running store once it changes; a broken edit keeps the last good entries in force', async () => {
    const dir = tmpDir();
    const store = AclStore.open(dir);
    expect(store.entries()).toEqual([]);
    await modifyAcls(dir, () => [entry({})]);
    await until(() => store.entries().length === 1);
    fs.writeFileSync(aclFileOf(dir), '{"format": 1, "acls": [{"principal": "nobody"}]}');
    await new Promise((r) => setTimeout(r, RECHECK_MS + 100));
    expect(store.entries()).toEqual([entry({})]);
    // The command refuses to rewrite a file it cannot read (it would lose what it does not understand).
    await expect(modifyAcls(dir, () => [])).rejects.toThrow(/entry 0: a principal is TYPE:NAME/);
    fs.writeFileSync(aclFileOf(dir), JSON.stringify({ format: 1, acls: [entry({ operation: 'write' })] }));
    await until(() => store.entries()[0]?.operation === 'write');
    // A broken file at open fails the open, with its path.
    fs.writeFileSync(aclFileOf(dir), 'not json');
    expect(() => AclStore.open(dir)).toThrow(/acls\.json: not JSON/);
  });
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
