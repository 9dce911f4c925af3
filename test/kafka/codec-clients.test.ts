/**
 * The tables checked against a real client's own codec: kafkajs 2.2.4 (devDependency) decodes the
 * responses our encoders write, for every version both it and our tables have, and its request
 * encoders' bytes decode with ours and re-encode to the same bytes. Responses are compared leaf by
 * leaf in wire order (kafkajs builds each decoded object in the order it reads the fields), so a
 * field of the wrong width, version range or position shows up as a mismatch.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ALL_APIS } from '../../lib/kafka/protocol/apis';
import * as generated from '../../lib/kafka/protocol/generated';
import { Reader } from '../../lib/kafka/protocol/reader';
import { type ApiSchema, type FieldSpec, inRange, parseTable, parseVersions } from '../../lib/kafka/protocol/schema';
import { Writer } from '../../lib/kafka/protocol/writer';

const require_ = createRequire(__filename);

/** kafkajs's directory name for each API (src/protocol/requests/<dir>). */
const KAFKAJS_DIR: Record<string, string> = {
  Produce: 'produce',
  Fetch: 'fetch',
  ListOffsets: 'listOffsets',
  Metadata: 'metadata',
  OffsetCommit: 'offsetCommit',
  OffsetFetch: 'offsetFetch',
  FindCoordinator: 'findCoordinator',
  JoinGroup: 'joinGroup',
  Heartbeat: 'heartbeat',
  LeaveGroup: 'leaveGroup',
  SyncGroup: 'syncGroup',
  DescribeGroups: 'describeGroups',
  ListGroups: 'listGroups',
  ApiVersions: 'apiVersions',
  CreateTopics: 'createTopics',
  DeleteTopics: 'deleteTopics',
  InitProducerId: 'initProducerId',
  DescribeConfigs: 'describeConfigs',
  CreatePartitions: 'createPartitions',
  AddPartitionsToTxn: 'addPartitionsToTxn',
  AddOffsetsToTxn: 'addOffsetsToTxn',
  EndTxn: 'endTxn',
  TxnOffsetCommit: 'txnOffsetCommit',
  SaslHandshake: 'saslHandshake',
  SaslAuthenticate: 'saslAuthenticate',
};

function kafkajsVersions(api: ApiSchema): number[] {
  const dir = KAFKAJS_DIR[api.name];
  const { versions } = require_(`kafkajs/src/protocol/requests/${dir}`) as { versions: string[] };
  const ours = parseVersions(api.versions);
  const flexible = parseVersions(api.flexible);
  // kafkajs 2.2.4 has no flexible codecs (but for two admin APIs we do not serve).
  return versions.map(Number).filter((v) => v >= ours.from && v <= ours.to && v < flexible.from);
}

function kafkajsResponse(api: ApiSchema, v: number): { decode: (b: Buffer) => Promise<unknown> } {
  return require_(`kafkajs/src/protocol/requests/${KAFKAJS_DIR[api.name]}/v${v}/response`);
}

/** A deterministic value for each field of a response, distinct enough to catch swapped fields. */
function sample(fields: FieldSpec[], v: number, counter: { n: number }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (!inRange(v, f.versions) || f.tag !== null) continue;
    const one = (): unknown => {
      counter.n++;
      if (f.struct) return sample(f.fields, v, counter);
      switch (f.type) {
        case 'bool':
          return counter.n % 2 === 0;
        case 'string':
          return `s${counter.n}`;
        case 'bytes':
          return Buffer.from([counter.n & 0xff, 7]);
        case 'records':
          return null;
        case 'int8':
          return counter.n % 100;
        case 'int16':
          return f.name === 'errorCode' || f.name.endsWith('ErrorCode') ? 0 : counter.n;
        default:
          return counter.n * 1000 + 1;
      }
    };
    out[f.name] = f.array ? [one(), one()] : one();
  }
  return out;
}

/** Leaves in wire order, as strings (kafkajs gives Longs, Buffers, numbers and booleans). */
function leavesOfOurs(fields: FieldSpec[], v: number, m: Record<string, unknown>, out: string[]): string[] {
  for (const f of fields) {
    if (!inRange(v, f.versions) || f.tag !== null) continue;
    const value = m[f.name];
    const visit = (x: unknown): void => {
      if (f.struct) leavesOfOurs(f.fields, v, x as Record<string, unknown>, out);
      else out.push(leaf(x));
    };
    if (f.array && Array.isArray(value)) value.forEach(visit);
    else visit(value);
  }
  return out;
}

