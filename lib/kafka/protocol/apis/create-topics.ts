// Layout checked against apache/kafka CreateTopicsRequest.json / CreateTopicsResponse.json @1eb76443
import type { ApiSchema } from '../schema';

export const createTopics: ApiSchema = {
  key: 19,
  name: 'CreateTopics',
  versions: '0-7',
  flexible: '5+',
  request: `
topics []CreatableTopic 0+
  name string 0+
  numPartitions int32 0+
  replicationFactor int16 0+
  assignments []CreatableReplicaAssignment 0+
    partitionIndex int32 0+
    brokerIds []int32 0+
  configs []CreatableTopicConfig 0+
    name string 0+
    value string 0+ null:0+
timeoutMs int32 0+ default:60000
validateOnly bool 1+ default:false
`,
  response: `
throttleTimeMs int32 2+
topics []CreatableTopicResult 0+
  name string 0+
  topicId uuid 7+
  errorCode int16 0+
  errorMessage string 1+ null:0+
  topicConfigErrorCode int16 5+ tag:0
  numPartitions int32 5+ default:-1
  replicationFactor int16 5+ default:-1
  configs []CreatableTopicConfigs 5+ null:5+
    name string 5+
    value string 5+ null:5+
    readOnly bool 5+
    configSource int8 5+ default:-1
    isSensitive bool 5+
`,
};
