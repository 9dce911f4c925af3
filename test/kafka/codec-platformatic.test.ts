/**
 * The flexible versions checked against @platformatic/kafka 1.x (devDependency), a client that
 * speaks nothing older: its request encoders' bytes decode with ours (and re-encode to the same
 * bytes), and its response parsers read what our encoders write.
 */
import { describe, expect, it } from 'vitest';
import * as generated from '../../lib/kafka/protocol/generated';
import { Reader } from '../../lib/kafka/protocol/reader';
import { Writer } from '../../lib/kafka/protocol/writer';

type Api = { createRequest: (...args: unknown[]) => { buffer: Buffer }; parseResponse: (c: number, k: number, v: number, r: unknown) => any };
type Codecs = Record<string, (...args: any[]) => any>;
const g = generated as unknown as Codecs;

async function plt(): Promise<Record<string, any>> {
  return import('@platformatic/kafka');
}

/** Their request bytes through our decoder and back through our encoder. */
function decodeTheirs(api: string, v: number, bytes: Buffer): Record<string, any> {
  const r = new Reader(bytes);
  const m = g[`decode${api}Request`](r, v);
  expect(r.pos, `${api} v${v}: read the whole request`).toBe(bytes.length);
  const w = new Writer();
  g[`encode${api}Request`](w, v, m);
  expect(w.toBuffer().equals(bytes), `${api} v${v}: re-encodes to the same bytes`).toBe(true);
  return m;
}

async function parseOurs(api: string, key: number, v: number, module: Api, m: unknown): Promise<any> {
  const w = new Writer();
  g[`encode${api}Response`](w, v, m);
  const { Reader: TheirReader } = await plt();
  return module.parseResponse(1, key, v, TheirReader.from(w.toBuffer()));
}

describe('@platformatic/kafka request encoders, read by our decoders', () => {
  it('ApiVersions v3, Metadata v9, FindCoordinator v4', async () => {
    const p = await plt();
    let m = decodeTheirs('ApiVersions', 3, p.apiVersionsV3.createRequest('plt-kafka', '1.35.0').buffer);
    expect(m).toMatchObject({ clientSoftwareName: 'plt-kafka', clientSoftwareVersion: '1.35.0' });
    m = decodeTheirs('Metadata', 9, p.metadataV9.createRequest(['a', 'b'], true, false).buffer);
    expect(m.topics.map((t: { name: string }) => t.name)).toEqual(['a', 'b']);
    expect(m.allowAutoTopicCreation).toBe(true);
    m = decodeTheirs('FindCoordinator', 4, p.findCoordinatorV4.createRequest(0, ['group-1']).buffer);
    expect(m).toMatchObject({ keyType: 0, coordinatorKeys: ['group-1'] });
  });

  it('JoinGroup v6, SyncGroup v4, Heartbeat v4, LeaveGroup v4', async () => {
    const p = await plt();
    let m = decodeTheirs('JoinGroup', 6, p.joinGroupV6.createRequest('g', 45000, 300000, 'm-1', null, 'consumer', [{ name: 'roundrobin', metadata: Buffer.from([1, 2]) }]).buffer);
    expect(m).toMatchObject({ groupId: 'g', sessionTimeoutMs: 45000, rebalanceTimeoutMs: 300000, memberId: 'm-1', groupInstanceId: null, protocolType: 'consumer' });
    expect(m.protocols[0].name).toBe('roundrobin');
    m = decodeTheirs('SyncGroup', 4, p.syncGroupV4.createRequest('g', 3, 'm-1', null, 'consumer', 'roundrobin', [{ memberId: 'm-1', assignment: Buffer.from([5]) }]).buffer);
    expect(m).toMatchObject({ groupId: 'g', generationId: 3, memberId: 'm-1' });
    expect([...m.assignments[0].assignment]).toEqual([5]);
    m = decodeTheirs('Heartbeat', 4, p.heartbeatV4.createRequest('g', 3, 'm-1', null).buffer);
    expect(m).toMatchObject({ groupId: 'g', generationId: 3, memberId: 'm-1' });
    m = decodeTheirs('LeaveGroup', 4, p.leaveGroupV4.createRequest('g', [{ memberId: 'm-1', groupInstanceId: null }]).buffer);
    expect(m.members[0]).toMatchObject({ memberId: 'm-1', groupInstanceId: null });
  });

  it('OffsetCommit v8, OffsetFetch v8, ListOffsets v5', async () => {
    const p = await plt();
    let m = decodeTheirs('OffsetCommit', 8, p.offsetCommitV8.createRequest('g', 3, 'm-1', null, [{ name: 't', partitions: [{ partitionIndex: 2, committedOffset: 99n, committedLeaderEpoch: -1, committedMetadata: 'x' }] }]).buffer);
    expect(m.topics[0].partitions[0]).toMatchObject({ partitionIndex: 2, committedOffset: 99, committedLeaderEpoch: -1, committedMetadata: 'x' });
    m = decodeTheirs('OffsetFetch', 8, p.offsetFetchV8.createRequest([{ groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 1] }] }], true).buffer);
    expect(m.groups[0].groupId).toBe('g');
    expect(m.groups[0].topics[0].partitionIndexes).toEqual([0, 1]);
    expect(m.requireStable).toBe(true);
    m = decodeTheirs('ListOffsets', 5, p.listOffsetsV5.createRequest(-1, 1, [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n }] }]).buffer);
    expect(m.topics[0].partitions[0]).toMatchObject({ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2 });
  });

  it('Fetch v12', async () => {
    const p = await plt();
    const bytes = p.fetchV12.createRequest(500, 1, 1048576, 1, 0, -1, [{ topicId: 'events', partitions: [{ partition: 3, currentLeaderEpoch: -1, fetchOffset: 10n, lastFetchedEpoch: -1, partitionMaxBytes: 65536 }] }], [], '').buffer;
    const m = decodeTheirs('Fetch', 12, bytes);
    expect(m).toMatchObject({ maxWaitMs: 500, minBytes: 1, maxBytes: 1048576, isolationLevel: 1, sessionId: 0, sessionEpoch: -1 });
    expect(m.topics[0].topic).toBe('events');
    expect(m.topics[0].partitions[0]).toMatchObject({ partition: 3, fetchOffset: 10, partitionMaxBytes: 65536 });
  });
});

