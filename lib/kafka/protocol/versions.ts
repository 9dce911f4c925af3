/**
 * The API versions this server advertises (next-stage.md A3): the union of what kafkajs 2.2.4,
 * librdkafka 2.0.2 and 2.15, kafka-python 2.0.2 and @platformatic/kafka 1.x send. Minimums are
 * low on purpose: librdkafka turns features on only when the advertised range overlaps old
 * versions (Produce 0 for compression, FindCoordinator 0 for groups). Each range lies inside the
 * API's codec table (./apis/), and a test checks it.
 */
export interface AdvertisedApi {
  key: number;
  name: string;
  minVersion: number;
  maxVersion: number;
}

export const ADVERTISED: readonly AdvertisedApi[] = [
  { key: 18, name: 'ApiVersions', minVersion: 0, maxVersion: 3 },
  { key: 3, name: 'Metadata', minVersion: 0, maxVersion: 9 },
  // 0-2 answered UNSUPPORTED_VERSION per partition (old message formats), advertised for librdkafka.
  { key: 0, name: 'Produce', minVersion: 0, maxVersion: 8 },
  { key: 1, name: 'Fetch', minVersion: 4, maxVersion: 12 },
  { key: 2, name: 'ListOffsets', minVersion: 1, maxVersion: 5 },
  { key: 19, name: 'CreateTopics', minVersion: 0, maxVersion: 7 },
  { key: 20, name: 'DeleteTopics', minVersion: 0, maxVersion: 6 },
  { key: 37, name: 'CreatePartitions', minVersion: 0, maxVersion: 3 },
  { key: 32, name: 'DescribeConfigs', minVersion: 0, maxVersion: 4 },
  { key: 10, name: 'FindCoordinator', minVersion: 0, maxVersion: 4 },
  { key: 11, name: 'JoinGroup', minVersion: 0, maxVersion: 6 },
  { key: 14, name: 'SyncGroup', minVersion: 0, maxVersion: 4 },
  { key: 12, name: 'Heartbeat', minVersion: 0, maxVersion: 4 },
  { key: 13, name: 'LeaveGroup', minVersion: 0, maxVersion: 4 },
  { key: 8, name: 'OffsetCommit', minVersion: 0, maxVersion: 8 },
  { key: 9, name: 'OffsetFetch', minVersion: 1, maxVersion: 8 },
  { key: 15, name: 'DescribeGroups', minVersion: 0, maxVersion: 5 },
  { key: 16, name: 'ListGroups', minVersion: 0, maxVersion: 4 },
  { key: 22, name: 'InitProducerId', minVersion: 0, maxVersion: 4 },
  // Transactions. AddPartitionsToTxn 4+ is broker to broker; EndTxn 5 bumps the epoch per
  // transaction (KIP-890 part 2), which this coordinator does not do.
  { key: 24, name: 'AddPartitionsToTxn', minVersion: 0, maxVersion: 3 },
  { key: 25, name: 'AddOffsetsToTxn', minVersion: 0, maxVersion: 4 },
  { key: 26, name: 'EndTxn', minVersion: 0, maxVersion: 4 },
  { key: 28, name: 'TxnOffsetCommit', minVersion: 0, maxVersion: 4 },
  // SASL (security/). Handshake 0 is advertised because librdkafka enables SASL only when it is,
  // but answered UNSUPPORTED_VERSION (then closed): after it a client would send bare SASL tokens
  // outside Kafka's request framing. Every client named above uses 1 and SaslAuthenticate.
  { key: 17, name: 'SaslHandshake', minVersion: 0, maxVersion: 1 },
  { key: 36, name: 'SaslAuthenticate', minVersion: 0, maxVersion: 2 },
];

const BY_KEY = new Map(ADVERTISED.map((a) => [a.key, a]));

export function advertised(key: number): AdvertisedApi | undefined {
  return BY_KEY.get(key);
}
