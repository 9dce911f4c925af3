/**
 * ACLs enforced by the server (authorization: 'acls') for the principal of a plaintext client,
 * User:ANONYMOUS, with kafkajs 2.2.4, kcat and raw requests: an allowed topic and group produce and
 * consume; a topic the principal may not write or read answers TOPIC_AUTHORIZATION_FAILED and
 * never takes or gives records; a denied group GROUP_AUTHORIZATION_FAILED; Metadata leaves out
 * what may not be described when listing and refuses it when named; auto-creation needs create;
 * transactional ids and the cluster answer their own errors; an ACL added with `sluice acls`
 * while the server runs applies without a restart. The ACL file is written before each start
 * with modifyAcls (what the command does).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server } from '../../lib/kafka';
import type { AclEntry } from '../../lib/kafka/acl/acl';
import { aclFileOf, modifyAcls } from '../../lib/kafka/acl/acl-store';
import { KafkaError } from '../../lib/kafka/protocol/error-codes';
import {
  decodeAddPartitionsToTxnResponse,
  decodeCreatePartitionsResponse,
  decodeListOffsetsResponse,
  decodeOffsetCommitResponse,
  decodeTxnOffsetCommitResponse,
  encodeAddPartitionsToTxnRequest,
  encodeCreatePartitionsRequest,
  encodeListOffsetsRequest,
  encodeOffsetCommitRequest,
  encodeTxnOffsetCommitRequest,
  decodeDescribeConfigsResponse,
  decodeDescribeGroupsResponse,
  decodeFetchResponse,
  decodeFindCoordinatorResponse,
  decodeInitProducerIdResponse,
  encodeDescribeConfigsRequest,
  encodeDescribeGroupsRequest,
  encodeFetchRequest,
  encodeFindCoordinatorRequest,
  encodeInitProducerIdRequest,
} from '../../lib/kafka/protocol/generated';
import { exchange } from '../helpers/kafka-wire';
import { sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

const run = promisify(execFile);
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

const ANONYMOUS = 'User:ANONYMOUS';
const allow = (operation: AclEntry['operation'], resourceType: AclEntry['resourceType'], name: string, patternType: AclEntry['patternType'] = 'literal'): AclEntry => ({ principal: ANONYMOUS, permission: 'allow', operation, resourceType, patternType, name });

/** A broker with topics `open` (read, write), `visible` (describe only) and `closed` (nothing), and group `readers` (read). */
async function serve(extra: AclEntry[] = []): Promise<{ dir: string; broker: Broker; server: Server; address: string; kafka: Kafka }> {
  const dir = tmpDir();
  await modifyAcls(dir, () => [allow('read', 'topic', 'open'), allow('write', 'topic', 'open'), allow('describe', 'topic', 'visible'), allow('read', 'group', 'readers'), ...extra]);
  const broker = await Broker.open(dir);
  cleanup.push(() => broker.close());
  for (const t of ['open', 'visible', 'closed']) await broker.createTopic(t, { partitions: 1 });
  const server = await Server.start({ broker, port: 0, authorization: 'acls', groupInitialRebalanceDelayMs: 0 });
  cleanup.push(() => server.close());
  const address = `127.0.0.1:${server.address.port}`;
  return { dir, broker, server, address, kafka: new Kafka({ brokers: [address], logLevel: logLevel.NOTHING, retry: { retries: 0 } }) };
}

/** The kafkajs protocol error type an error is, or wraps (an aggregate's first). */
function typeOf(e: unknown): string | undefined {
  type Wrapping = { type?: string; cause?: unknown; originalError?: unknown; errors?: unknown[] } | undefined;
  for (let x = e as Wrapping; x !== undefined && x !== null; x = (x.cause ?? x.originalError ?? x.errors?.[0]) as Wrapping) {
    if (typeof x.type === 'string') return x.type;
  }
  return undefined;
}

async function rejection(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return typeOf(e) ?? String(e);
  }
  throw new Error('resolved, expected a rejection');
}

