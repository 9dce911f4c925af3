// Layout checked against apache/kafka ListOffsetsRequest.json / ListOffsetsResponse.json @771b9576 (3.8.0)
import type { ApiSchema } from '../schema';

export const listOffsets: ApiSchema = {
  key: 2,
  name: 'ListOffsets',
  versions: '1-5',
  flexible: '6+',
  request: `
replicaId int32
isolationLevel int8 2+
topics []ListOffsetsTopic
  name string
  partitions []ListOffsetsPartition
    partitionIndex int32
    currentLeaderEpoch int32 4+ default:-1
    timestamp int64
`,
  response: `
throttleTimeMs int32 2+
topics []ListOffsetsTopicResponse
  name string
  partitions []ListOffsetsPartitionResponse
    partitionIndex int32
    errorCode int16
    timestamp int64 1+ default:-1
    offset int64 1+ default:-1
    leaderEpoch int32 4+ default:-1
`,
};
