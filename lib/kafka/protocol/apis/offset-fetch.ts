// Layout checked against apache/kafka OffsetFetchRequest.json / OffsetFetchResponse.json @c97b88d5 (3.5.0), and @1eb76443
import type { ApiSchema } from '../schema';

export const offsetFetch: ApiSchema = {
  key: 9,
  name: 'OffsetFetch',
  versions: '1-8',
  flexible: '6+',
  request: `
groupId string 0-7
topics []OffsetFetchRequestTopic 0-7 null:2-7
  name string 0-7
  partitionIndexes []int32 0-7
groups []OffsetFetchRequestGroup 8+
  groupId string 8+
  topics []OffsetFetchRequestTopics 8+ null:8+
    name string 8+
    partitionIndexes []int32 8+
requireStable bool 7+ default:false
`,
  response: `
throttleTimeMs int32 3+
topics []OffsetFetchResponseTopic 0-7
  name string 0-7
  partitions []OffsetFetchResponsePartition 0-7
    partitionIndex int32 0-7
    committedOffset int64 0-7
    committedLeaderEpoch int32 5-7 default:-1
    metadata string 0-7 null:0-7
    errorCode int16 0-7
errorCode int16 2-7 default:0
groups []OffsetFetchResponseGroup 8+
  groupId string 8+
  topics []OffsetFetchResponseTopics 8+
    name string 8+
    partitions []OffsetFetchResponsePartitions 8+
      partitionIndex int32 8+
      committedOffset int64 8+
      committedLeaderEpoch int32 8+ default:-1
      metadata string 8+ null:8+
      errorCode int16 8+
  errorCode int16 8+ default:0
`,
};
