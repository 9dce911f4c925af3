// Layout checked against apache/kafka TxnOffsetCommitRequest.json / TxnOffsetCommitResponse.json @1eb76443
import type { ApiSchema } from '../schema';

export const txnOffsetCommit: ApiSchema = {
  key: 28,
  name: 'TxnOffsetCommit',
  versions: '0-4',
  flexible: '3+',
  request: `
transactionalId string
groupId string
producerId int64
producerEpoch int16
generationId int32 3+ default:-1
memberId string 3+
groupInstanceId string 3+ null:3+ default:null
topics []TxnOffsetCommitRequestTopic
  name string
  partitions []TxnOffsetCommitRequestPartition
    partitionIndex int32
    committedOffset int64
    committedLeaderEpoch int32 2+ default:-1
    committedMetadata string null:0+
`,
  response: `
throttleTimeMs int32
topics []TxnOffsetCommitResponseTopic
  name string
  partitions []TxnOffsetCommitResponsePartition
    partitionIndex int32
    errorCode int16
`,
};
