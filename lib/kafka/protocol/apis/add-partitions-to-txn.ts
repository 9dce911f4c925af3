// Layout checked against apache/kafka AddPartitionsToTxnRequest.json / AddPartitionsToTxnResponse.json @1eb76443 (versions 4+ are broker to broker: not described)
import type { ApiSchema } from '../schema';

export const addPartitionsToTxn: ApiSchema = {
  key: 24,
  name: 'AddPartitionsToTxn',
  versions: '0-3',
  flexible: '3+',
  request: `
transactionalId string
producerId int64
producerEpoch int16
topics []Topic
  name string
  partitions []int32
`,
  response: `
throttleTimeMs int32
resultsByTopic []TopicResult
  name string
  resultsByPartition []PartitionResult
    partitionIndex int32
    partitionErrorCode int16
`,
};
