// Layout checked against apache/kafka ProduceRequest.json / ProduceResponse.json @771b9576 (3.8.0)
import type { ApiSchema } from '../schema';

export const produce: ApiSchema = {
  key: 0,
  name: 'Produce',
  versions: '0-8',
  flexible: '9+',
  request: `
transactionalId string 3+ null:3+ default:null
acks int16
timeoutMs int32
topicData []TopicProduceData
  name string
  partitionData []PartitionProduceData
    index int32
    records records null:0+
`,
  response: `
responses []TopicProduceResponse
  name string
  partitionResponses []PartitionProduceResponse
    index int32
    errorCode int16
    baseOffset int64
    logAppendTimeMs int64 2+ default:-1
    logStartOffset int64 5+ default:-1
    recordErrors []BatchIndexAndErrorMessage 8+
      batchIndex int32 8+
      batchIndexErrorMessage string 8+ null:8+ default:null
    errorMessage string 8+ null:8+ default:null
throttleTimeMs int32 1+ default:0
`,
};