function leaf(x: unknown): string {
  if (x === null || x === undefined) return 'null';
  if (Buffer.isBuffer(x)) return `0x${x.toString('hex')}`;
  if (typeof x === 'object' && typeof (x as { toString(): string }).toString === 'function' && 'high' in (x as object)) return String(x); // a kafkajs Long
  return String(x);
}

/**
 * kafkajs's decoded object as leaves in wire order. Two things it adds are undone: for versions
 * with client-side throttling it reports throttleTime 0 and the wire's value as
 * clientSideThrottleTime, and it fills in fields a version does not carry (`synthesized`).
 */
function leavesOfTheirs(x: unknown, out: string[], synthesized: ReadonlySet<string> = new Set()): string[] {
  if (x === null || x === undefined || typeof x !== 'object' || Buffer.isBuffer(x) || 'high' in (x as object)) {
    out.push(leaf(x));
    return out;
  }
  if (Array.isArray(x)) {
    for (const e of x) leavesOfTheirs(e, out, synthesized);
    return out;
  }
  const o = x as Record<string, unknown>;
  for (const [key, value] of Object.entries(o)) {
    if (key === 'clientSideThrottleTime' || synthesized.has(key) || value === undefined) continue;
    leavesOfTheirs(key === 'throttleTime' && 'clientSideThrottleTime' in o ? o.clientSideThrottleTime : value, out, synthesized);
  }
  return out;
}

/** Fields kafkajs's decoder of a version makes up rather than reads. */
function synthesizedBy(api: string, v: number): Set<string> {
  if (api === 'DescribeConfigs') return new Set([v === 0 ? 'configSource' : 'isDefault']);
  return new Set();
}

// Responses whose kafkajs decoder transforms what it reads, checked by hand below.
const TRANSFORMED = new Set(['Fetch', 'SaslAuthenticate']);

describe('our response encoders, read by kafkajs 2.2.4', () => {
  for (const api of ALL_APIS) {
    if (TRANSFORMED.has(api.name)) continue;
    const versions = kafkajsVersions(api);
    if (versions.length === 0) continue;
    it(`${api.name} v${versions.join(', v')}`, async () => {
      const fields = parseTable(api.response);
      const encode = (generated as unknown as Record<string, (w: Writer, v: number, m: unknown) => void>)[`encode${api.name}Response`];
      for (const v of versions) {
        const m = sample(fields, v, { n: 0 });
        const w = new Writer();
        encode(w, v, m);
        const theirs = await kafkajsResponse(api, v).decode(w.toBuffer());
        const got = leavesOfTheirs(theirs, [], synthesizedBy(api.name, v));
        const expected = leavesOfOurs(fields, v, m, []);
        expect(got, `${api.name} v${v}`).toEqual(expected);
      }
    });
  }

  it('Fetch v4-v11: partitions, watermarks and record batches as kafkajs reads them', async () => {
    for (const v of kafkajsVersions(ALL_APIS.find((a) => a.name === 'Fetch')!)) {
      const w = new Writer();
      generated.encodeFetchResponse(w, v, {
        throttleTimeMs: 5,
        errorCode: 0,
        sessionId: 0,
        responses: [
          {
            topic: 'events',
            partitions: [{ partitionIndex: 3, errorCode: 0, highWatermark: 42, lastStableOffset: 42, logStartOffset: 7, abortedTransactions: null, preferredReadReplica: -1, records: null }],
          },
        ],
      });
      const theirs = (await kafkajsResponse(ALL_APIS.find((a) => a.name === 'Fetch')!, v).decode(w.toBuffer())) as {
        responses: { topicName: string; partitions: { partition: number; highWatermark: string; lastStableOffset?: string; messages: unknown[] }[] }[];
      };
      expect(theirs.responses[0].topicName, `v${v}`).toBe('events');
      const p = theirs.responses[0].partitions[0];
      expect(p.partition).toBe(3);
      expect(String(p.highWatermark)).toBe('42');
      expect(String(p.lastStableOffset)).toBe('42');
      expect(p.messages).toEqual([]);
    }
  });

  it('SaslAuthenticate v0, v1: kafkajs keeps authBytes with their length prefix, for its mechanisms to decode', async () => {
    for (const v of kafkajsVersions(ALL_APIS.find((a) => a.name === 'SaslAuthenticate')!)) {
      const w = new Writer();
      generated.encodeSaslAuthenticateResponse(w, v, { errorCode: 0, errorMessage: null, authBytes: Buffer.from('v=abc'), sessionLifetimeMs: 7 });
      const theirs = (await kafkajsResponse(ALL_APIS.find((a) => a.name === 'SaslAuthenticate')!, v).decode(w.toBuffer())) as { errorCode: number; authBytes: Buffer; sessionLifetimeMs?: unknown };
      expect(theirs.errorCode).toBe(0);
      expect(theirs.authBytes.readInt32BE(0)).toBe(5);
      expect(theirs.authBytes.subarray(4).toString()).toBe('v=abc');
      if (v >= 1) expect(String(theirs.sessionLifetimeMs)).toBe('7');
    }
  });
});