describe('our response encoders, parsed by @platformatic/kafka', () => {
  it('ApiVersions v3, Metadata v9, FindCoordinator v4', async () => {
    const p = await plt();
    let r = await parseOurs('ApiVersions', 18, 3, p.apiVersionsV3, { errorCode: 0, apiKeys: [{ apiKey: 3, minVersion: 0, maxVersion: 9 }], throttleTimeMs: 0 });
    expect(r.apiKeys[0]).toMatchObject({ apiKey: 3, minVersion: 0, maxVersion: 9 });
    r = await parseOurs('Metadata', 3, 9, p.metadataV9, {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 0, host: '127.0.0.1', port: 9092, rack: null }],
      clusterId: 'sluice',
      controllerId: 0,
      topics: [{ errorCode: 0, name: 'events', isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 0, leaderEpoch: 0, replicaNodes: [0], isrNodes: [0], offlineReplicas: [] }], topicAuthorizedOperations: -2147483648 }],
      clusterAuthorizedOperations: -2147483648,
    });
    expect(r.brokers[0]).toMatchObject({ nodeId: 0, host: '127.0.0.1', port: 9092 });
    expect(r.topics[0].name).toBe('events');
    expect(r.topics[0].partitions[0]).toMatchObject({ partitionIndex: 0, leaderId: 0, replicaNodes: [0], isrNodes: [0] });
    r = await parseOurs('FindCoordinator', 10, 4, p.findCoordinatorV4, { throttleTimeMs: 0, coordinators: [{ key: 'g', nodeId: 0, host: 'localhost', port: 9092, errorCode: 0, errorMessage: null }] });
    expect(r.coordinators[0]).toMatchObject({ key: 'g', nodeId: 0, host: 'localhost', port: 9092 });
  });

  it('JoinGroup v6, SyncGroup v4, Heartbeat v4, LeaveGroup v4', async () => {
    const p = await plt();
    let r = await parseOurs('JoinGroup', 11, 6, p.joinGroupV6, {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 7,
      protocolName: 'roundrobin',
      leader: 'm-1',
      memberId: 'm-1',
      members: [{ memberId: 'm-1', groupInstanceId: null, metadata: Buffer.from([1]) }],
    });
    expect(r).toMatchObject({ generationId: 7, protocolName: 'roundrobin', leader: 'm-1', memberId: 'm-1' });
    expect(r.members[0].memberId).toBe('m-1');
    r = await parseOurs('SyncGroup', 14, 4, p.syncGroupV4, { throttleTimeMs: 0, errorCode: 0, assignment: Buffer.from([9, 9]) });
    expect([...r.assignment]).toEqual([9, 9]);
    r = await parseOurs('Heartbeat', 12, 4, p.heartbeatV4, { throttleTimeMs: 0, errorCode: 0 });
    expect(r.errorCode).toBe(0);
    r = await parseOurs('LeaveGroup', 13, 4, p.leaveGroupV4, { throttleTimeMs: 0, errorCode: 0, members: [{ memberId: 'm-1', groupInstanceId: null, errorCode: 0 }] });
    expect(r.members[0].memberId).toBe('m-1');
  });

  it('OffsetCommit v8, OffsetFetch v8, ListOffsets v5, Produce v8', async () => {
    const p = await plt();
    let r = await parseOurs('OffsetCommit', 8, 8, p.offsetCommitV8, { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 2, errorCode: 0 }] }] });
    expect(r.topics[0].partitions[0].partitionIndex).toBe(2);
    r = await parseOurs('OffsetFetch', 9, 8, p.offsetFetchV8, {
      throttleTimeMs: 0,
      groups: [{ groupId: 'g', topics: [{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: -1, metadata: 'md', errorCode: 0 }] }], errorCode: 0 }],
    });
    expect(r.groups[0].topics[0].partitions[0]).toMatchObject({ partitionIndex: 1, committedOffset: 42n, metadata: 'md' });
    r = await parseOurs('ListOffsets', 2, 5, p.listOffsetsV5, { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1, offset: 1234, leaderEpoch: 0 }] }] });
    expect(r.topics[0].partitions[0]).toMatchObject({ partitionIndex: 0, offset: 1234n });
    r = await parseOurs('Produce', 0, 8, p.produceV8, { responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 500, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null }] }], throttleTimeMs: 0 });
    expect(r.responses[0].partitionResponses[0]).toMatchObject({ index: 0, baseOffset: 500n });
  });

  it('Fetch v12: an empty partition', async () => {
    const p = await plt();
    const r = await parseOurs('Fetch', 1, 12, p.fetchV12, {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [{ topic: 'events', partitions: [{ partitionIndex: 3, errorCode: 0, highWatermark: 42, lastStableOffset: 42, logStartOffset: 0, abortedTransactions: null, preferredReadReplica: -1, records: null }] }],
    });
    expect(r.responses[0].partitions[0]).toMatchObject({ partitionIndex: 3, highWatermark: 42n, lastStableOffset: 42n });
  });
});
