// Layout checked against apache/kafka OffsetCommitRequest.json / OffsetCommitResponse.json @c97b88d5 (3.5.0), and @1eb76443
import type { ApiSchema } from '../schema';

export const offsetCommit: ApiSchema = {
  key: 8,
  name: 'OffsetCommit',
  versions: '0-8',
  flexible: '8+',
  request: `
groupId string
generationId int32 1+ default:-1
memberId string 1+
groupInstanceId string 7+ null:7+ default:null
retentionTimeMs int64 2-4 default:-1
topics []OffsetCommitRequestTopic
  name string
  partitions []OffsetCommitRequestPartition
    partitionIndex int32
    committedOffset int64
    committedLeaderEpoch int32 6+ default:-1
    commitTimestamp int64 1 default:-1
    committedMetadata string null:0+
`,
  response: `
throttleTimeMs int32 3+
topics []OffsetCommitResponseTopic
  name string
  partitions []OffsetCommitResponsePartition
    partitionIndex int32
    errorCode int16
`,
};