describe('kafkajs 2.2.4 request encoders, read by our decoders', () => {
  type Args = Record<string, unknown>;
  const cases: { api: string; args: Args; check: (m: Record<string, any>, v: number) => void }[] = [
    { api: 'ApiVersions', args: {}, check: () => {} },
    {
      api: 'Metadata',
      args: { topics: ['a', 'b'], allowAutoTopicCreation: false },
      check: (m, v) => {
        expect(m.topics.map((t: { name: string }) => t.name)).toEqual(['a', 'b']);
        if (v >= 4) expect(m.allowAutoTopicCreation).toBe(false);
      },
    },
    {
      api: 'ListOffsets',
      args: { replicaId: -1, isolationLevel: 1, topics: [{ topic: 't', partitions: [{ partition: 2, timestamp: -2 }] }] },
      check: (m) => {
        expect(m.replicaId).toBe(-1);
        expect(m.topics[0].name).toBe('t');
        expect(m.topics[0].partitions[0]).toMatchObject({ partitionIndex: 2, timestamp: -2 });
      },
    },
    {
      api: 'FindCoordinator',
      args: { groupId: 'g1', coordinatorKey: 'g1', coordinatorType: 0 },
      check: (m) => expect(m.key).toBe('g1'),
    },
    {
      api: 'JoinGroup',
      args: { groupId: 'g', sessionTimeout: 30000, rebalanceTimeout: 60000, memberId: '', protocolType: 'consumer', groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([1, 2, 3]) }] },
      check: (m, v) => {
        expect(m).toMatchObject({ groupId: 'g', sessionTimeoutMs: 30000, memberId: '', protocolType: 'consumer' });
        if (v >= 1) expect(m.rebalanceTimeoutMs).toBe(60000);
        expect(m.protocols[0].name).toBe('RoundRobinAssigner');
        expect([...m.protocols[0].metadata]).toEqual([1, 2, 3]);
      },
    },
    {
      api: 'SyncGroup',
      args: { groupId: 'g', generationId: 4, memberId: 'm1', groupAssignment: [{ memberId: 'm1', memberAssignment: Buffer.from([9]) }] },
      check: (m) => {
        expect(m).toMatchObject({ groupId: 'g', generationId: 4, memberId: 'm1' });
        expect(m.assignments[0].memberId).toBe('m1');
        expect([...m.assignments[0].assignment]).toEqual([9]);
      },
    },
    {
      api: 'Heartbeat',
      args: { groupId: 'g', groupGenerationId: 4, memberId: 'm1' },
      check: (m) => expect(m).toMatchObject({ groupId: 'g', generationId: 4, memberId: 'm1' }),
    },
    {
      api: 'LeaveGroup',
      args: { groupId: 'g', memberId: 'm1', members: [{ memberId: 'm1' }] },
      check: (m, v) => {
        expect(m.groupId).toBe('g');
        if (v < 3) expect(m.memberId).toBe('m1');
        else expect(m.members[0].memberId).toBe('m1');
      },
    },
    {
      api: 'OffsetCommit',
      args: { groupId: 'g', groupGenerationId: 4, memberId: 'm1', retentionTime: -1, topics: [{ topic: 't', partitions: [{ partition: 1, offset: '77', metadata: 'md' }] }] },
      check: (m, v) => {
        expect(m.groupId).toBe('g');
        if (v >= 1) expect(m).toMatchObject({ generationId: 4, memberId: 'm1' });
        expect(m.topics[0].name).toBe('t');
        expect(m.topics[0].partitions[0]).toMatchObject({ partitionIndex: 1, committedOffset: 77, committedMetadata: 'md' });
      },
    },
    {
      api: 'OffsetFetch',
      args: { groupId: 'g', topics: [{ topic: 't', partitions: [{ partition: 0 }, { partition: 5 }] }] },
      check: (m) => {
        expect(m.groupId).toBe('g');
        expect(m.topics[0].name).toBe('t');
        expect(m.topics[0].partitionIndexes).toEqual([0, 5]);
      },
    },
    {
      api: 'CreateTopics',
      args: { topics: [{ topic: 'new', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '1000' }] }], timeout: 5000, validateOnly: false },
      check: (m) => {
        expect(m.topics[0]).toMatchObject({ name: 'new', numPartitions: 3, replicationFactor: 1 });
        expect(m.topics[0].configs[0]).toMatchObject({ name: 'retention.ms', value: '1000' });
        expect(m.timeoutMs).toBe(5000);
      },
    },
    {
      api: 'DeleteTopics',
      args: { topics: ['x', 'y'], timeout: 5000 },
      check: (m) => {
        expect(m.topicNames).toEqual(['x', 'y']);
        expect(m.timeoutMs).toBe(5000);
      },
    },
    {
      api: 'DescribeGroups',
      args: { groupIds: ['g1', 'g2'] },
      check: (m) => expect(m.groups).toEqual(['g1', 'g2']),
    },
    { api: 'ListGroups', args: {}, check: () => {} },
    {
      api: 'InitProducerId',
      args: { transactionalId: null, transactionTimeout: 30000 },
      check: (m) => expect(m).toMatchObject({ transactionalId: null, transactionTimeoutMs: 30000 }),
    },
    {
      api: 'AddPartitionsToTxn',
      args: { transactionalId: 'tx', producerId: 7, producerEpoch: 2, topics: [{ topic: 'a', partitions: [0, 3] }, { topic: 'b', partitions: [1] }] },
      check: (m) => expect(m).toMatchObject({ transactionalId: 'tx', producerId: 7, producerEpoch: 2, topics: [{ name: 'a', partitions: [0, 3] }, { name: 'b', partitions: [1] }] }),
    },
    {
      api: 'AddOffsetsToTxn',
      args: { transactionalId: 'tx', producerId: 7, producerEpoch: 2, groupId: 'g' },
      check: (m) => expect(m).toMatchObject({ transactionalId: 'tx', producerId: 7, producerEpoch: 2, groupId: 'g' }),
    },
    {
      api: 'EndTxn',
      args: { transactionalId: 'tx', producerId: 7, producerEpoch: 2, transactionResult: true },
      check: (m) => expect(m).toMatchObject({ transactionalId: 'tx', producerId: 7, producerEpoch: 2, committed: true }),
    },
    {
      api: 'TxnOffsetCommit',
      args: { transactionalId: 'tx', groupId: 'g', producerId: 7, producerEpoch: 2, topics: [{ topic: 'a', partitions: [{ partition: 1, offset: '42', metadata: 'meta' }] }] },
      check: (m) => expect(m).toMatchObject({ transactionalId: 'tx', groupId: 'g', producerId: 7, producerEpoch: 2, topics: [{ name: 'a', partitions: [{ partitionIndex: 1, committedOffset: 42, committedMetadata: 'meta' }] }] }),
    },
    {
      api: 'DescribeConfigs',
      args: { resources: [{ type: 2, name: 'topic-a', configNames: ['retention.ms'] }], includeSynonyms: false },
      check: (m) => {
        expect(m.resources[0]).toMatchObject({ resourceType: 2, resourceName: 'topic-a', configurationKeys: ['retention.ms'] });
      },
    },
    {
      api: 'CreatePartitions',
      args: { topicPartitions: [{ topic: 't', count: 6 }], timeout: 5000, validateOnly: false },
      check: (m) => {
        expect(m.topics[0]).toMatchObject({ name: 't', count: 6 });
        expect(m.timeoutMs).toBe(5000);
      },
    },
  ];

  for (const c of cases) {
    const api = ALL_APIS.find((a) => a.name === c.api)!;
    const versions = kafkajsVersions(api);
    it(`${c.api} v${versions.join(', v')}`, async () => {
      const decode = (generated as unknown as Record<string, (r: Reader, v: number) => Record<string, unknown>>)[`decode${api.name}Request`];
      const encode = (generated as unknown as Record<string, (w: Writer, v: number, m: unknown) => void>)[`encode${api.name}Request`];
      for (const v of versions) {
        const { protocol } = require_(`kafkajs/src/protocol/requests/${KAFKAJS_DIR[api.name]}`);
        const { request } = protocol({ version: v })(c.args);
        const bytes: Buffer = (await request.encode()).buffer;
        const r = new Reader(bytes);
        const m = decode(r, v);
        expect(r.pos, `${api.name} v${v} read whole`).toBe(bytes.length);
        c.check(m, v);
        const w = new Writer();
        encode(w, v, m);
        expect(w.toBuffer().equals(bytes), `${api.name} v${v} re-encodes to kafkajs's bytes`).toBe(true);
      }
    });
  }
});