async function connected<T extends { connect(): Promise<void>; disconnect(): Promise<void> }>(client: T): Promise<T> {
  await client.connect();
  cleanup.push(() => client.disconnect());
  return client;
}

describe('ACLs with kafkajs', () => {
  it('lets an allowed topic and group produce and consume', async () => {
    const { kafka, broker } = await serve();
    const producer = await connected(kafka.producer());
    await producer.send({ topic: 'open', messages: [{ value: 'a' }, { value: 'b' }] });
    const consumer = await connected(kafka.consumer({ groupId: 'readers', maxWaitTimeInMs: 100 }));
    await consumer.subscribe({ topics: ['open'], fromBeginning: true });
    const got: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
    await until(() => got.length === 2);
    expect(got).toEqual(['a', 'b']);
    // The consumer's commit reaches the broker's group state.
    await until(() => broker.listGroups().includes('readers') && broker.describeGroup('readers').lag === 0);
  });

  it('refuses a topic it may not write or read with TOPIC_AUTHORIZATION_FAILED, never taking or giving records', async () => {
    const { kafka, broker, server } = await serve();
    const producer = await connected(kafka.producer());
    // Not even described: Metadata refuses it before any Produce.
    expect(await rejection(producer.send({ topic: 'closed', messages: [{ value: 'x' }] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    // Described but not writable: Produce itself refuses it.
    expect(await rejection(producer.send({ topic: 'visible', messages: [{ value: 'x' }] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(broker.describeTopic('visible').messages).toBe(0);
    expect(broker.describeTopic('closed').messages).toBe(0);

    await broker.send('visible', { value: 'secret' });
    const fetched = await exchange(server.address.port, 1, 4, encodeFetchRequest, decodeFetchResponse, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: ['visible', 'open'].map((topic) => ({ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] })),
    });
    const [visible, open] = fetched.responses.map((t) => t.partitions[0]);
    expect(visible.errorCode).toBe(KafkaError.TOPIC_AUTHORIZATION_FAILED);
    expect((visible.records as Buffer).length).toBe(0);
    expect(visible.highWatermark).toBe(-1);
    expect(open.errorCode).toBe(KafkaError.NONE);
  });

  it('refuses a denied group with GROUP_AUTHORIZATION_FAILED', async () => {
    const { kafka, server } = await serve([allow('describe', 'group', 'watched')]);
    const port = server.address.port;
    // kafkajs reports a refused FindCoordinator as "no coordinator found": the raw answers.
    const found = await exchange(port, 10, 1, encodeFindCoordinatorRequest, decodeFindCoordinatorResponse, { key: 'locked', keyType: 0 });
    expect(found.errorCode).toBe(KafkaError.GROUP_AUTHORIZATION_FAILED);
    const described = await exchange(port, 15, 0, encodeDescribeGroupsRequest, decodeDescribeGroupsResponse, { groups: ['locked', 'readers'] });
    expect(described.groups.map((g) => g.errorCode)).toEqual([KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.NONE]);
    // Describe on a group finds its coordinator; joining it needs read.
    const consumer = await connected(kafka.consumer({ groupId: 'watched', maxWaitTimeInMs: 100, retry: { retries: 0 } }));
    await consumer.subscribe({ topics: ['open'] });
    const crashed = new Promise<unknown>((resolve) => consumer.on(consumer.events.CRASH, (e) => resolve(e.payload.error)));
    await consumer.run({ eachMessage: async () => {} }).catch((e: unknown) => e);
    expect(typeOf(await crashed)).toBe('GROUP_AUTHORIZATION_FAILED');
  });

  it('lists only the topics and groups the principal may describe; a named one is refused; creating needs create', async () => {
    const { kafka, broker } = await serve([allow('create', 'topic', 'auto.', 'prefixed'), allow('write', 'topic', 'auto.', 'prefixed')]);
    const admin = await connected(kafka.admin());
    expect((await admin.listTopics()).sort()).toEqual(['open', 'visible']);
    expect(await rejection(admin.fetchTopicMetadata({ topics: ['closed'] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    // Metadata's auto-creation (a producer's): create on the topic (or the cluster) is needed, as CreateTopics needs it.
    const producer = await connected(kafka.producer());
    expect(await rejection(producer.send({ topic: 'unknown', messages: [{ value: 'x' }] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(broker.listTopics()).not.toContain('unknown');
    await producer.send({ topic: 'auto.made', messages: [{ value: 'x' }] });
    expect(broker.describeTopic('auto.made').messages).toBe(1);
    expect(await rejection(admin.createTopics({ topics: [{ topic: 'elsewhere' }] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await admin.createTopics({ topics: [{ topic: 'auto.created' }] })).toBe(true);
    expect(await rejection(admin.deleteTopics({ topics: ['open'] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(broker.listTopics()).toContain('open');
    // ListGroups: 'hidden' (offsets committed in the broker) is left out, 'readers' listed.
    await broker.groupOffsets.commit('hidden', [{ topic: 'open', partition: 0, offset: 0, metadata: null }]);
    await broker.groupOffsets.commit('readers', [{ topic: 'open', partition: 0, offset: 0, metadata: null }]);
    expect(broker.listGroups().sort()).toEqual(['hidden', 'readers']);
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toEqual(['readers']);
  });

  it('answers transactional ids and the cluster with their own errors', async () => {
    // Describe on the transactional id finds its coordinator (kafkajs reports a refusal there as
    // "no coordinator"); initialising it needs write.
    const { kafka, server } = await serve([allow('describe', 'transactional-id', 'payments')]);
    const port = server.address.port;
    const txn = await connected(kafka.producer({ transactionalId: 'payments', idempotent: true, maxInFlightRequests: 1, retry: { retries: 1 } }));
    expect(await rejection(txn.transaction())).toBe('TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
    const init = (transactionalId: string | null) => exchange(port, 22, 1, encodeInitProducerIdRequest, decodeInitProducerIdResponse, { transactionalId, transactionTimeoutMs: 60_000 });
    expect((await init('payments')).errorCode).toBe(KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    // An idempotent producer may write topic open: it gets a producer id.
    expect((await init(null)).errorCode).toBe(KafkaError.NONE);
    const configs = await exchange(port, 32, 1, encodeDescribeConfigsRequest, decodeDescribeConfigsResponse, {
      resources: [
        { resourceType: 4, resourceName: '0', configurationKeys: null },
        { resourceType: 2, resourceName: 'open', configurationKeys: null },
      ],
      includeSynonyms: false,
    });
    expect(configs.results.map((r) => r.errorCode)).toEqual([KafkaError.CLUSTER_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED]);
    expect(configs.results[1].configs).toEqual([]);
    expect(configs.results[1].errorMessage).toBe('User:ANONYMOUS may not describe-configs topic open (see sluice acls)');
  });

  it('refuses per topic in ListOffsets, OffsetCommit, CreatePartitions, AddPartitionsToTxn and TxnOffsetCommit, the rest answered', async () => {
    const { server, broker } = await serve([allow('write', 'transactional-id', 'tx')]);
    const port = server.address.port;
    const errors = (topics: { partitions: { errorCode: number }[] }[]) => topics.map((t) => t.partitions[0].errorCode);
    const both = ['closed', 'open'];
    const offsets = await exchange(port, 2, 1, encodeListOffsetsRequest, decodeListOffsetsResponse, { replicaId: -1, topics: both.map((name) => ({ name, partitions: [{ partitionIndex: 0, timestamp: -1 }] })) });
    expect(errors(offsets.topics)).toEqual([KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.NONE]);
    const commit = (groupId: string) =>
      exchange(port, 8, 2, encodeOffsetCommitRequest, decodeOffsetCommitResponse, { groupId, generationId: -1, memberId: '', retentionTimeMs: -1, topics: both.map((name) => ({ name, partitions: [{ partitionIndex: 0, committedOffset: 0, committedMetadata: null }] })) });
    expect(errors((await commit('readers')).topics)).toEqual([KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.NONE]);
    expect(errors((await commit('locked')).topics)).toEqual([KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED]);
    expect(broker.groupOffsets.topics('readers')).toEqual(['open']);
    expect(broker.listGroups()).toEqual(['readers']);
    const grown = await exchange(port, 37, 0, encodeCreatePartitionsRequest, decodeCreatePartitionsResponse, { topics: [{ name: 'open', count: 2, assignments: null }], timeoutMs: 1000, validateOnly: false });
    expect(grown.results[0].errorCode).toBe(KafkaError.TOPIC_AUTHORIZATION_FAILED);
    expect(broker.describeTopic('open').config.partitions).toBe(1);
    const added = (transactionalId: string) => exchange(port, 24, 1, encodeAddPartitionsToTxnRequest, decodeAddPartitionsToTxnResponse, { transactionalId, producerId: 1, producerEpoch: 0, topics: both.map((name) => ({ name, partitions: [0] })) });
    expect((await added('tx')).resultsByTopic.map((t) => t.resultsByPartition[0].partitionErrorCode)).toEqual([KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.OPERATION_NOT_ATTEMPTED]);
    expect((await added('other')).resultsByTopic.map((t) => t.resultsByPartition[0].partitionErrorCode)).toEqual([KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]);
    const txnCommit = (groupId: string) =>
      exchange(port, 28, 0, encodeTxnOffsetCommitRequest, decodeTxnOffsetCommitResponse, { transactionalId: 'tx', groupId, producerId: 1, producerEpoch: 0, topics: both.map((name) => ({ name, partitions: [{ partitionIndex: 0, committedOffset: 0, committedMetadata: null }] })) });
    expect(errors((await txnCommit('locked')).topics)).toEqual([KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED]);
    // Allowed, the refused topic still answers TOPIC_AUTHORIZATION_FAILED (the other: no such producer id).
    expect(errors((await txnCommit('readers')).topics)[0]).toBe(KafkaError.TOPIC_AUTHORIZATION_FAILED);
  });

  it('refuses to start on an ACL file it cannot read, or an unknown authorization', async () => {
    const dir = tmpDir();
    const broker = await Broker.open(dir);
    cleanup.push(() => broker.close());
    fs.mkdirSync(path.join(dir, 'security'));
    fs.writeFileSync(aclFileOf(dir), '{"format": 1, "acls": [{"principal": "User:x"}]}');
    await expect(Server.start({ broker, port: 0, authorization: 'acls' })).rejects.toThrow(/acls\.json: entry 0: permission is missing/);
    await expect(Server.start({ broker, port: 0, authorization: 'sasl' as 'acls' })).rejects.toThrow(/authorization must be 'acls', 'none'/);
    // Without ACLs enforced the file is not read.
    const server = await Server.start({ broker, port: 0 });
    expect(server.authorization).toBe('none');
    await server.close();
  });

  it('applies an ACL added with sluice acls while the server runs, and kcat lists what it may describe', async () => {
    const { kafka, dir, address } = await serve();
    const admin = await connected(kafka.admin());
    expect(await rejection(admin.fetchTopicMetadata({ topics: ['closed'] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    const added = await sluice(['acls', 'add', '--data', dir, '--principal', 'User:*', '--allow', '--operation', 'describe', '--topic', 'clo', '--prefixed']);
    expect(added.code).toBe(0);
    await until(() => admin.fetchTopicMetadata({ topics: ['closed'] }).then(() => true, () => false));
    const { stdout } = await run('kcat', ['-b', address, '-L', '-m', '5']);
    expect(stdout).toContain('topic "closed"');
    expect(stdout).toContain('topic "open"');
    expect(stdout).not.toContain('topic "auto');
  });
});

async function until(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
