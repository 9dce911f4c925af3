// Layout checked against apache/kafka FetchRequest.json / FetchResponse.json @771b9576 (3.8.0)
import type { ApiSchema } from '../schema';

export const fetch: ApiSchema = {
  key: 1,
  name: 'Fetch',
  versions: '4-12',
  flexible: '12+',
  request: `
replicaId int32 0-14 default:-1
maxWaitMs int32
minBytes int32
maxBytes int32 3+ default:2147483647
isolationLevel int8 4+ default:0
sessionId int32 7+ default:0
sessionEpoch int32 7+ default:-1
topics []FetchTopic
  topic string 0-12
  partitions []FetchPartition
    partition int32
    currentLeaderEpoch int32 9+ default:-1
    fetchOffset int64
    lastFetchedEpoch int32 12+ default:-1
    logStartOffset int64 5+ default:-1
    partitionMaxBytes int32
forgottenTopicsData []ForgottenTopic 7+
  topic string 7-12
  partitions []int32 7+
rackId string 11+ default:''
clusterId string 12+ null:12+ tag:0 default:null
`,
  response: `
throttleTimeMs int32 1+
errorCode int16 7+
sessionId int32 7+ default:0
responses []FetchableTopicResponse
  topic string 0-12
  partitions []PartitionData
    partitionIndex int32
    errorCode int16
    highWatermark int64
    lastStableOffset int64 4+ default:-1
    logStartOffset int64 5+ default:-1
    abortedTransactions []AbortedTransaction 4+ null:4+
      producerId int64 4+
      firstOffset int64 4+
    preferredReadReplica int32 11+ default:-1
    records records null:0+
    divergingEpoch EpochEndOffset 12+ tag:0
      epoch int32 12+ default:-1
      endOffset int64 12+ default:-1
    currentLeader LeaderIdAndEpoch 12+ tag:1
      leaderId int32 12+ default:-1
      leaderEpoch int32 12+ default:-1
    snapshotId SnapshotId 12+ tag:2
      endOffset int64 0+ default:-1
      epoch int32 0+ default:-1
`,
};
